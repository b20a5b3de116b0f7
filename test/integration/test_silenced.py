#!/usr/bin/env python3
"""A silenced alert is neither remediated nor paged, and each of the two
records its own `silenced` event; once the silence is expired, a new firing
is remediated again; an incident held by a silence that ends is paged then."""

import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rbtest  # noqa: E402

NS = "ran-optimization"
PLAN = {"name": "restart-on-silence-test", "match": ['alertname="SilenceMe"'],
        "target": {"deployment": "cognitive-core"},
        "allow": {"namespaces": [NS], "deployments": ["cognitive-core"]},
        "steps": [{"kind": "rollout_restart"}],
        "limits": {"cooldown_seconds": 0, "max_per_hour": 100, "max_per_day": 100}}


def main(t):
    k = rbtest.StandIn(t)
    pd = rbtest.write_plans(t, "plans", [PLAN])
    d = t.daemon(start=False, args=rbtest.remediation_args(k, pd))
    hook = d.file("hook-secret", "hook-secret\n")
    # Every severity pages one contact by a webhook nobody listens to: the
    # attempt (page failed) is what shows paging happened.
    one = {"path": ["l2-support"], "methods": ["webhook"]}
    d.write_config({"escalation": {
        "contacts": {"l2-support": {"webhook": {"url": "http://127.0.0.1:9/never",
                                                  "secret_file": hook}}},
        "policy": {s: dict(one) for s in ("emergency", "critical", "high", "medium", "low")},
        "notifiers": {"retries": 0, "timeout_seconds": 1}}})
    d.start()
    now = rbtest.now_ts()
    end = rbtest.now_ts(3600)
    sil = {"matchers": [{"name": "alertname", "value": "SilenceMe", "isRegex": False,
                         "isEqual": True}],
           "startsAt": now, "endsAt": end, "createdBy": "test", "comment": "maintenance"}
    r = d.post("/api/v2/silences", body=json.dumps(sil).encode(),
               headers={"Content-Type": "application/json"})
    t.eq(r.status, 200, "silence created")
    sid = r.json["silenceID"]

    iid, _ = rbtest.fire(d, "SilenceMe", {"namespace": NS}, severity="critical")
    ev = rbtest.wait_event(d, iid, "silenced", 10, count=2)
    t.check(ev, "two silenced events: not remediated and not paged",
            rbtest.timeline_kinds(d, iid))
    t.check(all(e["detail"].get("silence") == sid for e in (ev or [])),
            "both name the silence", ev)
    # Both the engine and the pager have decided (each recorded its
    # `silenced`): nothing else can follow while the silence lasts.
    kinds = rbtest.timeline_kinds(d, iid)
    t.check("plan matched" not in kinds and "step started" not in kinds,
            "no remediation step", kinds)
    t.check("paged" not in kinds and "page failed" not in kinds, "nobody paged", kinds)
    t.check(not [r for r in k.requests() if r["method"] != "GET"],
            "no request changed the cluster")

    t.section("after the silence expires, a new firing is remediated and paged")
    r = d.request("DELETE", "/api/v2/silence/" + sid)
    t.eq(r.status, 200, "silence expired")
    iid2, _ = rbtest.fire(d, "SilenceMe", {"namespace": NS, "instance": "2"},
                          severity="critical")
    fin = rbtest.wait_finished(d, iid2, 20) or {}
    t.eq(fin.get("outcome"), "succeeded", "remediated once the silence is gone")
    t.check(rbtest.wait_event(d, iid2, "page failed", 15) or rbtest.events(d, iid2, "paged"),
            "paging was attempted", rbtest.timeline_kinds(d, iid2))

    t.section("a silence that ends brings paging back on the same incident")
    # No plan matches: only the pager acts on it, so one `silenced` event.
    # The pager holds the incident until the silence's end (or the next
    # recheck, PAGER_SILENCE_RECHECK_MS, when that comes first) and then
    # pages it; an expiry (amtool silence expire) takes effect at the next
    # recheck, up to a minute later, which the unit tests drive with a
    # stepped clock (test_pager.c) instead of waiting here.
    sil3 = dict(sil, matchers=[{"name": "alertname", "value": "BrieflyQuiet",
                                "isRegex": False, "isEqual": True}],
                startsAt=rbtest.now_ts(), endsAt=rbtest.now_ts(3))
    r = d.post("/api/v2/silences", body=json.dumps(sil3).encode(),
               headers={"Content-Type": "application/json"})
    t.eq(r.status, 200, "a 3 s silence created")
    sid3 = r.json["silenceID"]
    iid3, _ = rbtest.fire(d, "BrieflyQuiet", {"namespace": NS}, severity="critical")
    ev = rbtest.wait_event(d, iid3, "silenced", 5)
    t.check(ev and ev[0]["detail"].get("silence") == sid3
            and "not paged" in ev[0]["detail"].get("effect", ""),
            "the pager held it back", ev)
    kinds = rbtest.timeline_kinds(d, iid3)
    t.check("paged" not in kinds and "page failed" not in kinds,
            "nobody paged while the silence lasts", kinds)
    ends = d.get("/api/v2/silence/" + sid3).json["endsAt"]
    ev = rbtest.wait_event(d, iid3, "page failed", 10) or rbtest.events(d, iid3, "paged")
    t.check(ev, "paged once the silence ended", rbtest.timeline_kinds(d, iid3))
    t.check(ev and ev[0]["at"][:23] >= ends[:23],
            "not before the silence's end", (ev[0]["at"] if ev else None, ends))
    t.eq(len(rbtest.events(d, iid3, "silenced")), 1, "one silenced event")


if __name__ == "__main__":
    rbtest.Test("silenced").run(main)
