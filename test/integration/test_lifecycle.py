#!/usr/bin/env python3
"""The daemon's lifecycle: version, --help, check-config, secure-by-default
listener, SIGHUP and POST /-/reload (good and broken), graceful SIGTERM with
a request in flight, promtool on /metrics, and HTTPS."""

import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rbtest  # noqa: E402


def run(args, cwd=None, timeout=20):
    p = subprocess.run([rbtest.BIN] + args, capture_output=True, text=True,
                       timeout=timeout, cwd=cwd)
    return p.returncode, p.stdout, p.stderr


def cli(t):
    t.section("version, --help")
    rc, out, err = run(["version"])
    t.eq(rc, 0, "runbookd version exits 0")
    t.check(out.startswith("runbookd, version "), "version prints 'runbookd, version X'", out)
    for args in (["--help"], ["-h"], ["check-config", "--help"]):
        rc, out, err = run(args)
        t.eq(rc, 0, "runbookd %s exits 0" % " ".join(args))
        for word in ("--config.file", "--web.listen-address", "--storage.path",
                     "--web.tls-cert-file", "check-config", "replay", "version"):
            t.check(word in out, "%s mentions %s" % (" ".join(args), word))
    rc, out, err = run(["frobnicate"])
    t.check(rc != 0 and "frobnicate" in err, "unknown command: non-zero exit naming it", err)
    rc, out, err = run(["--no-such-flag=1", "check-config"])
    t.check(rc != 0, "unknown flag: non-zero exit (%d)" % rc)

    t.section("check-config")
    cdir = t.path("cc")
    os.makedirs(cdir, exist_ok=True)
    t.write("cc/tok", "tok-1\n")
    t.write("cc/pw", "hunter2\n")
    t.write("cc/good.json", json.dumps({
        "web": {"listen_address": "127.0.0.1:9095", "max_body_bytes": 1048576,
                "auth": {"bearer_token_file": "tok",
                         "basic_auth": {"username": "alertmanager", "password_file": "pw"}}},
        "storage": {"path": "./data"},
        "severity": {"map": {"sev1": "critical"}, "default": "low"},
        "log": {"level": "debug", "format": "json"}}))
    # From another working directory: relative files resolve against the
    # config file's folder.
    rc, out, err = run(["check-config", "--config.file=" + t.path("cc/good.json")], cwd="/")
    t.eq(rc, 0, "check-config on a good config exits 0")
    t.check("valid" in out, "check-config says the configuration is valid", out + err)
    rc, out, err = run(["check-config", "--config.file", t.path("cc/good.json")], cwd="/")
    t.eq(rc, 0, "check-config with '--config.file PATH' (space form) exits 0")

    # Several problems of different kinds, all in one file.
    t.write("cc/cfg.json", json.dumps({
        "web": {"max_body_bytes": 5, "bogus_field": 1,
                "auth": {"bearer_token_file": "no-such-token"}},
        "log": {"level": "loud"},
        "storage": {"max_bytes": "big"}}))
    rc, out, err = run(["check-config", "--config.file=" + t.path("cc/cfg.json")])
    t.eq(rc, 1, "check-config on a config with several problems exits 1")
    for where, why in (("cfg.json: web.max_body_bytes", "out of range"),
                       ("cfg.json: web.bogus_field", "unknown field"),
                       ("cfg.json: log.level", ""),
                       ("cfg.json: storage.max_bytes", "integer"),
                       ("cfg.json: web.auth.bearer_token_file", "no-such-token")):
        lines = [ln for ln in err.splitlines() if where in ln and why in ln]
        t.check(lines, "problem named: %s ... %s" % (where, why), err)
    t.check("problems found" in err, "check-config counts the problems", err)

    # Problems found only when the values are used (files, listener).
    t.write("cc/cfg2.json", json.dumps({
        "web": {"listen_address": "0.0.0.0:9095", "tls_cert_file": "no-cert.pem",
                "auth": {"basic_auth": {"username": "am"}}}}))
    rc, out, err = run(["check-config", "--config.file=" + t.path("cc/cfg2.json")])
    t.eq(rc, 1, "check-config on unusable values exits 1")
    for where in ("cfg2.json: web.tls_key_file", "cfg2.json: web.auth.basic_auth.password_file",
                  "cfg2.json: web.listen_address"):
        t.check(where in err, "problem named: %s" % where, err)
    t.write("cc/empty-tok", "  \n")
    t.write("cc/cfg3.json", json.dumps({"web": {"auth": {"bearer_token_file": "empty-tok"}}}))
    rc, out, err = run(["check-config", "--config.file=" + t.path("cc/cfg3.json")])
    t.check(rc == 1 and "cfg3.json: web.auth.bearer_token_file" in err and "empty" in err,
            "empty token file: exit 1 naming web.auth.bearer_token_file", err)
    t.write("cc/broken.json", '{"web": {"max_body_bytes": 10,,}}')
    rc, out, err = run(["check-config", "--config.file=" + t.path("cc/broken.json")])
    t.check(rc == 1 and "broken.json" in err and "JSON" in err,
            "invalid JSON: exit 1 naming the file", err)
    rc, out, err = run(["check-config", "--config.file=" + t.path("cc/nope.json")])
    t.check(rc == 1 and "nope.json" in err, "missing config file: exit 1 naming it", err)
    rc, out, err = run(["check-config", "--web.max-body-bytes=abc", "--log.level=loud"])
    t.check(rc == 1 and "--web.max-body-bytes" in err and "--log.level" in err,
            "bad flags: exit 1 naming each flag", err)


def listener(t):
    t.section("secure by default: non-loopback listener")
    d = t.daemon(name="open", listen="0.0.0.0:0", start=False)
    code = d.start(expect_fail=True, timeout=10)
    t.check(code not in (None, 0), "0.0.0.0:0 without auth refuses to start (exit %s)" % code)
    text = d.log_text()
    t.check("web.listen_address" in text and "--web.insecure-no-auth" in text,
            "the refusal names web.listen_address and --web.insecure-no-auth", text[-600:])
    d2 = t.daemon(name="open2", listen="0.0.0.0:0", args=["--web.insecure-no-auth"])
    t.check(d2.alive(), "0.0.0.0:0 with --web.insecure-no-auth starts (reached on 127.0.0.1)")
    t.eq(d2.post_webhook(rbtest.payload([rbtest.alert("Open")])).status, 200,
         "it takes a webhook without credentials")
    d2.stop()
    d3 = t.daemon(name="open3", listen="0.0.0.0:0", start=False)
    d3.file("tok", "tok")
    d3.write_config({"web": {"auth": {"bearer_token_file": "tok"}}})
    d3.start()
    t.check(d3.alive(), "0.0.0.0:0 with a bearer token configured starts")
    d3.stop()

    t.section("the listener's port already taken")
    a = t.daemon(name="first")
    b = t.daemon(name="second", listen="127.0.0.1:%d" % a.port, start=False)
    code = b.start(expect_fail=True, timeout=10)
    t.check(code not in (None, 0), "a second daemon on the same port refuses to start (exit %s)"
            % code)
    t.check("Address already in use" in b.log_text() and "127.0.0.1:%d" % a.port in b.log_text(),
            "the refusal names the address and the reason", b.log_text()[-400:])
    # The port is taken before remediation (which resumes runs) and paging
    # (which sends what is due) start: the loser has done nothing.
    t.check(not any(m in b.log_text() for m in ("remediation ready", "escalation ready")),
            "the refused daemon never started remediation or paging", b.log_text()[-600:])
    t.eq(a.post_webhook(rbtest.payload([rbtest.alert("StillMine")])).status, 200,
         "the first daemon keeps its port and takes webhooks")
    a.stop()

    t.section("one daemon per store: the storage directory's lock")
    a = t.daemon(name="owner")
    t.eq(a.post_webhook(rbtest.payload([rbtest.alert("Owned")])).status, 200,
         "the first daemon takes a webhook")
    lock = os.path.join(a.storage, "lock")
    t.check(os.path.exists(lock), "the store has a lock file")
    if os.path.exists(lock):
        with open(lock) as f:
            t.eq(f.read().strip(), str(a.pid()), "the lock file holds the owner's PID")
    b = t.daemon(name="intruder", storage=a.storage, start=False)
    code = b.start(expect_fail=True, timeout=10)
    t.eq(code, 1, "a second daemon on the same --storage.path exits 1")
    text = b.log_text()
    t.check(a.storage in text and "in use by another runbookd" in text
            and "pid %d " % a.pid() in text,
            "the refusal names the directory, another runbookd and its PID", text[-600:])
    t.check(not any(m in text for m in ("store schema migrated", "remediation ready",
                                        "escalation ready", "msg=listening")),
            "the second daemon stopped before touching the store, remediating, paging or "
            "listening", text[-600:])
    t.eq(a.post_webhook(rbtest.payload([rbtest.alert("StillOwned")])).status, 200,
         "the owner goes on taking webhooks")
    iid = a.incidents()[0]["id"]
    rc, out, err = run(["report", str(iid), "--format=json", "--storage.path=" + a.storage])
    t.check(rc == 0 and str(json.loads(out or "{}").get("incident", {}).get("id")) == str(iid),
            "runbookd report on the live store works (read-only, no lock)", (rc, out[:200], err))
    rc, out, err = run(["stats", "--format=json", "--storage.path=" + a.storage])
    t.check(rc == 0 and out.startswith("{"), "runbookd stats on the live store works",
            (rc, out[:200], err))
    a.stop()
    b.start()
    t.check(b.alive(), "once the owner has stopped, another daemon takes the store")
    t.eq(sorted(i["alertname"] for i in b.incidents("state=all")), ["Owned", "StillOwned"],
         "and sees what the owner stored")
    b.stop()


def reload(t):
    t.section("reload: SIGHUP and POST /-/reload")
    d = t.daemon(name="reload", start=False)
    d.file("tok", "token-one\n")
    cfg = {"web": {"auth": {"bearer_token_file": "tok"}}}
    d.write_config(cfg)
    d.start()
    good = lambda n: rbtest.payload([rbtest.alert(n)])  # noqa: E731

    def status_with(tok, name="R"):
        return d.post_webhook(good(name), headers=rbtest.bearer(tok), auth=False).status

    t.eq(status_with("token-one"), 200, "token-one accepted")
    t.eq(d.metric("runbookd_config_last_reload_successful"), 1.0,
         "runbookd_config_last_reload_successful 1 at start")
    d.file("tok", "token-two\n")
    t.eq(status_with("token-one"), 200, "secret is not re-read before a reload")
    d.signal(signal.SIGHUP)
    ok = rbtest.wait_for(lambda: status_with("token-two") == 200, timeout=10)
    t.check(ok, "after SIGHUP token-two accepted")
    t.eq(status_with("token-one"), 401, "after SIGHUP token-one refused")
    d.file("tok", "token-three\n")
    r = d.post("/-/reload", headers=rbtest.bearer("token-two"), auth=False)
    t.eq(r.status, 200, "POST /-/reload -> 200")
    t.eq(status_with("token-three"), 200, "after POST /-/reload token-three accepted")
    t.eq(status_with("token-two"), 401, "after POST /-/reload token-two refused")
    t.eq(d.post("/-/reload", auth=False).status, 401, "POST /-/reload needs credentials")
    t.eq(d.get("/-/reload", headers=rbtest.bearer("token-three"), auth=False).status, 405,
         "GET /-/reload -> 405")

    t.section("broken config on reload")
    d.write_config({"web": {"max_body_bytes": "big", "auth": {"bearer_token_file": "tok"}}})
    r = d.post("/-/reload", headers=rbtest.bearer("token-three"), auth=False)
    t.eq(r.status, 500, "POST /-/reload with a broken config -> 500")
    t.check("web.max_body_bytes" in r.error, "the 500 names web.max_body_bytes", r.error)
    t.eq(status_with("token-three"), 200, "the old configuration keeps serving")
    d.auth = rbtest.bearer("token-three")
    t.eq(d.metric("runbookd_config_last_reload_successful"), 0.0,
         "runbookd_config_last_reload_successful 0 after the refused reload")
    t.check("reload refused" in d.log_text(), "the refused reload is logged")
    d.write_config({"web": {"auth": {"bearer_token_file": "missing-file"}}})
    d.signal(signal.SIGHUP)
    ok = rbtest.wait_for(lambda: d.log_text().count("reload refused") >= 2, timeout=10)
    t.check(ok, "SIGHUP with an unreadable token file: reload refused and logged")
    t.check("missing-file" in d.log_text(), "the log names the unreadable file")
    t.eq(status_with("token-three"), 200, "still serving with the old token after SIGHUP")
    t.check(d.alive(), "daemon alive after refused reloads")
    d.write_config(cfg)
    r = d.post("/-/reload")
    t.eq(r.status, 200, "reload with the config fixed -> 200")
    t.eq(d.metric("runbookd_config_last_reload_successful"), 1.0,
         "runbookd_config_last_reload_successful back to 1")
    # A reload under load does not drop requests.
    codes = []
    for i in range(20):
        codes.append(status_with("token-three", "Load%d" % i))
        if i % 5 == 0:
            d.signal(signal.SIGHUP)
    t.eq(set(codes), {200}, "20 deliveries interleaved with SIGHUPs all 200")
    d.stop()


def graceful(t):
    t.section("SIGTERM with a request in flight")
    d = t.daemon(name="term")
    body = json.dumps(rbtest.payload([rbtest.alert("InFlight")])).encode()
    s = socket.create_connection(("127.0.0.1", d.port), timeout=10)
    try:
        s.sendall(b"POST /webhook HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Expect: 100-continue\r\nContent-Length: %d\r\n\r\n" % len(body))
        cont = s.recv(4096)
        t.check(cont.startswith(b"HTTP/1.1 100"),
                "the daemon has the request (100 Continue)", cont[:100])
        s.sendall(body[:len(body) // 2])
        d.signal(signal.SIGTERM)
        # The listener closes at once; the in-flight request goes on.
        gone = rbtest.wait_for(lambda: _refused(d.port), timeout=10)
        t.check(gone, "after SIGTERM new connections are refused")
        t.check(d.proc.poll() is None, "the daemon waits for the in-flight request")
        s.sendall(body[len(body) // 2:])
        out = b""
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not rbtest._complete_response(out):
            c = s.recv(65536)
            if not c:
                break
            out += c
    finally:
        s.close()
    t.eq(rbtest.raw_status(out), 200, "the in-flight request is answered 200")
    try:
        rc = d.proc.wait(15)
    except subprocess.TimeoutExpired:
        rc = None
    t.eq(rc, 0, "then the daemon exits 0")
    t.check("runbookd stopped" in d.log_text(), "it logs 'runbookd stopped'")
    d.restart()
    t.eq([i["alertname"] for i in d.incidents()], ["InFlight"],
         "the in-flight delivery was stored")
    d.stop()


def _refused(port):
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=1)
    except OSError:
        return True
    s.close()
    return False


def promtool(t):
    t.section("promtool check metrics")
    d = t.daemon(name="metrics")
    d.post_webhook(rbtest.payload([rbtest.alert("M", severity="warning")]))
    d.post_webhook(b"{bad")
    d.get("/api/v1/incidents")
    text = d.metrics()
    for name in ("runbookd_webhook_requests_total", "runbookd_http_request_duration_seconds_bucket",
                 "runbookd_incidents_open", "runbookd_store_errors_total",
                 "runbookd_store_commit_duration_seconds_bucket",
                 "runbookd_store_sync_duration_seconds_bucket",
                 "runbookd_config_last_reload_successful", "runbookd_alerts_total"):
        t.check(name in text, "/metrics has %s" % name)
    t.eq(d.metric("runbookd_incidents_open", {"severity": "medium"}), 1.0,
         "runbookd_incidents_open{severity=medium} 1")
    t.eq(d.metric("runbookd_webhook_requests_total", {"outcome": "bad_request"}), 1.0,
         "runbookd_webhook_requests_total{outcome=bad_request} 1")
    t.eq(d.metric("runbookd_webhook_requests_total", {"outcome": "accepted"}), 1.0,
         "runbookd_webhook_requests_total{outcome=accepted} 1")
    r = d.get("/metrics")
    t.check((r.header("Content-Type") or "").startswith("text/plain"), "text/plain content type")
    pt = rbtest.which("promtool")
    if not pt:
        t.note("promtool not installed: skipping 'promtool check metrics'")
    else:
        p = subprocess.run([pt, "check", "metrics"], input=r.body, capture_output=True,
                           timeout=30)
        t.eq(p.returncode, 0, "promtool check metrics passes")
        t.check(not p.stdout.strip() and not p.stderr.strip(),
                "promtool reports no lint problems", (p.stdout + p.stderr)[:600])
    d.stop()


def tls(t):
    t.section("TLS listener")
    ossl = rbtest.which("openssl")
    if not ossl:
        t.note("openssl not installed: skipping TLS")
        return
    cert, key = t.path("cert.pem"), t.path("key.pem")
    p = subprocess.run([ossl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                        "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                        "-keyout", key, "-out", cert], capture_output=True, timeout=60)
    if not t.check(p.returncode == 0, "openssl made a self-signed certificate", p.stderr):
        return
    d = t.daemon(name="tls", tls_ca=cert, args=["--web.tls-cert-file=" + cert,
                                                "--web.tls-key-file=" + key])
    t.check("tls=true" in d.log_text(), "listening line says tls=true")
    r = d.post_webhook(rbtest.payload([rbtest.alert("OverTLS")]))
    t.eq((r.status, r.json.get("new")), (200, 1), "webhook over HTTPS -> 200 new=1")
    t.eq([i["alertname"] for i in d.incidents()], ["OverTLS"], "incident read over HTTPS")
    raw = d.raw(b"GET /-/healthy HTTP/1.1\r\nHost: x\r\n\r\n", timeout=5)
    t.check(rbtest.raw_status(raw) != 200, "plain HTTP on the TLS port does not get 200")
    ctx = ssl.create_default_context()  # system CAs only: must not trust it
    try:
        s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", d.port), timeout=5),
                            server_hostname="127.0.0.1")
        s.close()
        t.check(False, "an unknown CA is rejected by the client")
    except ssl.SSLError:
        t.check(True, "a client without the CA refuses the certificate (sanity)")
    t.check(d.alive(), "TLS daemon alive")
    d.stop()
    bad = t.daemon(name="tlsbad", args=["--web.tls-cert-file=" + cert], start=False)
    code = bad.start(expect_fail=True, timeout=10)
    t.check(code not in (None, 0) and "web.tls_key_file" in bad.log_text(),
            "certificate without key refuses to start naming web.tls_key_file",
            bad.log_text()[-400:])


def main(t):
    cli(t)
    listener(t)
    reload(t)
    graceful(t)
    promtool(t)
    tls(t)


if __name__ == "__main__":
    rbtest.Test("lifecycle").run(main)
