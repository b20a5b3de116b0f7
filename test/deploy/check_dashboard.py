#!/usr/bin/env python3
"""deploy/monitoring/grafana-dashboard.json is a Grafana dashboard whose every
query is valid PromQL (checked by promtool as recording rules, with Grafana's
$__rate_interval replaced), uses only runbookd's published metrics, and shows
each of them."""
import json
import os
import re
import tempfile

from common import Failures, need_tool, path, run, yaml

fail = Failures("dashboard")
promtool = need_tool("promtool")

# runbookd's metrics (INTERFACE and issues 2-4); histograms are named by base.
METRICS = {
    "runbookd_webhook_requests_total", "runbookd_alerts_total",
    "runbookd_http_request_duration_seconds", "runbookd_incidents_open",
    "runbookd_store_errors_total", "runbookd_store_commit_duration_seconds",
    "runbookd_config_last_reload_successful", "runbookd_build_info",
    "runbookd_remediation_steps_total", "runbookd_pages_total",
}

with open(path("deploy", "monitoring", "grafana-dashboard.json"), encoding="utf-8") as f:
    dash = json.load(f)
for key in ("uid", "title", "panels", "schemaVersion"):
    fail.check(key in dash, f"dashboard has no {key}")
fail.check(any(v.get("type") == "datasource" and v.get("query") == "prometheus"
               for v in dash.get("templating", {}).get("list", [])),
           "dashboard needs a Prometheus datasource variable")


def panels(ps):
    for p in ps:
        yield p
        yield from panels(p.get("panels", []))


exprs = []
ids = set()
for p in panels(dash.get("panels", [])):
    fail.check(p.get("id") not in ids, f"duplicate panel id {p.get('id')}")
    ids.add(p.get("id"))
    fail.check("gridPos" in p, f"panel {p.get('title')!r} has no gridPos")
    for t in p.get("targets", []):
        if t.get("expr"):
            exprs.append((p.get("title"), t["expr"]))
fail.check(len(exprs) >= 10, f"only {len(exprs)} queries")

used = set()
for title, e in exprs:
    for m in re.findall(r"\brunbookd_[a-z_]+", e):
        base = re.sub(r"_(bucket|sum|count)$", "", m)
        fail.check(base in METRICS, f"panel {title!r}: unknown metric {m}")
        used.add(base)
for m in sorted(METRICS - used):
    fail(f"no panel shows {m}")

rules = {"groups": [{"name": "dashboard", "rules": [
    {"record": f"dashboard:query_{i}", "expr": e.replace("$__rate_interval", "5m").replace("$__interval", "1m")}
    for i, (_, e) in enumerate(exprs)]}]}
with tempfile.TemporaryDirectory() as tmp:
    p = os.path.join(tmp, "dashboard-queries.yml")
    with open(p, "w") as f:
        yaml.safe_dump(rules, f)
    r = run([promtool, "check", "rules", p])
    fail.check(r.returncode == 0, "dashboard queries are not valid PromQL:\n" + r.stdout + r.stderr)
fail.exit()
