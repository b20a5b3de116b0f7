"""Shared helpers for the deploy bundle tests (test/deploy/*.py).

Each test is a script run by CTest: exit 0 passes, 77 skips, anything else
fails. ROOT is the repository (the tests take no arguments).
"""
import os
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SKIP = 77

try:
    import yaml  # Debian: python3-yaml
except ImportError:  # pragma: no cover - environment problem, not a test result
    sys.exit(f"{sys.executable}: PyYAML is missing (apt-get install python3-yaml)")


class Failures:
    """Collects failures so one run reports all of them."""

    def __init__(self, name):
        self.name = name
        self.items = []

    def __call__(self, msg):
        self.items.append(msg)

    def check(self, cond, msg):
        if not cond:
            self.items.append(msg)
        return cond

    def exit(self):
        for msg in self.items:
            print(f"FAIL {self.name}: {msg}", file=sys.stderr)
        if self.items:
            sys.exit(1)
        print(f"ok {self.name}")
        sys.exit(0)


def path(*parts):
    return os.path.join(ROOT, *parts)


def rel(p):
    return os.path.relpath(p, ROOT)


def load_yaml_all(p):
    with open(p, encoding="utf-8") as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]


def load_yaml(p):
    with open(p, encoding="utf-8") as f:
        return yaml.safe_load(f)


def need_tool(name):
    """Path of a required tool; a missing one is a failure (install-deps.sh installs it)."""
    p = shutil.which(name)
    if not p:
        sys.exit(f"{name} not found: run scripts/install-deps.sh test")
    return p


def run(argv, **kw):
    """Runs argv, returns CompletedProcess with text output."""
    return subprocess.run(argv, capture_output=True, text=True, **kw)


def k8s_objects():
    """(file, object) for every Kubernetes object in deploy/kubernetes."""
    d = path("deploy", "kubernetes")
    out = []
    for name in sorted(os.listdir(d)):
        if name.endswith((".yaml", ".yml")) and name != "kustomization.yaml":
            for obj in load_yaml_all(os.path.join(d, name)):
                out.append((name, obj))
    return out
