"""rbtest - shared helpers for runbookd's integration tests (stdlib only).

A test file does:

    import rbtest
    t = rbtest.Test("fixtures")
    d = t.daemon(config={...})          # started, ready, port known
    r = d.post_webhook(payload)         # -> Resp(status, headers, body, json)
    t.check(r.status == 200, "webhook answered 200", r)
    d.stop()                            # SIGTERM, asserts exit 0 in bound
    t.done()                            # exits 1 if any check failed

Every daemon started here runs on 127.0.0.1 with a temporary store and its
stderr in a log file; it is killed at exit whatever happens.  Every wait is
a bounded poll for a condition.
"""

import atexit
import base64
import datetime
import http.client
import itertools
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import traceback

SKIP = 77

BIN = os.environ.get("RUNBOOKD_BIN", "")
FIXTURES_DIR = os.environ.get("FIXTURES_DIR", "")
SOURCE_DIR = os.environ.get("RUNBOOKD_SOURCE_DIR", "")

_live = []  # every Daemon/Process started, killed at exit


def _cleanup():
    for p in list(_live):
        try:
            if p.poll() is None:
                p.kill()
                p.wait(5)
        except Exception:
            pass


atexit.register(_cleanup)


def log(msg):
    print(msg, flush=True)


def wait_for(cond, timeout=10.0, interval=0.02, what="condition"):
    """Polls cond() until it returns a truthy value or timeout passes;
    returns that value, or None on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            v = cond()
        except Exception:
            v = None
        if v:
            return v
        if time.monotonic() >= deadline:
            return None
        time.sleep(interval)


# --------------------------------------------------------------- checks


class Test:
    """Collects checks; one line per check; exit code at done()."""

    def __init__(self, name):
        self.name = name
        self.failures = []
        self.passed = 0
        self.tmp = tempfile.mkdtemp(prefix="rbit-%s-" % name)
        self._daemons = []
        self._seq = itertools.count(1)
        if not BIN or not os.access(BIN, os.X_OK):
            log("SKIP: RUNBOOKD_BIN is not set or not executable (%r)" % BIN)
            sys.exit(SKIP)

    def check(self, cond, what, detail=None):
        if cond:
            self.passed += 1
            log("ok   - %s" % what)
        else:
            self.failures.append(what)
            extra = ""
            if detail is not None:
                extra = " :: %s" % (str(detail)[:600],)
            log("FAIL - %s%s" % (what, extra))
        return bool(cond)

    def eq(self, got, want, what):
        w = repr(want)
        if len(w) > 100:
            w = w[:100] + "..."
        return self.check(got == want, "%s (want %s)" % (what, w),
                          "got %r" % (got,))

    def note(self, msg):
        log("#      %s" % msg)

    def section(self, title):
        log("# --- %s" % title)

    def path(self, *parts):
        return os.path.join(self.tmp, *parts)

    def write(self, name, text, mode=0o600):
        p = self.path(name)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "w" if isinstance(text, str) else "wb") as f:
            f.write(text)
        os.chmod(p, mode)
        return p

    def daemon(self, args=(), config=None, name=None, start=True, tls_ca=None,
               **kw):
        name = name or "d%d" % next(self._seq)
        d = Daemon(self, name, args=args, config=config, tls_ca=tls_ca, **kw)
        self._daemons.append(d)
        if start:
            d.start()
        return d

    def run(self, body):
        """Runs body(self); any exception is a failure; daemons are stopped
        (killed) afterwards; exits with the right code."""
        try:
            body(self)
        except SystemExit:
            raise
        except BaseException:
            self.failures.append("exception")
            log("FAIL - unexpected exception:")
            traceback.print_exc(file=sys.stdout)
            for d in self._daemons:
                d.dump_log(tail=40)
        finally:
            for d in self._daemons:
                d.kill9(quiet=True)
        self.done()

    def done(self):
        if self.failures:
            log("# %s: %d passed, %d FAILED:" % (self.name, self.passed,
                                                 len(self.failures)))
            for f in self.failures:
                log("#   - %s" % f)
            sys.exit(1)
        log("# %s: all %d checks passed" % (self.name, self.passed))
        shutil.rmtree(self.tmp, ignore_errors=True)
        sys.exit(0)


# ------------------------------------------------------------------ HTTP


class Resp:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers  # dict, lower-case names
        self.body = body
        self._json = None

    @property
    def json(self):
        if self._json is None:
            try:
                self._json = json.loads(self.body.decode("utf-8"))
            except Exception:
                self._json = {}
        return self._json

    @property
    def error(self):
        j = self.json
        return j.get("error", "") if isinstance(j, dict) else ""

    def header(self, name):
        return self.headers.get(name.lower())

    def __repr__(self):
        return "<%s %s>" % (self.status, self.body[:400])


def http_request(host, port, method, path, body=None, headers=None,
                 timeout=10.0, tls_ca=None):
    if tls_ca is not None:
        ctx = ssl.create_default_context(cafile=tls_ca)
        conn = http.client.HTTPSConnection(host, port, timeout=timeout,
                                           context=ctx)
    else:
        conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        hdrs = dict(headers or {})
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            hdrs.setdefault("Content-Type", "application/json")
        elif isinstance(body, str):
            body = body.encode()
        conn.request(method, path, body=body, headers=hdrs)
        r = conn.getresponse()
        data = r.read()
        return Resp(r.status, {k.lower(): v for k, v in r.getheaders()}, data)
    finally:
        conn.close()


def bearer(token):
    return {"Authorization": "Bearer " + token}


def basic(user, password):
    raw = ("%s:%s" % (user, password)).encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


def raw_request(port, data, timeout=5.0, read=True, host="127.0.0.1"):
    """Sends raw bytes, reads until the peer closes or timeout; returns the
    bytes received (b"" when the connection was closed without answer)."""
    s = socket.create_connection((host, port), timeout=timeout)
    out = b""
    try:
        try:
            s.sendall(data)
        except OSError:
            pass
        if not read:
            return b""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            except OSError:
                break
            if not chunk:
                break
            out += chunk
            if _complete_response(out):
                break
    finally:
        s.close()
    return out


def _complete_response(data):
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        return False
    m = re.search(rb"(?im)^content-length:\s*(\d+)", head)
    if m:
        return len(body) >= int(m.group(1))
    if re.search(rb"(?im)^transfer-encoding:\s*chunked", head):
        return body.endswith(b"0\r\n\r\n")
    return False


def raw_status(data):
    """The status code of a raw HTTP response, or None."""
    m = re.match(rb"HTTP/1\.[01] (\d{3})", data)
    return int(m.group(1)) if m else None


def raw_body(data):
    head, sep, body = data.partition(b"\r\n\r\n")
    if re.search(rb"(?im)^transfer-encoding:\s*chunked", head):
        out, rest = b"", body
        while rest:
            line, _, rest = rest.partition(b"\r\n")
            try:
                n = int(line.split(b";")[0], 16)
            except ValueError:
                break
            if n == 0:
                break
            out += rest[:n]
            rest = rest[n + 2:]
        return out
    return body


def raw_json(data):
    try:
        return json.loads(raw_body(data).decode("utf-8"))
    except Exception:
        return {}


# --------------------------------------------------------------- payloads


def rfc3339(dt=None, ns=0):
    dt = dt or datetime.datetime.now(datetime.timezone.utc)
    base = dt.strftime("%Y-%m-%dT%H:%M:%S")
    frac = ns or dt.microsecond * 1000
    return "%s.%09dZ" % (base, frac)


def now_ts(offset_s=0.0):
    t = time.time() + offset_s
    dt = datetime.datetime.fromtimestamp(int(t), datetime.timezone.utc)
    return "%s.%09dZ" % (dt.strftime("%Y-%m-%dT%H:%M:%S"),
                         int((t - int(t)) * 1e9))


def am_fingerprint(labels):
    """Alertmanager's model.LabelSet.Fingerprint: FNV-1a 64 over sorted
    names and values, each followed by 0xff."""
    h = 0xcbf29ce484222325
    for name in sorted(labels):
        for part in (name.encode(), labels[name].encode()):
            for b in part + b"\xff":
                h ^= b
                h = (h * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return "%016x" % h


def alert(alertname, status="firing", labels=None, annotations=None,
          starts_at=None, ends_at="0001-01-01T00:00:00Z", fingerprint=True,
          severity="critical"):
    lbl = {"alertname": alertname}
    if severity is not None:
        lbl["severity"] = severity
    lbl.update(labels or {})
    a = {
        "status": status,
        "labels": lbl,
        "annotations": annotations if annotations is not None
        else {"summary": "%s is happening" % alertname},
        "startsAt": starts_at or now_ts(),
        "endsAt": ends_at,
        "generatorURL": "http://prometheus:9090/graph",
    }
    if fingerprint is True:
        a["fingerprint"] = am_fingerprint(lbl)
    elif fingerprint:
        a["fingerprint"] = fingerprint
    return a


def payload(alerts, status=None, receiver="hook", truncated=0):
    if status is None:
        status = "firing" if any(a.get("status") == "firing" for a in alerts) \
            else "resolved"
    common = {}
    lsets = [a.get("labels") if isinstance(a, dict) else None for a in alerts]
    if lsets and all(isinstance(ls, dict) for ls in lsets):
        common = dict(lsets[0])
        for ls in lsets[1:]:
            common = {k: v for k, v in common.items() if ls.get(k) == v}
        common = {k: v for k, v in common.items() if isinstance(v, str)}
    return {
        "receiver": receiver,
        "status": status,
        "alerts": alerts,
        "groupLabels": {},
        "commonLabels": common,
        "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093",
        "version": "4",
        "groupKey": "{}:{}",
        "truncatedAlerts": truncated,
    }


def fixtures():
    """[(name, {"headers":..., "body":...})] of the captured deliveries."""
    out = []
    if not FIXTURES_DIR or not os.path.isdir(FIXTURES_DIR):
        return out
    for fn in sorted(os.listdir(FIXTURES_DIR)):
        if fn.endswith(".json"):
            with open(os.path.join(FIXTURES_DIR, fn)) as f:
                out.append((fn, json.load(f)))
    return out


def fixture_body_bytes(fx):
    """The body as Alertmanager's Go encoder wrote it (compact, key order
    kept)."""
    return json.dumps(fx["body"], separators=(",", ":"),
                      ensure_ascii=False).encode("utf-8")


# ----------------------------------------------------------------- daemon


class Daemon:
    """A runbookd process on 127.0.0.1 with its own store directory."""

    def __init__(self, t, name, args=(), config=None, tls_ca=None,
                 storage=None, listen="127.0.0.1:0"):
        self.t = t
        self.name = name
        self.dir = t.path(name)
        os.makedirs(self.dir, exist_ok=True)
        self.storage = storage or os.path.join(self.dir, "data")
        self.listen = listen
        self.args = list(args)
        self.config_path = None
        if config is not None:
            self.write_config(config)
        self.tls_ca = tls_ca
        self.proc = None
        self.port = None
        self.host = "127.0.0.1"
        self.auth = {}  # default headers for webhook/API calls
        self.log_path = os.path.join(self.dir, "stderr.log")
        self.starts = 0

    def write_config(self, config):
        self.config_path = os.path.join(self.dir, "cfg.json")
        with open(self.config_path, "w") as f:
            if isinstance(config, str):
                f.write(config)
            else:
                json.dump(config, f)
        return self.config_path

    def file(self, name, text, mode=0o600):
        p = os.path.join(self.dir, name)
        with open(p, "w") as f:
            f.write(text)
        os.chmod(p, mode)
        return p

    def argv(self):
        a = [BIN, "--storage.path=" + self.storage,
             "--web.listen-address=" + self.listen]
        if self.config_path:
            a.append("--config.file=" + self.config_path)
        return a + self.args

    def log_text(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def dump_log(self, tail=30):
        lines = self.log_text().splitlines()
        log("#   [%s log, last %d lines]" % (self.name, min(tail, len(lines))))
        for ln in lines[-tail:]:
            log("#   | " + ln)

    def start(self, wait_ready=True, timeout=15.0, expect_fail=False):
        """Starts the process; returns once its port is known and /-/ready
        answers 200 (or, with expect_fail, once it has exited)."""
        self.starts += 1
        self._log_offset = len(self.log_text().encode())
        logf = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.argv(), stdin=subprocess.DEVNULL,
                                     stdout=logf, stderr=logf,
                                     cwd=self.dir)
        logf.close()
        _live.append(self.proc)
        if expect_fail:
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
            return self.proc.poll()
        pat = re.compile(r"msg=listening .*?port=(\d+)")

        def port_known():
            if self.proc.poll() is not None:
                return "exited"
            text = self.log_text()[self._log_offset:]
            m = pat.search(text)
            return m.group(1) if m else None

        p = wait_for(port_known, timeout)
        if p is None or p == "exited":
            self.dump_log()
            raise RuntimeError("%s did not start listening (%s)"
                               % (self.name, "exited with %s" % self.proc.poll()
                                  if p == "exited" else "timeout"))
        self.port = int(p)
        if wait_ready:
            self.wait_ready(timeout)
        return None

    def wait_ready(self, timeout=15.0):
        def ready():
            if self.proc.poll() is not None:
                raise RuntimeError("exited")
            return self.get("/-/ready", timeout=2).status == 200
        if not wait_for(ready, timeout):
            self.dump_log()
            raise RuntimeError("%s not ready within %ss" % (self.name, timeout))

    def alive(self):
        if self.proc is None or self.proc.poll() is not None:
            return False
        try:
            return self.get("/-/healthy", timeout=5).status == 200
        except OSError:
            return False

    def sanitized(self):
        """True when the daemon runs under AddressSanitizer (its memory
        figures then include ASan's shadow memory and quarantine)."""
        try:
            with open("/proc/%d/maps" % self.proc.pid) as f:
                return "libasan" in f.read()
        except OSError:
            return False

    def pid(self):
        return self.proc.pid

    def rss_kb(self):
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def stop(self, timeout=15.0, check=True):
        """SIGTERM; checks it exits 0 within timeout.  Returns the code."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            rc = None
            self.proc.kill()
            self.proc.wait(5)
        if check:
            ok = self.t.check(rc == 0, "%s: SIGTERM -> exit 0 within %ss" %
                              (self.name, timeout), "exit code %r" % rc)
            if not ok:  # e.g. a LeakSanitizer report under ASan
                self.dump_log(tail=40)
        return rc

    def kill9(self, quiet=False):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
            if not quiet:
                self.t.note("%s killed with SIGKILL" % self.name)

    def restart(self, **kw):
        """Starts again on the same store (after stop or kill9)."""
        if self.proc is not None and self.proc.poll() is None:
            self.stop()
        self.start(**kw)

    def signal(self, sig):
        self.proc.send_signal(sig)

    # -- HTTP --

    def request(self, method, path, body=None, headers=None, timeout=10.0,
                auth=True):
        hdrs = dict(self.auth) if auth else {}
        hdrs.update(headers or {})
        return http_request(self.host, self.port, method, path, body=body,
                            headers=hdrs, timeout=timeout, tls_ca=self.tls_ca)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, body=body, **kw)

    def post_webhook(self, body, headers=None, **kw):
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        hdrs = {"Content-Type": "application/json",
                "User-Agent": "Alertmanager/0.25.0"}
        hdrs.update(headers or {})
        return self.request("POST", "/webhook", body=body, headers=hdrs, **kw)

    def incidents(self, query="state=all"):
        r = self.get("/api/v1/incidents?" + query)
        if r.status != 200:
            raise RuntimeError("list incidents: %r" % (r,))
        return r.json["incidents"]

    def incident(self, iid):
        r = self.get("/api/v1/incidents/%s" % iid)
        if r.status != 200:
            raise RuntimeError("incident %s: %r" % (iid, r))
        return r.json

    def by_fingerprint(self, fp, query="state=all&limit=500"):
        return [i for i in self.incidents(query) if i["fingerprint"] == fp]

    def metrics(self):
        return self.get("/metrics").body.decode()

    def metric(self, name, labels=None):
        """Value of one sample (sum over label sets matching labels)."""
        total, found = 0.0, False
        for line in self.metrics().splitlines():
            if line.startswith("#") or not line.strip():
                continue
            m = re.match(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)", line)
            if not m or m.group(1) != name:
                continue
            if labels:
                ls = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"',
                                     m.group(2) or ""))
                if any(ls.get(k) != v for k, v in labels.items()):
                    continue
            total += float(m.group(3))
            found = True
        return total if found else None

    def raw(self, data, **kw):
        return raw_request(self.port, data, **kw)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def which(*names):
    for n in names:
        p = shutil.which(n)
        if p:
            return p
    return None
