#!/usr/bin/env python3
"""Dry-run against the stand-in Kubernetes API server: the same alert with
--dry-run records the exact requests and sends no write (the stand-in sees
only GETs, its objects do not change); then a live run sends exactly the
writes the dry-run recorded (method, path, Content-Type, body; the
restartedAt value aside).  Without a cluster, dry-run is the default and
nothing is sent anywhere (docs/remediation.md, "Dry-run").  Reloads that
turn dry-run on or off apply to the runs decided after them, and turning it
on stops the writes of live runs in progress."""

import copy
import json
import os
import re
import signal
import sys
import threading

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
    reload_cases(t, k)
    k.stop()


# ---------------------------------------------------------------- reloads

DEPLOY_PATH = "/apis/apps/v1/namespaces/%s/deployments/cognitive-core" % NS
CM_PATH = "/api/v1/namespaces/%s/configmaps/cognitive-core-config" % NS


def flip_plan(name, alertname, gate_url=None):
    """A configmap patch, optionally an http_check that waits at a gate,
    then a restart: writes before and after the gate."""
    steps = [{"name": "pool", "kind": "patch_configmap", "configmap": "cognitive-core-config",
              "data": {"DATABASE_POOL_SIZE": "50"}}]
    if gate_url:
        steps.append({"name": "gate", "kind": "http_check", "url": gate_url,
                      "timeout_seconds": 60, "interval_seconds": 1})
    steps.append({"name": "restart", "kind": "rollout_restart"})
    return {"name": name, "match": ['alertname="%s"' % alertname],
            "target": {"deployment": "cognitive-core"},
            "allow": {"namespaces": [NS], "deployments": ["cognitive-core"],
                      "configmaps": ["cognitive-core-config"]},
            "steps": steps,
            "limits": {"cooldown_seconds": 0, "max_per_hour": 100, "max_per_day": 100}}


def reload_cases(t, k):
    """remediation.dry_run on reload (docs/remediation.md, "Dry-run and
    reloads"): a run decided after the reload takes the new mode; a run
    keeps the mode it was decided with, except that turning dry-run on
    stops a live run's further writes."""
    k.reset()
    k.clear_requests()
    gate_in, gate_open = threading.Event(), threading.Event()

    def gate(method, path, headers, body):
        if path.startswith("/gate"):
            gate_in.set()
            gate_open.wait(30)
        return (200, "text/plain", "ok")

    loop = rbtest.LoopbackHTTP(gate)
    pd = rbtest.write_plans(t, "flip-plans", [flip_plan("flip", "DryRunFlip"),
                                              flip_plan("gated", "DryRunGated",
                                                        loop.url + "/gate")])
    labels = {"namespace": NS, "deployment": "cognitive-core"}
    seq = iter(range(1, 100))

    def config(dry):
        return {"remediation": {"dir": pd, "dry_run": dry, "max_actions_per_minute": 100,
                                "max_actions_per_hour": 1000},
                "kube": {"api_url": k.url}}

    def fire(d, name):
        return rbtest.fire(d, name, dict(labels, attempt=str(next(seq))))[0]

    def changes(d, old, new):
        pat = r'msg="dry_run changed" old=%s new=%s' % (old, new)
        return len(re.findall(pat, d.log_text()))

    def run_mode(d, iid):
        """(plan matched dryRun, the dryRun of every step event)."""
        pm = rbtest.events(d, iid, "plan matched")
        steps = [e["detail"].get("dryRun") for e in rbtest.events(d, iid)
                 if e["kind"].startswith("step ")]
        return (pm[0]["detail"].get("dryRun") if pm else None, sorted(set(steps)))

    t.section("reload: live -> dry-run")
    d = t.daemon(name="flip", config=config(False))
    t.check("dry_run=false" in d.log_text(), "started live (remediation ready dry_run=false)")
    iid = fire(d, "DryRunFlip")
    fin = rbtest.wait_finished(d, iid, 20) or {}
    t.eq(fin.get("outcome"), "succeeded", "live: outcome succeeded")
    t.eq(run_mode(d, iid), (False, [False]), "live: plan matched and steps say dryRun false")
    t.eq([(r["method"], r["path"]) for r in k.writes()],
         [("PATCH", CM_PATH), ("PATCH", DEPLOY_PATH)], "live: the configmap and restart sent")

    k.clear_requests()
    d.write_config(config(True))
    t.eq(d.post("/-/reload").status, 200, "POST /-/reload with dry_run true -> 200")
    t.eq(changes(d, "false", "true"), 1, "the log says dry_run changed old=false new=true")
    iid = fire(d, "DryRunFlip")
    fin = rbtest.wait_finished(d, iid, 20) or {}
    t.eq(fin.get("outcome"), "dry_run", "after the reload: outcome dry_run")
    t.eq(run_mode(d, iid), (True, [True]), "after the reload: the run records dryRun true")
    t.eq(k.writes(), [], "after the reload: no write reached the stand-in (reads only)")
    t.check(k.requests(), "after the reload: the dry run still made its reads")

    t.section("reload: dry-run -> live (SIGHUP)")
    k.clear_requests()
    d.write_config(config(False))
    d.signal(signal.SIGHUP)
    t.check(rbtest.wait_for(lambda: changes(d, "true", "false") == 1, 10),
            "the log says dry_run changed old=true new=false")
    iid = fire(d, "DryRunFlip")
    fin = rbtest.wait_finished(d, iid, 20) or {}
    t.eq(fin.get("outcome"), "succeeded", "after the reload: outcome succeeded")
    t.eq(run_mode(d, iid), (False, [False]), "after the reload: the run records dryRun false")
    t.eq([(r["method"], r["path"]) for r in k.writes()],
         [("PATCH", CM_PATH), ("PATCH", DEPLOY_PATH)], "after the reload: the writes were sent")

    t.section("dry-run turned on while a live run is going: its further writes are withheld")
    k.clear_requests()
    iid = fire(d, "DryRunGated")
    t.check(gate_in.wait(20), "the live run reached its gate (an http_check held open)")
    t.eq([(r["method"], r["path"]) for r in k.writes()], [("PATCH", CM_PATH)],
         "before the reload the run sent its configmap patch")
    d.write_config(config(True))
    t.eq(d.post("/-/reload").status, 200, "POST /-/reload with dry_run true -> 200")
    gate_open.set()
    fin = rbtest.wait_finished(d, iid, 30) or {}
    t.eq([(r["method"], r["path"]) for r in k.writes()], [("PATCH", CM_PATH)],
         "the restart after the gate was not sent (the stand-in saw no deployment write)")
    skipped = [e["detail"] for e in rbtest.events(d, iid, "step skipped")]
    t.check(len(skipped) == 1 and skipped[0].get("step") == "restart"
            and skipped[0].get("sent") is False and skipped[0].get("withheld") == 1
            and "dry-run was turned on" in skipped[0].get("note", ""),
            "the restart is `step skipped`, sent:false, withheld:1, saying dry-run was turned "
            "on", skipped)
    started = [e["detail"] for e in rbtest.events(d, iid, "step started")
               if e["detail"].get("step") == "restart"]
    t.check(started and [(q["method"], q["path"]) for q in started[0].get("requests") or []]
            == [("PATCH", DEPLOY_PATH)],
            "the withheld request is on the timeline (its `step started`)", started)
    t.eq(run_mode(d, iid), (False, [False]),
         "the run keeps the mode it was decided with (dryRun false: its patch was real)")
    t.eq(fin.get("withheldSteps"), 1, "remediation finished counts withheldSteps 1")

    t.section("dry-run turned off while a dry run is going: it stays dry")
    k.clear_requests()
    f = k.fault(method="GET", path="/deployments/cognitive-core$", delay_ms=4000, times=1)
    iid = fire(d, "DryRunFlip")
    t.check(rbtest.wait_for(lambda: any(r.get("fault") == f["id"]
                                        for r in k.requests(settle=0)), 20),
            "the dry run's read of the Deployment is held by the stand-in")
    d.write_config(config(False))
    t.eq(d.post("/-/reload").status, 200, "POST /-/reload with dry_run false -> 200")
    t.eq(rbtest.events(d, iid, "remediation finished"), [],
         "the reload landed while the run was going")
    fin = rbtest.wait_finished(d, iid, 30) or {}
    t.eq(fin.get("outcome"), "dry_run", "the run finished as a dry run")
    t.eq(run_mode(d, iid), (True, [True]), "every step of it says dryRun true")
    t.eq(k.writes(), [], "it sent no write")
    k.clear_faults()
    iid = fire(d, "DryRunFlip")
    fin = rbtest.wait_finished(d, iid, 20) or {}
    t.eq((fin.get("outcome"), run_mode(d, iid)[0]), ("succeeded", False),
         "the next alert's run is live")
    d.stop()
    loop.stop()


if __name__ == "__main__":
    rbtest.Test("remediation_dryrun").run(body)
