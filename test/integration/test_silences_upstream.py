#!/usr/bin/env python3
"""Silences forwarded to an upstream Alertmanager (silences.upstream): a
real Alertmanager (Debian prometheus-alertmanager, cluster disabled) on
loopback is runbookd's upstream; `amtool silence add|update|expire` against
runbookd reach it; with the upstream down the local silence still works,
the failed attempts are counted and the change arrives once the upstream
is back; the upstream ids survive a restart of runbookd; a stub upstream
that always answers 503 gets the bearer token (never logged) and the
change is counted as failed after max_attempts."""

import http.server
import json
import os
import subprocess
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rbtest  # noqa: E402

POLL_S = 30
UP_TOKEN = "upstream-s3cret-token"

AM_CONFIG = """
route:
  receiver: 'null'
receivers:
- name: 'null'
"""


class Alertmanager:
    """A real Alertmanager on a fixed loopback port (so a restart keeps it)."""

    def __init__(self, t, binary):
        self.t = t
        self.binary = binary
        self.dir = t.path("am")
        os.makedirs(os.path.join(self.dir, "data"), exist_ok=True)
        self.cfg = os.path.join(self.dir, "am.yml")
        with open(self.cfg, "w") as f:
            f.write(AM_CONFIG)
        self.log = os.path.join(self.dir, "am.log")
        self.port = rbtest.free_port()
        self.proc = None

    def start(self):
        logf = open(self.log, "ab")
        self.proc = subprocess.Popen(
            [self.binary, "--config.file=" + self.cfg,
             "--storage.path=" + os.path.join(self.dir, "data"),
             "--web.listen-address=127.0.0.1:%d" % self.port,
             "--cluster.listen-address=", "--log.level=debug"],
            stdin=subprocess.DEVNULL, stdout=logf, stderr=logf, cwd=self.dir)
        logf.close()
        rbtest._live.append(self.proc)
        return rbtest.wait_for(lambda: self.proc.poll() is None and self.ready(),
                               timeout=20, interval=0.1)

    def ready(self):
        try:
            return self.get("/-/ready").status == 200
        except OSError:
            return False

    def get(self, path):
        return rbtest.http_request("127.0.0.1", self.port, "GET", path, timeout=5)

    def silences(self):
        try:
            r = self.get("/api/v2/silences")
        except OSError:
            return []
        return json.loads(r.body) if r.status == 200 else []

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def log_tail(self):
        with open(self.log, "rb") as f:
            return f.read().decode("utf-8", "replace")[-2000:]


class Stub503(http.server.BaseHTTPRequestHandler):
    """An upstream that answers every request 503 and records its headers."""
    seen = []

    def _answer(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        Stub503.seen.append((self.command, self.path, dict(self.headers), body))
        msg = b'"unavailable"'
        self.send_response(503)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(msg)))
        self.end_headers()
        self.wfile.write(msg)

    do_POST = do_DELETE = do_GET = _answer

    def log_message(self, *a):
        pass


def amtool_runner(t, amtool, port):
    def run(*args, ok=True):
        argv = [amtool, "--alertmanager.url=http://127.0.0.1:%d" % port] + list(args)
        p = subprocess.run(argv, capture_output=True, text=True, timeout=30,
                           env=dict(os.environ, HOME=t.tmp))
        if ok and p.returncode != 0:
            t.check(False, "amtool %s exits 0" % " ".join(args),
                    "rc=%d out=%r err=%r" % (p.returncode, p.stdout, p.stderr))
        return p
    return run


def matchers_of(s):
    return sorted((m["name"], m["value"], m["isRegex"], m.get("isEqual", True))
                  for m in s["matchers"])


def upstream_with(am, comment, state="active"):
    """The upstream silences with this comment in this state."""
    return [s for s in am.silences()
            if s["comment"] == comment and s["status"]["state"] == state]


def fwd(d, outcome):
    return d.metric("runbookd_silence_forward_total", {"outcome": outcome}) or 0


def main(t):
    binary = rbtest.which("prometheus-alertmanager", "alertmanager")
    if not binary:
        rbtest.log("SKIP: prometheus-alertmanager is not installed")
        sys.exit(rbtest.SKIP)
    amtool = rbtest.which("amtool")
    if not t.check(amtool, "amtool is installed (it ships with prometheus-alertmanager)"):
        return

    am = Alertmanager(t, binary)
    if not t.check(am.start(), "upstream Alertmanager started on 127.0.0.1:%d" % am.port):
        print(am.log_tail())
        return

    d = t.daemon(start=False)
    d.file("uptok", UP_TOKEN + "\n")
    d.write_config({"silences": {"upstream": {
        "url": "http://127.0.0.1:%d/" % am.port, "bearer_token_file": "uptok",
        "timeout_seconds": 2, "max_attempts": 40, "retry_backoff_ms": 200}}})
    d.start()
    run = amtool_runner(t, amtool, d.port)

    t.section("amtool silence add against runbookd reaches the upstream")
    p = run("silence", "add", "alertname=UpFoo", 'severity=~"critical|high"',
            "--comment=fwd-create", "--author=alice", "--duration=1h")
    sid = p.stdout.strip()
    t.check(sid in run("silence", "query", "-q").stdout.split(), "the silence is local")
    up = rbtest.wait_for(lambda: upstream_with(am, "fwd-create"), timeout=POLL_S,
                         interval=0.1)
    if t.check(up, "the upstream has an active silence with the comment"):
        t.eq(len(up), 1, "exactly one")
        t.eq(matchers_of(up[0]), [("alertname", "UpFoo", False, True),
                                  ("severity", "critical|high", True, True)],
             "the upstream silence has the same matchers")
        t.eq(up[0]["createdBy"], "alice", "and the same author")
        local = json.loads(d.get("/api/v2/silence/" + sid).body)
        t.eq(up[0]["endsAt"][:19], local["endsAt"][:19], "and the same end")
    t.check(rbtest.wait_for(lambda: fwd(d, "ok") >= 1, timeout=POLL_S),
            "runbookd_silence_forward_total{outcome=ok} counted it")

    t.section("amtool silence update against runbookd updates the upstream")
    run("silence", "update", sid, "--comment=fwd-updated", "--duration=2h")
    up2 = rbtest.wait_for(lambda: upstream_with(am, "fwd-updated"), timeout=POLL_S,
                          interval=0.1)
    if t.check(up2, "the upstream has the updated silence"):
        t.eq(len(up2), 1, "one active upstream silence with the new comment")
        t.eq(upstream_with(am, "fwd-create"), [],
             "the old version is not active upstream any more")
        t.eq(matchers_of(up2[0])[0], ("alertname", "UpFoo", False, True), "same matchers")

    t.section("amtool silence expire against runbookd expires it upstream")
    run("silence", "expire", sid)
    gone = rbtest.wait_for(lambda: not upstream_with(am, "fwd-updated")
                           and upstream_with(am, "fwd-updated", "expired"),
                           timeout=POLL_S, interval=0.1)
    t.check(gone, "the upstream silence is expired")
    t.check(sid in run("silence", "query", "--expired", "-q").stdout.split(),
            "and expired locally")

    t.section("upstream down: the local silence works, failures counted, it arrives later")
    am.stop()
    retries_before = fwd(d, "retry")
    ok_before = fwd(d, "ok")
    p = run("silence", "add", "alertname=UpDown", "--comment=fwd-while-down",
            "--author=bob", "--duration=1h")
    sid2 = p.stdout.strip()
    t.check(p.returncode == 0 and sid2, "amtool silence add succeeds with the upstream down")
    q = json.loads(d.get("/api/v2/silence/" + sid2).body or b"{}")
    t.eq(q.get("status", {}).get("state"), "active", "the local silence is active")
    t.check(rbtest.wait_for(lambda: fwd(d, "retry") > retries_before, timeout=POLL_S),
            "runbookd_silence_forward_total{outcome=retry} counts the failed attempt")
    t.check("silence forwarding failed; retrying" in d.log_text(), "the failure is logged")
    t.check(am.start(), "upstream Alertmanager back on the same port")
    t.check(rbtest.wait_for(lambda: upstream_with(am, "fwd-while-down"), timeout=POLL_S,
                            interval=0.2),
            "the silence arrives upstream once it is back (retried)")
    t.check(rbtest.wait_for(lambda: fwd(d, "ok") > ok_before, timeout=POLL_S),
            "and is counted ok")
    t.check(upstream_with(am, "fwd-updated", "expired"),
            "the upstream kept its earlier silences (its own storage)")

    t.section("the upstream id survives a restart of runbookd")
    d.restart()
    run = amtool_runner(t, amtool, d.port)
    run("silence", "expire", sid2)
    t.check(rbtest.wait_for(lambda: not upstream_with(am, "fwd-while-down")
                            and upstream_with(am, "fwd-while-down", "expired"),
                            timeout=POLL_S, interval=0.1),
            "expiring after the restart expires the upstream silence")
    t.check(UP_TOKEN not in d.log_text(), "the bearer token is never logged")

    t.section("an upstream answering 503: bearer token sent, failure counted after retries")
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Stub503)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        d2 = t.daemon(name="d2", start=False)
        d2.file("uptok", UP_TOKEN + "\n")
        d2.write_config({"silences": {"upstream": {
            "url": "http://127.0.0.1:%d" % srv.server_address[1],
            "bearer_token_file": "uptok", "max_attempts": 3, "retry_backoff_ms": 20}}})
        d2.start()
        run2 = amtool_runner(t, amtool, d2.port)
        p = run2("silence", "add", "alertname=Stub", "--comment=stub", "--author=carol",
                 "--duration=1h")
        t.check(p.returncode == 0 and p.stdout.strip(), "the local silence is created")
        t.check(rbtest.wait_for(lambda: fwd(d2, "failed") >= 1, timeout=POLL_S),
                "runbookd_silence_forward_total{outcome=failed} after max_attempts")
        t.eq(fwd(d2, "retry"), 2, "two retries before giving up (3 attempts)")
        posts = [s for s in Stub503.seen if s[0] == "POST"]
        t.eq(len(posts), 3, "three POSTs reached the stub")
        if posts:
            t.eq(posts[0][1], "/api/v2/silences", "POST /api/v2/silences")
            t.eq(posts[0][2].get("Authorization"), "Bearer " + UP_TOKEN,
                 "the bearer token from the file is sent")
            body = json.loads(posts[0][3])
            t.eq(sorted(body), ["comment", "createdBy", "endsAt", "matchers", "startsAt"],
                 "a PostableSilence without an id")
        t.check("503" in d2.log_text() and UP_TOKEN not in d2.log_text(),
                "the failure is logged with the status, without the token")
        t.check(p.stdout.strip() in run2("silence", "query", "-q").stdout.split(),
                "the local silence is unaffected")
        run2("silence", "expire", p.stdout.strip())
        t.check(rbtest.wait_for(lambda: fwd(d2, "skipped") >= 1, timeout=POLL_S),
                "an expiry of a silence the upstream never had is skipped (counted)")
        t.check("never reached the upstream" in d2.log_text(), "and logged")
    finally:
        srv.shutdown()
        srv.server_close()

    t.section("configuration: the URL scheme is checked")
    d3 = t.daemon(name="d3", start=False)
    d3.write_config({"silences": {"upstream": {"url": "ftp://127.0.0.1:1"}}})
    r = subprocess.run(d3.argv()[:1] + ["check-config"] + d3.argv()[1:],
                       capture_output=True, text=True, timeout=30)
    t.check(r.returncode != 0 and "silences.upstream.url" in (r.stdout + r.stderr),
            "check-config rejects silences.upstream.url ftp://", r.stdout + r.stderr)
    am.stop()


if __name__ == "__main__":
    rbtest.Test("silences_upstream").run(main)
