#!/usr/bin/env python3
"""Dry-run against the stand-in Kubernetes API server: the same alert with
--dry-run records the exact requests and sends no write (the stand-in sees
only GETs, its objects do not change); then a live run sends exactly the
writes the dry-run recorded (method, path, Content-Type, body; the
restartedAt value aside).  Without a cluster, dry-run is the default and
nothing is sent anywhere (docs/remediation.md, "Dry-run")."""

import copy
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rbtest  # noqa: E402

NS = rbtest.KUBE_NS
RESTARTED = "kubectl.kubernetes.io/restartedAt"


def build_plan(loop_url, marker):
    return {
        "name": "dry", "match": ['alertname="DryRunCheck"'],
        "target": {"deployment": "cognitive-core"},
        "allow": {"namespaces": [NS], "deployments": ["cognitive-core", "agentdb"],
                  "configmaps": ["cognitive-core-config"]},
        "steps": [
            {"name": "undo", "kind": "rollout_undo"},
            {"name": "scale", "kind": "scale", "by": 1, "min": 1, "max": 5},
            {"name": "limits", "kind": "set_resources", "container": "cognitive-core",
             "limits": {"memory": "16Gi", "cpu": "6000m"}, "requests": {"memory": "8Gi"}},
            {"name": "env", "kind": "set_env", "container": "cognitive-core",
             "env": {"DATABASE_POOL_SIZE": "50", "ENABLE_CACHE": "true"}},
            {"name": "pool", "kind": "patch_configmap", "configmap": "cognitive-core-config",
             "data": {"DATABASE_POOL_SIZE": "50"}},
            {"name": "agentdb-pods", "kind": "delete_pods", "selector": "app=agentdb",
             "max_pods": 2},
            {"name": "restart", "kind": "rollout_restart"},
            {"name": "rolled-out", "kind": "wait_rollout", "timeout_seconds": 10,
             "interval_seconds": 1},
        ],
        "verify": [
            {"name": "health", "kind": "http_check", "url": loop_url + "/health",
             "timeout_seconds": 5, "interval_seconds": 1},
            {"name": "hook", "kind": "exec", "argv": ["/usr/bin/touch", marker]},
        ],
        "limits": {"cooldown_seconds": 0},
    }


def mask(req):
    """A request tuple with the restartedAt value replaced."""
    method, path, ctype, body = req
    body = copy.deepcopy(body)
    try:
        ann = body["spec"]["template"]["metadata"]["annotations"]
        if RESTARTED in ann:
            ann[RESTARTED] = "<restartedAt>"
    except (KeyError, TypeError):
        pass
    return (method, path, ctype, body)


def snapshot(k):
    objs = k.objects()
    return json.dumps(objs, sort_keys=True)


def body(t):
    k = rbtest.StandIn(t)
    loop = rbtest.LoopbackHTTP(lambda m, p, h, b: (200, "text/plain", "ok"))
    marker = t.path("exec-ran")
    pd = rbtest.write_plans(t, "plans", [build_plan(loop.url, marker)])
    labels = {"namespace": NS, "deployment": "cognitive-core"}

    t.section("dry-run with a cluster")
    before = snapshot(k)
    d1 = t.daemon(name="dry", args=rbtest.remediation_args(k, pd, dry_run=True))
    iid, _ = rbtest.fire(d1, "DryRunCheck", labels)
    fin = rbtest.wait_finished(d1, iid, 20) or {}
    t.eq(fin.get("outcome"), "dry_run", "dry-run: outcome dry_run")
    pm = rbtest.events(d1, iid, "plan matched")
    t.check(pm and pm[0]["detail"].get("dryRun") is True, "dry-run: plan matched says dryRun",
            pm)
    reqs = k.requests()
    t.check(reqs and all(r["method"] == "GET" for r in reqs),
            "dry-run: the stand-in received only GETs (%d)" % len(reqs),
            [(r["method"], r["path"]) for r in reqs if r["method"] != "GET"])
    t.eq(snapshot(k), before, "dry-run: no object changed (resourceVersion included)")
    dry_recorded = [q for q in rbtest.recorded_requests(d1, iid) if q[0] != "GET"]
    t.eq([(q[0], q[1]) for q in dry_recorded],
         [("PATCH", "/apis/apps/v1/namespaces/ran-optimization/deployments/cognitive-core"),
          ("PATCH", "/apis/apps/v1/namespaces/ran-optimization/deployments/cognitive-core/scale"),
          ("PATCH", "/apis/apps/v1/namespaces/ran-optimization/deployments/cognitive-core"),
          ("PATCH", "/apis/apps/v1/namespaces/ran-optimization/deployments/cognitive-core"),
          ("PATCH", "/api/v1/namespaces/ran-optimization/configmaps/cognitive-core-config"),
          ("DELETE", "/api/v1/namespaces/ran-optimization/pods/"
           + k.pods_of("agentdb")[0]["metadata"]["name"]),
          ("PATCH", "/apis/apps/v1/namespaces/ran-optimization/deployments/cognitive-core")],
         "dry-run: every write recorded on the timeline (undo, scale, resources, env, "
         "configmap, pod delete, restart)")
    scale = [q for q in dry_recorded if q[1].endswith("/scale")]
    t.check(scale and scale[0][3] == {"spec": {"replicas": 3}},
            "dry-run: the relative scale was computed from the read (2 + 1)", scale)
    succ = rbtest.events(d1, iid, "step succeeded")
    mut = [e for e in succ if e["detail"].get("kind") not in ("exec",)]
    t.check(len(mut) == 7 and all(e["detail"].get("sent") is False for e in mut),
            "dry-run: each cluster change `step succeeded` with sent:false",
            [(e["detail"].get("step"), e["detail"].get("sent")) for e in succ])
    skipped = sorted(e["detail"].get("step") for e in rbtest.events(d1, iid, "step skipped"))
    t.eq(skipped, ["health", "hook", "rolled-out"],
         "dry-run: checks and exec are `step skipped` (docs: \"Checks and exec are not run "
         "in dry-run (step skipped)\")")
    t.check(not os.path.exists(marker), "dry-run: the exec program did not run")
    t.eq(loop.hits, [], "dry-run: the http_check was not made")
    t.check(not rbtest.events(d1, iid, "escalation requested"), "dry-run: no escalation")
    d1.stop()

    t.section("live run of the same alert")
    dry_gets = [rbtest.logged_request(r) for r in reqs]
    k.clear_requests()
    d2 = t.daemon(name="live", args=rbtest.remediation_args(k, pd))
    iid2, _ = rbtest.fire(d2, "DryRunCheck", labels)
    fin = rbtest.wait_finished(d2, iid2, 30) or {}
    t.eq(fin.get("outcome"), "succeeded", "live: outcome succeeded")
    live = k.requests()
    live_writes = [rbtest.logged_request(r) for r in live if r["method"] != "GET"]
    t.check(all(r["code"] == 200 for r in live if r["method"] != "GET"),
            "live: every write answered 200", [(r["method"], r["path"], r["code"]) for r in live])
    got, want = [mask(q) for q in live_writes], [mask(q) for q in dry_recorded]
    t.check(got == want, "live: the writes sent equal the dry-run's recorded requests "
            "(method, path, Content-Type, body)",
            "\n".join("live %r\n dry %r" % (a, b) for a, b in zip(got, want)
                      if a != b) or ("%d vs %d" % (len(got), len(want))))
    live_recorded = [q for q in rbtest.recorded_requests(d2, iid2) if q[0] != "GET"]
    t.check(live_writes == live_recorded,
            "live: the writes sent equal the live run's own recorded requests (exactly)")
    live_gets = [rbtest.logged_request(r) for r in live if r["method"] == "GET"]
    missing = [g for g in dry_gets if g not in live_gets]
    t.eq(missing, [], "dry-run made only reads that the live run makes too")
    t.check(os.path.exists(marker), "live: the exec program ran")
    t.check(loop.hits, "live: the http_check was made")
    d2.stop()

    t.section("no cluster configured: dry-run by default")
    k.clear_requests()
    d3 = t.daemon(name="nocluster", args=["--remediation.dir=" + pd])
    iid3, _ = rbtest.fire(d3, "DryRunCheck", labels)
    fin = rbtest.wait_finished(d3, iid3, 20) or {}
    t.eq(fin.get("outcome"), "dry_run", "no cluster: outcome dry_run")
    rec = rbtest.recorded_requests(d3, iid3)
    t.check(any(q[0] == "GET" and q[1].endswith("/scale") for q in rec),
            "no cluster: the relative scale records the read it would make",
            [(q[0], q[1]) for q in rec])
    t.check(any(q[0] == "PATCH" and q[2] == "application/strategic-merge-patch+json"
                for q in rec), "no cluster: the patches are recorded")
    t.eq(k.requests(), [], "no cluster: nothing reached the stand-in")
    d3.stop()
    loop.stop()
    k.stop()


if __name__ == "__main__":
    rbtest.Test("remediation_dryrun").run(body)
