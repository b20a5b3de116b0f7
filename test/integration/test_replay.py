#!/usr/bin/env python3
"""`runbookd replay FILE...` on the captured deliveries prints each alert's
fingerprint and normalised severity and exits 0; a malformed or unreadable
file exits 1 naming the problem.  Nothing is stored."""

import json
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rbtest  # noqa: E402

SEV = {"warning": "medium", "high": "high", "medium": "medium", "critical": "critical",
       "info": "low", "error": "high", "page": "critical"}


def run(args, cwd=None):
    p = subprocess.run([rbtest.BIN, "replay"] + args, capture_output=True, text=True,
                       timeout=30, cwd=cwd)
    return p.returncode, p.stdout, p.stderr


def main(t):
    fxs = rbtest.fixtures()
    t.check(len(fxs) >= 4, "fixtures found (%d)" % len(fxs))
    cwd = t.path("cwd")
    os.makedirs(cwd)
    paths = []
    for name, fx in fxs:
        path = os.path.join(rbtest.FIXTURES_DIR, name)
        paths.append(path)
        rc, out, err = run([path], cwd=cwd)
        t.eq(rc, 0, "replay %s exits 0" % name)
        lines = [ln for ln in out.splitlines() if re.search(r"\balert \d+:", ln)]
        t.eq(len(lines), len(fx["body"]["alerts"]),
             "%s: one line per alert" % name)
        for a, ln in zip(fx["body"]["alerts"], lines):
            t.check("fingerprint=%s" % a["fingerprint"] in ln,
                    "%s: fingerprint %s printed" % (name, a["fingerprint"]), ln)
            want = SEV[a["labels"]["severity"]]
            t.check("severity=%s" % want in ln,
                    "%s: severity %s -> %s printed" % (name, a["labels"]["severity"], want), ln)
            t.check(a["status"] in ln, "%s: status %s printed" % (name, a["status"]), ln)
        t.check("truncatedAlerts=%d" % fx["body"]["truncatedAlerts"] in out,
                "%s: truncatedAlerts printed" % name)
    rc, out, err = run(paths, cwd=cwd)
    t.eq(rc, 0, "replay of all fixtures at once exits 0")
    t.eq(len(re.findall(r"\balert \d+:", out)), sum(len(fx["body"]["alerts"]) for _, fx in fxs),
         "all alerts of all fixtures printed")
    t.eq(os.listdir(cwd), [], "replay touches nothing (no ./data store created)")

    # A bare body (not a captured delivery) with no fingerprint field.
    body = rbtest.payload([rbtest.alert("Bare", fingerprint=False, severity="page")])
    p = t.write("bare.json", json.dumps(body))
    rc, out, err = run([p], cwd=cwd)
    fp = rbtest.am_fingerprint(body["alerts"][0]["labels"])
    t.eq(rc, 0, "replay of a bare webhook body exits 0")
    t.check("fingerprint=%s" % fp in out and "computed" in out,
            "computed fingerprint printed and marked", out)
    t.check("severity=critical" in out, "page -> critical", out)

    t.section("malformed files")
    cases = [
        ("bad-json.json", '{"status": "firing", "alerts": [', ["malformed JSON"]),
        ("bad-type.json", json.dumps({"status": "firing", "alerts": {}}), ["alerts", "array"]),
        ("bad-label.json", json.dumps(rbtest.payload(
            [dict(rbtest.alert("X"), labels={"alertname": "X", "severity": 5})])),
         ["alerts[0].labels.severity"]),
        ("bad-status.json", json.dumps({"status": "bogus", "alerts": []}), ["status"]),
        ("bad-delivery.json", json.dumps({"headers": {}, "body": {"status": "firing"}}),
         ["alerts", "missing"]),
    ]
    for name, text, words in cases:
        p = t.write(name, text)
        rc, out, err = run([p], cwd=cwd)
        t.eq(rc, 1, "replay %s exits 1" % name)
        msg = out + err
        t.check(name in msg, "%s: message names the file" % name, msg)
        for w in words:
            t.check(w in msg, "%s: message names %r" % (name, w), msg)
    rc, out, err = run([t.path("does-not-exist.json")], cwd=cwd)
    t.check(rc == 1 and "does-not-exist.json" in out + err and "cannot read" in out + err,
            "unreadable file: exit 1, 'cannot read' naming it", out + err)
    good = os.path.join(rbtest.FIXTURES_DIR, fxs[0][0])
    rc, out, err = run([good, t.path("bad-json.json")], cwd=cwd)
    t.eq(rc, 1, "a good and a bad file together: exit 1")
    t.check("fingerprint=" in out, "the good file is still shown", out)
    rc, out, err = run([], cwd=cwd)
    t.check(rc != 0 and "file" in (out + err), "replay without a file: non-zero, asks for one",
            out + err)


if __name__ == "__main__":
    rbtest.Test("replay").run(main)
