#!/usr/bin/env python3
"""The command line as kingpin and promtool users expect it: check-config
FILE, flags before the command, stray and repeated arguments refused,
every problem of a configuration named at once (config, plans, escalation
policy) with its source, unusable TLS and Kubernetes files caught by
check-config, startup errors as JSON log lines with long values cut, and a
reload naming every field that needs a restart."""

import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rbtest  # noqa: E402


def run(args, cwd=None, timeout=30):
    p = subprocess.run([rbtest.BIN] + args, capture_output=True, text=True,
                       timeout=timeout, cwd=cwd)
    return p.returncode, p.stdout, p.stderr


def lines_with(err, *words):
    return [ln for ln in err.splitlines() if all(w in ln for w in words)]


def usage(t):
    t.section("check-config FILE, flags before the command, stray arguments")
    t.write("u/good.json", json.dumps({"log": {"level": "debug"}}))
    good = t.path("u/good.json")
    rc, out, err = run(["check-config", good], cwd="/")
    t.check(rc == 0 and out.startswith(good + ": configuration is valid"),
            "check-config FILE validates FILE (exit 0)", out + err)
    t.write("u/bad.json", json.dumps({"log": {"level": "loud"}}))
    rc, out, err = run(["check-config", t.path("u/bad.json")])
    t.check(rc == 1 and lines_with(err, "bad.json: log.level"),
            "check-config FILE names FILE's problems (exit 1), not the defaults'", err)
    rc, out, err = run(["check-config", good, "--config.file=" + good])
    t.check(rc == 2 and "--config.file" in err, "FILE and --config.file together: exit 2", err)
    rc, out, err = run(["check-config", good, "stray"])
    t.check(rc == 2 and "stray" in err, "a second argument to check-config: exit 2 naming it",
            err)
    for args in (["version", "stray"], ["stats", "stray"], ["stray"],
                 ["--storage.path=/tmp/x", "stray"]):
        rc, out, err = run(args)
        t.check(rc == 2 and "stray" in err, "runbookd %s: exit 2 naming 'stray'"
                % " ".join(args), err)

    for args in (["--config.file=" + good, "check-config"],
                 ["--config.file", good, "check-config"],
                 ["--dry-run", "--log.level", "warn", "check-config", good],
                 ["--", "check-config", good]):
        rc, out, err = run(args, cwd="/")
        t.check(rc == 0 and "configuration is valid" in out,
                "flags before the command: runbookd %s" % " ".join(args), out + err)

    rc, out, err = run(["help"])
    t.check(rc == 0 and "check-config" in out, "runbookd help prints the help")
    rc, out, err = run(["replay", "help"], cwd=t.path("u"))
    t.check("usage:" not in out and "help: cannot read" in out + err,
            "'help' as an argument of replay is a file name, not the help", out + err)

    t.section("repeated flags, --no-X=value, unknown flags")
    rc, out, err = run(["check-config", "--storage.path=/a", "--storage.path=/b"])
    t.check(rc == 1 and lines_with(err, "--storage.path", "cannot be repeated"),
            "a repeated flag is refused", err)
    rc, out, err = run(["--dry-run", "check-config", "--no-dry-run"])
    t.check(rc == 1 and lines_with(err, "--no-dry-run", "cannot be repeated"),
            "--dry-run and --no-dry-run count as one flag", err)
    rc, out, err = run(["check-config", "--no-dry-run=true"])
    t.check(rc == 1 and lines_with(err, "--no-dry-run", "takes no value"),
            "--no-dry-run=true is refused, not read as --dry-run=true", err)
    rc, out, err = run(["check-config", "--bogus", "value"])
    t.check(rc == 1 and lines_with(err, "--bogus", "unknown flag")
            and "unexpected argument" not in err and "1 problem found" in err,
            "--bogus value: one error, about --bogus", err)
    rc, out, err = run(["stats", "--format=json", "--format=text"])
    t.check(rc == 2 and "cannot be repeated" in err, "stats --format twice: exit 2", err)


def every_problem(t):
    t.section("check-config names config, plan and policy problems together")
    plans = t.path("all/plans")
    os.makedirs(plans, exist_ok=True)
    t.write("all/plans/bad-plan.json", json.dumps({
        "name": "bad", "match": ['alertname="X"'], "steps": [{"kind": "rollout_restart"}]}))
    t.write("all/cfg.json", json.dumps({
        "web": {"max_body_bytes": "big"},
        "remediation": {"dir": plans},
        "escalation": {"contacts": {"alice": {"slack": {"url_file": "no-such-url"}}},
                       "policy": {"low": {"path": ["nobody"], "methods": ["slack"]}}}}))
    rc, out, err = run(["check-config", t.path("all/cfg.json")])
    t.eq(rc, 1, "exit 1")
    t.check(lines_with(err, "cfg.json: web.max_body_bytes", "integer"),
            "the config's problem is named", err)
    t.check(lines_with(err, "bad-plan.json: allow"),
            "the plan's problem (in the configured remediation.dir) is named", err)
    t.check(lines_with(err, "cfg.json: escalation.contacts.alice.slack.url_file"),
            "the escalation policy's problem is named", err)
    t.check(lines_with(err, "cfg.json: escalation.policy.low.path[0]", "nobody"),
            "and every one of them", err)

    t.section("dotted and duplicate keys, sections of the wrong type")
    with open(t.path("all/keys.json"), "w") as f:
        f.write('{"storage.path": "/x", "log": {"level": "debug", "level": "bogus"}, "web": 5}')
    rc, out, err = run(["check-config", t.path("all/keys.json")])
    t.check(rc == 1 and lines_with(err, 'keys.json: "storage.path"', "unknown field",
                                   '{"storage": {"path": ...}}'),
            "a dotted key is an unknown field, with the nested form suggested", err)
    t.check(lines_with(err, "keys.json: log.level", "duplicate key"),
            "a duplicate key is named", err)
    t.check(lines_with(err, "keys.json: web", "must be an object"),
            '"web": 5 must be an object', err)

    t.section("a problem names the flag or the file that set the value")
    t.write("all/src.json", json.dumps({"web": {"max_body_bytes_in_flight": 2048}}))
    rc, out, err = run(["check-config", t.path("all/src.json"), "--kube.timeout=0",
                        "--web.max-body-bytes=4096"])
    t.check(lines_with(err, "--kube.timeout:", "out of range")
            and not lines_with(err, "src.json: kube"),
            "a flag's problem is named by the flag, not the file", err)
    t.check(lines_with(err, "src.json: web.max_body_bytes_in_flight"),
            "the file's problem is named by file and path", err)
    rc, out, err = run(["check-config", "--web.tls-cert-file=/etc/hostname"])
    t.check(lines_with(err, "--web.tls-key-file:", "both"),
            "with no file, a missing value is named by its flag", err)

    t.section("remediation.dir")
    empty = t.path("all/empty-cwd")
    os.makedirs(empty, exist_ok=True)
    rc, out, err = run(["check-config", "--remediation.dir=" + t.path("all/nope")])
    t.check(rc == 1 and lines_with(err, "--remediation.dir", "No such file"),
            "an explicit remediation.dir that does not exist is an error", err)
    rc, out, err = run(["check-config"], cwd=empty)
    t.check(rc == 0 and "warning" in err and "./remediation" in err,
            "the default ./remediation missing is a warning (exit 0)", out + err)


def files(t):
    t.section("TLS: certificate and key must be PEM and a pair")
    ossl = rbtest.which("openssl")
    if not ossl:
        t.note("openssl not installed: skipping the TLS pair checks")
    else:
        os.makedirs(t.path("f"), exist_ok=True)
        for n in ("a", "b"):
            p = subprocess.run([ossl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days",
                                "2", "-subj", "/CN=" + n, "-keyout", t.path("f/%s.key" % n),
                                "-out", t.path("f/%s.crt" % n)], capture_output=True, timeout=60)
            t.check(p.returncode == 0, "openssl made pair %s" % n, p.stderr)
        ok = ["--web.tls-cert-file=" + t.path("f/a.crt"), "--web.tls-key-file=" + t.path("f/a.key")]
        rc, out, err = run(["check-config"] + ok)
        t.eq(rc, 0, "a matching pair passes")
        rc, out, err = run(["check-config", "--web.tls-cert-file=" + t.path("f/a.crt"),
                            "--web.tls-key-file=" + t.path("f/b.key")])
        t.check(rc == 1 and lines_with(err, "--web.tls-key-file", "does not match"),
                "a key that is not the certificate's is refused", err)
        t.write("f/tls.json", json.dumps({"web": {"tls_cert_file": "a.key",
                                                  "tls_key_file": "a.crt"}}))
        rc, out, err = run(["check-config", t.path("f/tls.json")], cwd="/")
        t.check(rc == 1 and lines_with(err, "tls.json: web.tls_cert_file", "not a PEM certificate")
                and lines_with(err, "tls.json: web.tls_key_file", "not a PEM private key"),
                "cert and key swapped: both named, with the file", err)
    rc, out, err = run(["check-config", "--web.tls-cert-file=/etc/hostname",
                        "--web.tls-key-file=" + t.path()])
    t.check(rc == 1 and lines_with(err, "--web.tls-cert-file", "not a PEM certificate")
            and lines_with(err, "--web.tls-key-file", "is a directory"),
            "a non-PEM certificate and a directory as key are refused", err)

    t.section("Kubernetes and notifier files")
    rc, out, err = run(["check-config", "--kube.token-file=" + t.path("f/no-token"),
                        "--kube.ca-file=/etc/hostname"])
    t.check(rc == 1 and lines_with(err, "--kube.token-file", "no-token", "No such file")
            and lines_with(err, "--kube.ca-file", "no PEM certificate"),
            "a missing kube token file and a CA file that is not PEM are refused", err)
    t.write("f/n.json", json.dumps({"escalation": {"notifiers": {
        "ca_file": "missing-ca.pem",
        "smtp": {"url": "smtp://127.0.0.1:25", "from": "a@b", "ca_file": "missing-smtp.pem"}}}}))
    rc, out, err = run(["check-config", t.path("f/n.json")], cwd="/")
    t.check(rc == 1 and lines_with(err, "n.json: escalation.notifiers.ca_file",
                                   t.path("f/missing-ca.pem"))
            and lines_with(err, "n.json: escalation.notifiers.smtp.ca_file",
                           t.path("f/missing-smtp.pem")),
            "notifier CA files are checked, relative to the config file's folder", err)


def json_log(t):
    t.section("startup errors follow --log.format=json; a 100 KB value is cut")
    long_path = "/" + "x" * (100 * 1024)
    rc, out, err = run(["--log.format=json", "--config.file=" + long_path])
    t.eq(rc, 1, "the daemon refuses to start (exit 1)")
    lines = err.splitlines()
    parsed = []
    for ln in lines:
        try:
            parsed.append(json.loads(ln))
        except ValueError:
            t.check(False, "every stderr line is a JSON object", ln[:200] + "..." + ln[-200:])
    t.check(parsed and len(parsed) == len(lines), "every stderr line is a JSON object")
    where = [p.get("where", "") for p in parsed if p.get("where")]
    t.check(where and where[0].endswith("\u2026(truncated)") and len(where[0]) < 9000,
            "the 100 KB value is cut and marked", [w[-40:] for w in where])
    t.check(all(len(ln) < 10000 for ln in lines), "no line is longer than the cut allows")


def reload_fields(t):
    t.section("a reload names every field that needs a restart")
    d = t.daemon(name="rl", start=False)
    d.write_config({"kube": {"timeout_seconds": 10}})
    d.start()
    d.write_config({"kube": {"timeout_seconds": 20, "retries": 5},
                    "remediation": {"workers": 3},
                    "web": {"max_header_bytes": 4096, "max_body_bytes_in_flight": 536870912},
                    "storage": {"max_bytes": 100000000}})
    r = d.post("/-/reload")
    t.eq(r.status, 200, "POST /-/reload -> 200")
    warn = [ln for ln in d.log_text().splitlines() if "only after a restart" in ln]
    t.check(warn, "the reload warns about fields needing a restart", d.log_text()[-600:])
    text = warn[-1] if warn else ""
    for f in ("web.max_header_bytes", "storage.max_bytes", "remediation.workers",
              "kube.timeout_seconds", "kube.retries"):
        t.check(f in text, "the warning names %s" % f, text)
    t.check("max_body_bytes_in_flight" not in text and "web.max_connections" not in text,
            "and nothing that did not change or applies on reload", text)
    d.stop()


def main(t):
    usage(t)
    every_problem(t)
    files(t)
    json_log(t)
    reload_fields(t)


if __name__ == "__main__":
    rbtest.Test("cli").run(main)
