#!/usr/bin/env python3
"""A real Alertmanager (Debian prometheus-alertmanager) started on loopback
delivers firing and resolved notifications to runbookd through bearer auth
(authorization.credentials_file) and through basic auth (password_file);
a receiver with a wrong token gets 401 and opens no incident."""

import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rbtest  # noqa: E402

TOKEN = "am-bearer-token"
USER, PASSWORD = "alertmanager", "am-basic-password"
POLL_S = 30


class Alertmanager:
    def __init__(self, t, binary, config_yaml):
        self.t = t
        self.dir = t.path("am")
        os.makedirs(os.path.join(self.dir, "data"), exist_ok=True)
        self.cfg = os.path.join(self.dir, "am.yml")
        with open(self.cfg, "w") as f:
            f.write(config_yaml)
        self.binary = binary
        self.port = None
        self.proc = None
        self.log = os.path.join(self.dir, "am.log")

    def start(self):
        for attempt in range(3):  # a free port may be taken meanwhile
            self.port = rbtest.free_port()
            logf = open(self.log, "ab")
            self.proc = subprocess.Popen(
                [self.binary, "--config.file=" + self.cfg,
                 "--storage.path=" + os.path.join(self.dir, "data"),
                 "--web.listen-address=127.0.0.1:%d" % self.port,
                 "--cluster.listen-address=", "--log.level=debug"],
                stdin=subprocess.DEVNULL, stdout=logf, stderr=logf, cwd=self.dir)
            logf.close()
            rbtest._live.append(self.proc)
            ok = rbtest.wait_for(lambda: self.proc.poll() is None and
                                 self.get("/-/ready").status == 200, timeout=20,
                                 interval=0.1)
            if ok:
                return True
            self.proc.kill()
            self.proc.wait(5)
        return False

    def get(self, path):
        return rbtest.http_request("127.0.0.1", self.port, "GET", path, timeout=5)

    def post_alerts(self, alerts):
        return rbtest.http_request("127.0.0.1", self.port, "POST", "/api/v2/alerts",
                                   body=alerts, timeout=10)

    def metric(self, name, labels):
        total = None
        for line in self.get("/metrics").body.decode().splitlines():
            if not line.startswith(name + "{"):
                continue
            if all('%s="%s"' % kv in line for kv in labels.items()):
                total = (total or 0) + float(line.rsplit(" ", 1)[1])
        return total

    def log_text(self):
        with open(self.log, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def am_config(rb_port, d):
    url = "http://127.0.0.1:%d/webhook" % rb_port
    return """
global:
  resolve_timeout: 5m
route:
  receiver: bearer
  group_by: ['alertname']
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
  routes:
  - matchers: ['via="basic"']
    receiver: basic
  - matchers: ['via="wrong"']
    receiver: wrong
receivers:
- name: bearer
  webhook_configs:
  - url: '%(url)s'
    send_resolved: true
    http_config:
      authorization:
        type: Bearer
        credentials_file: '%(tok)s'
- name: basic
  webhook_configs:
  - url: '%(url)s'
    send_resolved: true
    http_config:
      basic_auth:
        username: '%(user)s'
        password_file: '%(pw)s'
- name: wrong
  webhook_configs:
  - url: '%(url)s'
    send_resolved: true
    http_config:
      authorization:
        credentials_file: '%(wrong)s'
""" % {"url": url, "tok": os.path.join(d, "tok"), "pw": os.path.join(d, "pw"),
       "user": USER, "wrong": os.path.join(d, "wrong-tok")}


def main(t):
    binary = rbtest.which("prometheus-alertmanager", "alertmanager")
    if not binary:
        print("SKIP: prometheus-alertmanager / alertmanager not installed")
        sys.exit(rbtest.SKIP)
    amtool = rbtest.which("amtool")
    t.note("alertmanager: %s; amtool: %s" % (binary, amtool or "not installed"))
    ver = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=10)
    t.note((ver.stdout + ver.stderr).splitlines()[0] if (ver.stdout + ver.stderr) else "?")

    d = t.daemon(name="rb", start=False)
    d.file("tok", TOKEN + "\n")
    d.file("pw", PASSWORD + "\n")
    d.file("wrong-tok", "not-the-token\n")
    d.write_config({"web": {"auth": {"bearer_token_file": "tok",
                                     "basic_auth": {"username": USER,
                                                    "password_file": "pw"}}}})
    d.start()
    d.auth = rbtest.bearer(TOKEN)

    am = Alertmanager(t, binary, am_config(d.port, d.dir))
    if not t.check(am.start(), "Alertmanager started on 127.0.0.1 (cluster disabled)"):
        log = am.log_text()
        print(log[-2000:])
        return
    t.note("Alertmanager on port %d, runbookd on %d" % (am.port, d.port))

    starts = rbtest.now_ts(-60)
    labels = {}
    for via in ("bearer", "basic", "wrong"):
        labels[via] = {"alertname": "AMTest_%s" % via, "via": via, "severity": "warning",
                       "namespace": "ran-optimization", "deployment": "api-gateway"}
    r = am.post_alerts([{"labels": labels[v], "annotations": {"summary": "via %s" % v},
                         "startsAt": starts, "generatorURL": "http://prometheus/graph"}
                        for v in labels])
    t.eq(r.status, 200, "POST /api/v2/alerts (3 firing alerts) -> 200")

    def incident(via, state):
        incs = [i for i in d.incidents("state=all&alertname=AMTest_%s" % via)
                if i["state"] == state]
        return incs[0] if incs else None

    for via in ("bearer", "basic"):
        inc = rbtest.wait_for(lambda: incident(via, "open"), timeout=POLL_S, interval=0.2)
        if not t.check(inc, "firing via %s auth: incident open within %ds" % (via, POLL_S)):
            continue
        t.eq(inc["fingerprint"], rbtest.am_fingerprint(labels[via]),
             "via %s: fingerprint is Alertmanager's" % via)
        t.eq(inc["severity"], "medium", "via %s: warning -> medium" % via)
        t.eq(inc["labels"], labels[via], "via %s: labels as sent" % via)
        full = d.incident(inc["id"])
        det = full["timeline"][0]["detail"]
        t.eq(det.get("receiver"), via, "via %s: received from receiver %s" % (via, via))
        t.eq(det.get("externalURL", "").startswith("http"), True,
             "via %s: externalURL recorded" % via)
        t.eq(det.get("fingerprintComputed"), False,
             "via %s: fingerprint sent by Alertmanager" % via)

    ams = json.loads(am.get("/api/v2/alerts").body)
    am_fps = {a["labels"]["alertname"]: a["fingerprint"] for a in ams}
    t.eq(am_fps.get("AMTest_bearer"), rbtest.am_fingerprint(labels["bearer"]),
         "Alertmanager's own fingerprint matches rbtest's computation")

    # The wrong-token receiver: Alertmanager must see a failure; no incident.
    failed = rbtest.wait_for(
        lambda: (d.metric("runbookd_webhook_requests_total", {"outcome": "unauthorized"}) or 0)
        >= 1, timeout=POLL_S, interval=0.2)
    t.check(failed, "runbookd refused the wrong-token delivery (unauthorized counted)")
    am_failed = rbtest.wait_for(
        lambda: (am.metric("alertmanager_notifications_failed_total",
                           {"integration": "webhook"}) or 0) >= 1, timeout=POLL_S,
        interval=0.2)
    t.check(am_failed, "Alertmanager counts the failed notification")
    t.check("401" in am.log_text(), "Alertmanager logged the 401")
    t.eq(d.incidents("state=all&alertname=AMTest_wrong"), [],
         "no incident for the wrong-token receiver")

    # Resolve: same labels and startsAt, endsAt in the past.
    ends = rbtest.now_ts(-1)
    r = am.post_alerts([{"labels": labels[v], "annotations": {"summary": "via %s" % v},
                         "startsAt": starts, "endsAt": ends,
                         "generatorURL": "http://prometheus/graph"} for v in labels])
    t.eq(r.status, 200, "POST /api/v2/alerts (same alerts, endsAt in the past) -> 200")
    for via in ("bearer", "basic"):
        inc = rbtest.wait_for(lambda: incident(via, "resolved"), timeout=POLL_S, interval=0.2)
        if not t.check(inc, "resolved via %s auth: incident resolved within %ds"
                       % (via, POLL_S)):
            continue
        full = d.incident(inc["id"])
        t.eq([e["kind"] for e in full["timeline"]], ["received", "resolved"],
             "via %s: timeline [received, resolved]" % via)
        t.eq(full["resolvedBy"], "alertmanager", "via %s: resolved by alertmanager" % via)
        t.check(full["endsAt"] is not None, "via %s: endsAt recorded" % via)
        t.eq(len(d.incidents("state=all&alertname=AMTest_%s" % via)), 1,
             "via %s: still one incident" % via)
    t.eq(d.incidents("state=all&alertname=AMTest_wrong"), [],
         "still no incident for the wrong-token receiver")
    ok = d.metric("runbookd_webhook_requests_total", {"outcome": "accepted"}) or 0
    t.check(ok >= 4, "runbookd accepted >= 4 notifications (%d)" % ok)
    t.check(d.alive(), "runbookd alive")
    am.stop()
    d.stop()


if __name__ == "__main__":
    rbtest.Test("alertmanager").run(main)
