#!/usr/bin/env python3
"""Post-incident reports and statistics through the daemon and the CLI:
GET /api/v1/incidents/{id}/report in md, html and json (Content-Types, 404
for an unknown incident, 400 for a bad format), `runbookd report` giving
the same bytes while the daemon runs and after it stopped (read-only store),
the HTML well-formed (html.parser) and self-contained, network text
escaped; GET /api/v1/stats and `runbookd stats` with their windows and
errors (docs/reports.md)."""

import html.parser
import json
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rbtest  # noqa: E402

VOID = {"meta", "br", "hr", "img", "input", "link", "col", "area", "base", "wbr", "source"}


class Checker(html.parser.HTMLParser):
    """Every non-void element closed, in order; collects what the page
    would load from elsewhere."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack, self.errors, self.external, self.text = [], [], [], []

    def handle_starttag(self, tag, attrs):
        for k, v in attrs:
            if k in ("src", "href") and v and re.match(r"(?i)\s*(https?:)?//", v):
                self.external.append((tag, k, v))
        if tag == "script":
            self.external.append((tag, "script", ""))
        if tag == "link":
            self.external.append((tag, "link", dict(attrs).get("href")))
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in VOID and self.stack and self.stack[-1] == tag:
            self.stack.pop()

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append("unexpected </%s> (open: %s)" % (tag, self.stack[-3:]))
        else:
            self.stack.pop()

    def handle_data(self, data):
        self.text.append(data)


def cli(args):
    p = subprocess.run([rbtest.BIN] + args, capture_output=True, timeout=60)
    return p.returncode, p.stdout, p.stderr.decode("utf-8", "replace")


def main(t):
    pd = t.path("plans")
    os.makedirs(pd)
    with open(os.path.join(pd, "restart.json"), "w") as f:
        json.dump({"name": "restart", "match": ['alertname="ReportCheck"'],
                   "allow": {"namespaces": ["ran-optimization"],
                             "deployments": ["cognitive-core"], "configmaps": []},
                   "steps": [{"name": "restart", "kind": "rollout_restart"}],
                   "limits": {"cooldown_seconds": 0}}, f)
    d = t.daemon(name="rep", args=["--remediation.dir=" + pd])
    hostile = '<script>alert(1)</script> | *bold* [x](http://evil.example) & "q"'
    a = rbtest.alert("ReportCheck", severity="critical",
                     labels={"namespace": "ran-optimization", "deployment": "cognitive-core",
                             "team": "<img src=x onerror=alert(1)>"},
                     annotations={"summary": hostile})
    t.eq(d.post_webhook(rbtest.payload([a])).status, 200, "alert delivered")
    inc = rbtest.wait_for(lambda: d.incidents()[0] if d.incidents() else None, 10)
    iid = inc["id"]
    rbtest.wait_for(lambda: any(e["kind"] == "remediation finished"
                                for e in d.incident(iid)["timeline"]), 10)
    r = d.post("/api/v1/incidents/%s/ack" % iid, body=json.dumps(
        {"by": "alice", "comment": "looking <now>"}).encode(),
        headers={"Content-Type": "application/json"})
    t.eq(r.status, 200, "acknowledged")

    # An open incident: the report says "as of".
    r = d.get("/api/v1/incidents/%s/report?format=json" % iid)
    t.eq(r.status, 200, "json report of an open incident")
    t.check("asOf" in r.json, "an open incident's report has asOf")

    res = dict(a, status="resolved", endsAt=rbtest.now_ts())
    t.eq(d.post_webhook(rbtest.payload([res])).status, 200, "resolution delivered")
    rbtest.wait_for(lambda: d.incident(iid)["state"] == "resolved", 10)

    t.section("endpoint")
    types = {"md": "text/markdown", "html": "text/html", "json": "application/json"}
    bodies = {}
    for fmt, ctype in types.items():
        r = d.get("/api/v1/incidents/%s/report?format=%s" % (iid, fmt))
        t.eq(r.status, 200, "report ?format=%s answers 200" % fmt)
        t.check((r.header("Content-Type") or "").startswith(ctype),
                "%s Content-Type is %s" % (fmt, ctype), r.header("Content-Type"))
        bodies[fmt] = r.body
    r = d.get("/api/v1/incidents/%s/report" % iid)
    t.eq(r.body, bodies["md"], "Markdown is the default format")
    t.eq(d.get("/api/v1/incidents/987654/report").status, 404, "unknown incident: 404")
    t.eq(d.get("/api/v1/incidents/%s/report?format=pdf" % iid).status, 400, "bad format: 400")
    t.eq(d.post("/api/v1/incidents/%s/report" % iid, body=b"{}",
                headers={"Content-Type": "application/json"}).status, 405, "POST: 405")

    rep = json.loads(bodies["json"])
    t.check("asOf" not in rep, "a resolved incident's report has no wall clock")
    kinds = [e["kind"] for e in rep["timeline"]]
    for k in ("received", "plan matched", "acknowledged", "resolved"):
        t.check(k in kinds, "timeline has %r" % k, kinds)
    t.eq(rep["incident"]["summary"], hostile, "summary kept exactly in JSON")
    t.eq(rep["times"]["acknowledgement"]["by"], "alice", "first response by alice")
    t.check(rep["times"]["detection"]["ms"] is not None and rep["times"]["resolution"]["ms"] is not None,
            "detection and resolution times present")
    t.eq(len(rep["remediation"]), 1, "one remediation run")
    t.check(rep["remediation"][0]["steps"] and rep["remediation"][0]["steps"][0]["requests"],
            "the step's requests are in the report", rep["remediation"])

    md = bodies["md"].decode()
    t.check("\\<script\\>" in md and "<script>" not in md, "Markdown escapes the summary")
    t.check("## Root cause" in md and "## Follow-up actions" in md, "sections for the review")

    h = bodies["html"].decode()
    c = Checker()
    c.feed(h)
    c.close()
    t.eq(c.errors, [], "HTML elements nest and close")
    t.eq(c.stack, [], "no element left open")
    t.eq(c.external, [], "nothing loaded from elsewhere, no script")
    t.check("@import" not in h and not re.search(r"url\(\s*['\"]?(https?:)?//", h),
            "no imported or remote style")
    t.check("<svg" in h and "@media print" in h, "SVG chart and print style")
    t.check(hostile in "".join(c.text), "hostile summary shown as text")
    t.check("<script>alert" not in h and "<img src=x" not in h, "no markup from labels")

    t.section("CLI while the daemon runs")
    for fmt in types:
        rc, out, err = cli(["report", str(iid), "--format=" + fmt, "--storage.path=" + d.storage])
        t.eq(rc, 0, "runbookd report --format=%s exits 0" % fmt)
        if fmt != "html":
            t.eq(out, bodies[fmt], "CLI %s is byte-identical to the endpoint's" % fmt)
        else:
            t.check(out.startswith(b"<!DOCTYPE html>"), "CLI html")
    rc, out, err = cli(["report", str(iid), "--format", "json", "--storage.path", d.storage])
    t.eq((rc, out), (0, bodies["json"]), "--format json (separate value) works")
    rc, out, err = cli(["report", "987654", "--storage.path=" + d.storage])
    t.eq(rc, 1, "unknown incident exits 1")
    t.check("no incident" in err, "and says so", err)
    rc, out, err = cli(["report", str(iid), "--format=pdf", "--storage.path=" + d.storage])
    t.eq(rc, 2, "bad format exits 2")
    rc, out, err = cli(["report", "--storage.path=" + d.storage])
    t.eq(rc, 2, "missing ID exits 2")

    t.section("statistics")
    r = d.get("/api/v1/stats")
    t.eq(r.status, 200, "GET /api/v1/stats")
    s = r.json
    t.eq(s["incidents"]["total"], 1, "one incident in the last 7 days")
    t.eq(s["mtta"]["count"], 1, "one acknowledged")
    t.eq(s["resolvedWithoutHuman"]["withoutHuman"], 0, "alice acted, so not without a human")
    t.eq(s["availability"][0]["service"], "cognitive-core", "service from the deployment label")
    t.check(s["availability"][0]["downSeconds"] > 0, "it was down while the incident was open",
            s["availability"])
    now = int(time.time())
    r = d.get("/api/v1/stats?from=%d&to=%d" % (now - 7200, now + 60))
    t.eq(r.status, 200, "unix-second window")
    t.eq(r.json["windowSeconds"], 7260.0, "window length")
    r = d.get("/api/v1/stats?from=2020-01-01T00:00:00Z&to=2020-01-02T00:00:00Z")
    t.eq((r.status, r.json["incidents"]["total"], r.json["mttd"]["meanSeconds"]), (200, 0, None),
         "an empty RFC 3339 window")
    t.eq(d.get("/api/v1/stats?from=yesterday").status, 400, "bad from: 400")
    r = d.get("/api/v1/stats?from=&to=")
    t.eq((r.status, r.json.get("windowSeconds")), (200, 7 * 86400.0),
         "empty from= and to= are the default window (as INTERFACE.md writes the query)")
    t.eq(d.get("/api/v1/stats?from=%d&to=%d" % (now, now - 10)).status, 400, "from after to: 400")

    rc, out, err = cli(["stats", "--format=json", "--storage.path=" + d.storage])
    t.eq(rc, 0, "runbookd stats --format=json")
    cs = json.loads(out)
    t.eq((cs["incidents"], cs["mttd"]["count"], cs["availability"][0]["service"]),
         (s["incidents"], s["mttd"]["count"], "cognitive-core"), "CLI stats agree with the API")
    rc, out, err = cli(["stats", "--storage.path=" + d.storage])
    t.check(rc == 0 and b"MTTD" in out and b"cognitive-core" in out, "text stats", out[:300])
    rc, out, err = cli(["stats", "--from=nope", "--storage.path=" + d.storage])
    t.eq(rc, 2, "bad --from exits 2")

    d.stop()
    t.section("CLI after the daemon stopped")
    rc, out, err = cli(["report", str(iid), "--format=json", "--storage.path=" + d.storage])
    t.eq((rc, out), (0, bodies["json"]), "same JSON report from a stopped daemon's store")
    rc, out, err = cli(["report", "1", "--storage.path=" + t.path("nostore")])
    t.eq(rc, 1, "no store: exits 1")
    t.check(not os.path.exists(t.path("nostore")), "a read does not create a store")


if __name__ == "__main__":
    rbtest.Test("report").run(main)
