#!/usr/bin/env python3
"""Remediation step kinds against the stand-in Kubernetes API server
(test/kube/standin.py): the exact kubectl-shaped requests in the stand-in's
request log (method, path, Content-Type, body), the resulting objects, the
timeline, and the faults (500, 429, 409, persistent 500).  docs/remediation.md
is the spec."""

import json
import os
import re
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rbtest  # noqa: E402

NS = rbtest.KUBE_NS

SMP = "application/strategic-merge-patch+json"
MERGE = "application/merge-patch+json"
JSONPATCH = "application/json-patch+json"
DEP = "/apis/apps/v1/namespaces/ran-optimization/deployments/"
CORE = "/api/v1/namespaces/ran-optimization/"
SKIP_ANN = ("kubectl.kubernetes.io/last-applied-configuration",
            "deployment.kubernetes.io/revision",
            "deployment.kubernetes.io/revision-history",
            "deployment.kubernetes.io/desired-replicas",
            "deployment.kubernetes.io/max-replicas",
            "deprecated.deployment.rollback.to")
LOOSE = {"max_attempts_per_incident": 10, "cooldown_seconds": 0,
         "max_per_hour": 1000, "max_per_day": 1000, "breaker_failures": 100}


def plan(name, steps, verify=(), on_failure=(), target="cognitive-core",
         deployments=None, configmaps=()):
    p = {"name": name, "match": ['alertname="%s"' % name],
         "allow": {"namespaces": [NS],
                   "deployments": list(deployments or [target]),
                   "configmaps": list(configmaps)},
         "steps": list(steps), "limits": dict(LOOSE)}
    if target:
        p["target"] = {"deployment": target}
    if verify:
        p["verify"] = list(verify)
    if on_failure:
        p["on_failure"] = list(on_failure)
    return p


EXEC_SCRIPT = r'''
import json, os, sys
with open(sys.argv[1], "w") as f:
    json.dump({"argv": sys.argv[2:], "env": dict(os.environ)}, f)
print("exec-ok")
'''


def build_plans(t, loop_url):
    script = t.write("exec-script.py", EXEC_SCRIPT)
    out = t.path("exec-out.json")
    ps = [
        plan("restart", [{"kind": "rollout_restart"}]),
        plan("scale-abs", [{"kind": "scale", "replicas": 3, "min": 1, "max": 3}],
             target="agentdb"),
        plan("scale-up", [{"kind": "scale", "by": 5, "min": 1, "max": 4}]),
        plan("scale-down", [{"kind": "scale", "by": -10, "min": 1, "max": 5}]),
        plan("scale-by-one", [{"kind": "scale", "by": 1, "min": 1, "max": 3}],
             target="agentdb"),
        plan("scale-abs-down", [{"kind": "scale", "replicas": 2, "min": 1, "max": 3,
                                 "direction": "down"}], target="agentdb"),
        plan("resources", [{"kind": "set_resources", "container": "cognitive-core",
                            "limits": {"memory": "16Gi", "cpu": "6000m"}}]),
        plan("resources-bad", [{"kind": "set_resources", "container": "sidecar",
                                "limits": {"memory": "16Gi"}}]),
        plan("env", [{"kind": "set_env", "container": "{{deployment}}",
                      "env": {"NODE_OPTIONS": "--max-old-space-size=10240",
                              "NEW_VAR": "x y"}}]),
        plan("configmap", [{"kind": "patch_configmap", "configmap": "agentdb-config",
                            "data": {"QUIC_MAX_IDLE_TIMEOUT": "30000",
                                     "QUIC_INITIAL_MAX_DATA": "1048576"}}],
             target="agentdb", configmaps=["agentdb-config"]),
        plan("delete", [{"kind": "delete_pods", "selector": "app={{deployment}}",
                         "max_pods": 4}], target="swarm-agent"),
        plan("delete-too-many", [{"kind": "delete_pods", "selector": "app=swarm-agent",
                                  "max_pods": 2}], target="swarm-agent"),
        plan("delete-agentdb", [{"kind": "delete_pods", "selector": "app=agentdb",
                                 "max_pods": 3}], target="agentdb"),
        plan("delete-two-apps", [{"kind": "delete_pods",
                                  "selector": "app in (agentdb,swarm-agent)", "max_pods": 10}],
             target="agentdb"),
        plan("undo", [{"kind": "rollout_undo"}]),
        plan("wait", [{"kind": "rollout_restart"},
                      {"kind": "wait_rollout", "timeout_seconds": 10,
                       "interval_seconds": 1}]),
        plan("wait-stuck", [{"kind": "rollout_restart"},
                            {"kind": "wait_rollout", "timeout_seconds": 10,
                             "interval_seconds": 1}]),
        plan("http-ok", [{"kind": "wait_rollout", "timeout_seconds": 5,
                          "interval_seconds": 1}],
             verify=[{"kind": "http_check", "url": loop_url + "/health/{{deployment}}",
                      "expect_status": 200, "max_latency_ms": 3000,
                      "timeout_seconds": 5, "interval_seconds": 1}]),
        plan("http-head", [{"kind": "wait_rollout", "timeout_seconds": 5,
                            "interval_seconds": 1}],
             verify=[{"kind": "http_check", "url": loop_url + "/nocontent",
                      "method": "HEAD", "expect_status": 204,
                      "timeout_seconds": 5, "interval_seconds": 1}]),
        plan("http-bad-status", [{"kind": "wait_rollout", "timeout_seconds": 5,
                                  "interval_seconds": 1}],
             verify=[{"kind": "http_check", "url": loop_url + "/down",
                      "expect_status": 200, "timeout_seconds": 3,
                      "interval_seconds": 1}]),
        plan("http-slow", [{"kind": "wait_rollout", "timeout_seconds": 5,
                            "interval_seconds": 1}],
             verify=[{"kind": "http_check", "url": loop_url + "/slow",
                      "expect_status": 200, "max_latency_ms": 200,
                      "timeout_seconds": 2, "interval_seconds": 1}]),
        plan("exec", [{"kind": "exec", "argv": [sys.executable, script, out, "a b",
                                                "$HOME;id", "{{deployment}}",
                                                "{{namespace}}", "*"]}]),
        plan("exec-false", [{"kind": "exec", "argv": ["/bin/false"]}]),
        plan("exec-binary", [{"kind": "exec", "argv": ["/usr/bin/printf", "\\377\\376bin caf\\303\\251\\000\\a"]}]),
        plan("exec-timeout", [{"kind": "exec", "timeout_seconds": 1,
                               "argv": ["/bin/sh", "-c",
                                        "/bin/sleep 37.25 & /bin/sleep 38.25"]}]),
        plan("pod", [{"kind": "rollout_restart"}], target=None,
             deployments=["cognitive-core"]),
        plan("paused", [{"kind": "rollout_restart"}]),
        plan("paused-undo", [{"kind": "rollout_undo"}]),
        plan("fault-500-once", [{"kind": "rollout_restart"}]),
        plan("fault-429", [{"kind": "rollout_restart"}]),
        plan("fault-429-plain", [{"kind": "rollout_restart"}]),
        plan("fault-429-plain-always", [{"kind": "rollout_restart"}]),
        plan("fault-409", [{"kind": "rollout_restart"}]),
        plan("fault-409-always", [{"kind": "rollout_restart"}]),
        plan("fault-undo-422", [{"kind": "rollout_undo"}]),
        # rollout_undo in on_failure undoes the run's own changes.
        plan("undo-nothing", [{"name": "env", "kind": "set_env", "container": "cognitive-core",
                               "env": {"NODE_OPTIONS": "--max-old-space-size=8192"}}],
             on_failure=[{"name": "roll-back", "kind": "rollout_undo"}]),
        plan("undo-ours", [{"name": "limits", "kind": "set_resources",
                            "container": "cognitive-core", "limits": {"memory": "16Gi"}},
                           {"name": "restart", "kind": "rollout_restart"}],
             verify=[{"kind": "http_check", "url": loop_url + "/down", "expect_status": 200,
                      "timeout_seconds": 1, "interval_seconds": 1}],
             on_failure=[{"name": "roll-back", "kind": "rollout_undo"}]),
        plan("undo-theirs", [{"name": "limits", "kind": "set_resources",
                              "container": "cognitive-core", "limits": {"memory": "16Gi"}}],
             verify=[{"kind": "http_check", "url": loop_url + "/gate", "expect_status": 200,
                      "timeout_seconds": 1, "interval_seconds": 1}],
             on_failure=[{"name": "roll-back", "kind": "rollout_undo"}]),
        plan("fault-get-503", [{"kind": "rollout_restart"}]),
        plan("fault-500", [{"kind": "rollout_restart"}],
             on_failure=[{"kind": "patch_configmap", "configmap": "cognitive-core-config",
                          "data": {"ROLLBACK_MARK": "on_failure ran"}}],
             configmaps=["cognitive-core-config"]),
    ]
    return ps, out


GATE_IN, GATE_OPEN = threading.Event(), threading.Event()


def http_handler(method, path, headers, body):
    if path == "/gate":
        # Holds the check until the test has done what it must meanwhile.
        GATE_IN.set()
        GATE_OPEN.wait(30)
        return 503, "text/plain", "down"
    if path.startswith("/health/"):
        return 200, "text/plain", "ok %s" % path[8:]
    if path == "/nocontent":
        return 204, "text/plain", ""
    if path == "/down":
        return 503, "text/plain", "down"
    if path == "/slow":
        return 200, "text/plain", "slow", 0.6
    return 404, "text/plain", "no"


class Ctx:
    def __init__(self, t, d, k):
        self.t, self.d, self.k = t, d, k
        self.n = 0

    def fire(self, name, labels=None, reset=True, setup=None, timeout=30):
        """Resets the stand-in, runs setup, fires alert `name`; returns
        (incident id, finished detail)."""
        if reset:
            self.k.reset()
        if setup:
            setup()
        self.n += 1
        lb = {"namespace": NS, "case": str(self.n)}
        lb.update(labels or {})
        iid, _ = rbtest.fire(self.d, name, lb)
        fin = rbtest.wait_finished(self.d, iid, timeout)
        self.t.check(fin is not None, "%s: the run finished" % name,
                     rbtest.timeline_kinds(self.d, iid))
        return iid, fin or {}

    def writes(self):
        return [r for r in self.k.requests() if r["method"] != "GET"]

    def ev(self, iid, kind):
        return rbtest.events(self.d, iid, kind)


def one_write(c, what, method, path, ctype):
    w = c.writes()
    ok = c.t.check(len(w) == 1, "%s: exactly one write request" % what,
                   [(r["method"], r["path"]) for r in w])
    if not ok or not w:
        return None
    r = w[0]
    c.t.eq((r["method"], r["path"], r["headers"].get("Content-Type")),
           (method, path, ctype), "%s: method, path, Content-Type" % what)
    c.t.eq(r["code"], 200, "%s: the stand-in answered 200" % what)
    return r


def same_as_recorded(c, iid, what):
    """The writes the stand-in received are those recorded by `step started`."""
    got = [rbtest.logged_request(r) for r in c.writes()]
    rec = [q for q in rbtest.recorded_requests(c.d, iid) if q[0] != "GET"]
    c.t.check(got == rec, "%s: the requests received are exactly the ones recorded "
              "on the timeline" % what, "got %r\nrecorded %r" % (got, rec))


def outcome_is(c, fin, want, what):
    c.t.eq(fin.get("outcome"), want, "%s: outcome" % what)


# ------------------------------------------------------------------ cases


def case_restart(c):
    t, k = c.t, c.k
    t.section("rollout_restart")
    before = k.deployment("cognitive-core")
    iid, fin = c.fire("restart")
    outcome_is(c, fin, "succeeded", "restart")
    reqs = k.requests()
    t.eq([(r["method"], r["path"]) for r in reqs],
         [("GET", DEP + "cognitive-core"), ("PATCH", DEP + "cognitive-core")],
         "restart: GET the Deployment (paused check), then PATCH it")
    r = one_write(c, "restart", "PATCH", DEP + "cognitive-core", SMP)
    if r:
        body = json.loads(r["body"])
        ts = (((body.get("spec") or {}).get("template") or {}).get("metadata") or {}) \
            .get("annotations", {}).get("kubectl.kubernetes.io/restartedAt", "")
        t.eq(body, {"spec": {"template": {"metadata": {"annotations": {
            "kubectl.kubernetes.io/restartedAt": ts}}}}},
            "restart: body is kubectl's restartedAt strategic merge patch")
        t.check(re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)$", ts),
                "restart: restartedAt is RFC 3339 (%s)" % ts)
        after = k.deployment("cognitive-core")
        t.eq(after["spec"]["template"]["metadata"].get("annotations", {}).get(
            "kubectl.kubernetes.io/restartedAt"), ts,
            "restart: the template carries the restartedAt annotation")
        rev0 = int(before["metadata"]["annotations"]["deployment.kubernetes.io/revision"])
        t.eq(after["metadata"]["annotations"]["deployment.kubernetes.io/revision"],
             str(rev0 + 1), "restart: a new revision")
        rss = k.replicasets_of("cognitive-core")
        new = [x for x in rss if x["metadata"]["annotations"].get(
            "deployment.kubernetes.io/revision") == str(rev0 + 1)]
        t.check(len(new) == 1 and new[0]["spec"]["replicas"] == 2,
                "restart: a new ReplicaSet holds the 2 replicas", [
                    (x["metadata"]["name"], x["spec"].get("replicas")) for x in rss])
    same_as_recorded(c, iid, "restart")
    t.check(c.d.metric("runbookd_remediation_steps_total",
                       {"plan": "restart", "kind": "rollout_restart",
                        "outcome": "succeeded"}) == 1,
            "restart: runbookd_remediation_steps_total counts the step")


def case_scale(c):
    t, k = c.t, c.k
    t.section("scale")
    iid, fin = c.fire("scale-abs")
    outcome_is(c, fin, "succeeded", "scale absolute")
    t.eq([(r["method"], r["path"]) for r in k.requests()],
         [("GET", DEP + "agentdb/scale"), ("PATCH", DEP + "agentdb/scale")],
         "scale absolute: GET /scale (the count before), then one PATCH")
    ev = c.ev(iid, "step started")
    t.check(ev and ev[0]["detail"].get("note") == "agentdb had 1 replicas; set to 3",
            "scale absolute: the count before is on the timeline", ev)
    r = one_write(c, "scale absolute", "PATCH", DEP + "agentdb/scale", MERGE)
    if r:
        t.eq(json.loads(r["body"]), {"spec": {"replicas": 3}}, "scale absolute: body")
    t.eq(k.deployment("agentdb")["spec"]["replicas"], 3, "scale absolute: agentdb has 3")
    t.eq(len(k.pods_of("agentdb")), 3, "scale absolute: 3 agentdb pods")

    iid, fin = c.fire("scale-up")
    outcome_is(c, fin, "succeeded", "scale +5 (max 4)")
    t.eq([(r["method"], r["path"]) for r in k.requests()],
         [("GET", DEP + "cognitive-core/scale"), ("PATCH", DEP + "cognitive-core/scale")],
         "scale relative: GET /scale, then PATCH /scale")
    r = one_write(c, "scale +5", "PATCH", DEP + "cognitive-core/scale", MERGE)
    if r:
        t.eq(json.loads(r["body"]), {"spec": {"replicas": 4}},
             "scale relative: 2 + 5 clamped to max 4")
    t.eq(k.deployment("cognitive-core")["spec"]["replicas"], 4, "scale +5: 4 replicas")
    same_as_recorded(c, iid, "scale +5")

    iid, fin = c.fire("scale-down")
    outcome_is(c, fin, "succeeded", "scale -10 (min 1)")
    r = one_write(c, "scale -10", "PATCH", DEP + "cognitive-core/scale", MERGE)
    if r:
        t.eq(json.loads(r["body"]), {"spec": {"replicas": 1}},
             "scale relative: 2 - 10 clamped to min 1, never 0")
    t.eq(k.deployment("cognitive-core")["spec"]["replicas"], 1, "scale -10: 1 replica")

    # A scale step never moves the count the other way (the audit: agentdb
    # at 8 replicas, by +1 with max 3, was patched down to 3).
    def eight():
        r = rbtest.http_request("127.0.0.1", k.port, "PATCH", DEP + "agentdb/scale",
                                body=json.dumps({"spec": {"replicas": 8}}),
                                headers={"Content-Type": MERGE})
        t.eq(r.status, 200, "scale direction: agentdb scaled to 8 by someone")
        k.clear_requests()
    for name, what in (("scale-by-one", "by +1 (max 3)"),
                       ("scale-abs", "replicas 3 (direction up, the default)")):
        iid, fin = c.fire(name, setup=eight)
        outcome_is(c, fin, "succeeded", "8 replicas, %s" % what)
        t.eq(c.writes(), [], "8 replicas, %s: nothing sent" % what)
        t.eq(k.deployment("agentdb")["spec"]["replicas"], 8,
             "8 replicas, %s: still 8, never lowered" % what)
        ev = c.ev(iid, "step succeeded")
        t.check(ev and "has 8 replicas" in ev[0]["detail"].get("note", "")
                and ev[0]["detail"].get("sent") is False,
                "8 replicas, %s: the step says why nothing was done" % what, ev)
    iid, fin = c.fire("scale-abs-down", setup=eight)
    t.eq([json.loads(r["body"]) for r in c.writes()], [{"spec": {"replicas": 2}}],
         "replicas 2, direction down: 8 lowered to 2")
    iid, fin = c.fire("scale-abs-down")
    t.eq(c.writes(), [], "replicas 2, direction down, at 1 replica: not raised")


def case_check_config(c):
    t = c.t
    t.section("check-config refuses unsafe scale and delete_pods")
    bad = [
        ("zero", {"kind": "scale", "replicas": 0, "min": 1, "max": 3}),
        ("min0", {"kind": "scale", "by": -1, "min": 0, "max": 3}),
        ("nomax", {"kind": "scale", "replicas": 2}),
        ("over", {"kind": "scale", "replicas": 5, "min": 1, "max": 3}),
        ("nomaxpods", {"kind": "delete_pods", "selector": "app=x"}),
    ]
    for name, step in bad:
        d = rbtest.write_plans(t, "bad-" + name, [plan("bad-" + name, [step])])
        p = subprocess.run([rbtest.BIN, "check-config", "--remediation.dir=" + d],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=20)
        out = p.stdout.decode("utf-8", "replace")
        t.check(p.returncode == 1 and "bad-%s.json" % name in out and "steps[0]" in out,
                "check-config refuses %s, naming the file and steps[0]" % name, out)


def case_resources(c):
    t, k = c.t, c.k
    t.section("set_resources")
    before = k.deployment("cognitive-core")["spec"]["template"]["spec"]["containers"][0]
    iid, fin = c.fire("resources")
    outcome_is(c, fin, "succeeded", "set_resources")
    t.eq([r["method"] for r in k.requests()], ["GET", "PATCH"],
         "set_resources: GET (container check), then PATCH")
    r = one_write(c, "set_resources", "PATCH", DEP + "cognitive-core", SMP)
    if r:
        t.eq(json.loads(r["body"]), {"spec": {"template": {"spec": {"containers": [
            {"name": "cognitive-core", "resources": {"limits": {
                "memory": "16Gi", "cpu": "6000m"}}}]}}}}, "set_resources: body")
    cs = k.deployment("cognitive-core")["spec"]["template"]["spec"]["containers"]
    t.eq(len(cs), 1, "set_resources: still one container")
    t.eq(cs[0]["resources"], {"limits": {"cpu": "6000m", "memory": "16Gi"},
                              "requests": before["resources"]["requests"]},
         "set_resources: limits raised, requests kept")
    t.eq((cs[0]["image"], cs[0]["env"]), (before["image"], before["env"]),
         "set_resources: image and env untouched")
    same_as_recorded(c, iid, "set_resources")

    iid, fin = c.fire("resources-bad")
    outcome_is(c, fin, "failed", "set_resources on an unknown container")
    t.eq(c.writes(), [], "unknown container: nothing written (a strategic merge "
         "would add a container)")
    ev = c.ev(iid, "step refused")
    t.check(ev and "sidecar" in ev[0]["detail"].get("note", ""),
            "unknown container: step refused naming it", ev)
    t.check(c.ev(iid, "escalation requested"), "unknown container: escalation requested")


def case_env(c):
    t, k = c.t, c.k
    t.section("set_env")
    before = k.deployment("cognitive-core")["spec"]["template"]["spec"]["containers"][0]
    iid, fin = c.fire("env")
    outcome_is(c, fin, "succeeded", "set_env")
    r = one_write(c, "set_env", "PATCH", DEP + "cognitive-core", SMP)
    if r:
        t.eq(json.loads(r["body"]), {"spec": {"template": {"spec": {"containers": [
            {"name": "cognitive-core", "env": [
                {"name": "NODE_OPTIONS", "value": "--max-old-space-size=10240"},
                {"name": "NEW_VAR", "value": "x y"}]}]}}}}, "set_env: body")
    env = k.deployment("cognitive-core")["spec"]["template"]["spec"]["containers"][0]["env"]
    want = {e["name"]: e["value"] for e in before["env"]}
    want.update({"NODE_OPTIONS": "--max-old-space-size=10240", "NEW_VAR": "x y"})
    t.eq({e["name"]: e.get("value") for e in env}, want,
         "set_env: merged by name (others kept, one changed, one added)")
    t.eq(len(env), len(want), "set_env: no duplicate entries")


def case_configmap(c):
    t, k = c.t, c.k
    t.section("patch_configmap")
    before = k.obj("configmaps", "agentdb-config")["data"]
    iid, fin = c.fire("configmap")
    outcome_is(c, fin, "succeeded", "patch_configmap")
    r = one_write(c, "patch_configmap", "PATCH", CORE + "configmaps/agentdb-config", SMP)
    if r:
        t.eq(json.loads(r["body"]), {"data": {"QUIC_MAX_IDLE_TIMEOUT": "30000",
                                              "QUIC_INITIAL_MAX_DATA": "1048576"}},
             "patch_configmap: body")
    want = dict(before)
    want.update({"QUIC_MAX_IDLE_TIMEOUT": "30000", "QUIC_INITIAL_MAX_DATA": "1048576"})
    t.eq(k.obj("configmaps", "agentdb-config")["data"], want,
         "patch_configmap: data merged, other keys kept")


def case_delete(c):
    t, k = c.t, c.k
    t.section("delete_pods")
    k.reset()
    names = sorted(p["metadata"]["name"] for p in k.pods_of("swarm-agent"))
    t.eq(len(names), 4, "swarm-agent has 4 pods")
    iid, fin = c.fire("delete", reset=False)
    outcome_is(c, fin, "succeeded", "delete_pods")
    reqs = k.requests()
    t.check(reqs and reqs[0]["method"] == "GET" and reqs[0]["path"] == CORE + "pods"
            and reqs[0]["query"] == "labelSelector=app%3Dswarm-agent",
            "delete_pods: lists pods by the selector", reqs[:1])
    dels = [r for r in reqs if r["method"] == "DELETE"]
    t.eq(sorted(r["path"] for r in dels), [CORE + "pods/" + n for n in names],
         "delete_pods: one DELETE per matching pod")
    t.check(all(r["headers"].get("Content-Type") == "application/json"
                and json.loads(r["body"]) == {"kind": "DeleteOptions", "apiVersion": "v1",
                                              "propagationPolicy": "Background"}
                and r["code"] == 200 for r in dels),
            "delete_pods: each with kubectl's DeleteOptions body", dels[:1])
    now = sorted(p["metadata"]["name"] for p in k.pods_of("swarm-agent"))
    t.check(len(now) == 4 and not set(now) & set(names),
            "delete_pods: the ReplicaSet recreated 4 new pods", now)
    same_as_recorded(c, iid, "delete_pods")

    iid, fin = c.fire("delete-too-many")
    outcome_is(c, fin, "failed", "delete_pods over max_pods")
    t.eq(c.writes(), [], "delete_pods over max_pods: no DELETE at all")
    ev = c.ev(iid, "step refused")
    t.check(ev and "max_pods 2" in ev[0]["detail"].get("note", "")
            and "4 pods" in ev[0]["detail"].get("note", ""),
            "delete_pods over max_pods: step refused (4 match, max 2)", ev)
    t.eq(len(k.pods_of("swarm-agent")), 4, "delete_pods over max_pods: pods untouched")
    t.check(c.ev(iid, "escalation requested"), "delete_pods refused: escalation requested")

    # The audit: app=agentdb also matched a StatefulSet's pod, and it was
    # deleted.  Only pods whose ReplicaSet belongs to an allowed Deployment
    # may be; otherwise the whole step is refused, naming the pods.
    sts_pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {
        "name": "agentdb-backup-0", "namespace": NS, "labels": {"app": "agentdb"},
        "ownerReferences": [{"apiVersion": "apps/v1", "kind": "StatefulSet",
                             "name": "agentdb-backup",
                             "uid": "11111111-2222-3333-4444-555555555555",
                             "controller": True}]},
        "spec": {"containers": [{"name": "backup", "image": "pg-backup:1"}]}}

    def add_sts_pod():
        k.load({"pods": [sts_pod]})
        k.clear_requests()
    iid, fin = c.fire("delete-agentdb", setup=add_sts_pod)
    outcome_is(c, fin, "failed", "delete_pods matching a StatefulSet's pod")
    t.eq(c.writes(), [], "delete_pods matching a StatefulSet's pod: no DELETE at all")
    ev = c.ev(iid, "step refused")
    t.check(ev and "agentdb-backup-0 (controlled by StatefulSet agentdb-backup)"
            in ev[0]["detail"].get("note", ""),
            "delete_pods matching a StatefulSet's pod: refused, naming the pod and its owner", ev)
    t.check("agentdb-backup-0" in [p["metadata"]["name"] for p in k.pods_of("agentdb")],
            "delete_pods matching a StatefulSet's pod: the StatefulSet's pod is still there")
    t.check(c.ev(iid, "escalation requested"), "delete_pods refused: escalation requested")

    iid, fin = c.fire("delete-two-apps")
    outcome_is(c, fin, "failed", "delete_pods matching another Deployment's pods")
    t.eq(c.writes(), [], "delete_pods matching another Deployment's pods: no DELETE")
    ev = c.ev(iid, "step refused")
    t.check(ev and "4 matching pods are not of a Deployment this plan may touch"
            in ev[0]["detail"].get("note", "")
            and "a pod of deployment swarm-agent, not in the allow-list"
            in ev[0]["detail"].get("note", ""),
            "delete_pods matching another Deployment's pods: refused, naming them", ev)

    iid, fin = c.fire("delete-agentdb")
    outcome_is(c, fin, "succeeded", "delete_pods of the allowed Deployment only")
    t.eq([r["method"] for r in c.writes()], ["DELETE"],
         "delete_pods of the allowed Deployment: its one pod deleted")
    t.check([r for r in k.requests() if r["method"] == "GET" and "/replicasets/" in r["path"]],
            "delete_pods: the pod's ReplicaSet was read to find its Deployment")


def case_undo(c):
    t, k = c.t, c.k
    t.section("rollout_undo")
    k.reset()
    dep = k.deployment("cognitive-core")
    rss = k.replicasets_of("cognitive-core")
    by_rev = {int(x["metadata"]["annotations"]["deployment.kubernetes.io/revision"]): x
              for x in rss}
    t.eq(sorted(by_rev), [1, 2, 3], "cognitive-core starts at revision 3")
    prev = by_rev[2]
    tmpl = json.loads(json.dumps(prev["spec"]["template"]))
    tmpl["metadata"]["labels"].pop("pod-template-hash", None)
    ann = {a: v for a, v in dep["metadata"].get("annotations", {}).items() if a in SKIP_ANN}
    ann.update({a: v for a, v in prev["metadata"].get("annotations", {}).items()
                if a not in SKIP_ANN})
    iid, fin = c.fire("undo", reset=False)
    outcome_is(c, fin, "succeeded", "rollout_undo")
    reqs = k.requests()
    t.eq([(r["method"], r["path"], r["query"]) for r in reqs],
         [("GET", DEP + "cognitive-core", ""),
          ("GET", "/apis/apps/v1/namespaces/ran-optimization/replicasets",
           "labelSelector=app%3Dcognitive-core"),
          ("PATCH", DEP + "cognitive-core", "")],
         "rollout_undo: GET the Deployment, list its ReplicaSets by selector, PATCH")
    r = one_write(c, "rollout_undo", "PATCH", DEP + "cognitive-core", JSONPATCH)
    if r:
        t.eq(json.loads(r["body"]),
             [{"op": "test", "path": "/metadata/resourceVersion",
               "value": dep["metadata"]["resourceVersion"]},
              {"op": "replace", "path": "/spec/template", "value": tmpl},
              {"op": "replace", "path": "/metadata/annotations", "value": ann}],
             "rollout_undo: kubectl's JSON patch (revision 2's template without "
             "pod-template-hash, annotations) after a test of the resourceVersion read")
    after = k.deployment("cognitive-core")
    env = {e["name"]: e["value"] for e in
           after["spec"]["template"]["spec"]["containers"][0]["env"]}
    t.eq(env.get("NODE_OPTIONS"), "--max-old-space-size=4096",
         "rollout_undo: revision 2's template is back")
    t.eq(after["metadata"]["annotations"].get("deployment.kubernetes.io/revision"), "4",
         "rollout_undo: the deployment is at revision 4")
    rss = k.replicasets_of("cognitive-core")
    t.eq(len(rss), 3, "rollout_undo: the old ReplicaSet is reused, none created")
    old = [x for x in rss if x["metadata"]["name"] == prev["metadata"]["name"]]
    t.check(old and old[0]["metadata"]["annotations"].get(
        "deployment.kubernetes.io/revision") == "4" and old[0]["metadata"]["annotations"].get(
        "deployment.kubernetes.io/revision-history") == "2" and old[0]["spec"]["replicas"] == 2,
        "rollout_undo: revision 2's ReplicaSet became revision 4 (history 2), 2 replicas",
        old[:1] and old[0]["metadata"])


def case_undo_on_failure(c):
    t, k = c.t, c.k
    t.section("rollout_undo in on_failure: the run's own changes, and only those")
    tmpl0 = {}

    def node_options(dep):
        return {e["name"]: e["value"] for e in
                dep["spec"]["template"]["spec"]["containers"][0]["env"]}.get("NODE_OPTIONS")

    # runbookd's only change fails: on_failure has nothing to undo, and the
    # release before (a person's, revision 3) stays.
    iid, fin = c.fire("undo-nothing", setup=lambda: k.fault(
        method="PATCH", path="/deployments/cognitive-core$", status=422, times=1))
    outcome_is(c, fin, "failed", "undo, nothing applied")
    t.eq([(r["method"], r["code"]) for r in c.writes()], [("PATCH", 422)],
         "undo, nothing applied: only the failed PATCH, no rollback")
    ev = [e for e in c.ev(iid, "step succeeded") if e["detail"].get("step") == "roll-back"]
    t.check(ev and "changed nothing" in ev[0]["detail"].get("note", "")
            and ev[0]["detail"].get("sent") is False,
            "undo, nothing applied: the roll-back says there is nothing to undo", ev)
    dep = k.deployment("cognitive-core")
    t.eq((dep["metadata"]["annotations"]["deployment.kubernetes.io/revision"],
          node_options(dep)), ("3", "--max-old-space-size=6144"),
         "undo, nothing applied: still revision 3 (NODE_OPTIONS 6144), not rolled back to 2")

    # Two changes of runbookd's (limits, then a restart): both undone, the
    # template is the one before the run.
    iid, fin = c.fire("undo-ours", setup=lambda: tmpl0.update(
        k.deployment("cognitive-core")["spec"]["template"]))
    outcome_is(c, fin, "unverified", "undo of two changes")
    undo = [r for r in c.writes() if r["headers"].get("Content-Type") == JSONPATCH]
    t.check(len(undo) == 1 and undo[0]["code"] == 200, "undo of two changes: one JSON patch",
            [(r["method"], r["code"]) for r in c.writes()])
    t.eq(k.deployment("cognitive-core")["spec"]["template"], tmpl0,
         "undo of two changes: the template is exactly the one before the run (limits and "
         "restartedAt gone), not just the restart undone")
    t.check(undo and json.loads(undo[0]["body"])[0]["op"] == "test",
            "undo of two changes: the JSON patch tests the resourceVersion first")

    # Someone changes the Deployment after runbookd's last change: refused.
    GATE_IN.clear()
    GATE_OPEN.clear()
    k.reset()
    c.n += 1
    iid, _ = rbtest.fire(c.d, "undo-theirs", {"namespace": NS, "case": str(c.n)})
    t.check(GATE_IN.wait(20), "undo over someone's change: the verification is being made")
    hot = {"spec": {"template": {"spec": {"containers": [
        {"name": "cognitive-core", "image": "ericsson/ran-optimization-sdk:2.0.1-hotfix"}]}}}}
    r = rbtest.http_request("127.0.0.1", k.port, "PATCH", DEP + "cognitive-core",
                            json.dumps(hot), {"Content-Type": SMP})
    t.eq(r.status, 200, "undo over someone's change: a person patched the image meanwhile")
    GATE_OPEN.set()
    fin = rbtest.wait_finished(c.d, iid, 20) or {}
    t.eq(fin.get("outcome"), "unverified", "undo over someone's change: outcome unverified")
    t.eq([r["headers"].get("Content-Type") for r in c.writes()], [SMP, SMP],
         "undo over someone's change: no JSON patch sent (runbookd's limits and the "
         "person's image only)")
    ev = c.ev(iid, "step refused")
    t.check(ev and "changed by someone else" in ev[0]["detail"].get("note", ""),
            "undo over someone's change: the roll-back is refused, saying why", ev)
    esc = c.ev(iid, "escalation requested")
    t.check(esc and "changed by someone else" in esc[-1]["detail"].get("reason", ""),
            "undo over someone's change: escalated with the reason", esc)
    t.eq(k.deployment("cognitive-core")["spec"]["template"]["spec"]["containers"][0]["image"],
         "ericsson/ran-optimization-sdk:2.0.1-hotfix",
         "undo over someone's change: the person's image stands")


def case_wait(c):
    t, k = c.t, c.k
    t.section("wait_rollout")
    t0 = time.monotonic()
    iid, fin = c.fire("wait", setup=lambda: k.rollout("cognitive-core", "after:2"))
    outcome_is(c, fin, "succeeded", "wait_rollout after:2")
    ev = [e for e in c.ev(iid, "step succeeded") if e["detail"].get("kind") == "wait_rollout"]
    t.check(ev and ev[0]["detail"].get("attempts") == 3
            and "successfully rolled out" in json.dumps(ev[0]["detail"].get("result")),
            "wait_rollout after:2: passes on the 3rd read", ev)
    gets = [r for r in k.requests() if r["method"] == "GET"]
    t.eq(len(gets), 4, "wait_rollout after:2: 1 GET before the restart + 3 polls")
    t.check(time.monotonic() - t0 >= 1.8, "wait_rollout: polled at its 1 s interval")

    t0 = time.monotonic()
    iid, fin = c.fire("wait-stuck", setup=lambda: k.rollout("cognitive-core", "stuck"))
    outcome_is(c, fin, "failed", "wait_rollout stuck")
    ev = [e for e in c.ev(iid, "step failed") if e["detail"].get("kind") == "wait_rollout"]
    t.check(ev and ev[0]["detail"].get("attempts") == 1
            and "exceeded its progress deadline" in json.dumps(ev[0]["detail"]),
            "wait_rollout stuck: fails at once on ProgressDeadlineExceeded", ev)
    t.check(time.monotonic() - t0 < 6, "wait_rollout stuck: did not wait for its timeout")
    t.check(c.ev(iid, "escalation requested"), "wait_rollout stuck: escalation requested")


def case_http(c, loop):
    t = c.t
    t.section("http_check")
    n0 = len(loop.hits)
    iid, fin = c.fire("http-ok")
    outcome_is(c, fin, "succeeded", "http_check 200")
    ev = c.ev(iid, "verified")
    res = ev[0]["detail"].get("result", {}) if ev else {}
    t.check(res.get("status") == 200 and res.get("passed") is True
            and isinstance(res.get("latencyMs"), (int, float)),
            "http_check: verified with status and latency", ev)
    t.eq(loop.hits[n0:n0 + 1], [("GET", "/health/cognitive-core")],
         "http_check: GET of the url with {{deployment}} expanded")

    n0 = len(loop.hits)
    iid, fin = c.fire("http-head")
    outcome_is(c, fin, "succeeded", "http_check HEAD expecting 204")
    t.eq(loop.hits[n0:n0 + 1], [("HEAD", "/nocontent")], "http_check: method HEAD")

    n0 = len(loop.hits)
    iid, fin = c.fire("http-bad-status")
    outcome_is(c, fin, "unverified", "http_check 503")
    ev = c.ev(iid, "verification failed")
    res = ev[0]["detail"] if ev else {}
    t.check(res.get("result", {}).get("status") == 503 and res.get("attempts", 0) >= 2,
            "http_check 503: repeated, then verification failed with the status", ev)
    t.check(len(loop.hits) - n0 >= 2, "http_check 503: retried at its interval")
    t.check(c.ev(iid, "escalation requested"), "http_check 503: escalation requested")

    iid, fin = c.fire("http-slow")
    outcome_is(c, fin, "unverified", "http_check too slow")
    ev = c.ev(iid, "verification failed")
    res = ev[0]["detail"].get("result", {}) if ev else {}
    t.check(res.get("status") == 200 and res.get("latencyMs", 0) >= 550
            and res.get("maxLatencyMs") == 200,
            "http_check slow: 200 but over max_latency_ms fails", ev)


def case_exec(c):
    t, k = c.t, c.k
    t.section("exec")
    out = c.exec_out
    iid, fin = c.fire("exec", labels={"team": "ran ops", "k8s_cluster": "prod"})
    outcome_is(c, fin, "succeeded", "exec")
    try:
        with open(out) as f:
            got = json.load(f)
    except (OSError, ValueError) as e:
        got = {"error": repr(e)}
    t.eq(got.get("argv"), ["a b", "$HOME;id", "cognitive-core", NS, "*"],
         "exec: argv passed verbatim (no shell), templates expanded")
    env = got.get("env") or {}
    want = {"RUNBOOKD_INCIDENT_ID": iid, "RUNBOOKD_PLAN": "exec",
            "RUNBOOKD_NAMESPACE": NS, "RUNBOOKD_DEPLOYMENT": "cognitive-core",
            "RUNBOOKD_DRY_RUN": "0", "RUNBOOKD_LABEL_ALERTNAME": "exec",
            "RUNBOOKD_LABEL_SEVERITY": "critical", "RUNBOOKD_LABEL_NAMESPACE": NS,
            "RUNBOOKD_LABEL_TEAM": "ran ops", "RUNBOOKD_LABEL_K8S_CLUSTER": "prod"}
    t.eq({a: env.get(a) for a in want}, want, "exec: RUNBOOKD_* and RUNBOOKD_LABEL_* "
         "environment")
    t.check("RBTEST_LEAK" not in env and env.get("PATH", "").startswith("/"),
            "exec: a fixed environment (nothing inherited from the daemon)",
            sorted(env))
    ev = [e for e in c.ev(iid, "step succeeded") if e["detail"].get("kind") == "exec"]
    res = ev[0]["detail"].get("result", {}) if ev else {}
    t.check(res.get("exitStatus") == 0 and "exec-ok" in res.get("output", ""),
            "exec: exit status and output on the timeline", ev)
    t.eq(c.writes(), [], "exec: no Kubernetes write")

    # Output that is not UTF-8 reaches the timeline as U+FFFD, and the API's
    # answers stay valid UTF-8 JSON (rbtest decodes them strictly).
    iid, fin = c.fire("exec-binary")
    outcome_is(c, fin, "succeeded", "exec with binary output")
    ev = [e for e in c.ev(iid, "step succeeded") if e["detail"].get("kind") == "exec"]
    t.eq((ev[0]["detail"].get("result", {}) if ev else {}).get("output"),
         "\ufffd\ufffdbin caf\u00e9?\u0007",
         "exec binary output: UTF-8 kept, other bytes U+FFFD, NUL '?', controls escaped")

    iid, fin = c.fire("exec-false")
    outcome_is(c, fin, "failed", "exec /bin/false")
    ev = c.ev(iid, "step failed")
    t.check(ev and ev[0]["detail"].get("result", {}).get("exitStatus") == 1,
            "exec /bin/false: step failed with exit status 1", ev)

    t0 = time.monotonic()
    iid, fin = c.fire("exec-timeout")
    outcome_is(c, fin, "failed", "exec past its timeout")
    ev = c.ev(iid, "step failed")
    t.check(ev and "killed after 1s" in json.dumps(ev[0]["detail"]),
            "exec timeout: killed after 1s", ev)
    t.check(time.monotonic() - t0 < 8, "exec timeout: did not wait for the program")

    def sleepers():
        left = []
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                with open("/proc/%s/cmdline" % pid, "rb") as f:
                    cmd = f.read()
            except OSError:
                continue
            if cmd in (b"/bin/sleep\x0037.25\x00", b"/bin/sleep\x0038.25\x00"):
                left.append(pid)
        return left
    t.check(rbtest.wait_for(lambda: not sleepers(), 5),
            "exec timeout: the program and its children were killed", sleepers())


def case_pod(c):
    t, k = c.t, c.k
    t.section("pod label resolved to its Deployment")
    k.reset()
    pods = k.pods_of("cognitive-core")
    pod = pods[0]["metadata"]["name"]
    rs = [o["name"] for o in pods[0]["metadata"]["ownerReferences"]][0]
    iid, fin = c.fire("pod", labels={"pod": pod}, reset=False)
    outcome_is(c, fin, "succeeded", "pod label")
    t.eq([(r["method"], r["path"]) for r in k.requests()],
         [("GET", CORE + "pods/" + pod), ("GET", "/apis/apps/v1/namespaces/"
                                          "ran-optimization/replicasets/" + rs),
          ("GET", DEP + "cognitive-core"), ("PATCH", DEP + "cognitive-core")],
         "pod label: GET pod, GET its ReplicaSet, then the Deployment's restart")

    k.reset()
    other = k.pods_of("swarm-agent")[0]["metadata"]["name"]
    iid = c.refused("pod", {"pod": other}, reset=False)
    ev = c.ev(iid, "remediation refused")
    t.check(ev and "swarm-agent" in ev[0]["detail"].get("reason", ""),
            "pod of a Deployment outside the allow-list: remediation refused", ev)
    t.eq([(r["method"], r["path"]) for r in k.requests()],
         [("GET", CORE + "pods/" + other),
          ("GET", "/apis/apps/v1/namespaces/ran-optimization/replicasets/"
           + k.pods_of("swarm-agent")[0]["metadata"]["ownerReferences"][0]["name"])],
         "pod outside the allow-list: only the two owner reads, nothing written")

    iid = c.refused("pod", {"pod": "cognitive-core-nosuch-pod"})
    ev = c.ev(iid, "remediation refused")
    t.check(ev and "not found" in ev[0]["detail"].get("reason", ""),
            "unknown pod: remediation refused with the API's answer", ev)


def case_paused(c):
    t, k = c.t, c.k
    t.section("paused Deployment")

    def pause():
        r = rbtest.http_request("127.0.0.1", k.port, "PATCH", DEP + "cognitive-core",
                                body=json.dumps({"spec": {"paused": True}}),
                                headers={"Content-Type": MERGE})
        t.eq(r.status, 200, "paused: the test paused cognitive-core")
        k.clear_requests()
    iid, fin = c.fire("paused", setup=pause)
    outcome_is(c, fin, "failed", "restart of a paused deployment")
    t.eq([r["method"] for r in k.requests()], ["GET"], "paused: only the GET, no PATCH")
    ev = c.ev(iid, "step refused")
    t.check(ev and "can't restart paused deployment" in ev[0]["detail"].get("note", ""),
            "paused: step refused as kubectl does", ev)
    t.check(c.ev(iid, "escalation requested"), "paused: escalation requested")

    iid, fin = c.fire("paused-undo", setup=pause)
    outcome_is(c, fin, "failed", "undo of a paused deployment")
    t.eq(c.writes(), [], "paused undo: no PATCH")
    ev = c.ev(iid, "step refused")
    t.check(ev and "cannot rollback a paused deployment" in ev[0]["detail"].get("note", ""),
            "paused undo: step refused as kubectl does", ev)


def case_faults(c):
    t, k = c.t, c.k
    t.section("faults")
    path_re = "/deployments/cognitive-core$"

    iid, fin = c.fire("fault-500-once", setup=lambda: k.fault(
        method="PATCH", path=path_re, status=500, times=1))
    outcome_is(c, fin, "succeeded", "500 then success")
    p = [r for r in k.requests() if r["method"] == "PATCH"]
    t.check(len(p) == 2 and p[0]["code"] == 500 and p[1]["code"] == 200
            and p[0]["body"] == p[1]["body"],
            "500 once: the same PATCH retried and applied", [(r["code"], r["body"]) for r in p])
    ev = c.ev(iid, "step succeeded")
    t.check(ev and ev[0]["detail"].get("responses", [{}])[0].get("attempts") == 2,
            "500 once: the timeline shows 2 attempts", ev)

    iid, fin = c.fire("fault-429", setup=lambda: k.fault(
        method="PATCH", path=path_re, status=429, retry_after=2, times=1))
    outcome_is(c, fin, "succeeded", "429 then success")
    p = [r for r in k.requests() if r["method"] == "PATCH"]
    t.check(len(p) == 2 and p[0]["code"] == 429 and p[1]["code"] == 200,
            "429: retried", [(r["code"]) for r in p])
    if len(p) == 2:
        t.check(p[1]["time"] - p[0]["time"] >= 1.8,
                "429: Retry-After (2 s) honoured, not the 200 ms backoff (%.2fs)"
                % (p[1]["time"] - p[0]["time"]))

    iid, fin = c.fire("fault-429-plain", setup=lambda: k.fault(
        method="PATCH", path=path_re, status=429, retry_after=1, plain=True, times=1))
    outcome_is(c, fin, "succeeded", "429 text/plain (APF) then success")

    iid, fin = c.fire("fault-429-plain-always", setup=lambda: k.fault(
        method="PATCH", path=path_re, status=429, retry_after=1, plain=True, times=-1))
    outcome_is(c, fin, "failed", "persistent 429 text/plain")
    ev = c.ev(iid, "step failed")
    resp = (ev[0]["detail"].get("responses") or [{}])[0] if ev else {}
    t.check(resp.get("status") == 429 and "Too many requests" in resp.get("message", "")
            and not resp.get("mayHaveBeenApplied"),
            "persistent 429 text/plain: the text answer is the message on the timeline", ev)

    iid, fin = c.fire("fault-409", setup=lambda: k.fault(
        method="PATCH", path=path_re, status=409, times=1))
    outcome_is(c, fin, "succeeded", "409 then success")
    t.eq([(r["method"], r["code"]) for r in k.requests()],
         [("GET", 200), ("PATCH", 409), ("GET", 200), ("PATCH", 200)],
         "409: read afresh (GET) and sent again")
    t.check(c.ev(iid, "step conflict"), "409: a `step conflict` event")
    t.eq([e for e in rbtest.timeline_kinds(c.d, iid) if e.startswith("step ")],
         ["step started", "step conflict", "step retried", "step succeeded"],
         "409: the conflict is on the timeline before the retry it caused")
    t.eq(len(k.replicasets_of("cognitive-core")), 4, "409: applied once (one new revision)")

    iid, fin = c.fire("fault-undo-422", setup=lambda: k.fault(
        method="PATCH", path=path_re, status=422, times=1))
    outcome_is(c, fin, "succeeded", "422 on the undo's JSON patch (its test failed), then success")
    t.eq([(r["method"], r["code"]) for r in k.requests()],
         [("GET", 200), ("GET", 200), ("PATCH", 422), ("GET", 200), ("GET", 200),
          ("PATCH", 200)],
         "422 on a JSON patch with a test: read afresh and decided again, like a 409")
    t.check(c.ev(iid, "step conflict"), "422 with a test: a `step conflict` event")

    iid, fin = c.fire("fault-409-always", setup=lambda: k.fault(
        method="PATCH", path=path_re, status=409, times=-1))
    outcome_is(c, fin, "failed", "persistent 409")
    p = [r for r in k.requests() if r["method"] == "PATCH"]
    t.eq(len(p), 4, "persistent 409: the first PATCH and 3 re-reads with a new PATCH each")
    t.eq(len(c.ev(iid, "step conflict")), 3, "persistent 409: 3 `step conflict` events")
    ev = c.ev(iid, "step failed")
    resp = (ev[0]["detail"].get("responses") or [{}])[0] if ev else {}
    t.check(resp.get("status") == 409 and resp.get("reason") == "Conflict"
            and "the object has been modified" in resp.get("message", ""),
            "persistent 409: step failed with the Conflict Status", ev)

    iid, fin = c.fire("fault-get-503", setup=lambda: k.fault(
        method="GET", path=path_re, status=503, times=-1))
    outcome_is(c, fin, "failed", "persistent 503 on the read")
    t.eq(c.writes(), [], "503 on the read: nothing written")
    t.eq(len(k.requests()), 3, "503 on the read: retried (1 + 2)")
    ev = c.ev(iid, "step failed")
    t.check(ev and "503" in ev[0]["detail"].get("note", "")
            and "ServiceUnavailable" in ev[0]["detail"].get("note", ""),
            "503 on the read: step failed naming the Status", ev)

    cm_before = k.obj("configmaps", "cognitive-core-config")["data"]
    iid, fin = c.fire("fault-500", setup=lambda: k.fault(
        method="PATCH", path=path_re, status=500, times=-1))
    outcome_is(c, fin, "failed", "persistent 500")
    p = [r for r in k.requests() if r["method"] == "PATCH" and r["path"].endswith(
        "/deployments/cognitive-core")]
    t.eq(len(p), 3, "persistent 500: 1 + --kube.retries=2 attempts")
    ev = c.ev(iid, "step failed")
    resp = (ev[0]["detail"].get("responses") or [{}])[0] if ev else {}
    t.check(resp.get("status") == 500 and resp.get("reason") == "InternalError"
            and "etcdserver: request timed out" in resp.get("message", "")
            and resp.get("attempts") == 3,
            "persistent 500: the Status reason and message on the timeline", ev)
    cm = k.obj("configmaps", "cognitive-core-config")["data"]
    t.check(cm.get("ROLLBACK_MARK") == "on_failure ran"
            and {a: v for a, v in cm.items() if a != "ROLLBACK_MARK"} == cm_before,
            "persistent 500: on_failure ran (configmap patched)", cm)
    ph = [e["detail"].get("phase") for e in c.ev(iid, "step succeeded")]
    t.eq(ph, ["on_failure"], "persistent 500: the on_failure step succeeded")
    esc = c.ev(iid, "escalation requested")
    t.check(len(esc) == 1 and "fault-500" in esc[0]["detail"].get("reason", ""),
            "persistent 500: escalation requested once, naming the plan", esc)
    kinds = rbtest.timeline_kinds(c.d, iid)
    t.check(kinds.index("remediation finished") < kinds.index("escalation requested")
            if "escalation requested" in kinds and "remediation finished" in kinds else False,
            "persistent 500: finished, then escalation", kinds)
    t.check((c.d.metric("runbookd_kube_requests_total", {"code": "5xx"}) or 0) >= 1,
            "runbookd_kube_requests_total{code=\"5xx\"} counts the 500s")
    t.check((c.d.metric("runbookd_remediation_escalations_total") or 0) >= 1,
            "runbookd_remediation_escalations_total counts escalations")


def case_token_and_timeout(t):
    t.section("bearer token file (re-read at each request) and kube.timeout")
    k = rbtest.StandIn(t, token="s3cret-token", name="standin-token")
    tok = t.write("kube-token", "wrong-token\n")
    pd = rbtest.write_plans(t, "plans-token", [
        plan("tok", [{"kind": "rollout_restart"}]),
        plan("slow-api", [{"kind": "rollout_restart"}])])
    d = t.daemon(name="token", args=rbtest.remediation_args(k, pd, extra=[
        "--kube.token-file=" + tok, "--kube.retries=1", "--kube.timeout=1"]))
    c = Ctx(t, d, k)
    iid, fin = c.fire("tok", labels={"try": "1"})
    outcome_is(c, fin, "failed", "wrong token")
    reqs = k.requests()
    t.eq([(r["method"], r["code"]) for r in reqs], [("GET", 401)],
         "wrong token: 401, not retried, nothing written")
    ev = c.ev(iid, "step failed")
    t.check(ev and "401" in ev[0]["detail"].get("note", ""), "wrong token: 401 on the timeline",
            ev)
    with open(tok, "w") as f:
        f.write("s3cret-token\n")
    iid, fin = c.fire("tok", labels={"try": "2"})
    outcome_is(c, fin, "succeeded", "rotated token file")
    reqs = k.requests()
    t.check(reqs and all(r["headers"].get("Authorization") == "Bearer s3cret-token"
                         and r["code"] == 200 for r in reqs),
            "rotated token: every request carries the new bearer token",
            [(r["method"], r["code"], r["headers"].get("Authorization")) for r in reqs])

    t0 = time.monotonic()
    iid, fin = c.fire("slow-api", setup=lambda: k.fault(
        method="PATCH", path="/deployments/cognitive-core$", delay_ms=2500, times=-1))
    outcome_is(c, fin, "failed", "API slower than --kube.timeout=1")
    ev = c.ev(iid, "step failed")
    resp = (ev[0]["detail"].get("responses") or [{}])[0] if ev else {}
    t.check(resp.get("attempts") == 2 and resp.get("status") in (0, None)
            and resp.get("message"),
            "kube.timeout: each attempt timed out, the error is on the timeline", ev)
    t.check(resp.get("mayHaveBeenApplied") is True
            and "it may have been applied" in ev[0]["detail"].get("note", ""),
            "kube.timeout: the timeline says the change may have been applied", ev)
    t.check(time.monotonic() - t0 < 10, "kube.timeout: bounded (%.1fs)" % (
        time.monotonic() - t0))
    d.stop()
    k.stop()


def body(t):
    os.environ["RBTEST_LEAK"] = "must-not-reach-exec"
    k = rbtest.StandIn(t)
    loop = rbtest.LoopbackHTTP(http_handler)
    plans, exec_out = build_plans(t, loop.url)
    pd = rbtest.write_plans(t, "plans", plans)
    d = t.daemon(args=rbtest.remediation_args(k, pd, extra=[
        "--remediation.max-actions-per-minute=1000",
        "--remediation.max-actions-per-hour=100000",
        "--kube.retries=2", "--kube.timeout=5"]))
    c = Ctx(t, d, k)
    c.exec_out = exec_out

    def refused(name, labels, reset=True):
        if reset:
            k.reset()
        c.n += 1
        lb = {"namespace": NS, "case": str(c.n)}
        lb.update(labels)
        iid, _ = rbtest.fire(d, name, lb)
        rbtest.wait_event(d, iid, "escalation requested", 10)
        return iid
    c.refused = refused

    for case in (case_restart, case_scale, case_check_config, case_resources, case_env,
                 case_configmap, case_delete, case_undo, case_undo_on_failure, case_wait,
                 case_exec,
                 case_pod, case_paused, case_faults):
        case(c)
    case_http(c, loop)
    d.stop()
    case_token_and_timeout(t)
    loop.stop()
    k.stop()


if __name__ == "__main__":
    rbtest.Test("remediation_steps").run(body)
