#!/usr/bin/env python3
"""Replays Alertmanager 0.25's captured deliveries (../shared/fixtures) with
their original headers against a daemon configured with the credentials
they carry, and checks the incidents, states, timelines and counters that
result; then re-delivery, refiring, computed fingerprints, the ack / unack /
resolve / comment API and the list filters."""

import copy
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rbtest  # noqa: E402

TOKEN = "s3cret-token"
BASIC_USER, BASIC_PASS = "alertmanager", "hunter2"


def kinds(inc):
    return [e["kind"] for e in inc.get("timeline", [])]


def replay(d, fx, body=None, extra_headers=None):
    """POSTs a captured delivery with its original headers (Content-Length
    recomputed for our serialisation of the body)."""
    hdrs = {k: v for k, v in fx["headers"].items()
            if k.lower() != "content-length"}
    hdrs.update(extra_headers or {})
    data = rbtest.fixture_body_bytes({"body": body or fx["body"]}) + b"\n"
    return d.request("POST", "/webhook", body=data, headers=hdrs, auth=False)


def one(d, fp, state=None):
    incs = d.by_fingerprint(fp)
    if state:
        incs = [i for i in incs if i["state"] == state]
    return incs


def main(t):
    fxs = dict(rbtest.fixtures())
    if len(fxs) < 4:
        t.check(False, "fixtures found in FIXTURES_DIR=%s" % rbtest.FIXTURES_DIR)
        return
    single = fxs["single-firing.json"]
    grouped = fxs["grouped-firing-bearer.json"]
    one_resolved = fxs["grouped-one-resolved-bearer.json"]
    truncated = fxs["truncated-basic-auth.json"]

    # Sanity: every captured Authorization header matches what we configure.
    t.eq(grouped["headers"].get("Authorization"), "Bearer " + TOKEN,
         "fixture grouped-firing-bearer carries the bearer token")
    t.eq(truncated["headers"].get("Authorization"),
         rbtest.basic(BASIC_USER, BASIC_PASS)["Authorization"],
         "fixture truncated-basic-auth carries alertmanager:hunter2")
    t.check("Authorization" not in single["headers"],
            "fixture single-firing has no Authorization header")

    d = t.daemon(name="auth", config=None, start=False)
    d.file("tok", TOKEN + "\n")
    d.file("pw", BASIC_PASS + "\n")
    d.write_config({"web": {"auth": {
        "bearer_token_file": "tok",
        "basic_auth": {"username": BASIC_USER, "password_file": "pw"}}}})
    d.start()
    d.auth = rbtest.bearer(TOKEN)

    # ---------------------------------------------------------------- 401
    t.section("single-firing.json (no credentials) against an auth daemon")
    r = replay(d, single)
    t.eq(r.status, 401, "no Authorization header -> 401")
    t.eq(r.header("WWW-Authenticate"), 'Bearer realm="runbookd", Basic realm="runbookd"',
         "401 carries WWW-Authenticate with both schemes configured")
    t.check("Authorization" in r.error or "credentials" in r.error,
            "401 error names the missing credentials", r)
    t.eq(len(d.incidents()), 0, "no incident after the refused delivery")
    r = d.get("/api/v1/incidents?state=all", auth=False)
    t.eq(r.status, 401, "incident API without credentials -> 401")

    # ------------------------------------------------------ grouped firing
    t.section("grouped-firing-bearer.json")
    r = replay(d, grouped)
    t.eq(r.status, 200, "grouped firing (bearer) -> 200")
    t.eq((r.json.get("alerts"), r.json.get("new"), r.json.get("repeat")),
         (2, 2, 0), "response counts alerts=2 new=2 repeat=0")
    incs = d.incidents()
    t.eq(len(incs), 2, "two incidents")
    for a in grouped["body"]["alerts"]:
        fp = a["fingerprint"]
        got = one(d, fp)
        if not t.eq(len(got), 1, "one incident for fingerprint %s" % fp):
            continue
        inc = d.incident(got[0]["id"])
        t.eq(inc["state"], "open", "%s open" % fp)
        t.eq(inc["severity"], "high", "%s severity high" % fp)
        t.eq(inc["alertname"], a["labels"]["alertname"], "%s alertname" % fp)
        t.eq(inc["namespace"], "ran-optimization", "%s namespace" % fp)
        t.eq(inc["summary"], a["annotations"]["summary"], "%s summary" % fp)
        t.eq(inc["labels"], a["labels"], "%s labels kept" % fp)
        t.eq(inc["startsAt"], a["startsAt"], "%s startsAt with ns precision" % fp)
        t.eq(inc["endsAt"], None, "%s endsAt null while firing" % fp)
        t.eq(inc["deliveries"], 1, "%s deliveries=1" % fp)
        t.eq(kinds(inc), ["received"], "%s timeline [received]" % fp)
        ev = inc["timeline"][0]
        t.eq(ev["actor"], "alertmanager", "%s received by alertmanager" % fp)
        t.eq(ev["detail"].get("receiver"), "hook", "%s detail.receiver" % fp)
        t.eq(ev["detail"].get("groupKey"), grouped["body"]["groupKey"],
             "%s detail.groupKey" % fp)
        t.eq(ev["detail"].get("fingerprintComputed"), False,
             "%s fingerprint taken from the payload" % fp)

    t.section("re-delivery of grouped-firing-bearer.json")
    before = {i["id"]: d.incident(i["id"]) for i in d.incidents()}
    r = replay(d, grouped)
    t.eq(r.status, 200, "re-delivery -> 200")
    t.eq((r.json.get("new"), r.json.get("repeat")), (0, 2),
         "re-delivery counts new=0 repeat=2")
    after = {i["id"]: d.incident(i["id"]) for i in d.incidents()}
    t.eq(sorted(after), sorted(before), "no new incident on re-delivery")
    for iid, inc in after.items():
        t.eq(len(inc["timeline"]), len(before[iid]["timeline"]),
             "incident %s: no new timeline event on re-delivery" % iid)
        t.eq(inc["deliveries"], before[iid]["deliveries"] + 1,
             "incident %s: deliveries incremented" % iid)
        t.eq(inc["openedAt"], before[iid]["openedAt"],
             "incident %s: openedAt unchanged" % iid)

    # ------------------------------------------------------- truncated
    t.section("truncated-basic-auth.json")
    trunc_before = d.metric("runbookd_alerts_truncated_total")
    t.eq(trunc_before, 0.0, "runbookd_alerts_truncated_total starts at 0")
    r = replay(d, truncated)
    t.eq(r.status, 200, "truncated (basic auth) -> 200")
    t.eq((r.json.get("new"), r.json.get("truncatedAlerts")), (2, 2),
         "response new=2 truncatedAlerts=2")
    t.eq(d.metric("runbookd_alerts_truncated_total"), 2.0,
         "runbookd_alerts_truncated_total == 2")
    for a in truncated["body"]["alerts"]:
        got = one(d, a["fingerprint"])
        if not t.eq(len(got), 1, "one incident for %s" % a["fingerprint"]):
            continue
        inc = d.incident(got[0]["id"])
        t.eq(inc["severity"], "medium", "%s severity medium" % a["fingerprint"])
        t.eq(inc["labels"].get("pod"), a["labels"]["pod"], "pod label kept")
        t.eq(inc["timeline"][0]["detail"].get("truncatedAlerts"), 2,
             "%s received detail.truncatedAlerts=2" % a["fingerprint"])
        t.eq(inc["timeline"][0]["detail"].get("receiver"), "truncated",
             "%s received detail.receiver=truncated" % a["fingerprint"])
    r = replay(d, truncated)
    t.eq((r.status, r.json.get("repeat")), (200, 2), "truncated re-delivery: repeat=2")
    t.eq(d.metric("runbookd_alerts_truncated_total"), 4.0,
         "truncated counter counts every delivery's truncatedAlerts (4)")
    t.eq(d.metric("runbookd_alerts_total",
                  {"status": "firing", "result": "repeat"}), 4.0,
         "runbookd_alerts_total{status=firing,result=repeat} == 4")

    # -------------------------------------------------- one resolved
    t.section("grouped-one-resolved-bearer.json")
    res_fp = [a for a in one_resolved["body"]["alerts"] if a["status"] == "resolved"][0]
    fir_fp = [a for a in one_resolved["body"]["alerts"] if a["status"] == "firing"][0]
    r = replay(d, one_resolved)
    t.eq(r.status, 200, "one-resolved -> 200")
    t.eq((r.json.get("resolved"), r.json.get("repeat"), r.json.get("new")),
         (1, 1, 0), "counts resolved=1 repeat=1 new=0")
    inc = d.incident(one(d, res_fp["fingerprint"])[0]["id"])
    t.eq(inc["state"], "resolved", "%s resolved" % res_fp["fingerprint"])
    t.eq(inc["endsAt"], "2026-12-03T15:19:46Z", "endsAt from the payload")
    t.eq(inc["resolvedBy"], "alertmanager", "resolvedBy alertmanager")
    t.check(inc["resolvedAt"], "resolvedAt set")
    t.eq(kinds(inc), ["received", "resolved"], "timeline [received, resolved]")
    t.eq(inc["timeline"][-1]["actor"], "alertmanager", "resolved by actor alertmanager")
    t.eq(inc["deliveries"], 3, "deliveries=3 (firing, firing, resolved)")
    resolved_id = inc["id"]
    inc2 = d.incident(one(d, fir_fp["fingerprint"])[0]["id"])
    t.eq((inc2["state"], inc2["deliveries"], kinds(inc2)), ("open", 3, ["received"]),
         "the still-firing alert: open, deliveries=3, timeline [received]")

    r = replay(d, one_resolved)
    t.eq((r.status, r.json.get("stale"), r.json.get("repeat"), r.json.get("resolved")),
         (200, 1, 1, 0), "resolved re-delivery: stale=1 repeat=1 resolved=0")
    inc = d.incident(resolved_id)
    t.eq(kinds(inc), ["received", "resolved"], "no new timeline event on resolved re-delivery")
    t.eq(inc["deliveries"], 4, "deliveries=4")

    t.section("firing after resolution")
    r = replay(d, grouped)  # same startsAt as the resolved incident
    t.eq((r.status, r.json.get("stale"), r.json.get("new")), (200, 1, 0),
         "firing with the SAME startsAt after resolution is stale")
    t.eq(len(one(d, res_fp["fingerprint"])), 1, "still one incident for the fingerprint")
    t.eq(d.incident(resolved_id)["state"], "resolved", "it stays resolved")
    body = copy.deepcopy(grouped["body"])
    body["alerts"] = [a for a in body["alerts"] if a["fingerprint"] == res_fp["fingerprint"]]
    body["alerts"][0]["startsAt"] = "2026-12-03T15:25:00.5Z"
    r = replay(d, grouped, body=body)
    t.eq((r.status, r.json.get("new")), (200, 1),
         "firing with a NEW startsAt after resolution -> new=1")
    incs = one(d, res_fp["fingerprint"])
    t.eq(sorted(i["state"] for i in incs), ["open", "resolved"],
         "two incidents for the fingerprint: resolved and a new open one")
    new = [i for i in incs if i["state"] == "open"]
    if new:
        t.check(new[0]["id"] != resolved_id, "the new incident has a new id")
        t.eq(new[0]["startsAt"], "2026-12-03T15:25:00.5Z", "new incident startsAt")
        t.eq(new[0]["deliveries"], 1, "new incident deliveries=1")
    # An old resolved notification (earlier startsAt) must not close it.
    r = replay(d, one_resolved)
    t.eq(r.json.get("resolved"), 0,
         "resolution of the EARLIER firing does not close the new incident")
    t.eq(len(one(d, res_fp["fingerprint"], "open")), 1, "new incident still open")

    # ------------------------------------------------ action API
    t.section("ack / unack / resolve / comment")
    iid = one(d, fir_fp["fingerprint"])[0]["id"]
    base = "/api/v1/incidents/%s" % iid
    r = d.post(base + "/ack", {"by": "alice", "comment": "on it"})
    t.eq(r.status, 200, "ack -> 200")
    inc = d.incident(iid)
    t.eq((inc["state"], inc["ackedBy"]), ("acked", "alice"), "acked by alice")
    t.check(inc["ackedAt"], "ackedAt set")
    ev = inc["timeline"][-1]
    t.eq((ev["kind"], ev["actor"], ev["detail"].get("comment")),
         ("acknowledged", "alice", "on it"), "timeline: acknowledged by alice, comment kept")
    r = d.post(base + "/ack", {"by": "bob"})
    t.eq(r.status, 409, "second ack -> 409")
    t.check("alice" in r.error, "409 says who acknowledged it", r)
    t.eq(d.incidents("state=acked")[0]["id"] if d.incidents("state=acked") else None, iid,
         "state=acked lists it")
    t.check(iid in [i["id"] for i in d.incidents("state=open")],
            "state=open includes acked incidents (open or acked)")
    t.check(iid not in [i["id"] for i in d.incidents("state=unacked")],
            "state=unacked excludes it")
    r = d.post(base + "/unack", {"by": "alice"})
    t.eq(r.status, 200, "unack -> 200")
    inc = d.incident(iid)
    t.eq((inc["state"], inc["ackedBy"]), ("open", None), "open again, ackedBy cleared")
    t.eq((inc["timeline"][-1]["kind"], inc["timeline"][-1]["actor"]),
         ("unacknowledged", "alice"), "timeline: unacknowledged by alice")
    r = d.post(base + "/unack", {"by": "alice"})
    t.eq(r.status, 409, "unack of an unacknowledged incident -> 409")
    r = d.post(base + "/comment", {"by": "bob", "comment": "restarted the pod"})
    t.eq(r.status, 200, "comment -> 200")
    ev = d.incident(iid)["timeline"][-1]
    t.eq((ev["kind"], ev["actor"], ev["detail"].get("comment")),
         ("commented", "bob", "restarted the pod"), "timeline: commented by bob")
    r = d.post(base + "/comment", {"by": "bob"})
    t.eq(r.status, 400, "comment without text -> 400")
    r = d.post(base + "/ack", {"comment": "x"})
    t.eq(r.status, 400, "ack without by -> 400")
    t.check("by" in r.error, "400 names the missing field 'by'", r)
    r = d.post(base + "/ack", b"", headers={"Content-Type": "application/json"})
    t.eq(r.status, 400, "ack with an empty body -> 400")
    r = d.post(base + "/ack", {"by": 42})
    t.eq(r.status, 400, "by of the wrong type -> 400")
    r = d.post(base + "/ack", b"{not json", headers={"Content-Type": "application/json"})
    t.eq(r.status, 400, "ack with malformed JSON -> 400")
    for body, what, field in ((b'{"by":"   "}', "by of white space only", "by"),
                              (b'{"by":"bob","comment":" \\n "}', "comment of white space only",
                               "comment"),
                              (b'{"by":"a\\u0000b"}', "\\u0000 in by", "NUL"),
                              (b'{"by":"a\\nb"}', "a line break in by", "by"),
                              (b'{"by":"a\\u001b[31m"}', "an escape character in by", "by"),
                              (b'{"by":"a\tb"}', "a raw tab in a string", "control")):
        r = d.post(base + "/comment", body, headers={"Content-Type": "application/json"})
        t.eq(r.status, 400, "%s -> 400" % what)
        t.check(field in r.error, "400 names %s" % field, r)
    r = d.post(base + "/comment", {"by": "bob", "comment": "line one\n\tline two"})
    t.eq(r.status, 200, "a comment keeps its line breaks and tabs -> 200")
    t.eq(d.incident(iid)["timeline"][-1]["detail"].get("comment"), "line one\n\tline two",
         "the comment's line breaks are on the timeline")
    r = d.post(base + "/resolve", {"by": "carol"})
    t.eq(r.status, 200, "resolve -> 200")
    inc = d.incident(iid)
    t.eq((inc["state"], inc["resolvedBy"]), ("resolved", "carol"), "resolved by carol")
    t.eq((inc["timeline"][-1]["kind"], inc["timeline"][-1]["actor"]), ("resolved", "carol"),
         "timeline: resolved by carol")
    t.eq(d.post(base + "/resolve", {"by": "carol"}).status, 409, "resolve twice -> 409")
    t.eq(d.post(base + "/ack", {"by": "carol"}).status, 409, "ack of a resolved incident -> 409")
    t.eq(d.post(base + "/unack", {"by": "carol"}).status, 409,
         "unack of a resolved incident -> 409")
    t.eq(d.post(base + "/comment", {"by": "dave", "comment": "post-mortem"}).status, 200,
         "comment on a resolved incident -> 200")
    tl = d.incident(iid)["timeline"]
    t.eq([e["kind"] for e in tl],
         ["received", "acknowledged", "unacknowledged", "commented", "commented", "resolved",
          "commented"],
         "full timeline in order")
    t.check(all(a["at"] <= b["at"] for a, b in zip(tl, tl[1:])), "timeline times ascend")
    t.check(all(int(a["id"]) < int(b["id"]) for a, b in zip(tl, tl[1:])), "timeline ids ascend")
    r = replay(d, one_resolved)
    t.eq(r.json.get("stale"), 2,
         "Alertmanager still firing the person-resolved alert (same startsAt) is stale")
    t.eq(d.incident(iid)["state"], "resolved", "person's resolution kept")
    for path in ("/api/v1/incidents/999999/ack", "/api/v1/incidents/999999/resolve"):
        r = d.post(path, {"by": "alice"})
        t.eq(r.status, 404, "POST %s -> 404" % path)
    t.eq(d.get("/api/v1/incidents/999999").status, 404, "GET unknown id -> 404")
    t.eq(d.get("/api/v1/incidents/abc").status, 404, "GET non-numeric id -> 404")
    t.eq(d.get("/api/v1/incidents/0" + iid).status, 404,
         "GET 0%s -> 404 (ids are opaque: not incident %s)" % (iid, iid))
    t.eq(d.post(base + "/frobnicate", {"by": "alice"}).status, 404, "unknown action -> 404")
    r = d.get(base + "/ack")
    t.eq(r.status, 405, "GET on an action -> 405")
    t.eq(r.header("Allow"), "POST", "405 on an action says Allow: POST")
    r = d.post("/api/v1/incidents", {"by": "alice"})
    t.eq((r.status, r.header("Allow")), (405, "GET, HEAD"), "POST on the list -> 405, Allow: GET, HEAD")

    # ------------------------------------------------ list filters
    t.section("list filters and paging")
    for i in range(6):
        r = d.post_webhook(rbtest.payload([rbtest.alert("Paging%d" % i, severity="info")]))
        t.eq(r.status, 200, "extra incident Paging%d -> 200" % i)
    allinc = d.incidents("state=all&limit=500")
    # 2 grouped + 2 truncated + 1 refired after resolution + 6 = 11
    t.eq(len(allinc), 11, "11 incidents in all")
    t.check(all(i["state"] in ("open", "acked") for i in d.incidents("state=open")),
            "state=open lists only open/acked")
    t.check(all(i["state"] == "resolved" for i in d.incidents("state=resolved")),
            "state=resolved lists only resolved")
    t.eq(len(d.incidents("state=resolved")), 2, "two resolved")
    t.eq(len(d.incidents("")), len(d.incidents("state=open")), "default state is open")
    t.eq(sorted(i["fingerprint"] for i in d.incidents("severity=medium&state=all")),
         sorted(a["fingerprint"] for a in truncated["body"]["alerts"]),
         "severity=medium -> the two OOMKilling incidents")
    t.eq(len(d.incidents("severity=low&state=all")), 6, "severity=low (info) -> 6")
    t.eq(len(d.incidents("alertname=OOMKilling&state=all")), 2, "alertname=OOMKilling -> 2")
    t.eq(len(d.incidents("alertname=NoSuchAlert&state=all")), 0, "alertname unknown -> 0")
    t.eq(len(d.incidents("alertname=AgentDBSyncLatencyHigh&state=open")), 1,
         "alertname + state combine")
    for q, why in (("limit=501", "limit>500"), ("limit=0", "limit=0"),
                   ("limit=-1", "negative limit"), ("limit=abc", "limit not a number"),
                   ("offset=-1", "negative offset"), ("state=bogus", "unknown state"),
                   ("severity=warning", "severity not one of the five levels")):
        r = d.get("/api/v1/incidents?" + q)
        t.eq(r.status, 400, "%s -> 400 (%s)" % (q, why))
        t.check(q.split("=")[0] in r.error, "400 error names '%s'" % q.split("=")[0], r)
    t.eq(d.get("/api/v1/incidents?limit=500&state=all").status, 200, "limit=500 -> 200")
    pages = []
    for off in range(0, 20, 3):
        page = d.incidents("state=all&limit=3&offset=%d" % off)
        t.check(len(page) <= 3, "page offset=%d has at most 3" % off)
        pages += [i["id"] for i in page]
    t.eq(len(pages), 11, "paging by 3 visits 11 incidents")
    t.eq(sorted(set(pages)), sorted(i["id"] for i in allinc),
         "paging visits each incident exactly once")
    t.eq(d.incidents("state=all&offset=100"), [], "offset past the end -> empty list")
    r = d.get("/api/v1/incidents?state=all&limit=2&offset=4")
    t.eq((r.json.get("limit"), r.json.get("offset")), (2, 4), "response echoes limit and offset")
    d.stop()

    # ------------------------------------------- no-auth daemon: single + computed fp
    t.section("single-firing.json against a daemon without auth; computed fingerprints")
    d2 = t.daemon(name="noauth")
    alerts, seen = [], set()
    for name, fx in sorted(fxs.items()):
        for a in fx["body"]["alerts"]:
            if a["fingerprint"] in seen:
                continue
            seen.add(a["fingerprint"])
            b = copy.deepcopy(a)
            del b["fingerprint"]
            b["status"] = "firing"
            b["endsAt"] = "0001-01-01T00:00:00Z"
            alerts.append((a["fingerprint"], b))
    r = d2.post_webhook(rbtest.payload([b for _, b in alerts]))
    t.eq((r.status, r.json.get("new")), (200, len(alerts)),
         "alerts without fingerprint field -> 200, new=%d" % len(alerts))
    for fp, b in alerts:
        got = one(d2, fp)
        t.eq(len(got), 1, "computed fingerprint of %s equals Alertmanager's %s"
             % (b["labels"]["alertname"], fp))
        if got:
            inc = d2.incident(got[0]["id"])
            t.eq(inc["timeline"][0]["detail"].get("fingerprintComputed"), True,
                 "%s: detail.fingerprintComputed=true" % fp)
    r = replay(d2, single)
    t.eq(r.status, 200, "single-firing.json without credentials -> 200 when no auth is set")
    t.eq((r.json.get("new"), r.json.get("repeat")), (0, 1),
         "it repeats the computed-fingerprint incident (same fingerprint, same startsAt)")
    inc = one(d2, "94c2048b04fecb91")
    t.eq([(i["severity"], i["alertname"], i["deliveries"]) for i in inc],
         [("medium", "HighResponseTime", 2)], "HighResponseTime: warning->medium, deliveries=2")
    # Empty-string fingerprint is treated as absent.
    b = copy.deepcopy(single["body"])
    b["alerts"][0]["fingerprint"] = ""
    r = d2.post_webhook(b)
    t.eq((r.status, r.json.get("repeat")), (200, 1), "empty fingerprint -> computed, repeat")
    d2.stop()

    t.section("severity normalisation (defaults and configured)")
    d3 = t.daemon(name="sev", start=False)
    d3.write_config({"severity": {"map": {"sev1": "emergency", "warning": "high"},
                                  "default": "low", "unknown": "critical"}})
    d3.start()
    want = {"sev1": "emergency", "SEV1": "emergency", "warning": "high", "info": "low",
            "error": "high", "page": "critical", "emergency": "emergency",
            "whatever": "critical", None: "low"}
    alerts = [rbtest.alert("Sev_%s" % (k or "missing"), severity=k) for k in want]
    r = d3.post_webhook(rbtest.payload(alerts))
    t.eq((r.status, r.json.get("new")), (200, len(want)), "severity alerts stored")
    got = {i["alertname"]: i["severity"] for i in d3.incidents("state=all")}
    for k, v in want.items():
        t.eq(got.get("Sev_%s" % (k or "missing")), v, "severity %r -> %s" % (k, v))
    d3.stop()


if __name__ == "__main__":
    rbtest.Test("fixtures").run(main)
