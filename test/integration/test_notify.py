#!/usr/bin/env python3
"""Notifiers end to end, on loopback, against receivers written here.

The receivers stand in for the real services and check what arrives:
  - Slack incoming webhook: text + Block Kit blocks, the ack button's URL;
  - PagerDuty Events API v2: trigger / acknowledge / resolve with one
    dedup_key, the documented fields and limits, 202 like PagerDuty;
  - runbookd's signed webhook: the HMAC-SHA256 signature is verified here
    with Python's hmac (an implementation independent of ours), the
    timestamp must be fresh, a forged one gets 401;
  - a phone provider: bearer token, a short speakable message;
  - an SMTP sink with STARTTLS (socket + ssl, self-signed certificate made
    with openssl): refuses MAIL before STARTTLS, checks AUTH, answers 451
    once for tempfail@ and 550 for nobody@; a second sink offers no
    STARTTLS at all;
  - misbehaving endpoints: 429 with Retry-After then 200, 500 then 200,
    400, a receiver too slow to answer, and a port nothing listens on.

The sender is notify_send() itself, driven by the "e2e" suite of the
Criterion binary test_notify (built next to runbookd), which asserts the
results (status, attempts, timing); this script asserts the payloads.
Exit 77 (skip) when the binary or openssl is missing.
"""
import email
import email.policy
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import receivers  # noqa: E402

SECRET = "whsec-integration-Kx81"
SMTP_USER, SMTP_PASS = "runbookd", "smtp-pass-Qz7"
ROUTING_KEY = "R0UTINGKEY0123456789abcdef012345"
EXTERNAL = "https://runbookd.example.net"

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what, flush=True)


def find_binary():
    b = os.environ.get("NOTIFY_TEST_BIN")
    if b:
        return b
    rb = os.environ.get("RUNBOOKD_BIN")
    if rb:
        return os.path.join(os.path.dirname(rb), "test", "test_notify")
    here = os.path.dirname(os.path.abspath(__file__))
    return os.path.join(here, "..", "..", "build", "test", "test_notify")


# ---- HTTP receivers (receivers.py, with this suite's fault paths) ----

class NotifyReceiver(receivers.Receiver):
    """receivers.Receiver plus the paths the e2e suite's faults use."""

    def route(self, path, hit, count):
        if path in ("/hook", "/hook-forged"):
            ok = verify(hit.headers.get("X-Runbookd-Signature", ""), hit.body)
            return (204, b"", []) if ok else (401, b"bad signature", [])
        if path == "/phone":
            return 202, b'{"call":"queued"}', []
        if path == "/flaky429":
            if count == 1:
                return 429, b"rate limited", [("Retry-After", "1")]
            return 200, b"ok", []
        if path == "/flaky500":
            return (500, b"rollup_error", []) if count == 1 else (200, b"ok", [])
        if path == "/bad400":
            return 400, b"invalid_payload\n", []
        if path == "/slow":
            time.sleep(2.5)  # longer than the suite's 1-s notifier timeout
            return 200, b"ok", []
        return super().route(path, hit, count)


rx = None


def hits_of(path):
    """What arrived at exactly path: (monotonic time, headers, body) each."""
    return [(h.t, h.headers, h.body) for h in rx.hits(path) if h.path == path]


def verify(header, body, tolerance=300):
    """The receiver's side of X-Runbookd-Signature, as docs/notifiers.md shows it."""
    return receivers.verify_signature(SECRET, header, body, tolerance)


# ---- SMTP sinks (receivers.py, shared with test_escalation.py) ----

smtp_log = []     # (sink name, event, detail)
mails = []        # delivered messages: (envelope from, rcpts, bytes, tls, authed)
tempfailed = set()


def SMTPSink(name, ctx):
    return receivers.SMTPSink(name, ctx, user=SMTP_USER, password=SMTP_PASS, log=smtp_log,
                              mails=mails, tempfailed=tempfailed)


# ---- checks of what arrived ----

def only(path):
    seen = hits_of(path)
    check(len(seen) == 1, f"{path}: {len(seen)} requests, want 1")
    return seen[0] if seen else (0, {}, b"{}")


def check_slack():
    _, h, body = only("/slack/services/T1/B1/SLACKSECRET")
    check(h.get("Content-Type") == "application/json", "slack: content type")
    msg = json.loads(body)
    check(isinstance(msg.get("text"), str) and msg["text"].startswith("Triggered: "),
          "slack: fallback text")
    blocks = msg.get("blocks", [])
    kinds = [b["type"] for b in blocks]
    check(kinds == ["header", "section", "section", "context", "actions"], f"slack: blocks {kinds}")
    hdr = blocks[0]["text"]
    check(hdr["type"] == "plain_text" and len(hdr["text"]) <= 150, "slack: header")
    for b in blocks:
        if b["type"] == "section" and "text" in b:
            check(len(b["text"]["text"]) <= 3000, "slack: section limit")
        if b["type"] == "section" and "fields" in b:
            check(len(b["fields"]) <= 10, "slack: field count")
    buttons = blocks[-1]["elements"]
    urls = [x["url"] for x in buttons]
    check(urls == [f"{EXTERNAL}/#/incidents/42/ack", f"{EXTERNAL}/#/incidents/42"],
          f"slack: buttons {urls}")
    check(all(x["type"] == "button" and len(x["text"]["text"]) <= 75 for x in buttons),
          "slack: button shape")


def check_pagerduty():
    seen = hits_of("/pagerduty/v2/enqueue")
    check(len(seen) == 3, f"pagerduty: {len(seen)} events, want 3")
    evs = [json.loads(b) for _, _, b in seen]
    check([e.get("event_action") for e in evs] == ["trigger", "acknowledge", "resolve"],
          "pagerduty: trigger, acknowledge, resolve in order")
    check(len({e.get("dedup_key") for e in evs}) == 1, "pagerduty: one dedup_key")
    check(all(e.get("routing_key") == ROUTING_KEY for e in evs), "pagerduty: routing key")
    check(all(len(e["dedup_key"]) <= 255 for e in evs), "pagerduty: dedup_key length")
    t = evs[0]
    p = t.get("payload", {})
    for k in ("summary", "source", "severity", "timestamp"):
        check(isinstance(p.get(k), str) and p[k], f"pagerduty: payload.{k} required")
    check(len(p.get("summary", "")) <= 1024, "pagerduty: summary limit")
    check(p.get("severity") in ("critical", "error", "warning", "info"), "pagerduty: severity")
    check(p.get("severity") == "critical", "pagerduty: critical maps to critical")
    check(p.get("component") == "api-gateway" and p.get("group") == "ran-optimization"
          and p.get("class") == "HighResponseTime", "pagerduty: component/group/class")
    check(isinstance(p.get("custom_details"), dict) and p["custom_details"].get("incident") == "42",
          "pagerduty: custom_details")
    check(t.get("links") == [{"href": f"{EXTERNAL}/#/incidents/42", "text": "runbookd incident 42"}],
          "pagerduty: links")
    time.strptime(p.get("timestamp", "")[:19], "%Y-%m-%dT%H:%M:%S")
    for e in evs[1:]:
        check(set(e) == {"routing_key", "dedup_key", "event_action"},
              f"pagerduty: {e.get('event_action')} carries only the three keys")


def check_webhook():
    _, h, body = only("/hook")
    check(verify(h.get("X-Runbookd-Signature", ""), body), "webhook: signature verifies")
    check(h.get("X-Runbookd-Delivery") == "42-1796311182911-7", "webhook: delivery id")
    check(h.get("X-Runbookd-Event") == "escalated", "webhook: event header")
    doc = json.loads(body)
    for k in ("event", "incident", "severity", "state", "labels", "links"):
        check(k in doc, f"webhook: {k} in body")
    check(doc.get("event") == "escalated" and doc["incident"]["id"] == "42", "webhook: event, id")
    check(doc["labels"].get("alertname") == "HighResponseTime", "webhook: labels")
    check(doc["links"].get("ack") == f"{EXTERNAL}/#/incidents/42/ack", "webhook: ack link")
    # A replay of the same request an hour later must fail, as must a
    # tampered body.
    sig = h.get("X-Runbookd-Signature", "")
    t = int(dict(p.split("=", 1) for p in sig.split(","))["t"])
    check(abs(time.time() - t) < 120, "webhook: fresh timestamp")
    check(not verify(sig, body.replace(b"escalated", b"resolved")), "webhook: tamper detected")
    forged = hits_of("/hook-forged")
    check(len(forged) == 1 and not verify(forged[0][1].get("X-Runbookd-Signature", ""),
                                          forged[0][2]), "webhook: forged one rejected once")


def check_phone():
    _, h, body = only("/phone")
    check(h.get("Authorization") == "Bearer phone-token-xyz", "phone: bearer token")
    doc = json.loads(body)
    for k in ("to", "message", "incident", "dedup_key"):
        check(k in doc, f"phone: {k}")
    check(doc.get("to") == "+4915112345678", "phone: number")
    msg = doc.get("message", "")
    check(len(msg) <= 320 and not any(c in msg for c in "[]/_{}<>`"), f"phone: speakable {msg!r}")
    check("High Response Time" in msg, "phone: CamelCase split")


def check_failures():
    f429 = hits_of("/flaky429")
    check(len(f429) == 2 and f429[1][0] - f429[0][0] >= 0.95, "429: retried after Retry-After")
    check(len(hits_of("/flaky500")) == 2, "500: retried once")
    check(len(hits_of("/bad400")) == 1, "400: not retried")
    check(len(hits_of("/slow")) == 3, "slow: every attempt timed out (3 attempts)")


def check_smtp():
    got = {tuple(m[1]): m for m in mails}
    m = got.get(("<oncall@example.org>",))
    check(m is not None, "smtp: message to oncall@ delivered")
    if m:
        frm, rcpts, data, tls, authed = m
        check(frm == "<runbookd@example.net>", f"smtp: envelope from {frm}")
        check(tls and authed, "smtp: delivered over STARTTLS after AUTH")
        msg = email.message_from_bytes(data, policy=email.policy.default)
        for k in ("Date", "Message-ID", "Subject", "From", "To"):
            check(msg[k], f"smtp: {k} header")
        check("Störung" in str(msg["Subject"]), f"smtp: UTF-8 subject {msg['Subject']!r}")
        check(msg["Message-ID"] == "<runbookd.42-1796311182911-7@example.net>", "smtp: Message-ID")
        check(email.utils.parsedate_to_datetime(msg["Date"]) is not None, "smtp: Date parses")
        check(f"{EXTERNAL}/#/incidents/42/ack" in msg.get_content(), "smtp: ack link in body")
        check(all(len(ln) <= 998 for ln in data.split(b"\r\n")), "smtp: line length")
        check(b"\n" not in data.replace(b"\r\n", b""), "smtp: CRLF only")
    check(("<tempfail@example.org>",) in got, "smtp: tempfail delivered on retry")
    check(not any("<nobody@example.org>" in m[1] for m in mails), "smtp: nobody@ refused")
    tls_verbs = [(v, d) for n, v, d in smtp_log if n == "tls" and v in ("MAIL", "AUTH")]
    check(tls_verbs and all(d == "tls" for _, d in tls_verbs), "smtp: nothing sensitive in clear")
    plain = [v for n, v, _ in smtp_log if n == "plain"]
    check(plain and "MAIL" not in plain and "AUTH" not in plain,
          f"smtp: no mail and no password to a server without STARTTLS {plain}")


def main():
    binary = find_binary()
    if not os.access(binary, os.X_OK):
        print(f"skip: {binary} not built")
        return 77
    if not shutil.which("openssl"):
        print("skip: openssl not installed")
        return 77
    tmp = tempfile.mkdtemp(prefix="rb-notify-")
    cert, _key, ctx = receivers.self_signed(tmp)

    global rx
    rx = NotifyReceiver()
    tls_sink, plain_sink = SMTPSink("tls", ctx), SMTPSink("plain", None)
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    down = s.getsockname()[1]
    s.close()

    env = dict(os.environ,
               NOTIFY_E2E_HTTP=str(rx.port), NOTIFY_E2E_SECRET=SECRET,
               NOTIFY_E2E_DOWN=str(down), NOTIFY_E2E_SMTP=str(tls_sink.port),
               NOTIFY_E2E_SMTP_PLAIN=str(plain_sink.port), NOTIFY_E2E_SMTP_CA=cert,
               NOTIFY_E2E_SMTP_USER=SMTP_USER, NOTIFY_E2E_SMTP_PASS=SMTP_PASS)
    t0 = time.monotonic()
    p = subprocess.run([binary, "--filter=e2e/*", "--jobs=1", "--verbose"], env=env,
                       capture_output=True, text=True, timeout=120)
    out = p.stdout + p.stderr
    print(out)
    print(f"e2e suite: {time.monotonic() - t0:.1f} s, exit {p.returncode}")
    check(p.returncode == 0, "criterion e2e suite passed")
    check("[SKIP] e2e::" not in out and "Tested: 14 " in out, "all 14 e2e tests ran")
    # Secrets never reach a log line (the daemon's logs go to stderr).
    for secret in (SECRET, SMTP_PASS, ROUTING_KEY, "SLACKSECRET", "phone-token-xyz"):
        check(secret not in out, f"secret {secret[:4]}... absent from the output")

    check_slack()
    check_pagerduty()
    check_webhook()
    check_phone()
    check_failures()
    check_smtp()
    rx.stop()
    tls_sink.stop = plain_sink.stop = True
    shutil.rmtree(tmp, ignore_errors=True)
    if failures:
        print(f"{len(failures)} check(s) failed")
        return 1
    print("notifiers: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
