#!/usr/bin/env python3
"""PromQL verification against a real Prometheus (Debian `prometheus`)
started here, scraping a tiny loopback exporter every second: the plan's
`min(cognitive_consciousness_level{namespace="{{namespace}}"}) >= 0.5`
passes at 0.8 and fails at 0.3 (verification failed -> on_failure
rollout_undo -> escalation); no samples and a bad query fail; the shipped
plan 02-cognitive-failure.json runs end to end.  Exit 77 without
Prometheus."""

import os
import shutil
import subprocess
import sys
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rbtest  # noqa: E402

NS = rbtest.KUBE_NS
DEP = "/apis/apps/v1/namespaces/ran-optimization/deployments/cognitive-core"
PROMETHEUS = os.environ.get("PROMETHEUS_BIN") or rbtest.which("prometheus") \
    or ("/usr/bin/prometheus" if os.access("/usr/bin/prometheus", os.X_OK) else None)

QUERY = 'min(cognitive_consciousness_level{namespace="{{namespace}}"})'


class Exporter:
    def __init__(self):
        self.value = 0.8
        self.ex = rbtest.LoopbackHTTP(self.serve)

    def serve(self, method, path, headers, body):
        if path.startswith("/metrics"):
            text = ("# HELP cognitive_consciousness_level Consciousness level.\n"
                    "# TYPE cognitive_consciousness_level gauge\n"
                    'cognitive_consciousness_level{namespace="ran-optimization",pod="cc-0"} %g\n'
                    'cognitive_consciousness_level{namespace="ran-optimization",pod="cc-1"} %g\n'
                    'cognitive_consciousness_level{namespace="other",pod="x"} 0.01\n'
                    % (self.value, self.value + 0.1))
            return 200, "text/plain; version=0.0.4", text
        return 404, "text/plain", "not found"


class Prometheus:
    def __init__(self, t, target_port):
        self.port = rbtest.free_port()
        self.dir = t.path("prometheus")
        os.makedirs(os.path.join(self.dir, "data"), exist_ok=True)
        cfg = os.path.join(self.dir, "prometheus.yml")
        with open(cfg, "w") as f:
            f.write("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
                    "scrape_configs:\n  - job_name: exporter\n    scrape_interval: 1s\n"
                    "    static_configs:\n      - targets: ['127.0.0.1:%d']\n" % target_port)
        self.log_path = os.path.join(self.dir, "prometheus.log")
        logf = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [PROMETHEUS, "--config.file=" + cfg,
             "--storage.tsdb.path=" + os.path.join(self.dir, "data"),
             "--web.listen-address=127.0.0.1:%d" % self.port,
             "--storage.tsdb.retention.time=1h", "--log.level=warn"],
            stdin=subprocess.DEVNULL, stdout=logf, stderr=logf, cwd=self.dir)
        logf.close()
        rbtest._live.append(self.proc)
        self.url = "http://127.0.0.1:%d" % self.port

    def ready(self, timeout=30):
        def ok():
            if self.proc.poll() is not None:
                raise RuntimeError("prometheus exited")
            return rbtest.http_request("127.0.0.1", self.port, "GET", "/-/ready",
                                       timeout=2).status == 200
        return rbtest.wait_for(ok, timeout, interval=0.2)

    def query(self, q):
        r = rbtest.http_request("127.0.0.1", self.port, "GET", "/api/v1/query?query="
                                + urllib.parse.quote(q), timeout=5)
        return r.json

    def value(self, q):
        res = (self.query(q).get("data") or {}).get("result") or []
        return float(res[0]["value"][1]) if res else None

    def log_tail(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read()[-2000:].decode("utf-8", "replace")
        except OSError:
            return ""

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def plan(name, verify, on_failure=()):
    p = {"name": name, "match": ['alertname="%s"' % name],
         "target": {"deployment": "cognitive-core"},
         "allow": {"namespaces": [NS], "deployments": ["cognitive-core"]},
         "steps": [{"name": "restart", "kind": "rollout_restart"}],
         "verify": verify, "limits": {"cooldown_seconds": 0, "max_per_hour": 100,
                                      "max_per_day": 100, "breaker_failures": 100}}
    if on_failure:
        p["on_failure"] = list(on_failure)
    return p


def body(t):
    if not PROMETHEUS:
        rbtest.log("SKIP: prometheus is not installed (Debian package prometheus)")
        sys.exit(rbtest.SKIP)
    ex = Exporter()
    prom = Prometheus(t, ex.ex.port)
    t.check(prom.ready(), "Prometheus is ready", prom.log_tail())
    metric = 'min(cognitive_consciousness_level{namespace="ran-optimization"})'
    t.check(rbtest.wait_for(lambda: prom.value(metric) == 0.8, 30, interval=0.25),
            "Prometheus scraped the exporter (0.8)", prom.query(metric))

    k = rbtest.StandIn(t)
    ps = [
        plan("consciousness", [{"name": "consciousness-recovered", "kind": "promql",
                                "query": QUERY, "op": ">=", "threshold": 0.5,
                                "timeout_seconds": 5, "interval_seconds": 1}],
             on_failure=[{"name": "roll-back", "kind": "rollout_undo"}]),
        plan("no-samples", [{"kind": "promql", "query":
                             'cognitive_consciousness_level{namespace="nowhere"}',
                             "op": ">=", "threshold": 0.5, "timeout_seconds": 2,
                             "interval_seconds": 1}]),
        plan("bad-query", [{"kind": "promql", "query": "min(cognitive_consciousness_level{",
                            "op": ">=", "threshold": 0.5, "timeout_seconds": 1,
                            "interval_seconds": 1}]),
        plan("own-url", [{"kind": "promql", "query": QUERY, "op": "<", "threshold": 0.5,
                          "prometheus_url": prom.url + "/", "timeout_seconds": 1,
                          "interval_seconds": 1}]),
    ]
    pd = rbtest.write_plans(t, "plans", ps)
    d = t.daemon(args=rbtest.remediation_args(k, pd, extra=[
        "--remediation.prometheus-url=" + prom.url]))

    t.section("consciousness at 0.8: verified")
    iid, _ = rbtest.fire(d, "consciousness", {"namespace": NS, "instance": "a"})
    fin = rbtest.wait_finished(d, iid, 30) or {}
    t.eq(fin.get("outcome"), "succeeded", "0.8: outcome succeeded")
    ev = rbtest.events(d, iid, "verified")
    res = ev[0]["detail"].get("result", {}) if ev else {}
    t.check(res.get("passed") is True and res.get("samples") == 1
            and res.get("values") == [0.8]
            and res.get("query") == 'min(cognitive_consciousness_level{namespace="%s"})' % NS,
            "0.8: verified, with the expanded query and its value", ev)
    t.check(not [r for r in k.requests() if r["headers"].get("Content-Type")
                 == "application/json-patch+json"], "0.8: no rollback")
    t.check(not rbtest.events(d, iid, "escalation requested"), "0.8: no escalation")

    t.section("consciousness at 0.3: verification failed, rolled back, escalated")
    ex.value = 0.3
    t.check(rbtest.wait_for(lambda: prom.value(metric) == 0.3, 30, interval=0.25),
            "Prometheus sees 0.3", prom.query(metric))
    # Back to the seed state: the restart below then changes the template
    # even within the second of the first run's restart (restartedAt has
    # kubectl's one-second resolution, and a same-second restart changes
    # nothing, leaving on_failure's undo nothing to undo).
    k.reset()
    tmpl0 = k.deployment("cognitive-core")["spec"]["template"]
    iid, _ = rbtest.fire(d, "consciousness", {"namespace": NS, "instance": "b"})
    fin = rbtest.wait_finished(d, iid, 30) or {}
    t.eq(fin.get("outcome"), "unverified", "0.3: outcome unverified")
    ev = rbtest.events(d, iid, "verification failed")
    res = ev[0]["detail"].get("result", {}) if ev else {}
    t.check(res.get("passed") is False and res.get("values") == [0.3]
            and ev[0]["detail"].get("attempts", 0) >= 3,
            "0.3: verification failed after repeated queries, value 0.3", ev)
    undo = [r for r in k.requests() if r["method"] == "PATCH"
            and r["headers"].get("Content-Type") == "application/json-patch+json"]
    t.check(len(undo) == 1 and undo[0]["path"] == DEP and undo[0]["code"] == 200,
            "0.3: on_failure rollout_undo sent kubectl's JSON patch",
            [(e["kind"], e["detail"].get("note"), e["detail"].get("responses"))
             for e in rbtest.events(d, iid) if e["detail"].get("phase") == "on_failure"])
    t.eq(k.deployment("cognitive-core")["spec"]["template"], tmpl0,
         "0.3: the roll-back restored the template from before the run (the restart undone)")
    onf = [e for e in rbtest.events(d, iid, "step succeeded")
           if e["detail"].get("phase") == "on_failure"]
    t.check(onf and onf[0]["detail"].get("step") == "roll-back",
            "0.3: the on_failure roll-back step succeeded", onf)
    kinds = rbtest.timeline_kinds(d, iid)
    order = ["step started", "step succeeded", "verification failed", "step started",
             "step succeeded", "remediation finished", "escalation requested"]
    t.eq([k_ for k_ in kinds if k_ in order], order,
         "0.3: restart, verification failed, roll-back, finished, escalation")
    esc = rbtest.events(d, iid, "escalation requested")
    t.check(esc and "did not verify" in esc[0]["detail"].get("reason", ""),
            "0.3: the escalation says the plan did not verify", esc)

    t.section("no samples, bad query, per-step prometheus_url")
    iid, _ = rbtest.fire(d, "no-samples", {"namespace": NS})
    fin = rbtest.wait_finished(d, iid, 20) or {}
    ev = rbtest.events(d, iid, "verification failed")
    t.check(fin.get("outcome") == "unverified" and ev
            and "no samples" in ev[0]["detail"].get("result", {}).get("error", ""),
            "no samples: verification failed (an empty result never passes)", ev)
    iid, _ = rbtest.fire(d, "bad-query", {"namespace": NS})
    fin = rbtest.wait_finished(d, iid, 20) or {}
    ev = rbtest.events(d, iid, "verification failed")
    res = ev[0]["detail"].get("result", {}) if ev else {}
    t.check(fin.get("outcome") == "unverified" and res.get("status") == 400
            and "parse error" in res.get("error", ""),
            "bad query: verification failed with Prometheus' error", ev)
    iid, _ = rbtest.fire(d, "own-url", {"namespace": NS})
    fin = rbtest.wait_finished(d, iid, 20) or {}
    t.eq(fin.get("outcome"), "succeeded", "prometheus_url on the step (0.3 < 0.5)")
    d.stop()

    t.section("the shipped plan 02-cognitive-failure.json")
    ex.value = 0.8
    t.check(rbtest.wait_for(lambda: prom.value(metric) == 0.8, 30, interval=0.25),
            "Prometheus sees 0.8 again")
    k.reset()
    shipped = os.path.join(rbtest.source_dir(), "remediation")
    d2 = t.daemon(name="shipped", args=rbtest.remediation_args(k, shipped, extra=[
        "--remediation.prometheus-url=" + prom.url]))
    iid, _ = rbtest.fire(d2, "CognitiveConsciousnessCritical", {"namespace": NS},
                         severity="critical")
    fin = rbtest.wait_finished(d2, iid, 60) or {}
    t.eq(fin.get("outcome"), "succeeded", "shipped plan 02: succeeded")
    t.eq(fin.get("plan"), "cognitive-failure", "shipped plan 02: the plan")
    c = k.deployment("cognitive-core")["spec"]["template"]["spec"]["containers"][0]
    t.eq(c["resources"]["limits"], {"cpu": "6000m", "memory": "16Gi"},
         "shipped plan 02: limits 16Gi/6000m")
    t.check(c.get("resources") and k.deployment("cognitive-core")["spec"]["template"][
        "metadata"].get("annotations", {}).get("kubectl.kubernetes.io/restartedAt"),
        "shipped plan 02: restarted")
    t.check(rbtest.events(d2, iid, "verified"), "shipped plan 02: verified by Prometheus")
    d2.stop()
    k.stop()
    prom.stop()
    ex.ex.stop()
    shutil.rmtree(prom.dir, ignore_errors=True)


if __name__ == "__main__":
    rbtest.Test("remediation_promql").run(body)
