#!/usr/bin/env python3
"""Remediation limits and guards against the stand-in Kubernetes API server:
per-incident attempts, per-target cooldown, max_per_hour, the circuit
breaker, the global per-minute limit, one run per target (coalescing), runs
on different targets at once (executors started on demand), a
storm of hundreds of alerts for one Deployment producing one run, injection
attempts through labels producing `remediation refused` and no request
outside the allow-list, and resolved alerts producing no steps
(docs/remediation.md, "Limits" and "Flow")."""

import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rbtest  # noqa: E402

NS = rbtest.KUBE_NS
DEP = "/apis/apps/v1/namespaces/ran-optimization/deployments/"
HIGH_GLOBAL = ["--remediation.max-actions-per-minute=1000",
               "--remediation.max-actions-per-hour=100000", "--kube.retries=1"]


def plan(name, steps, target="cognitive-core", deployments=None, match=None, **limits):
    lim = {"max_attempts_per_incident": 10, "cooldown_seconds": 0, "max_per_hour": 1000,
           "max_per_day": 1000, "breaker_failures": 100}
    lim.update(limits)
    p = {"name": name, "match": match or ['alertname="%s"' % name],
         "allow": {"namespaces": [NS], "deployments": list(deployments or [target])},
         "steps": steps, "limits": lim}
    if target:
        p["target"] = {"deployment": target}
    return p


RESTART = [{"kind": "rollout_restart"}]


def slow():
    """A restart followed by a wait that takes about N seconds when the
    stand-in's rollout mode is after:N."""
    return [{"kind": "rollout_restart"},
            {"kind": "wait_rollout", "timeout_seconds": 30, "interval_seconds": 1}]


def daemon(t, k, plans, name, extra=HIGH_GLOBAL):
    pd = rbtest.write_plans(t, "plans-" + name, plans)
    return t.daemon(name=name, args=rbtest.remediation_args(k, pd, extra=extra))


def patches(k, path_end=None):
    return [r for r in k.requests() if r["method"] != "GET"
            and (path_end is None or r["path"].endswith(path_end))]


def limited(t, d, iid, limit, what, escalates=True, runs_before=0):
    ev = rbtest.wait_event(d, iid, "rate-limited", 15)
    ok = t.check(ev and ev[0]["detail"].get("limit") == limit,
                 "%s: rate-limited by %s" % (what, limit), ev or rbtest.timeline_kinds(d, iid))
    if ok:
        t.note("reason: %s" % ev[0]["detail"].get("reason"))
    if escalates:
        t.check(rbtest.wait_event(d, iid, "escalation requested", 5),
                "%s: escalation requested" % what)
    else:
        t.check(not rbtest.events(d, iid, "escalation requested"),
                "%s: no escalation (coalesced into the running remediation)" % what)
    t.eq(len(rbtest.events(d, iid, "step started")), runs_before,
         "%s: no (further) step started" % what)


def run_ok(t, d, labels, name, outcome="succeeded", starts_at=None):
    lb = {"namespace": NS}
    lb.update(labels)
    a = rbtest.alert(name, labels=lb, starts_at=starts_at)
    r = d.post_webhook(rbtest.payload([a]))
    t.eq(r.status, 200, "%s: webhook 200" % name)
    inc = rbtest.wait_incident(d, a["fingerprint"])
    return inc["id"] if inc else None


# ------------------------------------------------------------------ cases


def case_attempts(t, k):
    t.section("max_attempts_per_incident")
    k.reset()
    d = daemon(t, k, [plan("attempts", RESTART, max_attempts_per_incident=2)], "attempts")
    lb = {"namespace": NS, "deployment": "cognitive-core"}
    fins = 0
    iid = None
    for i, off in enumerate((-300, -200, -100)):
        a = rbtest.alert("attempts", labels=lb, starts_at=rbtest.now_ts(off))
        r = d.post_webhook(rbtest.payload([a]))
        t.eq((r.status, r.json.get("new", 0) + r.json.get("refired", 0)), (200, 1),
             "attempts: firing #%d (new startsAt) accepted" % (i + 1))
        inc = rbtest.wait_incident(d, a["fingerprint"])
        if iid is None:
            iid = inc["id"]
        t.eq(inc["id"], iid, "attempts: the same incident")
        if i < 2:
            fins += 1
            t.check(rbtest.wait_event(d, iid, "remediation finished", 15, count=fins),
                    "attempts: run %d finished" % fins)
    limited(t, d, iid, "incident_attempts", "3rd firing of one incident (limit 2)",
            runs_before=2)
    t.eq(len(patches(k)), 2, "attempts: 2 restarts sent, not 3")
    d.stop()


def case_cooldown(t, k):
    t.section("cooldown_seconds")
    k.reset()
    d = daemon(t, k, [plan("cooldown", RESTART, cooldown_seconds=600)], "cooldown")
    a = run_ok(t, d, {"instance": "a"}, "cooldown")
    t.eq((rbtest.wait_finished(d, a) or {}).get("outcome"), "succeeded", "cooldown: first run")
    b = run_ok(t, d, {"instance": "b"}, "cooldown")
    limited(t, d, b, "cooldown", "another incident for the target within 600 s")
    t.eq(len(patches(k)), 1, "cooldown: one restart sent")
    d.stop()


def case_hourly(t, k):
    t.section("max_per_hour")
    k.reset()
    d = daemon(t, k, [plan("hourly", RESTART, max_per_hour=2, max_per_day=5)], "hourly")
    for i in range(2):
        iid = run_ok(t, d, {"instance": "h%d" % i}, "hourly")
        t.eq((rbtest.wait_finished(d, iid) or {}).get("outcome"), "succeeded",
             "hourly: run %d" % (i + 1))
    iid = run_ok(t, d, {"instance": "h2"}, "hourly")
    limited(t, d, iid, "plan_hourly_cap", "3rd run in an hour (max_per_hour 2)")
    t.eq(len(patches(k)), 2, "hourly: 2 restarts sent")
    d.stop()


def case_breaker(t, k):
    t.section("circuit breaker")
    k.reset()
    d = daemon(t, k, [plan("breaker", [{"kind": "exec", "argv": ["/bin/false"]}],
                           breaker_failures=2, breaker_reset_seconds=600)], "breaker")
    for i in range(2):
        iid = run_ok(t, d, {"instance": "b%d" % i}, "breaker")
        t.eq((rbtest.wait_finished(d, iid) or {}).get("outcome"), "failed",
             "breaker: run %d failed" % (i + 1))
    iid = run_ok(t, d, {"instance": "b2"}, "breaker")
    limited(t, d, iid, "breaker_open", "after 2 consecutive failures")
    # The breaker survives a restart: the history is rebuilt from the store.
    d.restart()
    iid = run_ok(t, d, {"instance": "b3"}, "breaker")
    limited(t, d, iid, "breaker_open", "after a restart, still open")
    d.stop()


def case_global(t, k):
    t.section("global per-minute limit")
    k.reset()
    d = daemon(t, k, [plan("global", RESTART, target=None,
                           deployments=["api-gateway", "cognitive-core", "swarm-coordination"])],
               "global", extra=["--remediation.max-actions-per-minute=2"])
    ids = []
    for dep in ("api-gateway", "cognitive-core"):
        iid = run_ok(t, d, {"deployment": dep}, "global")
        t.eq((rbtest.wait_finished(d, iid) or {}).get("outcome"), "succeeded",
             "global: run on %s" % dep)
        ids.append(iid)
    iid = run_ok(t, d, {"deployment": "swarm-coordination"}, "global")
    limited(t, d, iid, "global_per_minute", "3rd run in a minute, another target (limit 2)")
    t.check(not patches(k, "swarm-coordination"), "global: swarm-coordination untouched")
    d.stop()


def case_busy(t, k):
    t.section("one run per target")
    k.reset()
    d = daemon(t, k, [plan("busy", slow()), plan("busy-other", RESTART)], "busy")
    k.rollout("cognitive-core", "after:3")
    a = run_ok(t, d, {"instance": "a"}, "busy")
    t.check(rbtest.wait_event(d, a, "step started", 10), "busy: first run started")
    b = run_ok(t, d, {"instance": "b"}, "busy")
    limited(t, d, b, "target_busy", "same plan, same target, while running", escalates=False)
    c = run_ok(t, d, {"instance": "c"}, "busy-other")
    limited(t, d, c, "target_busy", "another plan, same target, while running",
            escalates=False)
    t.check(not rbtest.events(d, a, "remediation finished"),
            "busy: the first run was still going during both decisions")
    t.eq((rbtest.wait_finished(d, a, 20) or {}).get("outcome"), "succeeded",
         "busy: the first run finished")
    t.eq(len(patches(k)), 1, "busy: one restart sent in all")
    d.stop()


def case_overlap(t, k):
    """The audit: plan 01 (target api-gateway) restarts cognitive-core too,
    and plan 11 (target cognitive-core) ran at the same time.  One run per
    target, and the cooldown, cover every object a plan may change."""
    t.section("one run per object a plan changes, whatever its target")
    k.reset()
    outage = plan("outage", [{"kind": "rollout_restart", "deployment": "cognitive-core"},
                             {"kind": "rollout_restart"},
                             {"kind": "wait_rollout", "timeout_seconds": 30,
                              "interval_seconds": 1}],
                  target="api-gateway", deployments=["api-gateway", "cognitive-core"],
                  cooldown_seconds=600)
    health = plan("health", RESTART, cooldown_seconds=600)
    d = daemon(t, k, [outage, health], "overlap")
    k.rollout("api-gateway", "after:4")
    a = run_ok(t, d, {"instance": "a"}, "outage")
    t.check(rbtest.wait_event(d, a, "step succeeded", 10, count=2),
            "overlap: the outage run restarted cognitive-core and api-gateway")
    b = run_ok(t, d, {"instance": "b"}, "health")
    limited(t, d, b, "target_busy", "another plan whose target the running run changes")
    ev = rbtest.events(d, b, "rate-limited")
    t.check(ev and "may change deployment ran-optimization/cognitive-core"
            in ev[0]["detail"].get("reason", ""),
            "overlap: the reason names the run and the shared Deployment", ev)
    t.check(not rbtest.events(d, a, "remediation finished"),
            "overlap: the outage run was still going")
    t.eq((rbtest.wait_finished(d, a, 20) or {}).get("outcome"), "succeeded",
         "overlap: the outage run finished")
    c = run_ok(t, d, {"instance": "c"}, "health")
    limited(t, d, c, "cooldown", "after the outage run, cognitive-core cools down")
    ev = rbtest.events(d, c, "rate-limited")
    t.check(ev and "of ran-optimization/api-gateway changed it" in ev[0]["detail"].get(
        "reason", ""), "overlap: the cooldown names the run that changed it", ev)
    t.eq(len([r for r in patches(k) if r["path"] == DEP + "cognitive-core"]), 1,
         "overlap: cognitive-core restarted once, by the outage run alone")
    d.stop()


def case_storm(t, k):
    t.section("a storm of 400 alerts for one Deployment")
    k.reset()
    d = daemon(t, k, [plan("storm", [
        {"kind": "rollout_restart"},
        {"kind": "set_env", "container": "cognitive-core", "env": {"STORM": "1"}},
        {"kind": "wait_rollout", "timeout_seconds": 30, "interval_seconds": 1}],
        target=None, deployments=["cognitive-core"], cooldown_seconds=600)], "storm")
    k.rollout("cognitive-core", "after:6")
    alerts = []
    t0 = time.monotonic()
    for w in range(4):
        batch = [rbtest.alert("storm", labels={
            "namespace": NS, "deployment": "cognitive-core",
            "pod": "cognitive-core-%d-%03d" % (w, i), "instance": "10.0.%d.%d:8080" % (w, i)})
            for i in range(100)]
        r = d.post_webhook(rbtest.payload(batch), timeout=30)
        t.eq((r.status, r.json.get("new")), (200, 100), "storm: webhook %d: 100 new" % (w + 1))
        alerts += batch
    t.note("400 alerts posted in %.2fs" % (time.monotonic() - t0))

    def decided():
        m = d.metric("runbookd_remediation_decisions_total") or 0
        return m >= 400
    t.check(rbtest.wait_for(decided, 30), "storm: all 400 decided",
            d.metric("runbookd_remediation_decisions_total"))
    t.eq(d.metric("runbookd_remediation_decisions_total", {"decision": "matched"}), 1,
         "storm: decisions matched = 1")
    t.eq(d.metric("runbookd_remediation_decisions_total", {"decision": "coalesced"}), 399,
         "storm: decisions coalesced = 399")
    incs = [i for i in d.incidents("state=all&limit=500") if i["alertname"] == "storm"]
    t.eq(len(incs), 400, "storm: 400 incidents")
    started, limits, esc = [], {}, 0
    for inc in incs:
        tl = rbtest.events(d, inc["id"])
        kinds = [e["kind"] for e in tl]
        if "step started" in kinds:
            started.append(inc["id"])
        for e in tl:
            if e["kind"] == "rate-limited":
                lim = e["detail"].get("limit")
                limits[lim] = limits.get(lim, 0) + 1
        esc += kinds.count("escalation requested")
    t.eq(len(started), 1, "storm: exactly one incident has a run")
    t.eq(limits, {"target_busy": 399}, "storm: the other 399 are rate-limited (coalesced)")
    t.eq(esc, 0, "storm: no escalation for coalesced alerts")
    if started:
        t.eq((rbtest.wait_finished(d, started[0], 30) or {}).get("outcome"), "succeeded",
             "storm: the one run finished")
    w = patches(k)
    t.eq([(r["method"], r["path"]) for r in w],
         [("PATCH", DEP + "cognitive-core"), ("PATCH", DEP + "cognitive-core")],
         "storm: one set of PATCHes in the stand-in (restart, env)")
    d.stop()


def case_parallel(t, k):
    """Runs on different targets go at once: executors start on demand (one
    at start), so three slow runs need two more threads, started as the runs
    are queued."""
    t.section("runs on three targets at once")
    k.reset()
    deps = ["api-gateway", "cognitive-core", "swarm-coordination"]
    d = daemon(t, k, [plan("parallel", slow(), target=None, deployments=deps)], "parallel")
    for dep in deps:
        k.rollout(dep, "after:3")
    alerts = [rbtest.alert("parallel", labels={"namespace": NS, "deployment": dep,
                                               "instance": dep})
              for dep in deps]
    r = d.post_webhook(rbtest.payload(alerts))
    t.eq((r.status, r.json.get("new")), (200, 3), "parallel: webhook 200, 3 new")
    ids = []
    for a in alerts:
        inc = rbtest.wait_incident(d, a["fingerprint"])
        ids.append(inc["id"] if inc else None)
    started = [rbtest.wait_event(d, iid, "step started", 10) for iid in ids]
    t.check(all(started), "parallel: the three runs started")
    # Each run waits about 3 s for its rollout: one executor would still be
    # on the first run here.
    t.check(not any(rbtest.events(d, iid, "remediation finished") for iid in ids),
            "parallel: all three started before any finished")
    t.eq(sorted((r["method"], r["path"]) for r in patches(k)),
         sorted(("PATCH", DEP + dep) for dep in deps),
         "parallel: one restart per Deployment")
    for iid, dep in zip(ids, deps):
        t.eq((rbtest.wait_finished(d, iid, 20) or {}).get("outcome"), "succeeded",
             "parallel: %s finished" % dep)
    d.stop()


def case_injection(t, k):
    t.section("injection through labels")
    k.reset()
    before = k.objects("kube-system")
    before.pop("resourceVersion", None)
    d = daemon(t, k, [plan("inject", RESTART, target=None,
                           deployments=["cognitive-core"])], "inject")
    long_name = "a" * 300
    cases = [
        ("namespace kube-system", {"namespace": "kube-system", "deployment": "coredns"}),
        ("namespace kube-system, allowed name", {"namespace": "kube-system",
                                                 "deployment": "cognitive-core"}),
        ("deployment ../../etc", {"namespace": NS, "deployment": "../../etc"}),
        ("deployment with a slash", {"namespace": NS, "deployment": "cognitive-core/scale"}),
        ("deployment ../ to kube-system", {
            "namespace": NS, "deployment": "../../kube-system/deployments/coredns"}),
        ("deployment with a space", {"namespace": NS, "deployment": "cognitive core"}),
        ("deployment uppercase", {"namespace": NS, "deployment": "Cognitive-Core"}),
        ("deployment of 300 chars", {"namespace": NS, "deployment": long_name}),
        ("deployment %2F", {"namespace": NS, "deployment": "cognitive-core%2Fscale"}),
        ("deployment %2e%2e", {"namespace": NS, "deployment": "%2e%2e%2fkube-system"}),
        ("deployment with ?query", {"namespace": NS, "deployment": "cognitive-core?dryRun=All"}),
        ("deployment with #", {"namespace": NS, "deployment": "cognitive-core#x"}),
        ("deployment with a newline", {"namespace": NS, "deployment": "cognitive-core\nx"}),
        ("deployment with a NUL-like escape", {"namespace": NS, "deployment": "cognitive-core\\0"}),
        ("deployment dots", {"namespace": NS, "deployment": ".."}),
        ("deployment unicode hyphen", {"namespace": NS, "deployment": "cognitive\u2010core"}),
        ("deployment outside the allow-list", {"namespace": NS, "deployment": "swarm-agent"}),
        ("namespace ../kube-system", {"namespace": "../kube-system",
                                      "deployment": "cognitive-core"}),
        ("namespace with a slash", {"namespace": "ran-optimization/../kube-system",
                                    "deployment": "cognitive-core"}),
        ("namespace uppercase", {"namespace": "RAN-optimization",
                                 "deployment": "cognitive-core"}),
        ("namespace of 300 chars", {"namespace": long_name, "deployment": "cognitive-core"}),
        ("namespace %2F", {"namespace": "ran-optimization%2F..", "deployment": "cognitive-core"}),
        ("no namespace", {"deployment": "cognitive-core"}),
        ("pod ../", {"namespace": NS, "pod": "../../api/v1/namespaces/kube-system/pods/x"}),
        ("pod with a slash", {"namespace": NS, "pod": "cognitive-core/exec"}),
        ("pod %2F", {"namespace": NS, "pod": "x%2F..%2Fy"}),
        ("pod of 300 chars", {"namespace": NS, "pod": long_name}),
        ("pod in kube-system", {"namespace": "kube-system", "pod": "coredns-x"}),
        ("neither deployment nor pod", {"namespace": NS}),
    ]
    for i, (what, labels) in enumerate(cases):
        lb = dict(labels)
        lb["case"] = str(i)
        a = rbtest.alert("inject", labels=lb)
        r = d.post_webhook(rbtest.payload([a]))
        if r.status != 200:
            t.check(r.status == 400, "%s: webhook refused the payload (%s)" % (what, r.status), r)
            continue
        inc = rbtest.wait_incident(d, a["fingerprint"])
        if not t.check(inc is not None, "%s: incident stored" % what):
            continue
        ev = rbtest.wait_event(d, inc["id"], "escalation requested", 10)
        ref = rbtest.events(d, inc["id"], "remediation refused")
        t.check(ev and ref, "%s: remediation refused and escalated" % what,
                rbtest.timeline_kinds(d, inc["id"]))
        if ref:
            t.note("reason: %s" % ref[0]["detail"].get("reason", "")[:160])
        t.check(not rbtest.events(d, inc["id"], "step started"), "%s: no step" % what)
    reqs = k.requests()
    t.eq([(r["method"], r["path"], r["query"]) for r in reqs], [],
         "injection: the stand-in received no request at all")
    allowed = (DEP + "cognitive-core", DEP + "cognitive-core/scale")
    outside = [r for r in reqs if r["path"] not in allowed
               and not r["path"].startswith("/api/v1/namespaces/ran-optimization/pods/")]
    t.eq(outside, [], "injection: nothing requested outside the allow-list")
    after = k.objects("kube-system")
    after.pop("resourceVersion", None)
    t.check(after == before, "injection: kube-system objects unchanged")
    t.check(d.metric("runbookd_remediation_decisions_total", {"decision": "matched"}) == 0,
            "injection: no run started")
    d.stop()


def case_resolved(t, k):
    t.section("resolved alerts")
    k.reset()
    d = daemon(t, k, [plan("resolved", slow()), plan("resolved-b", RESTART,
                                                      target="api-gateway"),
                      plan("resolved-pod", RESTART, target=None,
                           deployments=["cognitive-core"])],
               "resolved", extra=HIGH_GLOBAL + ["--remediation.workers=1"])
    # A resolved notification for an alert never seen firing.
    a = rbtest.alert("resolved", labels={"namespace": NS, "instance": "r0"},
                     status="resolved", starts_at=rbtest.now_ts(-60),
                     ends_at=rbtest.now_ts(-1))
    r = d.post_webhook(rbtest.payload([a]))
    t.eq(r.status, 200, "resolved: webhook 200")
    inc = rbtest.wait_incident(d, a["fingerprint"])
    time.sleep(0.3)  # give a (wrong) remediation a chance to show up
    kinds = rbtest.timeline_kinds(d, inc["id"])
    t.check("plan matched" not in kinds and "step started" not in kinds,
            "resolved never-seen alert: no plan, no step", kinds)
    t.eq(k.requests(), [], "resolved never-seen alert: no Kubernetes request")

    # Resolved while waiting for a decision: the one decision worker is
    # busy with a slow decision (its pod label is resolved to a Deployment
    # through a GET the stand-in holds), the second alert waits in the
    # queue and is resolved meanwhile.  (Runs execute apart from decisions,
    # so a slow run would not hold it up.)
    pod = k.pods_of("cognitive-core")[0]["metadata"]["name"]
    k.fault(method="GET", path="/pods/" + pod + "$", delay_ms=1500, times=1)
    first = run_ok(t, d, {"pod": pod}, "resolved-pod")
    t.check(rbtest.wait_for(lambda: k.admin("GET", "faults")[0]["hits"] >= 1, 10),
            "resolved: a slow decision is going (its pod lookup is held)")
    fb = rbtest.alert("resolved-b", labels={"namespace": NS, "instance": "r2"},
                      starts_at=rbtest.now_ts(-30))
    t.eq(d.post_webhook(rbtest.payload([fb])).status, 200, "resolved: alert B firing")
    rb = dict(fb, status="resolved", endsAt=rbtest.now_ts(-0.5))
    t.eq(d.post_webhook(rbtest.payload([rb])).status, 200, "resolved: alert B resolved")
    incb = rbtest.wait_incident(d, fb["fingerprint"])
    t.check(not rbtest.events(d, first, "plan matched"),
            "resolved: B was resolved while the worker was still deciding")
    ev = rbtest.wait_event(d, incb["id"], "not remediated", 20)
    t.check(ev, "resolved before decided: `not remediated`",
            rbtest.timeline_kinds(d, incb["id"]))
    kinds = rbtest.timeline_kinds(d, incb["id"])
    t.check("step started" not in kinds and "plan matched" not in kinds,
            "resolved before decided: no step", kinds)
    rbtest.wait_finished(d, first, 20)
    t.eq(patches(k, "api-gateway"), [], "resolved before decided: api-gateway untouched")

    # Firing then resolved: the resolution adds no step.
    n = len(patches(k))
    fc = rbtest.alert("resolved-b", labels={"namespace": NS, "instance": "r3"},
                      starts_at=rbtest.now_ts(-20))
    d.post_webhook(rbtest.payload([fc]))
    incc = rbtest.wait_incident(d, fc["fingerprint"])
    rbtest.wait_finished(d, incc["id"], 15)
    rc = dict(fc, status="resolved", endsAt=rbtest.now_ts(-0.5))
    d.post_webhook(rbtest.payload([rc]))
    t.check(rbtest.wait_event(d, incc["id"], "resolved", 5), "firing then resolved: resolved")
    time.sleep(0.3)
    t.eq(len(rbtest.events(d, incc["id"], "step started")), 1,
         "firing then resolved: only the firing's step")
    t.eq(len(patches(k)), n + 1, "firing then resolved: one restart, none for the resolution")
    t.eq(d.metric("runbookd_remediation_decisions_total", {"decision": "resolved"}), 1,
         "decisions{resolved} counts the alert resolved before its decision")
    d.stop()


def body(t):
    k = rbtest.StandIn(t)
    for case in (case_attempts, case_cooldown, case_hourly, case_breaker, case_global,
                 case_busy, case_overlap, case_parallel, case_injection, case_resolved,
                 case_storm):
        case(t, k)
    k.stop()


if __name__ == "__main__":
    rbtest.Test("remediation_limits").run(body)
