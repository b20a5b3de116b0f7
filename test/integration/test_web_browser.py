#!/usr/bin/env python3
"""The web page in headless Chromium (Debian's chromium, driven by
playwright-core from test/browser/): runbookd on loopback with API tokens,
alerts posted, then the page lists them, shows 401 and 403 clearly, opens an
incident with its timeline and chart, acknowledges through the ack link's
confirm button (opening the link acknowledges nothing), comments, silences
and expires the silence, resolves; screenshots go to BUILD/web-screenshots/
and are checked for content.  Afterwards the store is checked through the
API: every action happened once, by the token's name.

Skips (77) only when Chromium is missing or cannot start."""

import json
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rbtest  # noqa: E402

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")


def browser_dir():
    return os.path.join(rbtest.source_dir(), "test", "browser")


def ensure_node_modules(t):
    d = browser_dir()
    if os.path.isdir(os.path.join(d, "node_modules", "playwright-core")):
        return True
    npm = shutil.which("npm")
    if not npm:
        t.check(False, "npm is installed (needed for playwright-core)")
        return False
    t.note("npm ci in %s" % d)
    p = subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=d, capture_output=True,
                       text=True, timeout=240)
    return t.check(p.returncode == 0, "npm ci installs playwright-core", p.stderr[-800:])


def main(t):
    if not os.access(CHROMIUM, os.X_OK):
        rbtest.log("SKIP: %s is not installed (scripts/install-deps.sh test installs it)" % CHROMIUM)
        sys.exit(rbtest.SKIP)
    if not shutil.which("node"):
        rbtest.log("FAIL: node is not installed")
        sys.exit(1)
    if not ensure_node_modules(t):
        return

    d = t.daemon(start=False)
    d.file("reader", "reader-token-0123456789\n")
    d.file("oncall", "oncall-token-0123456789\n")
    d.write_config({"api": {"tokens": [
        {"name": "reader", "role": "read", "token_file": "reader"},
        {"name": "oncall", "role": "respond", "token_file": "oncall"}]}})
    d.start()
    d.auth = rbtest.bearer("oncall-token-0123456789")

    main_alert = rbtest.alert("WebCheckoutErrors", severity="critical",
                              labels={"namespace": "shop", "service": "checkout"},
                              annotations={"summary": "checkout 5xx at 12%",
                                           "runbook_url": "https://runbooks.example/checkout"})
    hostile = rbtest.alert("WebHostileLabels", severity="high",
                           labels={"namespace": "shop", "note": "<b>bold</b>"},
                           annotations={"summary": "<img src=x onerror=window.__pwned=true>"})
    low = rbtest.alert("DiskAlmostFull", severity="info", labels={"namespace": "ops"})
    r = d.post_webhook(rbtest.payload([low, hostile, main_alert]))
    t.eq(r.status, 200, "webhook stores three alerts")
    # The markup incident fires again (its resolution was never delivered).
    refire = dict(hostile, startsAt=rbtest.now_ts(60))
    r = d.post_webhook(rbtest.payload([refire]))
    t.eq(r.status, 200, "the refire is stored")
    inc = rbtest.wait_incident(d, main_alert["fingerprint"])
    t.check(inc is not None, "the incident exists")
    iid = inc["id"]

    out = os.path.join(os.path.dirname(os.path.abspath(rbtest.BIN)), "web-screenshots")
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    env = dict(os.environ, RB_URL="http://127.0.0.1:%d" % d.port, RB_OUT=out, RB_INCIDENT=str(iid),
               RB_ALERTNAME="WebCheckoutErrors", RB_HOSTILE="WebHostileLabels",
               RB_READER="reader-token-0123456789", RB_ONCALL="oncall-token-0123456789",
               CHROMIUM=CHROMIUM)
    try:
        p = subprocess.run(["node", os.path.join(browser_dir(), "drive.mjs")], cwd=browser_dir(),
                           env=env, capture_output=True, text=True, timeout=90)
    except subprocess.TimeoutExpired as e:
        rbtest.log((e.stdout or b"").decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or ""))
        t.check(False, "the browser session ends within 90 s")
        return
    lines = p.stdout.splitlines()
    for ln in lines[:-1]:
        rbtest.log(ln)
    if p.returncode == 77:
        rbtest.log(p.stdout + p.stderr)
        sys.exit(rbtest.SKIP)
    if p.stderr.strip():
        t.note("node stderr: " + p.stderr.strip()[-1500:])
    try:
        summary = json.loads(lines[-1])
    except (IndexError, ValueError):
        summary = {}
        rbtest.log(lines[-1] if lines else "(no output)")
    t.check(p.returncode == 0 and summary.get("failures") == 0, "every check in the browser passed",
            "exit %s" % p.returncode)

    t.section("screenshots")
    shots = summary.get("screenshots") or []
    t.check(len(shots) >= 9, "nine screenshots were taken", len(shots))
    for s in shots:
        with open(s["file"], "rb") as f:
            head = f.read(24)
        size = os.path.getsize(s["file"])
        w = int.from_bytes(head[16:20], "big")
        hgt = int.from_bytes(head[20:24], "big")
        t.check(head[:8] == b"\x89PNG\r\n\x1a\n" and w >= 1000 and hgt >= 300 and size > 15000,
                "%s: a %dx%d PNG of %d bytes" % (os.path.basename(s["file"]), w, hgt, size))
    t.note("screenshots in %s" % out)

    t.section("the store after the browser session")
    got = d.incident(iid)
    kinds = [e["kind"] for e in got["timeline"]]
    t.eq(got["state"], "resolved", "the incident is resolved")
    t.eq(kinds.count("acknowledged"), 1, "acknowledged once")
    t.eq(kinds.count("commented"), 1, "commented once")
    ack = [e for e in got["timeline"] if e["kind"] == "acknowledged"] or [{}]
    t.eq(ack[0].get("actor"), "oncall", "the acknowledgement's actor is the token's name")
    t.check("on it from the browser" in json.dumps(ack[0].get("detail")),
            "the ack carries its comment", ack)
    com = [e for e in got["timeline"] if e["kind"] == "commented"] or [{}]
    t.check('checked the <b>pods</b> & \\"logs\\"' in json.dumps(com[0].get("detail")),
            "the comment is stored as typed", com)
    t.eq(got.get("resolvedBy"), "oncall", "resolved by the token's name")
    r = d.get("/api/v2/silences")
    sil = [x for x in (r.json if isinstance(r.json, list) else [])
           if x.get("comment") == "maintenance window from the browser test"]
    t.check(len(sil) == 1, "one silence from the browser", r)
    if sil:
        ms = {m["name"]: m["value"] for m in sil[0]["matchers"]}
        t.eq(ms.get("alertname"), "WebCheckoutErrors", "the silence matches the alertname")
        t.eq(ms.get("service"), "checkout", "and every other label")
        t.eq(sil[0]["status"]["state"], "expired", "the silence was expired")
        t.eq(sil[0].get("createdBy"), "oncall", "createdBy as typed")
    other = d.incident(rbtest.wait_incident(d, hostile["fingerprint"])["id"])
    t.eq(other["state"], "open", "the other incidents were left alone")
    d.stop()


if __name__ == "__main__":
    rbtest.Test("web_browser").run(main)
