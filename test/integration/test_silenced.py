#!/usr/bin/env python3
"""A silenced alert is recorded on its incident's timeline as silenced and
is neither remediated nor paged; once the silence is expired, a new firing
is remediated again."""

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


if __name__ == "__main__":
    rbtest.Test("silenced").run(main)
