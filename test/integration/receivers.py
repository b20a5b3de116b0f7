"""receivers - loopback stand-ins for the services runbookd pages through,
shared by test_notify.py and test_escalation.py (stdlib only; not a test
itself: CTest runs test_*.py only).

  - verify_signature(): the receiver's side of X-Runbookd-Signature, as
    docs/notifiers.md shows it (Python's hmac, independent of ours);
  - self_signed(): a certificate for 127.0.0.1 made with openssl, and a
    server-side ssl context;
  - SMTPSink: an SMTP server with optional STARTTLS and AUTH PLAIN/LOGIN
    that refuses MAIL before STARTTLS when it offers TLS, answers 451 once
    for tempfail@ and 550 for nobody@, and keeps what it received;
  - Receiver: an HTTP server that records every request per path and
    answers like Slack (200 ok), PagerDuty Events v2 (202 + dedup_key), the
    signed webhook (204, or 401 on a bad signature), a phone provider
    (202; a path containing "busy503" answers pages 503 with Retry-After:
    4, notices 202), or a rate limiter (429 + Retry-After once, then 200).
"""
import base64
import hashlib
import hmac
import json
import os
import socket
import ssl
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def verify_signature(secret, header, body, tolerance=300):
    """True when one v1= of header is HMAC-SHA256(secret, "<t>.<body>") and
    t is within tolerance seconds of now."""
    if isinstance(secret, str):
        secret = secret.encode()
    pairs = [p.split("=", 1) for p in (header or "").split(",") if "=" in p]
    parts = dict(pairs)
    try:
        t = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs(time.time() - t) > tolerance:
        return False
    mac = hmac.new(secret, f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return any(hmac.compare_digest(mac, v) for k, v in pairs if k == "v1")


def self_signed(tmpdir):
    """(cert path, key path, server ssl context) for 127.0.0.1/localhost."""
    cert, key = os.path.join(tmpdir, "cert.pem"), os.path.join(tmpdir, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                    "-out", cert, "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
                   check=True, capture_output=True, timeout=60)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    return cert, key, ctx


# ------------------------------------------------------------------ SMTP

class Lines:
    def __init__(self, sock):
        self.sock, self.buf = sock, b""

    def readline(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                return None
            self.buf += chunk
            if len(self.buf) > 1 << 22:
                return None
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def send(self, s):
        self.sock.sendall(s.encode() + b"\r\n")


class SMTPSink:
    """SMTP on 127.0.0.1:<port>.  ctx: an ssl server context (STARTTLS
    offered and required before MAIL) or None (no STARTTLS).  user and
    password: the only credentials AUTH accepts.  log, mails and tempfailed
    may be shared lists/sets; mails gets (envelope from, rcpts, bytes, tls,
    authed) per delivered message."""

    def __init__(self, name, ctx, user=None, password=None, log=None, mails=None,
                 tempfailed=None):
        self.name, self.ctx = name, ctx
        self.user, self.password = user, password
        self.log = log if log is not None else []
        self.mails = mails if mails is not None else []
        self.tempfailed = tempfailed if tempfailed is not None else set()
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(1.0)
        self.port = self.sock.getsockname()[1]
        self.stop = False
        threading.Thread(target=self.loop, daemon=True).start()

    def loop(self):
        while not self.stop:
            try:
                c, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            threading.Thread(target=self.session, args=(c,), daemon=True).start()

    def session(self, c):
        c.settimeout(10)
        try:
            self.converse(c)
        except (OSError, ssl.SSLError) as e:
            self.log.append((self.name, "error", repr(e)))
        finally:
            c.close()

    def converse(self, c):
        io = Lines(c)
        tls = authed = False
        mail_from, rcpts = None, []
        io.send("220 sink.test ESMTP ready")
        while True:
            line = io.readline()
            if line is None:
                return
            cmd = line.decode("utf-8", "replace")
            verb = cmd.split(" ", 1)[0].upper()
            self.log.append((self.name, verb, "tls" if tls else "clear"))
            if verb in ("EHLO", "HELO"):
                caps = ["sink.test", "8BITMIME", "SIZE 10485760"]
                if self.ctx and not tls:
                    caps.append("STARTTLS")
                if tls:
                    caps.append("AUTH PLAIN LOGIN")
                for cap in caps[:-1]:
                    io.send("250-" + cap)
                io.send("250 " + caps[-1])
            elif verb == "STARTTLS" and self.ctx and not tls:
                io.send("220 2.0.0 go ahead")
                c = self.ctx.wrap_socket(c, server_side=True)
                io = Lines(c)
                tls = True
            elif verb == "AUTH":
                if not tls:
                    io.send("538 5.7.11 encryption required")
                    continue
                args = cmd.split(" ")
                if args[1].upper() == "PLAIN":
                    if len(args) > 2:
                        blob = args[2]
                    else:
                        io.send("334 ")
                        blob = io.readline().decode()
                    _, user, pw = base64.b64decode(blob).decode().split("\0")
                elif args[1].upper() == "LOGIN":
                    io.send("334 VXNlcm5hbWU6")
                    user = base64.b64decode(io.readline()).decode()
                    io.send("334 UGFzc3dvcmQ6")
                    pw = base64.b64decode(io.readline()).decode()
                else:
                    io.send("504 5.5.4 unrecognized mechanism")
                    continue
                if (user, pw) == (self.user, self.password):
                    authed = True
                    io.send("235 2.7.0 authenticated")
                else:
                    io.send("535 5.7.8 bad credentials")
            elif verb == "MAIL":
                if self.ctx and not tls:
                    io.send("530 5.7.0 Must issue a STARTTLS command first")
                    continue
                mail_from, rcpts = cmd[10:].split(" ")[0], []
                io.send("250 2.1.0 ok")
            elif verb == "RCPT":
                addr = cmd[8:].strip()
                if addr.startswith("<nobody@"):
                    io.send("550 5.1.1 no such user here")
                elif addr.startswith("<tempfail@") and addr not in self.tempfailed:
                    self.tempfailed.add(addr)
                    io.send("451 4.3.0 try again later")
                else:
                    rcpts.append(addr)
                    io.send("250 2.1.5 ok")
            elif verb == "DATA":
                if not rcpts:
                    io.send("554 5.5.1 no valid recipients")
                    continue
                io.send("354 end with <CRLF>.<CRLF>")
                data = []
                while True:
                    ln = io.readline()
                    if ln is None:
                        return
                    if ln == b".":
                        break
                    data.append(ln[1:] if ln.startswith(b"..") else ln)
                self.mails.append((mail_from, rcpts, b"\r\n".join(data) + b"\r\n", tls, authed))
                io.send("250 2.0.0 queued")
            elif verb == "RSET":
                mail_from, rcpts = None, []
                io.send("250 2.0.0 ok")
            elif verb == "NOOP":
                io.send("250 2.0.0 ok")
            elif verb == "QUIT":
                io.send("221 2.0.0 bye")
                return
            else:
                io.send("502 5.5.2 command not recognized")


# ------------------------------------------------------------------ HTTP

class Hit:
    def __init__(self, path, headers, body):
        self.t = time.monotonic()
        self.path = path
        self.headers = headers
        self.body = body
        self.status = None

    @property
    def json(self):
        try:
            return json.loads(self.body)
        except ValueError:
            return {}


class Receiver:
    """Slack, PagerDuty, signed-webhook and phone receivers on one loopback
    port.  Paths: /slack/... (200 ok; a path containing "flaky429" answers
    429 with Retry-After: 1 to its first request), /pagerduty/v2/enqueue
    (202 with the dedup_key; 400 without one; any path containing "/hang/"
    answers only after 8 s, a receiver that hangs), /hook/... (verified with
    secret: 204, else 401), /phone/... (202; under a path containing
    "busy503", trigger/escalated/progress calls get 503 with Retry-After:
    4, so a page waits 4 s for its next attempt).  .hits(prefix) lists Hit
    objects in arrival order."""

    def __init__(self, secret=None):
        self.secret = secret
        self.lock = threading.Lock()
        self._hits = []
        outer = self

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, fmt, *args):
                pass

            def answer(self, status, body=b"", headers=()):
                self.send_response(status)
                for k, v in headers:
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Connection", "close")
                self.end_headers()
                try:
                    self.wfile.write(body)
                except OSError:
                    pass

            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n) if n else b""
                hit = Hit(self.path, dict(self.headers), body)
                with outer.lock:
                    outer._hits.append(hit)
                    count = sum(1 for h in outer._hits if h.path == self.path)
                status, data, hdrs = outer.route(self.path, hit, count)
                hit.status = status
                self.answer(status, data, hdrs)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.url = "http://127.0.0.1:%d" % self.port
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.1},
                         daemon=True).start()

    def route(self, path, hit, count):
        if "/hang/" in path:
            time.sleep(8)  # longer than the notifiers' timeout: no answer
            return 200, b"ok", []
        if path.startswith("/slack/"):
            if "flaky429" in path and count == 1:
                return 429, b"rate_limited", [("Retry-After", "1")]
            return 200, b"ok", []
        if path.startswith("/pagerduty/"):
            key = hit.json.get("dedup_key") if isinstance(hit.json, dict) else None
            if not key:
                return 400, b'{"status":"invalid event"}', []
            return 202, json.dumps({"status": "success", "message": "Event processed",
                                    "dedup_key": key}).encode(), []
        if path.startswith("/hook/"):
            ok = self.secret is not None and verify_signature(
                self.secret, hit.headers.get("X-Runbookd-Signature", ""), hit.body)
            return (204, b"", []) if ok else (401, b"bad signature", [])
        if path.startswith("/phone/"):
            if "busy503" in path and hit.json.get("event") in ("trigger", "escalated",
                                                                "progress"):
                return 503, b"busy", [("Retry-After", "4")]
            return 202, b'{"call":"queued"}', []
        return 404, b"no such path", []

    def hits(self, prefix=""):
        with self.lock:
            return [h for h in self._hits if h.path.startswith(prefix)]

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()
