#!/usr/bin/env python3
"""The Role grants exactly what the remediation needs: derived from the kubectl
commands of the seed runbooks that runbookd automates (1, 2, 3, 4, 5, 8, 11)
and from the plan files in remediation/ when there are any.

Each kubectl command is turned into the API requests runbookd sends for it
(kubectl's shapes, plus the reads runbookd makes before it writes); commands
that stay manual (logs, exec, top, ...) are named as such. A command of
neither kind fails the test, so a changed runbook cannot slip past. The
needed (resource, verb) pairs and the objects named in write rules must equal
the Role's; wildcards, secrets and cluster-scoped objects are refused.
"""
import json
import os
import re
import shlex
import sys

from common import Failures, ROOT, SKIP, k8s_objects, path, rel, yaml

fail = Failures("rbac")

AUTOMATED_RUNBOOKS = {1, 2, 3, 4, 5, 8, 11}
NAMESPACE = "ran-optimization"
SEED_CANDIDATES = [os.environ.get("RUNBOOKD_SEED", ""),
                   os.path.join(ROOT, "..", "shared", "seed", "operational-runbooks.md"),
                   os.path.join(ROOT, "seed", "operational-runbooks.md")]

# Requests runbookd needs whatever the plan: resolving an alert's pod label to
# its Deployment (GET pod, GET its ReplicaSet, GET the Deployment).
RESOLUTION = {("pods", "get"), ("replicasets", "get"), ("deployments", "get")}

RESOURCE_ALIASES = {
    "pod": "pods", "pods": "pods", "po": "pods",
    "deployment": "deployments", "deployments": "deployments", "deploy": "deployments",
    "replicaset": "replicasets", "replicasets": "replicasets", "rs": "replicasets",
    "configmap": "configmaps", "configmaps": "configmaps", "cm": "configmaps",
    "event": "events", "events": "events", "endpoints": "endpoints", "ep": "endpoints",
    "networkpolicies": "networkpolicies", "networkpolicy": "networkpolicies", "netpol": "networkpolicies",
    "node": "nodes", "nodes": "nodes", "no": "nodes",
}
# Diagnostics the runbooks have a person run; runbookd does not automate them
# (its exec step runs a local program, never kubectl exec).
MANUAL_VERBS = {"logs", "exec", "top", "describe", "cp"}
MANUAL_GET = {"events", "endpoints", "networkpolicies", "nodes"}
# Resources runbookd reads for the timeline when a runbook reads them.
READ_GET = {"pods", "deployments", "replicasets", "configmaps"}
# Flags that take a separate value.
VALUE_FLAGS = {"-n", "--namespace", "-p", "--patch", "-l", "--selector", "-o", "--output",
               "--field-selector", "-c", "--container", "--sort-by", "--replicas", "--timeout",
               "--since", "--tail", "--type"}


def kubectl_commands(markdown):
    """{runbook number: [argv after 'kubectl', ...]} from the fenced code blocks."""
    out = {}
    number = None
    in_code = False
    for line in markdown.splitlines():
        m = re.match(r"^###\s+Runbook\s+(\d+):", line)
        if m:
            number = int(m.group(1))
            continue
        if re.match(r"^##\s", line):
            number = None
        if line.lstrip().startswith("```"):
            in_code = not in_code
            continue
        if not in_code or number not in AUTOMATED_RUNBOOKS or line.lstrip().startswith("#"):
            continue
        lex = shlex.shlex(line, posix=True, punctuation_chars=True)
        lex.whitespace_split = True
        try:
            tokens = list(lex)
        except ValueError as e:
            fail(f"runbook {number}: cannot split {line.strip()!r}: {e}")
            continue
        cmd = []
        for tok in tokens + [";"]:
            if tok and set(tok) <= set("();<>|&"):
                if cmd and cmd[0] == "kubectl":
                    out.setdefault(number, []).append(cmd[1:])
                cmd = []
            elif not cmd and tok == "$":
                continue
            else:
                cmd.append(tok)
    return out


def split_args(argv):
    """(positional arguments, {flag: value}) of a kubectl argv."""
    pos, flags = [], {}
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--":
            break
        if a.startswith("-"):
            k, eq, v = a.partition("=")
            if not eq and k in VALUE_FLAGS and i + 1 < len(argv):
                v = argv[i + 1]
                i += 1
            flags[k] = v
        else:
            pos.append(a)
        i += 1
    return pos, flags


def target(pos):
    """(resource, name) from 'deployment/x' or 'deployment x' or 'pod -l ...'."""
    if not pos:
        return None, None
    if "/" in pos[0]:
        kind, _, name = pos[0].partition("/")
        return RESOURCE_ALIASES.get(kind, kind), name
    return RESOURCE_ALIASES.get(pos[0], pos[0]), (pos[1] if len(pos) > 1 else None)


def requests_for(argv):
    """'manual', or the set of (resource, verb, name or None) runbookd sends."""
    pos, flags = split_args(argv)
    if not pos:
        return None
    verb, rest = pos[0], pos[1:]
    if verb in MANUAL_VERBS:
        return "manual"
    if "--namespace" in flags:
        flags["-n"] = flags["--namespace"]
    res, name = target(rest) if verb != "rollout" else target(rest[1:])
    if verb == "get" and res in MANUAL_GET:
        return "manual"
    if flags.get("-n") != NAMESPACE:
        return None
    if verb == "get":
        if res not in READ_GET:
            return None
        return {(res, "get", name)} if name else {(res, "list", None)}
    if verb == "rollout" and res == "deployments" and name:
        action = rest[0]
        base = {("deployments", "get", name)}
        if action == "restart":
            return base | {("deployments", "patch", name)}
        if action == "status":
            return base | {("deployments", "list", None), ("deployments", "watch", None)}
        if action == "undo":
            return base | {("deployments", "patch", name), ("replicasets", "list", None)}
        if action == "history":
            return base | {("replicasets", "list", None)}
        return None
    if verb == "scale" and res == "deployments" and name:
        return {("deployments", "get", name), ("deployments/scale", "get", name),
                ("deployments/scale", "patch", name)}
    if verb == "patch" and res in ("deployments", "configmaps") and name:
        return {(res, "get", name), (res, "patch", name)}
    if verb == "delete" and res == "pods" and not name and ("-l" in flags or "--selector" in flags):
        return {("pods", "list", None), ("pods", "delete", None)}
    return None


# Step kinds of the plan files (normalised: lower case, letters only) and the
# requests each needs; names come from the plan's targets.
STEP_KINDS = {
    "rolloutrestart": {("deployments", "get"), ("deployments", "patch")},
    "restart": {("deployments", "get"), ("deployments", "patch")},
    "scale": {("deployments", "get"), ("deployments/scale", "get"), ("deployments/scale", "patch")},
    "setresources": {("deployments", "get"), ("deployments", "patch")},
    "resources": {("deployments", "get"), ("deployments", "patch")},
    "setenv": {("deployments", "get"), ("deployments", "patch")},
    "env": {("deployments", "get"), ("deployments", "patch")},
    "patchconfigmap": {("configmaps", "get"), ("configmaps", "patch")},
    "configmappatch": {("configmaps", "get"), ("configmaps", "patch")},
    "configmap": {("configmaps", "get"), ("configmaps", "patch")},
    "deletepods": {("pods", "list"), ("pods", "delete")},
    "deletepod": {("pods", "list"), ("pods", "delete")},
    "rolloutundo": {("deployments", "get"), ("deployments", "patch"), ("replicasets", "list")},
    "undo": {("deployments", "get"), ("deployments", "patch"), ("replicasets", "list")},
    "rollback": {("deployments", "get"), ("deployments", "patch"), ("replicasets", "list")},
    "waitforrollout": {("deployments", "get"), ("deployments", "list"), ("deployments", "watch")},
    "waitrollout": {("deployments", "get"), ("deployments", "list"), ("deployments", "watch")},
    "rolloutstatus": {("deployments", "get"), ("deployments", "list"), ("deployments", "watch")},
    "wait": {("deployments", "get"), ("deployments", "list"), ("deployments", "watch")},
    # No Kubernetes request.
    "httpcheck": set(), "http": set(), "promql": set(), "promqlcheck": set(),
    "postgres": set(), "postgresql": set(), "pg": set(), "pgquery": set(), "sql": set(),
    "exec": set(),
}
STEP_LIST_KEY = re.compile(r"step|verif|on_?fail|fallback|rollback|then|else", re.I)
KIND_KEY = ("kind", "type", "action", "step", "do")
NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def plan_needs(doc, fname):
    """(set of (resource, verb), deployment names, configmap names, step count)."""
    needs, deployments, configmaps, steps = set(), set(), set(), 0

    def names(v):
        vals = v if isinstance(v, list) else [v]
        return {x for x in vals if isinstance(x, str) and NAME.match(x)}

    def walk(node, key=""):
        nonlocal steps
        if isinstance(node, dict):
            for k, v in node.items():
                if re.search(r"deployment", k, re.I):
                    deployments.update(names(v))
                if re.search(r"config_?map", k, re.I):
                    configmaps.update(names(v))
                walk(v, k)
        elif isinstance(node, list):
            for item in node:
                if isinstance(item, dict) and STEP_LIST_KEY.search(key):
                    kind = next((item[k] for k in KIND_KEY if isinstance(item.get(k), str)), None)
                    if kind is None and len(item) == 1:
                        kind = next(iter(item))
                    if kind is not None:
                        norm = re.sub(r"[^a-z]", "", kind.lower())
                        steps += 1
                        if norm not in STEP_KINDS:
                            fail(f"{fname}: step kind {kind!r} unknown to test/deploy/check_rbac.py "
                                 "(add what it requests to STEP_KINDS)")
                        else:
                            needs.update(STEP_KINDS[norm])
                walk(item, key)

    walk(doc)
    return needs, deployments, configmaps, steps


# --- What is needed. ---------------------------------------------------------
need = set(RESOLUTION)
named = {"deployments": set(), "deployments/scale": set(), "configmaps": set()}
sources = []

seed = next((p for p in SEED_CANDIDATES if p and os.path.isfile(p)), None)
if seed:
    sources.append(rel(os.path.abspath(seed)))
    with open(seed, encoding="utf-8") as f:
        cmds = kubectl_commands(f.read())
    fail.check(AUTOMATED_RUNBOOKS <= set(cmds), "some automated runbooks have no kubectl command")
    counted = 0
    for number in sorted(AUTOMATED_RUNBOOKS):
        for argv in cmds.get(number, []):
            r = requests_for(argv)
            text = "kubectl " + " ".join(argv)
            if r is None:
                fail(f"runbook {number}: unclassified command {text!r} "
                     "(teach test/deploy/check_rbac.py what it requests, or that it stays manual)")
            elif r != "manual":
                counted += 1
                for res, verb, name in r:
                    need.add((res, verb))
                    if name and res in named:
                        named[res].add(name)
    fail.check(counted >= 15, f"only {counted} automated kubectl commands found in the seed")
    # The scale subresource is reached through the same Deployments.
    named["deployments"] |= named["deployments/scale"]
    named["deployments/scale"] = set(named["deployments"])
else:
    print("rbac: seed runbooks not found (set RUNBOOKD_SEED); checking plans only")

plan_files = []
if os.path.isdir(path("remediation")):
    plan_files = sorted(f for f in os.listdir(path("remediation"))
                        if f.endswith((".json", ".yml", ".yaml")) and not f.startswith("."))
for fname in plan_files:
    p = path("remediation", fname)
    try:
        with open(p, encoding="utf-8") as f:
            docs = [json.load(f)] if fname.endswith(".json") else list(yaml.safe_load_all(f))
    except Exception as e:  # noqa: BLE001
        fail(f"remediation/{fname} does not parse: {e}")
        continue
    total = 0
    for doc in docs:
        n, deps, cms, steps = plan_needs(doc, f"remediation/{fname}")
        need |= n
        total += steps
        named["deployments"] |= deps
        named["deployments/scale"] |= deps
        named["configmaps"] |= cms
    fail.check(total > 0, f"remediation/{fname}: no steps found "
                          "(teach test/deploy/check_rbac.py the plan format)")
if plan_files:
    sources.append(f"{len(plan_files)} plan files in remediation/")
else:
    print("rbac: no plan files in remediation/ yet; derived from the seed only")

if not sources:
    print("rbac: nothing to derive from: skipped")
    sys.exit(SKIP)

# --- What the Role grants. ---------------------------------------------------
roles = [(f, o) for f, o in k8s_objects() if o.get("kind") in ("Role", "ClusterRole")]
fail.check(len(roles) == 1 and roles[0][1]["kind"] == "Role", "expected exactly one Role and no ClusterRole")
role = roles[0][1] if roles else {"rules": [], "metadata": {}}
fail.check(role["metadata"].get("namespace") == NAMESPACE, f"the Role is not in namespace {NAMESPACE}")
grant = set()
granted_names = {}
for i, rule in enumerate(role.get("rules", [])):
    groups, resources, verbs = rule.get("apiGroups", []), rule.get("resources", []), rule.get("verbs", [])
    rnames = rule.get("resourceNames")
    fail.check(not rule.get("nonResourceURLs"), f"rule {i}: nonResourceURLs")
    for field, values in (("apiGroups", groups), ("resources", resources), ("verbs", verbs),
                          ("resourceNames", rnames or [])):
        fail.check("*" not in values and not any("*" in v for v in values), f"rule {i}: wildcard in {field}")
    fail.check("secrets" not in resources, f"rule {i}: grants secrets")
    for res in resources:
        want_group = "" if res in ("pods", "configmaps", "secrets", "events", "endpoints") else "apps"
        fail.check(groups == [want_group], f"rule {i}: {res} belongs to API group {want_group!r}")
        for verb in verbs:
            grant.add((res, verb))
            if rnames is not None:
                fail.check(verb in ("get", "patch", "update", "delete"),
                           f"rule {i}: resourceNames cannot limit {verb}")
                granted_names.setdefault((res, verb), set()).update(rnames)
            elif res in named and verb in ("get", "patch") and named[res]:
                fail(f"rule {i}: {verb} {res} is not limited to the named objects {sorted(named[res])}")

for res, verb in sorted(need - grant):
    fail(f"the Role lacks {verb} {res}")
for res, verb in sorted(grant - need):
    fail(f"the Role grants {verb} {res}, which nothing needs")
for (res, verb), names in sorted(granted_names.items()):
    want = named.get(res, set())
    fail.check(names == want, f"{verb} {res} names {sorted(names)}, needed {sorted(want)}")

print("rbac: derived from " + " and ".join(sources) + ": "
      + ", ".join(f"{v} {r}" for r, v in sorted(need)))
print("rbac: named objects: " + "; ".join(f"{r}: {', '.join(sorted(n))}" for r, n in sorted(named.items())))
fail.exit()
