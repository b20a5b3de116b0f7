#!/usr/bin/env python3
"""Every YAML and JSON file of the deploy bundle parses, and the Kubernetes
manifests hold together: the Deployment's hardening, probes, flags and mounts
agree with the ConfigMap, Secret, PVC, Service, PDB, NetworkPolicy and RBAC
objects, and the generated files are up to date with their sources."""
import json
import os
import re
import sys

from common import Failures, k8s_objects, load_yaml, load_yaml_all, path, rel, run

fail = Failures("manifests")

# --- 1. Everything parses. ----------------------------------------------------
parsed = 0
for top in ("deploy", "alert-rules"):
    for dirpath, _, files in os.walk(path(top)):
        for name in sorted(files):
            p = os.path.join(dirpath, name)
            try:
                if name.endswith((".yml", ".yaml")):
                    load_yaml_all(p)
                elif name.endswith(".json"):
                    with open(p, encoding="utf-8") as f:
                        json.load(f)
                else:
                    continue
                parsed += 1
            except Exception as e:  # noqa: BLE001 - report any parse error
                fail(f"{rel(p)} does not parse: {e}")
fail.check(parsed >= 20, f"only {parsed} YAML/JSON files found")

# --- 2. Kubernetes objects. ---------------------------------------------------
DNS1123 = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
CLUSTER_SCOPED = {"Namespace"}
objs = k8s_objects()
by_kind = {}
for fname, o in objs:
    kind, meta = o.get("kind"), o.get("metadata") or {}
    where = f"{fname}: {kind}/{meta.get('name')}"
    fail.check(o.get("apiVersion") and kind and meta.get("name"),
               f"{where}: apiVersion, kind and metadata.name are required")
    fail.check(DNS1123.match(meta.get("name") or ""), f"{where}: name is not a DNS-1123 label")
    if kind not in CLUSTER_SCOPED:
        fail.check(meta.get("namespace"), f"{where}: namespaced object without metadata.namespace")
    by_kind.setdefault(kind, []).append((fname, o))

for kind in ("Namespace", "ServiceAccount", "Role", "RoleBinding", "ConfigMap", "Secret",
             "PersistentVolumeClaim", "Deployment", "Service", "PodDisruptionBudget",
             "NetworkPolicy"):
    fail.check(kind in by_kind, f"no {kind} in deploy/kubernetes")


def one(kind, name=None):
    for _, o in by_kind.get(kind, []):
        if name is None or o["metadata"]["name"] == name:
            return o
    fail(f"no {kind} {name or ''}")
    return {}


kust = load_yaml(path("deploy", "kubernetes", "kustomization.yaml"))
listed = set(kust.get("resources", []))
manifests = {f for f, _ in objs}
for f in sorted(listed - manifests):
    fail(f"kustomization.yaml lists missing {f}")
for f in sorted(manifests - listed - {"secret-template.yaml"}):
    fail(f"kustomization.yaml does not list {f}")
fail.check("secret-template.yaml" not in listed,
           "kustomization.yaml must not apply the secret template's placeholder tokens")

ns = one("Namespace")
NS = ns.get("metadata", {}).get("name")
dep = one("Deployment", "runbookd")
pod = dep.get("spec", {}).get("template", {}).get("spec", {})
pod_labels = dep.get("spec", {}).get("template", {}).get("metadata", {}).get("labels", {})
fail.check(dep.get("metadata", {}).get("namespace") == NS, "Deployment is not in the Namespace")
sel = dep.get("spec", {}).get("selector", {}).get("matchLabels", {})
fail.check(sel and sel.items() <= pod_labels.items(), "Deployment selector does not match its pods")
fail.check(dep["spec"].get("replicas") == 1 and dep["spec"].get("strategy", {}).get("type") == "Recreate",
           "SQLite on a ReadWriteOnce volume needs replicas: 1 and strategy Recreate")

# Pod and container hardening.
psc = pod.get("securityContext", {})
fail.check(psc.get("runAsNonRoot") is True, "pod securityContext.runAsNonRoot is not true")
fail.check(isinstance(psc.get("runAsUser"), int) and psc["runAsUser"] > 0, "pod runAsUser must be a non-zero uid")
fail.check(psc.get("seccompProfile", {}).get("type") == "RuntimeDefault", "pod seccompProfile is not RuntimeDefault")
fail.check(not pod.get("hostNetwork") and not pod.get("hostPID") and not pod.get("hostIPC"),
           "pod shares a host namespace")
containers = pod.get("containers", [])
fail.check(len(containers) == 1, "expected one container")
c = containers[0] if containers else {}
csc = c.get("securityContext", {})
fail.check(csc.get("allowPrivilegeEscalation") is False, "allowPrivilegeEscalation is not false")
fail.check(csc.get("readOnlyRootFilesystem") is True, "readOnlyRootFilesystem is not true")
fail.check(csc.get("privileged") in (None, False), "container is privileged")
fail.check(csc.get("capabilities", {}).get("drop") == ["ALL"], "capabilities.drop is not [ALL]")
fail.check(not csc.get("capabilities", {}).get("add"), "capabilities are added")
for kind in ("requests", "limits"):
    for res in ("cpu", "memory"):
        fail.check(res in c.get("resources", {}).get(kind, {}), f"resources.{kind}.{res} missing")

ports = {p.get("name"): p.get("containerPort") for p in c.get("ports", [])}
fail.check(ports.get("http") == 9095, "container port http is not 9095")
for probe, want in (("readinessProbe", "/-/ready"), ("livenessProbe", "/-/healthy")):
    get = c.get(probe, {}).get("httpGet", {})
    fail.check(get.get("path") == want and get.get("port") in ("http", 9095),
               f"{probe} is not an httpGet of {want} on port 9095")

# Flags: known ones only, and consistent with mounts and the config file.
KNOWN_FLAGS = {"--config.file", "--web.listen-address", "--storage.path", "--storage.postgres",
               "--remediation.dir", "--kube.api-url", "--kube.token-file", "--kube.ca-file",
               "--dry-run", "--log.level", "--log.format"}
args = {}
for a in c.get("args", []) + c.get("command", [])[1:]:
    k, _, v = a.partition("=")
    fail.check(k in KNOWN_FLAGS, f"unknown runbookd flag {k}")
    args[k] = v
fail.check(args.get("--web.listen-address") == "0.0.0.0:9095",
           "in a pod runbookd must listen on 0.0.0.0:9095")

volumes = {v["name"]: v for v in pod.get("volumes", [])}
mounts = {m["mountPath"]: m for m in c.get("volumeMounts", [])}


def volume_at(file_or_dir):
    """(volume, path inside it) of the mount that holds file_or_dir."""
    best = None
    for mp, m in mounts.items():
        if file_or_dir == mp or file_or_dir.startswith(mp.rstrip("/") + "/"):
            if best is None or len(mp) > len(best):
                best = mp
    if best is None:
        return None, None
    return volumes.get(mounts[best]["name"]), file_or_dir[len(best):].lstrip("/")


for flag in ("--config.file", "--storage.path", "--remediation.dir"):
    fail.check(flag in args, f"Deployment does not pass {flag}")

cfg_vol, cfg_key = volume_at(args.get("--config.file", ""))
cm_name = (cfg_vol or {}).get("configMap", {}).get("name")
cm = one("ConfigMap", cm_name) if cm_name else {}
fail.check(cm, "--config.file is not on a ConfigMap volume")
config = {}
try:
    config = json.loads(cm.get("data", {}).get(cfg_key, ""))
except ValueError as e:
    fail(f"ConfigMap {cm_name} key {cfg_key} is not JSON: {e}")
fail.check(config.get("web", {}).get("listen_address") == args.get("--web.listen-address"),
           "config web.listen_address differs from --web.listen-address")
fail.check(config.get("storage", {}).get("path") == args.get("--storage.path"),
           "config storage.path differs from --storage.path")
fail.check(config.get("remediation", {}).get("dir") == args.get("--remediation.dir"),
           "config remediation.dir differs from --remediation.dir")

data_vol, _ = volume_at(args.get("--storage.path", ""))
claim = (data_vol or {}).get("persistentVolumeClaim", {}).get("claimName")
fail.check(claim and one("PersistentVolumeClaim", claim), "--storage.path is not on a PersistentVolumeClaim")
fail.check(not mounts.get(args.get("--storage.path"), {}).get("readOnly"), "storage volume is read-only")

plan_vol, plan_sub = volume_at(args.get("--remediation.dir", ""))
plan_cm = (plan_vol or {}).get("configMap", {}).get("name")
fail.check(plan_cm and not plan_sub, "--remediation.dir is not the mount of a ConfigMap")

auth = config.get("web", {}).get("auth", {})
token_file = auth.get("bearer_token_file") or auth.get("basic_auth", {}).get("password_file")
fail.check(token_file, "config web.auth names no credentials file")
sec_vol, sec_key = volume_at(token_file or "")
secret_name = (sec_vol or {}).get("secret", {}).get("secretName")
secret = one("Secret", secret_name) if secret_name else {}
fail.check(secret and secret["metadata"].get("namespace") == NS,
           f"credentials file {token_file} is not on a Secret volume in namespace {NS}")
fail.check(sec_key in secret.get("stringData", {}) or sec_key in secret.get("data", {}),
           f"Secret {secret_name} has no key {sec_key}")
writable = [mp for mp, m in mounts.items() if not m.get("readOnly")]
for mp in writable:
    v = volumes.get(mounts[mp]["name"], {})
    fail.check("persistentVolumeClaim" in v or "emptyDir" in v, f"writable mount {mp} is not a PVC or emptyDir")

# The ServiceAccount and RBAC.
sa = one("ServiceAccount")
fail.check(pod.get("serviceAccountName") == sa.get("metadata", {}).get("name"),
           "Deployment does not use the ServiceAccount")
role, rb = one("Role"), one("RoleBinding")
fail.check(rb.get("roleRef", {}).get("kind") == "Role"
           and rb["roleRef"].get("name") == role.get("metadata", {}).get("name")
           and rb["metadata"].get("namespace") == role["metadata"].get("namespace"),
           "RoleBinding does not bind the Role in its namespace")
fail.check(rb.get("subjects") == [{"kind": "ServiceAccount", "name": sa["metadata"]["name"],
                                   "namespace": sa["metadata"]["namespace"]}],
           "RoleBinding's only subject must be runbookd's ServiceAccount")
fail.check(not by_kind.get("ClusterRole") and not by_kind.get("ClusterRoleBinding"),
           "no cluster-wide RBAC")

# Service, PDB, NetworkPolicy select the pods.
svc = one("Service")
fail.check(svc.get("spec", {}).get("selector", {}).items() <= pod_labels.items()
           and svc["spec"]["selector"], "Service selector does not match the pods")
fail.check(any(p.get("port") == 9095 and p.get("targetPort") in ("http", 9095) for p in svc["spec"].get("ports", [])),
           "Service does not expose 9095")
pdb = one("PodDisruptionBudget")
fail.check(pdb.get("spec", {}).get("selector", {}).get("matchLabels", {}).items() <= pod_labels.items(),
           "PodDisruptionBudget selector does not match the pods")
netpol = one("NetworkPolicy")
fail.check(netpol.get("spec", {}).get("podSelector", {}).get("matchLabels", {}).items() <= pod_labels.items()
           and netpol["spec"]["podSelector"].get("matchLabels"),
           "NetworkPolicy does not select the pods")
fail.check(set(netpol["spec"].get("policyTypes", [])) == {"Ingress", "Egress"},
           "NetworkPolicy must restrict both Ingress and Egress")
fail.check(all(any(p.get("port") == 9095 for p in r.get("ports", [])) for r in netpol["spec"].get("ingress", [])),
           "every NetworkPolicy ingress rule must be limited to port 9095")

# --- 3. Generated copies are current and equal to their sources. --------------
r = run([sys.executable, path("deploy", "generate.py"), "--check"])
fail.check(r.returncode == 0, f"deploy/generate.py --check: {r.stderr.strip()}")

plans = {}
if os.path.isdir(path("remediation")):
    for name in os.listdir(path("remediation")):
        p = path("remediation", name)
        if not name.startswith(".") and os.path.isfile(p):
            with open(p, encoding="utf-8") as f:
                plans[name] = f.read()
fail.check((one("ConfigMap", plan_cm).get("data") or {}) == plans,
           f"ConfigMap {plan_cm} does not hold exactly the files of remediation/")

rule_groups = []
for name in sorted(os.listdir(path("alert-rules"))):
    if name.endswith((".yml", ".yaml")):
        rule_groups += load_yaml(path("alert-rules", name))["groups"]
prule = load_yaml(path("deploy", "monitoring", "prometheusrule.yaml"))
fail.check(prule.get("kind") == "PrometheusRule" and prule.get("spec", {}).get("groups") == rule_groups,
           "prometheusrule.yaml differs from alert-rules/")

smon = load_yaml(path("deploy", "monitoring", "servicemonitor.yaml"))
fail.check(smon.get("spec", {}).get("selector", {}).get("matchLabels", {}).items()
           <= svc["metadata"].get("labels", {}).items(), "ServiceMonitor does not select the Service")
fail.check(smon["spec"].get("namespaceSelector", {}).get("matchNames") == [NS],
           "ServiceMonitor does not look in runbookd's namespace")
fail.check(any(e.get("port") == "http" for e in smon["spec"].get("endpoints", [])),
           "ServiceMonitor does not scrape the http port")

# The systemd unit and the Dockerfile pass only known flags.
for p in (path("deploy", "systemd", "runbookd.service"), path("deploy", "Dockerfile")):
    with open(p, encoding="utf-8") as f:
        text = f.read().replace("\\\n", " ")
    for flag in re.findall(r"(--[a-z][a-z.-]*[a-z])=", text):
        if flag.startswith(("--web", "--config", "--storage", "--remediation", "--kube", "--log", "--dry")):
            fail.check(flag in KNOWN_FLAGS, f"{rel(p)}: unknown runbookd flag {flag}")

fail.exit()
