#!/usr/bin/env python3
"""Restart in the middle of a remediation plan: kill -9 runbookd while a
cluster-changing request is in flight (a slow PATCH at the stand-in), and
while a wait_rollout step is polling; SIGTERM during a wait.  On restart with
the same store and stand-in the run resumes (`step resumed`, re-sending the
recorded requests byte for byte) or continues from the next step, finishes
once, and every change of the plan is applied exactly once in effect
(docs/remediation.md, "Durable steps")."""

import json
import os
import sqlite3
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rbtest  # noqa: E402

NS = rbtest.KUBE_NS
DEP = "/apis/apps/v1/namespaces/ran-optimization/deployments/cognitive-core"
CM = "/api/v1/namespaces/ran-optimization/configmaps/cognitive-core-config"
ARGS = ["--remediation.max-actions-per-minute=1000", "--kube.retries=1"]


def plan(name, steps):
    return {"name": name, "match": ['alertname="%s"' % name],
            "target": {"deployment": "cognitive-core"},
            "allow": {"namespaces": [NS], "deployments": ["cognitive-core"],
                      "configmaps": ["cognitive-core-config"]},
            "steps": steps, "limits": {"cooldown_seconds": 0}}


SLOW_PATCH = plan("slow-patch", [
    {"name": "pool", "kind": "patch_configmap", "configmap": "cognitive-core-config",
     "data": {"DATABASE_POOL_SIZE": "40"}},
    {"name": "restart", "kind": "rollout_restart"},
    {"name": "scale", "kind": "scale", "replicas": 4, "min": 1, "max": 4},
    {"name": "env", "kind": "set_env", "container": "cognitive-core",
     "env": {"ENABLE_CACHE": "true"}},
    {"name": "rolled-out", "kind": "wait_rollout", "timeout_seconds": 20,
     "interval_seconds": 1},
])

SLOW_WAIT = plan("slow-wait", [
    {"name": "restart", "kind": "rollout_restart"},
    {"name": "rolled-out", "kind": "wait_rollout", "timeout_seconds": 30,
     "interval_seconds": 1},
    {"name": "env", "kind": "set_env", "container": "cognitive-core",
     "env": {"ENABLE_CACHE": "true"}},
    {"name": "scale", "kind": "scale", "by": 1, "min": 1, "max": 5},
])


def steps_of(d, iid, kind):
    return [e["detail"].get("step") for e in rbtest.events(d, iid, kind)]


def writes(k):
    return [r for r in k.requests() if r["method"] != "GET"]


def revisions(k):
    return sorted(int(rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"])
                  for rs in k.replicasets_of("cognitive-core"))


def store_db(d):
    return os.path.join(d.storage, "runbookd.db")


def age_pending(d, seconds):
    """Makes the requests pending in d's store (d is down) look recorded
    `seconds` earlier: the clock stepped, not waited for."""
    db = sqlite3.connect(store_db(d))
    try:
        rows = db.execute("SELECT id, pending FROM remediation_runs "
                          "WHERE pending IS NOT NULL").fetchall()
        for rid, pending in rows:
            st = json.loads(pending)
            st["recordedMs"] -= seconds * 1000
            db.execute("UPDATE remediation_runs SET pending=? WHERE id=?",
                       (json.dumps(st), rid))
        db.commit()
        return len(rows)
    finally:
        db.close()


HOTFIX = {"spec": {"template": {"spec": {"containers": [
    {"name": "cognitive-core", "image": "ericsson/ran-optimization-sdk:2.0.1-hotfix"}]}}}}


def case_slow_patch(t, k, how):
    """kill -9 while the restart PATCH is in flight, then restart.  how:
    applied - the PATCH completes at the stand-in after the kill;
    lost    - it fails there (503) and nothing changes meanwhile;
    hotfix  - it fails, and a person patches the Deployment while runbookd
              is down;
    stale   - it fails, and the record is 11 minutes old at the restart."""
    t.section("kill -9 while the restart PATCH is in flight (%s)" % how)
    k.reset()
    fault = {"method": "PATCH", "path": "/deployments/cognitive-core$", "delay_ms": 3000,
             "times": 1}
    if how != "applied":
        fault["status"] = 503
    k.fault(**fault)
    cm0 = k.obj("configmaps", "cognitive-core-config")["data"]
    pd = rbtest.write_plans(t, "plans-" + how, [SLOW_PATCH])
    d = t.daemon(name="p-" + how, args=rbtest.remediation_args(k, pd, extra=ARGS))
    iid, _ = rbtest.fire(d, "slow-patch", {"namespace": NS})
    t.check(rbtest.wait_event(d, iid, "step started", 10, count=2),
            "%s: the restart step started" % how, rbtest.timeline_kinds(d, iid))
    hit = rbtest.wait_for(lambda: k.admin("GET", "faults")[0]["hits"] >= 1, 10)
    t.check(hit, "%s: the PATCH reached the stand-in (and is being delayed)" % how)
    d.kill9()
    # The delayed PATCH completes (or fails) at the stand-in after runbookd
    # died: runbookd never saw the answer.
    t.check(rbtest.wait_for(lambda: [r for r in writes(k) if r["path"] == DEP
                                     and r.get("done")], 10),
            "%s: the in-flight PATCH was answered after the kill" % how)
    if how == "hotfix":
        r = rbtest.http_request("127.0.0.1", k.port, "PATCH", DEP, json.dumps(HOTFIX),
                                {"Content-Type": "application/strategic-merge-patch+json"})
        t.eq(r.status, 200, "hotfix: a person patched the image while runbookd was down")
    if how == "stale":
        t.eq(age_pending(d, 11 * 60), 1, "stale: the pending record is made 11 minutes old")
    d.restart()
    fin = rbtest.wait_finished(d, iid, 30) or {}
    st = [e for e in rbtest.events(d, iid, "step started") if e["detail"].get("step") == "restart"]
    rs = [e for e in rbtest.events(d, iid, "step resumed") if e["detail"].get("step") == "restart"]
    restarts = [r for r in writes(k) if r["path"] == DEP and "restartedAt" in r["body"]]
    t.eq(len(st), 1, "%s: one `step started` for the restart" % how)
    if how in ("applied", "lost"):
        t.eq(fin.get("outcome"), "succeeded", "%s: the resumed run succeeded" % how)
        t.eq(len(rs), 1, "%s: `step resumed` for the restart" % how)
        t.eq(steps_of(d, iid, "step succeeded"),
             ["pool", "restart", "scale", "env", "rolled-out"],
             "%s: every step succeeded once, none lost" % how)
        w = writes(k)
        if how == "applied":
            t.eq(rs[0]["detail"].get("requests") if rs else None, [],
                 "applied: the resumed step re-sends nothing")
            t.check(rs and "already holds what the recorded PATCH sets"
                    in (rs[0]["detail"].get("appliedAlready") or [""])[0],
                    "applied: ... because the Deployment holds the recorded restartedAt",
                    rs[0]["detail"] if rs else None)
            t.eq([(r["method"], r["path"]) for r in w],
                 [("PATCH", CM), ("PATCH", DEP), ("PATCH", DEP + "/scale"), ("PATCH", DEP)],
                 "applied: configmap, restart, scale, env each sent once")
        else:
            if st and rs:
                t.eq(rs[0]["detail"].get("requests"), st[0]["detail"].get("requests"),
                     "lost: the resumed step re-sends the recorded requests")
            t.eq([(r["method"], r["path"]) for r in w],
                 [("PATCH", CM), ("PATCH", DEP), ("PATCH", DEP), ("PATCH", DEP + "/scale"),
                  ("PATCH", DEP)],
                 "lost: configmap once, restart sent twice (lost + re-sent), scale once, "
                 "env once")
            t.check(len(restarts) == 2 and restarts[0]["body"] == restarts[1]["body"]
                    and restarts[0]["headers"] == restarts[1]["headers"],
                    "lost: the re-sent PATCH is byte-identical to the first",
                    [r["body"] for r in restarts])
            if st:
                rec = rbtest.recorded_requests(d, iid)
                t.check(rbtest.logged_request(restarts[0]) in rec,
                        "lost: ... and to the recorded request")
        t.eq(revisions(k), [1, 2, 3, 4, 5],
             "%s: restart and env each made one revision" % how)
        t.eq(k.deployment("cognitive-core")["spec"]["replicas"], 4, "%s: scaled to 4" % how)
        cm = k.obj("configmaps", "cognitive-core-config")["data"]
        t.eq(cm, dict(cm0, DATABASE_POOL_SIZE="40"), "%s: configmap patched" % how)
    else:
        t.eq(fin.get("outcome"), "failed", "%s: the run ended failed" % how)
        t.eq(rs, [], "%s: no `step resumed`" % how)
        ab = rbtest.events(d, iid, "step abandoned")
        want = "someone else changed it" if how == "hotfix" else "more than 600s"
        t.check(len(ab) == 1 and ab[0]["detail"].get("step") == "restart"
                and want in ab[0]["detail"].get("reason", ""),
                "%s: `step abandoned` for the restart, saying why" % how, ab)
        esc = rbtest.events(d, iid, "escalation requested")
        t.check(esc and want in esc[-1]["detail"].get("reason", ""),
                "%s: escalation requested, with the reason" % how, esc)
        t.eq(len(restarts), 1, "%s: the recorded restart was not re-sent" % how)
        t.eq([(r["method"], r["path"]) for r in writes(k) if r["path"] != DEP
              or "restartedAt" in r["body"]],
             [("PATCH", CM), ("PATCH", DEP)],
             "%s: nothing after it was sent (no scale, no env)" % how)
        dep = k.deployment("cognitive-core")
        if how == "hotfix":
            t.eq(dep["spec"]["template"]["spec"]["containers"][0]["image"],
                 "ericsson/ran-optimization-sdk:2.0.1-hotfix", "hotfix: the hotfix stands")
        t.eq(dep["spec"]["replicas"], 2, "%s: not scaled" % how)
    t.eq(len(rbtest.events(d, iid, "remediation finished")), 1, "%s: finished once" % how)
    t.eq(len(rbtest.events(d, iid, "plan matched")), 1, "%s: not decided again" % how)
    d.stop()


def case_undo_after_hotfix(t, k):
    """The audit's case: a rollout_undo in flight fails, a person ships a
    hotfix while runbookd is down; the resumed run must not revert it."""
    t.section("kill -9 during rollout_undo, then a hotfix while runbookd is down")
    k.reset()
    k.fault(method="PATCH", path="/deployments/cognitive-core$", status=503, delay_ms=3000,
            times=1)
    pd = rbtest.write_plans(t, "plans-undo-hotfix",
                            [plan("slow-undo", [{"name": "undo", "kind": "rollout_undo"}])])
    d = t.daemon(name="undo-hotfix", args=rbtest.remediation_args(k, pd, extra=ARGS))
    iid, _ = rbtest.fire(d, "slow-undo", {"namespace": NS})
    t.check(rbtest.wait_for(lambda: k.admin("GET", "faults")[0]["hits"] >= 1, 10),
            "undo: the JSON patch reached the stand-in")
    st = rbtest.events(d, iid, "step started")
    body = json.loads(json.dumps(st[0]["detail"]["requests"][0]["body"])) if st else []
    t.check(body and body[0].get("op") == "test"
            and body[0].get("path") == "/metadata/resourceVersion",
            "undo: the JSON patch tests the resourceVersion it was decided on", body[:1])
    d.kill9()
    t.check(rbtest.wait_for(lambda: [r for r in writes(k) if r.get("done")], 10),
            "undo: the in-flight PATCH failed at the stand-in after the kill")
    r = rbtest.http_request("127.0.0.1", k.port, "PATCH", DEP, json.dumps(HOTFIX),
                            {"Content-Type": "application/strategic-merge-patch+json"})
    t.eq(r.status, 200, "undo: a person patched the image while runbookd was down")
    d.restart()
    fin = rbtest.wait_finished(d, iid, 30) or {}
    t.eq(fin.get("outcome"), "failed", "undo: the run ended failed")
    ab = rbtest.events(d, iid, "step abandoned")
    t.check(ab and "someone else changed it" in ab[0]["detail"].get("reason", ""),
            "undo: `step abandoned`, saying the Deployment changed", ab)
    t.check(rbtest.events(d, iid, "escalation requested"), "undo: escalation requested")
    t.eq(len(writes(k)), 2, "undo: not re-sent (the lost PATCH and the person's only)")
    t.eq(k.deployment("cognitive-core")["spec"]["template"]["spec"]["containers"][0]["image"],
         "ericsson/ran-optimization-sdk:2.0.1-hotfix", "undo: the hotfix stands")
    d.stop()


def case_slow_wait(t, k, how):
    t.section("%s while wait_rollout polls" % how)
    k.reset()
    pd = rbtest.write_plans(t, "plans-" + how, [SLOW_WAIT])
    d = t.daemon(name="w-" + how, args=rbtest.remediation_args(k, pd, extra=ARGS))
    k.rollout("cognitive-core", "after:6")
    iid, _ = rbtest.fire(d, "slow-wait", {"namespace": NS})
    t.check(rbtest.wait_event(d, iid, "step succeeded", 10), "%s: restart done" % how)
    polls = rbtest.wait_for(lambda: len([r for r in k.requests() if r["method"] == "GET"
                                         and r["path"] == DEP]) >= 3, 10)
    t.check(polls, "%s: the wait is polling" % how)
    t.eq(rbtest.events(d, iid, "remediation finished"), [], "%s: the run is still going" % how)
    if how == "kill9":
        d.kill9()
    else:
        t0 = time.monotonic()
        rc = d.stop(timeout=10)
        t.check(rc == 0 and time.monotonic() - t0 < 5,
                "SIGTERM: a run waiting does not hold the shutdown (%.1fs)" % (
                    time.monotonic() - t0))
    d.restart()
    fin = rbtest.wait_finished(d, iid, 30) or {}
    t.eq(fin.get("outcome"), "succeeded", "%s: the run continued and succeeded" % how)
    t.eq(steps_of(d, iid, "step succeeded"), ["restart", "rolled-out", "env", "scale"],
         "%s: each step succeeded once, from where it stopped" % how)
    t.eq(rbtest.events(d, iid, "step resumed"), [], "%s: nothing to re-send" % how)
    w = writes(k)
    t.eq([(r["method"], r["path"]) for r in w],
         [("PATCH", DEP), ("PATCH", DEP), ("PATCH", DEP + "/scale")],
         "%s: restart, env, scale each sent once" % how)
    scale = [r for r in w if r["path"].endswith("/scale")]
    t.check(scale and json.loads(scale[0]["body"]) == {"spec": {"replicas": 3}},
            "%s: relative scale computed once (2 + 1)" % how, scale)
    t.eq(revisions(k), [1, 2, 3, 4, 5], "%s: two new revisions" % how)
    t.eq(len(rbtest.events(d, iid, "remediation finished")), 1, "%s: finished once" % how)
    d.stop()


def case_slow_delete(t, k):
    t.section("kill -9 while a pod DELETE is in flight")
    k.reset()
    names = sorted(p["metadata"]["name"] for p in k.pods_of("swarm-agent"))
    k.fault(method="DELETE", path="/pods/", delay_ms=2500, times=1)
    p = plan("slow-delete", [{"name": "delete", "kind": "delete_pods",
                              "selector": "app=swarm-agent", "max_pods": 4}])
    p["target"] = {"deployment": "swarm-agent"}
    p["allow"]["deployments"] = ["swarm-agent"]
    pd = rbtest.write_plans(t, "plans-del", [p])
    d = t.daemon(name="del", args=rbtest.remediation_args(k, pd, extra=ARGS))
    iid, _ = rbtest.fire(d, "slow-delete", {"namespace": NS})
    t.check(rbtest.wait_for(lambda: k.admin("GET", "faults")[0]["hits"] >= 1, 10),
            "slow delete: the first DELETE reached the stand-in")
    d.kill9()
    t.check(rbtest.wait_for(lambda: [r for r in k.requests() if r["method"] == "DELETE"
                                     and r.get("done")], 10),
            "slow delete: the in-flight DELETE was applied after the kill")
    d.restart()
    fin = rbtest.wait_finished(d, iid, 30) or {}
    t.eq(fin.get("outcome"), "succeeded", "slow delete: the resumed run succeeded")
    t.eq(len(rbtest.events(d, iid, "step resumed")), 1, "slow delete: `step resumed`")
    dels = [r for r in k.requests() if r["method"] == "DELETE"]
    t.eq(sorted(set(r["path"].rsplit("/", 1)[1] for r in dels)), names,
         "slow delete: only the 4 recorded pods were ever deleted (never a replacement)")
    # The first DELETE's client was killed: the stand-in logs code 0 (its
    # answer could not be written) or 200, but the pod was deleted.
    t.check(len(dels) == 4 and dels[0]["code"] in (0, 200)
            and [r["code"] for r in dels[1:]] == [200, 200, 200],
            "slow delete: the pod already gone is not deleted again (read: 404), the other "
            "3 are, once", [(r["path"].rsplit("/", 1)[1], r["code"]) for r in dels])
    rs = rbtest.events(d, iid, "step resumed")
    t.check(rs and len(rs[0]["detail"].get("requests") or []) == 3
            and "is gone already" in (rs[0]["detail"].get("appliedAlready") or [""])[0],
            "slow delete: `step resumed` re-sends 3 and says the first pod is gone",
            rs[0]["detail"] if rs else None)
    t.eq(len(k.pods_of("swarm-agent")), 4, "slow delete: 4 pods again")
    d.stop()


def case_no_cluster(t, k):
    t.section("restart without a cluster while a live run is going")
    k.reset()
    pd = rbtest.write_plans(t, "plans-nc", [SLOW_WAIT])
    d = t.daemon(name="nc", args=rbtest.remediation_args(k, pd, extra=ARGS))
    k.rollout("cognitive-core", "after:1000")
    iid, _ = rbtest.fire(d, "slow-wait", {"namespace": NS})
    t.check(rbtest.wait_event(d, iid, "step succeeded", 10), "no cluster: restart done")
    t.check(rbtest.wait_for(lambda: len([r for r in k.requests() if r["method"] == "GET"
                                         and r["path"] == DEP]) >= 2, 10),
            "no cluster: the wait is polling")
    d.kill9()
    seq = k.last_seq()
    # The same store, no --kube.api-url and not in a pod: no cluster.
    d.args = ["--remediation.dir=" + pd] + ARGS
    d.restart()
    fin = rbtest.wait_finished(d, iid, 20) or {}
    t.check(d.alive(), "no cluster: the daemon did not crash on the live run it resumed")
    t.eq(fin.get("outcome"), "failed", "no cluster: the resumed live run finished failed")
    ab = rbtest.events(d, iid, "step abandoned")
    t.check(len(ab) == 1 and ab[0]["detail"].get("step") == "rolled-out"
            and "no cluster configured" in ab[0]["detail"].get("reason", ""),
            "no cluster: `step abandoned` at the wait, saying no cluster is configured", ab)
    esc = rbtest.events(d, iid, "escalation requested")
    t.check(esc and "no cluster configured" in esc[-1]["detail"].get("reason", ""),
            "no cluster: escalation requested, saying why", esc)
    t.eq(steps_of(d, iid, "step succeeded"), ["restart"],
         "no cluster: nothing after the restart step ran")
    d.stop()
    d.restart()
    t.check(rbtest.wait_for(d.alive, 2) and d.get("/-/ready").status == 200,
            "no cluster: a second restart starts cleanly (no crash loop)")
    t.eq(len(rbtest.events(d, iid, "remediation finished")), 1,
         "no cluster: the run finished once, and is not resumed again")
    t.eq(k.requests(since=seq), [], "no cluster: nothing reached the stand-in after the kill")
    d.stop()


def case_undo_across_restart(t, k):
    """What on_failure's rollout_undo restores (the template before the
    run's first change) and what runbookd wrote are durable: kill -9
    between the change and the undo."""
    t.section("kill -9 between a change and on_failure's rollout_undo")
    k.reset()
    tmpl0 = k.deployment("cognitive-core")["spec"]["template"]
    p = plan("undo-later", [
        {"name": "limits", "kind": "set_resources", "container": "cognitive-core",
         "limits": {"memory": "16Gi"}},
        {"name": "rolled-out", "kind": "wait_rollout", "timeout_seconds": 4,
         "interval_seconds": 1}])
    p["on_failure"] = [{"name": "roll-back", "kind": "rollout_undo"}]
    pd = rbtest.write_plans(t, "plans-undo-later", [p])
    d = t.daemon(name="undo-later", args=rbtest.remediation_args(k, pd, extra=ARGS))
    k.rollout("cognitive-core", "after:1000")
    iid, _ = rbtest.fire(d, "undo-later", {"namespace": NS})
    t.check(rbtest.wait_event(d, iid, "step succeeded", 10), "undo later: limits set")
    d.kill9()
    d.restart()
    fin = rbtest.wait_finished(d, iid, 30) or {}
    t.eq(fin.get("outcome"), "failed", "undo later: the wait failed after the restart")
    ev = [e for e in rbtest.events(d, iid, "step succeeded")
          if e["detail"].get("step") == "roll-back"]
    t.check(ev and ev[0]["detail"].get("responses", [{}])[0].get("status") == 200,
            "undo later: the roll-back was sent", ev)
    k.rollout("cognitive-core", "instant")
    t.eq(k.deployment("cognitive-core")["spec"]["template"], tmpl0,
         "undo later: the template before the run is back (recorded before the kill)")
    d.stop()


EXEC_SCRIPT = """#!/bin/sh
echo "run $RUNBOOKD_INCIDENT_ID" >> "$1"
exec /bin/sleep 3
"""


def case_exec(t, k, idempotent):
    """kill -9 while an exec step runs: it was recorded before the fork;
    after the restart it is not run again (its outcome is unknown, the step
    fails and a person is asked), unless the plan marks it idempotent."""
    how = "idempotent" if idempotent else "plain"
    t.section("kill -9 while an exec step runs (%s)" % how)
    k.reset()
    script = t.write("exec-%s.sh" % how, EXEC_SCRIPT, mode=0o700)
    count = t.path("exec-%s.count" % how)
    step = {"name": "hook", "kind": "exec", "argv": ["/bin/sh", script, count],
            "timeout_seconds": 20}
    if idempotent:
        step["idempotent"] = True
    pd = rbtest.write_plans(t, "plans-exec-" + how, [plan("exec-" + how, [step])])
    d = t.daemon(name="exec-" + how, args=rbtest.remediation_args(k, pd, extra=ARGS))
    iid, _ = rbtest.fire(d, "exec-" + how, {"namespace": NS})
    st = rbtest.wait_event(d, iid, "step started", 10)
    t.check(st and st[0]["detail"].get("argv") == ["/bin/sh", script, count],
            "%s: `step started` with the argv, committed before the program runs" % how, st)
    t.check(rbtest.wait_for(lambda: os.path.exists(count), 10), "%s: the program ran" % how)
    d.kill9()
    d.restart()
    fin = rbtest.wait_finished(d, iid, 30) or {}
    runs = open(count).read().splitlines() if os.path.exists(count) else []
    if idempotent:
        t.eq(fin.get("outcome"), "succeeded", "idempotent: the run succeeded")
        t.eq(len(rbtest.events(d, iid, "step resumed")), 1, "idempotent: `step resumed`")
        t.eq(len(runs), 2, "idempotent: the program ran again after the restart")
    else:
        t.eq(fin.get("outcome"), "failed", "plain: the run failed")
        t.eq(len(runs), 1, "plain: the program was not run again")
        f = rbtest.events(d, iid, "step failed")
        t.check(f and f[0]["detail"].get("outcome") == "unknown"
                and "was running when runbookd stopped" in f[0]["detail"].get("note", ""),
                "plain: `step failed` with outcome unknown, saying why", f)
        esc = rbtest.events(d, iid, "escalation requested")
        t.check(len(esc) == 1 and "its outcome is unknown" in esc[0]["detail"].get("reason", ""),
                "plain: escalation requested once, with the reason (the run's failed end "
                "does not page again)", esc)
        t.eq([k_ for k_ in rbtest.timeline_kinds(d, iid) if k_.startswith("step ")],
             ["step started", "step failed"],
             "plain: the timeline shows the one run it started, and its unknown end")
    d.stop()


def case_store_unavailable(t, k):
    """The store unavailable for longer than a run's commits retry (about
    15 s, SQLite locked by another process): the run is abandoned loudly,
    and its target is not left busy until a restart."""
    t.section("the store unavailable while a run goes")
    k.reset()
    pd = rbtest.write_plans(t, "plans-store", [plan("store-gone", [
        {"name": "restart", "kind": "rollout_restart"},
        {"name": "rolled-out", "kind": "wait_rollout", "timeout_seconds": 30,
         "interval_seconds": 1}])])
    d = t.daemon(name="store-gone", args=rbtest.remediation_args(k, pd, extra=ARGS))
    k.rollout("cognitive-core", "after:2")
    iid, _ = rbtest.fire(d, "store-gone", {"namespace": NS, "instance": "a"})
    t.check(rbtest.wait_event(d, iid, "step succeeded", 10), "store: the restart is done")
    db = sqlite3.connect(store_db(d), timeout=1, isolation_level=None)
    db.execute("BEGIN EXCLUSIVE")
    try:
        # The wait ends a few seconds later; its commit is retried for
        # about 15 s, then the run gives up.
        line = rbtest.wait_for(lambda: [ln for ln in d.log_text().splitlines()
                                        if "remediation run abandoned" in ln], 40, interval=0.2)
    finally:
        db.execute("ROLLBACK")
        db.close()
    t.check(line and "level=error" in line[0] and "run=1" in line[0]
            and "incident=%s" % iid in line[0],
            "store: logged at error with the run and incident ids", line)
    fin = rbtest.wait_finished(d, iid, 20) or {}
    t.eq(fin.get("outcome"), "failed", "store: once the store answers, the run is recorded failed")
    ab = rbtest.events(d, iid, "step abandoned")
    t.check(ab and "store was unavailable" in ab[0]["detail"].get("reason", ""),
            "store: `step abandoned` says the store was unavailable", ab)
    t.check(rbtest.events(d, iid, "escalation requested"), "store: escalation requested")
    t.check((d.metric("runbookd_remediation_escalations_total") or 0) >= 1,
            "store: the escalation hook was called")
    k.rollout("cognitive-core", "instant")
    iid2, _ = rbtest.fire(d, "store-gone", {"namespace": NS, "instance": "b"})
    fin2 = rbtest.wait_finished(d, iid2, 20) or {}
    t.eq(rbtest.events(d, iid2, "rate-limited"), [],
         "store: a later alert for the target is not refused as target_busy")
    t.eq(fin2.get("outcome"), "succeeded", "store: ... and its run goes")
    d.stop()


def body(t):
    k = rbtest.StandIn(t)
    case_store_unavailable(t, k)
    case_exec(t, k, False)
    case_exec(t, k, True)
    case_undo_across_restart(t, k)
    case_no_cluster(t, k)
    for how in ("applied", "lost", "hotfix", "stale"):
        case_slow_patch(t, k, how)
    case_undo_after_hotfix(t, k)
    case_slow_delete(t, k)
    case_slow_wait(t, k, "kill9")
    case_slow_wait(t, k, "sigterm")
    k.stop()


if __name__ == "__main__":
    rbtest.Test("remediation_restart").run(body)
