#!/usr/bin/env python3
"""deploy/monitoring/prometheus.yml passes `promtool check config` together
with alert-rules/, and gives the jobs and labels the rules rely on.

Debian's Prometheus is built without Kubernetes service discovery, so the
check runs on a copy where each kubernetes_sd_configs is replaced by a static
target and in-cluster credential paths by an existing file; the discovery
blocks themselves are checked here for the fields that matter."""
import os
import tempfile

from common import Failures, load_yaml, need_tool, path, run, yaml

fail = Failures("prometheus-config")
promtool = need_tool("promtool")
cfg = load_yaml(path("deploy", "monitoring", "prometheus.yml"))

jobs = {s["job_name"]: s for s in cfg.get("scrape_configs", [])}
for job in ("runbookd", "ran-optimization", "ran-optimization-health", "kube-state-metrics",
            "kubelet-cadvisor"):
    fail.check(job in jobs, f"no scrape job {job}")


def relabel_targets(job):
    return {r.get("target_label") for r in jobs.get(job, {}).get("relabel_configs", [])}


fail.check({"namespace", "deployment", "pod"} <= relabel_targets("ran-optimization"),
           "job ran-optimization must set namespace, pod and deployment labels")
for sc in jobs.get("ran-optimization-health", {}).get("static_configs", []):
    fail.check({"namespace", "deployment"} <= set(sc.get("labels", {})),
               "probe targets need static namespace and deployment labels")
fail.check(jobs.get("kube-state-metrics", {}).get("honor_labels") is True,
           "kube-state-metrics needs honor_labels so its namespace label is the pod's")
for name, s in jobs.items():
    for sd in s.get("kubernetes_sd_configs", []):
        fail.check(sd.get("role") in ("pod", "node", "endpoints", "service", "endpointslice", "ingress"),
                   f"{name}: bad kubernetes_sd role {sd.get('role')!r}")

with tempfile.TemporaryDirectory() as tmp:
    dummy = os.path.join(tmp, "credential")
    with open(dummy, "w") as f:
        f.write("x\n")

    def neutralise(node):
        if isinstance(node, dict):
            for k in list(node):
                if k in ("credentials_file", "ca_file", "cert_file", "key_file", "bearer_token_file",
                         "password_file"):
                    node[k] = dummy
                else:
                    neutralise(node[k])
        elif isinstance(node, list):
            for x in node:
                neutralise(x)

    copy = yaml.safe_load(yaml.safe_dump(cfg))
    for s in copy["scrape_configs"]:
        if s.pop("kubernetes_sd_configs", None) is not None:
            s.setdefault("static_configs", []).append({"targets": ["127.0.0.1:9"]})
    neutralise(copy)
    copy["rule_files"] = [path("alert-rules", "*.yml")]
    p = os.path.join(tmp, "prometheus.yml")
    with open(p, "w") as f:
        yaml.safe_dump(copy, f)
    r = run([promtool, "check", "config", p])
    fail.check(r.returncode == 0, "promtool check config:\n" + r.stdout + r.stderr)
fail.exit()
