#!/usr/bin/env python3
"""alert-rules/: `promtool check rules` and `promtool test rules` pass, and the
unit tests cover every alert both firing and not firing. Each firing case
expects the labels runbookd needs (namespace, deployment, a seed severity) and
a runbook_url annotation, so the tests also pin the alerts' contract."""
import glob
import os

from common import Failures, load_yaml, need_tool, path, rel, run

fail = Failures("rules")
promtool = need_tool("promtool")
SEVERITIES = {"emergency", "critical", "high", "medium", "low"}

rule_files = sorted(glob.glob(path("alert-rules", "*.yml")))
test_files = sorted(glob.glob(path("alert-rules", "tests", "*.yml")))
fail.check(rule_files and test_files, "no rule files or no rule tests")

r = run([promtool, "check", "rules", *rule_files])
fail.check(r.returncode == 0, "promtool check rules:\n" + r.stdout + r.stderr)
r = run([promtool, "test", "rules", *test_files])
fail.check(r.returncode == 0, "promtool test rules:\n" + r.stdout + r.stderr)

alerts = {}
for f in rule_files:
    for g in load_yaml(f)["groups"]:
        for rule in g["rules"]:
            if "alert" in rule:
                alerts[rule["alert"]] = (rel(f), rule)
                sev = rule.get("labels", {}).get("severity")
                fail.check(sev in SEVERITIES, f"{rule['alert']}: severity {sev!r} is not a seed level")
                fail.check(rule.get("annotations", {}).get("runbook_url", "").startswith("https://"),
                           f"{rule['alert']}: no runbook_url annotation")

tested_rule_files = set()
fires, quiet = set(), set()
for f in test_files:
    t = load_yaml(f)
    base = os.path.dirname(f)
    tested_rule_files |= {os.path.normpath(os.path.join(base, p)) for p in t.get("rule_files", [])}
    for case in t.get("tests", []):
        for a in case.get("alert_rule_test", []):
            name = a["alertname"]
            if not a.get("exp_alerts"):
                quiet.add(name)
                continue
            fires.add(name)
            for exp in a["exp_alerts"]:
                labels = exp.get("exp_labels", {})
                for label in ("namespace", "deployment"):
                    fail.check(labels.get(label), f"{rel(f)}: {name} fires without a {label} label")
                fail.check(labels.get("severity") in SEVERITIES, f"{rel(f)}: {name} fires without a seed severity")
                fail.check(exp.get("exp_annotations", {}).get("runbook_url"),
                           f"{rel(f)}: {name} fires without a runbook_url")

for f in rule_files:
    fail.check(os.path.normpath(f) in tested_rule_files, f"{rel(f)} is not loaded by any rule test")
for name in sorted(alerts):
    fail.check(name in fires, f"{name}: no test where it fires")
    fail.check(name in quiet, f"{name}: no test where it does not fire")
for name in sorted((fires | quiet) - set(alerts)):
    fail(f"tests name an unknown alert {name}")
print(f"rules: {len(alerts)} alerts, each tested firing and not firing")
fail.exit()
