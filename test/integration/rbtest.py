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


# ------------------------------------------------------------ remediation
#
# Helpers for the remediation tests: the stand-in Kubernetes API server
# (test/kube/standin.py, started as a process), plan directories, the
# incident timeline, and tiny loopback HTTP servers (health endpoints,
# Prometheus exporters).

import threading  # noqa: E402
import http.server  # noqa: E402
import select  # noqa: E402
import urllib.parse  # noqa: E402

KUBE_NS = "ran-optimization"


def source_dir():
    return SOURCE_DIR or os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))))


class StandIn:
    """test/kube/standin.py as a process on 127.0.0.1 (the seed state
    test/kube/ran-optimization.json unless told otherwise)."""

    def __init__(self, t, state=None, token=None, seed=1, name="standin"):
        src = source_dir()
        self.script = os.path.join(src, "test", "kube", "standin.py")
        if state is None:
            state = os.path.join(src, "test", "kube", "ran-optimization.json")
        elif isinstance(state, dict):
            p = t.path("%s-state.json" % name)
            with open(p, "w") as f:
                json.dump(state, f)
            state = p
        self.log_path = t.path("%s.log" % name)
        argv = [sys.executable, self.script, "--listen", "127.0.0.1:0",
                "--state", state]
        if token:
            argv += ["--token", token]
        if seed is not None:
            argv += ["--seed", str(seed)]
        logf = open(self.log_path, "ab")
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=logf)
        logf.close()
        _live.append(self.proc)
        line = b""
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and not line.endswith(b"\n"):
            r, _, _ = select.select([self.proc.stdout], [], [], 0.5)
            if r:
                ch = os.read(self.proc.stdout.fileno(), 1)
                if not ch:
                    break
                line += ch
        m = re.match(rb"standin listening port=(\d+)", line)
        if not m:
            self.proc.kill()
            raise RuntimeError("standin did not start: %r" % line)
        self.port = int(m.group(1))
        self.url = "http://127.0.0.1:%d" % self.port

    def admin(self, method, path, body=None):
        r = http_request("127.0.0.1", self.port, method, "/_standin/" + path,
                         body=body, timeout=10)
        if r.status >= 300:
            raise RuntimeError("standin %s %s: %r" % (method, path, r))
        return r.json

    def requests(self, method=None, path=None, since=None, settle=0.03):
        """The request log in arrival order.  The stand-in logs a request
        after answering it, so a request just answered may be missing for a
        moment and two back-to-back requests may be logged out of order:
        the log is read until it stops changing for `settle` seconds, and
        sorted by arrival time."""
        q = {}
        if method:
            q["method"] = method
        if path:
            q["path"] = path
        if since is not None:
            q["since"] = str(since)
        url = "requests" + ("?" + urllib.parse.urlencode(q) if q else "")
        reqs = self.admin("GET", url)
        for _ in range(50):
            if not settle:
                break
            time.sleep(settle)
            again = self.admin("GET", url)
            if len(again) == len(reqs):
                break
            reqs = again
        return sorted(reqs, key=lambda r: (r.get("time", 0), r["seq"]))

    def writes(self, since=None):
        return [r for r in self.requests(since=since) if r["method"] != "GET"]

    def last_seq(self):
        reqs = self.requests()
        return reqs[-1]["seq"] if reqs else 0

    def clear_requests(self):
        self.requests()  # let requests already answered reach the log
        return self.admin("DELETE", "requests")

    def fault(self, **f):
        return self.admin("POST", "faults", f)

    def clear_faults(self):
        return self.admin("DELETE", "faults")

    def rollout(self, deployment, mode, namespace=KUBE_NS):
        return self.admin("POST", "rollout", {"namespace": namespace,
                                              "deployment": deployment,
                                              "mode": mode})

    def objects(self, namespace=None):
        return self.admin("GET", "objects" + (
            "?namespace=" + namespace if namespace else ""))

    def load(self, state):
        return self.admin("POST", "objects", state)

    def reset(self):
        return self.admin("POST", "reset")

    def obj(self, kind, name, namespace=KUBE_NS):
        for o in self.objects(namespace)[kind]:
            if o["metadata"]["name"] == name:
                return o
        return None

    def deployment(self, name, namespace=KUBE_NS):
        return self.obj("deployments", name, namespace)

    def replicasets_of(self, name, namespace=KUBE_NS):
        out = []
        for rs in self.objects(namespace)["replicasets"]:
            for o in rs["metadata"].get("ownerReferences") or []:
                if o.get("kind") == "Deployment" and o.get("name") == name:
                    out.append(rs)
        return out

    def pods_of(self, app, namespace=KUBE_NS):
        return [p for p in self.objects(namespace)["pods"]
                if (p["metadata"].get("labels") or {}).get("app") == app]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def write_plans(t, dirname, plans):
    """Writes each plan (a dict with "name") to t.path(dirname)/NN-name.json;
    returns the directory."""
    d = t.path(dirname)
    os.makedirs(d, exist_ok=True)
    for fn in os.listdir(d):
        os.unlink(os.path.join(d, fn))
    for i, p in enumerate(plans):
        with open(os.path.join(d, "%02d-%s.json" % (i, p["name"])), "w") as f:
            json.dump(p, f, indent=1)
    return d


def remediation_args(kube=None, plans_dir=None, dry_run=False, extra=()):
    a = []
    if kube is not None:
        a.append("--kube.api-url=" + kube.url)
    if plans_dir:
        a.append("--remediation.dir=" + plans_dir)
    if dry_run:
        a.append("--dry-run")
    return a + list(extra)


def _timeline(d, iid):
    return d.incident(iid).get("timeline") or []


def timeline_kinds(d, iid):
    return [e["kind"] for e in _timeline(d, iid)]


def events(d, iid, kind=None):
    return [e for e in _timeline(d, iid) if kind is None or e["kind"] == kind]


def wait_event(d, iid, kind, timeout=20.0, count=1):
    """Polls the incident's timeline until it holds count events of kind;
    returns them (or None on timeout)."""
    def have():
        ev = events(d, iid, kind)
        return ev if len(ev) >= count else None
    return wait_for(have, timeout, interval=0.05)


def wait_finished(d, iid, timeout=30.0):
    """The detail of the incident's `remediation finished` event, or None."""
    ev = wait_event(d, iid, "remediation finished", timeout)
    return ev[-1]["detail"] if ev else None


def wait_incident(d, fp, timeout=10.0):
    found = wait_for(lambda: d.by_fingerprint(fp), timeout)
    return found[0] if found else None


def fire(d, name, labels, severity="critical", **kw):
    """Posts one firing alert; returns (incident id, alert)."""
    a = alert(name, labels=labels, severity=severity, **kw)
    r = d.post_webhook(payload([a]))
    if r.status != 200:
        raise RuntimeError("webhook: %r" % (r,))
    inc = wait_incident(d, a["fingerprint"])
    if inc is None:
        raise RuntimeError("no incident for %s" % a["fingerprint"])
    return inc["id"], a


class LoopbackHTTP:
    """A tiny HTTP server on 127.0.0.1 answering with fn(method, path,
    headers, body) -> (status, content_type, body_bytes_or_str[, delay_s]).
    .url, .hits (list of (method, path)), .stop()."""

    def __init__(self, fn):
        outer = self
        self.fn = fn
        self.hits = []

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def handle_one(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                outer.hits.append((self.command, self.path))
                res = outer.fn(self.command, self.path, self.headers, body)
                status, ctype, data = res[0], res[1], res[2]
                if len(res) > 3 and res[3]:
                    time.sleep(res[3])
                if isinstance(data, str):
                    data = data.encode()
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            do_GET = do_POST = do_HEAD = handle_one

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.url = "http://127.0.0.1:%d" % self.port
        self.thread = threading.Thread(target=self.httpd.serve_forever,
                                       kwargs={"poll_interval": 0.1},
                                       daemon=True)
        self.thread.start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def _norm_body(body):
    if body is None or body == "":
        return None
    if isinstance(body, str):
        try:
            return json.loads(body)
        except ValueError:
            return body
    return body


def logged_request(r):
    """(method, path[?query], content type, parsed body) of a stand-in
    request log entry."""
    path = r["path"] + ("?" + r["query"] if r.get("query") else "")
    return (r["method"], path, (r.get("headers") or {}).get("Content-Type"),
            _norm_body(r.get("body")))


def recorded_request(q):
    """The same tuple for a request recorded on the timeline."""
    return (q["method"], q["path"], q.get("contentType"),
            _norm_body(q.get("body")))


def recorded_requests(d, iid, kinds=("step started",)):
    """Every request recorded on the incident's timeline by events of these
    kinds, in order."""
    out = []
    for e in events(d, iid):
        if e["kind"] in kinds:
            out += [recorded_request(q)
                    for q in (e.get("detail") or {}).get("requests") or []]
    return out
