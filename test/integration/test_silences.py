"""Silences through the real amtool (Debian's prometheus-alertmanager ships
/usr/bin/amtool) pointed at runbookd on loopback: add, query (table, JSON,
--expired), update, expire, a pending silence, a restart, and bad input
answered as Alertmanager 0.25 answers it."""

import datetime
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rbtest  # noqa: E402

AMTOOL = rbtest.which("amtool")
if not AMTOOL:
    rbtest.log("SKIP: amtool is not installed (apt-get install prometheus-alertmanager)")
    sys.exit(rbtest.SKIP)

UUID_RE = r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"


def iso(dt):
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def now_utc():
    return datetime.datetime.now(datetime.timezone.utc)


def parse_ts(s):
    return datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc)


class Amtool:
    def __init__(self, t, d):
        self.t = t
        self.d = d

    def run(self, *args, ok=True):
        argv = [AMTOOL, "--alertmanager.url=http://127.0.0.1:%d" % self.d.port] + list(args)
        p = subprocess.run(argv, capture_output=True, text=True, timeout=30,
                           env=dict(os.environ, HOME=self.t.tmp))
        if ok and p.returncode != 0:
            self.t.check(False, "amtool %s exits 0" % " ".join(args),
                         "rc=%d out=%r err=%r" % (p.returncode, p.stdout, p.stderr))
        return p

    def query_json(self, *args):
        p = self.run("silence", "query", "-o", "json", *args)
        try:
            return json.loads(p.stdout or "[]")
        except ValueError:
            self.t.check(False, "amtool -o json prints JSON", p.stdout)
            return []

    def ids(self, *args):
        p = self.run("silence", "query", "-q", *args)
        return p.stdout.split()


def body(matchers=None, starts=None, ends=None, **kw):
    n = now_utc()
    b = {"matchers": matchers if matchers is not None else
         [{"name": "alertname", "value": "Foo", "isRegex": False}],
         "startsAt": starts or iso(n), "endsAt": ends or iso(n + datetime.timedelta(hours=1)),
         "createdBy": "tester", "comment": "c"}
    b.update(kw)
    return b


def main(t):
    import re

    d = t.daemon()
    am = Amtool(t, d)

    t.section("amtool silence add prints the new id")
    p = am.run("silence", "add", "alertname=Foo", 'severity=~"critical|high"',
               "--comment=disk replacement", "--author=alice", "--duration=1h")
    sid = p.stdout.strip()
    t.check(re.match(UUID_RE, sid), "the id is a version 4 UUID", sid)
    t.check("Warning" not in p.stderr, "amtool does not warn about the version", p.stderr)

    t.section("amtool silence query shows it")
    p = am.run("silence", "query")
    t.check(sid in p.stdout, "query lists the id", p.stdout)
    t.check('alertname="Foo"' in p.stdout and 'severity=~"critical|high"' in p.stdout,
            "query shows the matchers", p.stdout)
    t.check("alice" in p.stdout and "disk replacement" in p.stdout,
            "query shows author and comment", p.stdout)
    sils = am.query_json()
    t.eq(len(sils), 1, "one silence in the JSON output")
    s = sils[0]
    t.eq(s["id"], sid, "JSON id")
    t.eq(s["status"]["state"], "active", "JSON state")
    t.eq(s["createdBy"], "alice", "JSON createdBy")
    t.eq(s["comment"], "disk replacement", "JSON comment")
    t.eq(s["matchers"], [
        {"isEqual": True, "isRegex": False, "name": "alertname", "value": "Foo"},
        {"isEqual": True, "isRegex": True, "name": "severity", "value": "critical|high"}],
        "JSON matchers")
    span = parse_ts(s["endsAt"]) - parse_ts(s["startsAt"])
    t.check(abs(span.total_seconds() - 3600) < 5, "it lasts an hour", s)
    t.eq(list(s.keys()), ["id", "status", "updatedAt", "comment", "createdBy", "endsAt",
                          "matchers", "startsAt"], "fields in Alertmanager's order")
    t.eq(am.ids("--expired"), [], "query --expired does not show it")
    t.eq(am.ids("alertname=Foo"), [sid], "query with a matcher filter finds it")
    t.eq(am.ids("alertname=Bar"), [], "query with another filter does not")

    t.section("update by id")
    p = am.run("silence", "update", sid, "--duration=3h", "--comment=longer")
    t.check(sid in p.stdout, "update shows the silence", p.stdout)
    t.eq(am.ids(), [sid], "update keeps the id (same matchers, same start)")
    s = am.query_json()[0]
    t.eq(s["comment"], "longer", "the comment changed")
    span = parse_ts(s["endsAt"]) - parse_ts(s["startsAt"])
    t.check(abs(span.total_seconds() - 3 * 3600) < 5, "it now lasts 3 hours", s)

    t.section("a pending silence")
    start = now_utc() + datetime.timedelta(hours=2)
    p = am.run("silence", "add", "alertname=Later", "--comment=later", "--author=bob",
               "--start=" + iso(start), "--duration=30m")
    pid = p.stdout.strip()
    r = d.get("/api/v2/silence/" + pid)
    t.eq(r.status, 200, "GET /api/v2/silence/{id}")
    t.eq(r.json.get("status", {}).get("state"), "pending", "state pending")
    t.eq(r.json.get("startsAt"), start.strftime("%Y-%m-%dT%H:%M:%S.000Z"), "its start kept")
    r = d.get("/api/v2/silences")
    t.eq([x["id"] for x in r.json], [sid, pid], "active before pending")

    t.section("amtool silence expire")
    am.run("silence", "expire", sid)
    t.eq(am.ids(), [pid], "query no longer shows the expired silence")
    t.eq(am.ids("--expired"), [sid], "query --expired shows it")
    r = d.get("/api/v2/silence/" + sid)
    t.eq(r.json.get("status", {}).get("state"), "expired", "its state is expired")
    r = d.request("DELETE", "/api/v2/silence/" + sid)
    t.eq(r.status, 200, "expiring it again is a 200, as in Alertmanager 0.25")
    p = am.run("silence", "expire", "3b6c5b61-4f0e-4e2c-9c3b-4ad4d8b3d7a1", ok=False)
    t.check(p.returncode != 0 and "silence not found" in p.stderr,
            "expiring an unknown id fails with 'silence not found'", p.stderr)
    p = am.run("silence", "add", 'foo=~".*"', "--comment=x", ok=False)
    t.check(p.returncode != 0 and "at least one matcher must not match the empty string"
            in p.stderr, "amtool shows the validation message", p.stderr)

    t.section("silences survive a restart")
    before = d.get("/api/v2/silences").json
    d.stop()
    d.restart()
    after = d.get("/api/v2/silences").json
    t.eq(after, before, "the same silences, states and times after a restart")
    t.eq(am.ids("--expired"), [sid], "the expired one is still expired")
    t.eq(am.ids(), [pid], "the pending one is still there")

    t.section("bad input gets clear errors")
    past = now_utc() - datetime.timedelta(hours=2)
    cases = [
        ("no matchers", body(matchers=[]), 422, {"code": 612,
         "message": "matchers in body should have at least 1 items"}),
        ("matchers missing", {k: v for k, v in body().items() if k != "matchers"}, 422,
         {"code": 602, "message": "matchers in body is required"}),
        ("isRegex missing", body(matchers=[{"name": "a", "value": "b"}]), 422,
         {"code": 602, "message": "matchers.0.isRegex in body is required"}),
        ("bad label name", body(matchers=[{"name": "1a", "value": "b", "isRegex": False}]), 400,
         'silence invalid: invalid label matcher 0: invalid label name "1a"'),
        ("only empty matchers", body(matchers=[{"name": "a", "value": ".*", "isRegex": True}]),
         400, "silence invalid: at least one matcher must not match the empty string"),
        ("end before start", body(starts=iso(now_utc() + datetime.timedelta(hours=2)),
                                  ends=iso(now_utc() + datetime.timedelta(hours=1))), 400,
         "Failed to create silence: start time must be before end time"),
        ("end in the past", body(starts=iso(past), ends=iso(past + datetime.timedelta(hours=1))),
         400, "Failed to create silence: end time can't be in the past"),
        ("unknown id", body(id="3b6c5b61-4f0e-4e2c-9c3b-4ad4d8b3d7a1"), 404,
         "silence not found"),
    ]
    for what, b, status, want in cases:
        r = d.post("/api/v2/silences", b)
        t.eq(r.status, status, what + ": status")
        t.eq(r.json, want, what + ": body")
    r = d.post("/api/v2/silences", body(matchers=[{"name": "a", "value": "(", "isRegex": True}]))
    t.check(r.status == 400 and r.json.startswith(
        'silence invalid: invalid label matcher 0: invalid regular expression "("'),
        "a regex that does not compile: 400 naming it", r)
    r = d.post("/api/v2/silences", "{not json", headers={"Content-Type": "application/json"})
    t.check(r.status == 400 and "not valid JSON" in r.json.get("message", ""),
            "malformed JSON: 400", r)
    r = d.post("/api/v2/silences", json.dumps(body()), headers={"Content-Type": "text/plain"})
    t.eq(r.status, 415, "a body that is not JSON: 415")
    r = d.post("/api/v2/silences", body(startsAt="tomorrow"))
    t.check(r.status == 400 and 'startsAt: cannot parse "tomorrow"' in r.json.get("message", ""),
            "a bad time: 400 naming the field", r)
    r = d.get("/api/v2/silences?filter=bad")
    t.check(r.status == 400 and r.json.startswith("bad matcher format: bad"),
            "a bad filter: 400", r)
    r = d.get("/api/v2/silence/nope")
    t.eq((r.status, r.json), (422, {"code": 601,
                                    "message": 'silenceID in path must be of type uuid: "nope"'}),
         "a path id that is not a UUID: 422")
    r = d.get("/api/v2/silence/3b6c5b61-4f0e-4e2c-9c3b-4ad4d8b3d7a1")
    t.eq(r.status, 404, "an unknown id: 404")
    r = d.request("PUT", "/api/v2/silences", body())
    t.eq(r.status, 405, "PUT: 405")
    t.eq(am.ids(), [pid], "no bad request changed anything")

    t.section("status for amtool")
    r = d.get("/api/v2/status")
    t.eq(r.status, 200, "GET /api/v2/status")
    for k in ("cluster", "config", "uptime", "versionInfo"):
        t.check(k in r.json, "status has " + k, r)
    p = am.run("cluster", "show")
    t.check("disabled" in p.stdout, "amtool cluster show works", p.stdout)
    d.stop()


rbtest.Test("silences").run(main)
