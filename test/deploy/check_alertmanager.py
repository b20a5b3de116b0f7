#!/usr/bin/env python3
"""deploy/monitoring/alertmanager.yml passes `amtool check-config`, delivers to
runbookd with a bearer credentials file and send_resolved, and routes the
ran-optimization alerts to runbookd but runbookd's own alerts elsewhere."""
import glob

from common import Failures, load_yaml, need_tool, path, run

fail = Failures("alertmanager")
amtool = need_tool("amtool")
cfg_path = path("deploy", "monitoring", "alertmanager.yml")

r = run([amtool, "check-config", cfg_path])
fail.check(r.returncode == 0, "amtool check-config:\n" + r.stdout + r.stderr)

cfg = load_yaml(cfg_path)
rcv = {x["name"]: x for x in cfg.get("receivers", [])}
hooks = rcv.get("runbookd", {}).get("webhook_configs", [])
fail.check(len(hooks) == 1, "receiver runbookd needs one webhook_config")
for h in hooks:
    fail.check(h.get("url", "").endswith(":9095/webhook"), "webhook url is not runbookd's :9095/webhook")
    fail.check(h.get("send_resolved") is True, "send_resolved is not true")
    auth = h.get("http_config", {}).get("authorization", {})
    fail.check(auth.get("type", "Bearer") == "Bearer" and auth.get("credentials_file"),
               "http_config.authorization.credentials_file (Bearer) is not set")
    fail.check("credentials" not in auth, "the token must come from a file, not inline")


def route(labels, want):
    argv = [amtool, "config", "routes", "test", "--config.file=" + cfg_path,
            "--verify.receivers=" + want] + [f"{k}={v}" for k, v in labels.items()]
    r = run(argv)
    fail.check(r.returncode == 0, f"{labels} routes to {r.stdout.strip()!r}, want {want}")


# Every alert of alert-rules/ goes where it should.
for f in sorted(glob.glob(path("alert-rules", "*.yml"))):
    for g in load_yaml(f)["groups"]:
        for rule in g["rules"]:
            if "alert" not in rule:
                continue
            labels = {"alertname": rule["alert"], "severity": rule["labels"]["severity"],
                      "namespace": rule["labels"].get("namespace", "ran-optimization"),
                      "deployment": rule["labels"].get("deployment", "cognitive-core")}
            route(labels, "oncall-fallback" if rule["alert"].startswith("Runbookd") else "runbookd")
route({"alertname": "Watchdog", "namespace": "kube-system"}, "oncall-fallback")
fail.exit()
