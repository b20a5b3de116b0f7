#!/usr/bin/env python3
"""API tokens with roles: read can read, respond can act, admin can reload;
a missing or unknown token is 401, too small a role 403 naming both roles;
the acting token is recorded as the actor; the webhook keeps its own
credentials, which no longer open the API once tokens are configured."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rbtest  # noqa: E402


def main(t):
    d = t.daemon(start=False)
    d.file("hook-token", "webhook-secret\n")
    for n in ("reader", "oncall", "boss"):
        d.file(n, "%s-token\n" % n)
    d.write_config({
        "web": {"auth": {"bearer_token_file": "hook-token"}},
        "api": {"tokens": [
            {"name": "reader", "role": "read", "token_file": "reader"},
            {"name": "oncall", "role": "respond", "token_file": "oncall"},
            {"name": "boss", "role": "admin", "token_file": "boss"}]}})
    d.start()
    hook = rbtest.bearer("webhook-secret")

    def as_(name):
        return rbtest.bearer("%s-token" % name)

    r = d.post_webhook(rbtest.payload([rbtest.alert("AuthTest", labels={"severity": "high"})]),
                       headers=hook, auth=False)
    t.eq(r.status, 200, "the webhook takes its own bearer token")
    r = d.get("/api/v1/incidents", headers=hook, auth=False)
    t.eq(r.status, 401, "the webhook's token does not open the API once API tokens exist")
    r = d.get("/api/v1/incidents", auth=False)
    t.check(r.status == 401 and r.header("WWW-Authenticate"), "no token: 401 with WWW-Authenticate",
            r)
    r = d.get("/api/v1/incidents", headers=rbtest.bearer("nope"), auth=False)
    t.check(r.status == 401 and "unknown API token" in (r.error or ""), "unknown token: 401", r)
    r = d.get("/api/v1/incidents", headers=as_("reader"), auth=False)
    t.eq(r.status, 200, "read: list incidents")
    iid = r.json["incidents"][0]["id"]
    r = d.post("/api/v1/incidents/%s/ack" % iid, body=b"{}", headers=as_("reader"), auth=False)
    t.check(r.status == 403 and "role read" in (r.error or "") and "needs role respond"
            in (r.error or ""), "read cannot ack: 403 naming both roles", r)
    r = d.post("/api/v1/incidents/%s/ack" % iid, body=b"{}", headers=as_("oncall"), auth=False)
    t.eq(r.status, 200, "respond: ack without 'by' (the token names who acts)")
    inc = d.get("/api/v1/incidents/%s" % iid, headers=as_("oncall"), auth=False).json
    acks = [e for e in inc["timeline"] if e["kind"] == "acknowledged"]
    t.check(acks and acks[0]["actor"] == "oncall" and inc["ackedBy"] == "oncall",
            "the token's name is the actor on the timeline", inc["timeline"])
    r = d.post("/-/reload", headers=as_("oncall"), auth=False)
    t.check(r.status == 403 and "needs role admin" in (r.error or ""),
            "respond cannot reload: 403", r)
    r = d.post("/-/reload", headers=as_("boss"), auth=False)
    t.eq(r.status, 200, "admin: reload")
    r = d.get("/metrics", auth=False)
    t.eq(r.status, 200, "/metrics needs no token")
    t.check("oncall-token" not in d.log_text() and "boss-token" not in d.log_text(),
            "no token reaches the log")

    t.section("a bad api section is refused by check-config")
    bad = t.write("bad.json", '{"api": {"tokens": [{"name": "x", "role": "god", '
                              '"token_file": "missing"}, {"role": "read"}], "extra": 1}}')
    import subprocess
    p = subprocess.run([rbtest.BIN, "check-config", "--config.file=" + bad],
                       capture_output=True, text=True, timeout=30)
    t.eq(p.returncode, 1, "check-config exits 1")
    for want in ("api.tokens[0]", "role must be read, respond or admin", "api.tokens[1]",
                 "needs a name", "api.extra"):
        t.check(want in p.stderr, "check-config names %r" % want, p.stderr)


if __name__ == "__main__":
    rbtest.Test("api_auth").run(main)
