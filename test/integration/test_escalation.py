#!/usr/bin/env python3
"""Escalation end to end: the daemon pages loopback receivers (receivers.py:
Slack, PagerDuty Events v2, the signed webhook, an SMTP sink with STARTTLS)
along a policy whose critical path answers within 2 s, so each step is
observed with a bounded poll (docs/escalation.md):

  - an alert fires -> the first page reaches Slack (payload shape) and the
    timeline says `paged`; no ack -> the next level (PagerDuty) is paged and
    the timeline says `escalated`;
  - ack through POST /api/v1/incidents/{id}/ack -> no further level within
    a bounded window, PagerDuty gets `acknowledge` with the same dedup_key;
  - Alertmanager's resolved webhook -> a resolution notice to everyone paged;
  - method fallback: Slack down -> `page failed`, then email through the
    SMTP sink `paged`; a Slack answering 429 with Retry-After, then 200;
  - a remediation step that fails (the stand-in, a plan running /bin/false)
    -> `escalated` with the reason and an immediate page;
  - a restart in the middle of an escalation: no page repeated, the next
    level (the signed webhook, signature checked here) still comes;
  - a receiver that hangs (twelve pages to it) does not delay another
    contact's page;
  - the daemon's wall clock stepped (libfaketime, when installed): +1 h
    escalates nothing early, -1 h delays nothing;
  - ack, and resolve, while a page is being retried (the phone provider
    answers 503 with Retry-After: 4): the page stops (`page cancelled`
    with why), the next method (Slack) never gets the trigger, and the
    acknowledged / resolved notice still goes out;
  - no secret in the daemon's log.
Exit 77 (skip) without openssl.
"""
import os
import re
import shutil
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rbtest  # noqa: E402
import receivers  # noqa: E402

NS = rbtest.KUBE_NS
EXTERNAL = "https://runbookd.example.net"
HMAC = "esc-hmac-key-7Hq2"
ROUTING = "ESCROUTINGKEY0123456789abcdef99"
SLACK_TOKENS = {"alice": "SLACKTOKENALICE9", "dora": "SLACKTOKENDORA4", "erin": "SLACKTOKENERIN2",
                "frank": "SLACKTOKENFRANK7"}
SMTP_USER, SMTP_PASS = "runbookd", "esc-smtp-pass-Zx1"
RESPOND = 2  # seconds, critical


def policy(rx, smtp_port, down_port, cert):
    return {
        "external_url": EXTERNAL,
        "first_page_delay_seconds": 0,
        "progress_interval_seconds": 3600,
        "multi_component": {"deployments": 0},
        "policy": {
            "critical": {"respond_within_seconds": RESPOND, "path": ["alice", "bob", "carol"],
                         "methods": ["slack", "pagerduty", "webhook"], "repeat_last": 0},
            "high": {"respond_within_seconds": 600, "path": ["dora"],
                     "methods": ["slack", "email"]},
            "medium": {"respond_within_seconds": 600, "path": ["erin"], "methods": ["slack"]},
            "low": {"respond_within_seconds": 600, "path": ["alice"], "methods": ["slack"]},
            "emergency": {"respond_within_seconds": 600, "path": ["frank"],
                          "methods": ["phone", "slack"]},
        },
        "contacts": {
            "alice": {"name": "Alice", "slack": {"url_file": "secrets/slack-alice"}},
            "bob": {"name": "Bob", "pagerduty": {"routing_key_file": "secrets/pd-bob",
                                                 "url": rx.url + "/pagerduty/v2/enqueue"}},
            "carol": {"name": "Carol", "webhook": {"url": rx.url + "/hook/carol",
                                                   "secret_file": "secrets/hmac"}},
            "dora": {"name": "Dora", "slack": {"url_file": "secrets/slack-dora"},
                     "email": {"to": "dora@example.org"}},
            "erin": {"name": "Erin", "slack": {"url_file": "secrets/slack-erin"}},
            "frank": {"name": "Frank", "phone": {"url": rx.url + "/phone/busy503/frank",
                                                 "to": "+15550100"},
                      "slack": {"url_file": "secrets/slack-frank"}},
        },
        "notifiers": {
            "timeout_seconds": 3, "retries": 1, "backoff_ms": 100,
            "smtp": {"url": "smtp://127.0.0.1:%d" % smtp_port, "from": "runbookd@example.net",
                     "username": SMTP_USER, "password_file": "secrets/smtp",
                     "ca_file": cert},
        },
    }


def write_secrets(d, rx, down_port):
    os.makedirs(os.path.join(d.dir, "secrets"), exist_ok=True)
    d.file("secrets/slack-alice", "%s/slack/alice/%s\n" % (rx.url, SLACK_TOKENS["alice"]))
    d.file("secrets/slack-dora", "http://127.0.0.1:%d/slack/dora/%s\n" %
           (down_port, SLACK_TOKENS["dora"]))
    d.file("secrets/slack-erin", "%s/slack/flaky429/%s\n" % (rx.url, SLACK_TOKENS["erin"]))
    d.file("secrets/slack-frank", "%s/slack/frank/%s\n" % (rx.url, SLACK_TOKENS["frank"]))
    d.file("secrets/pd-bob", ROUTING + "\n")
    d.file("secrets/hmac", HMAC + "\n")
    d.file("secrets/smtp", SMTP_PASS + "\n")


def slack_incident(hit):
    m = re.search(r"incident (\d+)", hit.json.get("text", ""))
    return m.group(1) if m else None


def slack_for(rx, who, iid):
    return [h for h in rx.hits("/slack/" + who) if slack_incident(h) == str(iid)]


def pd_for(rx, key):
    return [h for h in rx.hits("/pagerduty/") if h.json.get("dedup_key") == key]


def phone_for(rx, iid, event=None):
    return [h for h in rx.hits("/phone/") if h.json.get("incident") == str(iid)
            and (event is None or h.json.get("event") == event)]


def hook_for(rx, iid):
    return [h for h in rx.hits("/hook/carol")
            if (h.json.get("incident") or {}).get("id") == str(iid)]


def fire(t, d, name, severity, labels=None, starts_at=None):
    lb = {"namespace": NS, "deployment": "api-gateway"}
    lb.update(labels or {})
    a = rbtest.alert(name, labels=lb, severity=severity, starts_at=starts_at)
    r = d.post_webhook(rbtest.payload([a]))
    t.eq(r.status, 200, "%s: webhook 200" % name)
    inc = rbtest.wait_incident(d, a["fingerprint"])
    t.check(inc is not None, "%s: incident opened" % name)
    return (inc["id"] if inc else None), a, (inc or {}).get("fingerprint")


def resolve_by_alertmanager(t, d, a):
    r = rbtest.alert(a["labels"]["alertname"], status="resolved",
                     labels={k: v for k, v in a["labels"].items()
                             if k not in ("alertname", "severity")},
                     severity=a["labels"].get("severity"), starts_at=a["startsAt"],
                     ends_at=rbtest.now_ts())
    resp = d.post_webhook(rbtest.payload([r]))
    t.eq(resp.status, 200, "resolved webhook 200")


def check_slack_shape(t, hit, iid, what):
    msg = hit.json
    t.check(hit.headers.get("Content-Type", "").startswith("application/json"),
            "%s: Slack content type" % what)
    t.check(isinstance(msg.get("text"), str) and msg["text"].startswith("Triggered: ")
            and "incident %s" % iid in msg["text"], "%s: Slack fallback text" % what,
            msg.get("text"))
    kinds = [b.get("type") for b in msg.get("blocks", [])]
    t.eq(kinds, ["header", "section", "section", "context", "actions"],
         "%s: Slack blocks" % what)
    if kinds and kinds[-1] == "actions":
        urls = [e.get("url") for e in msg["blocks"][-1].get("elements", [])]
        t.eq(urls, ["%s/#/incidents/%s/ack" % (EXTERNAL, iid), "%s/#/incidents/%s" % (EXTERNAL, iid)],
             "%s: Slack ack and open buttons" % what)


def hanging_receiver(t, rx):
    """Twelve pages to Hal, whose Slack never answers (2 s timeout each),
    then one to Bob: Bob's page goes out at once instead of waiting for
    Hal's (with four workers in one queue, about 6 s)."""
    sev = {"respond_within_seconds": 600, "path": ["hal"], "methods": ["slack"]}
    cfg = {"escalation": {
        "progress_interval_seconds": 0, "multi_component": {"deployments": 0},
        "policy": dict({k: sev for k in ("emergency", "critical", "medium", "low")},
                       high=dict(sev, path=["bobby"])),
        "contacts": {"hal": {"name": "Hal", "slack": {"url_file": "secrets/slack-hal"}},
                     "bobby": {"name": "Bobby", "slack": {"url_file": "secrets/slack-bobby"}}},
        "notifiers": {"timeout_seconds": 2, "retries": 0, "backoff_ms": 100}}}
    h = t.daemon(name="hang", start=False, config=cfg)
    os.makedirs(os.path.join(h.dir, "secrets"), exist_ok=True)
    h.file("secrets/slack-hal", "%s/slack/hang/hal/T\n" % rx.url)
    h.file("secrets/slack-bobby", "%s/slack/bobby/T\n" % rx.url)
    h.start()
    alerts = [rbtest.alert("Hanging%d" % i, labels={"namespace": NS}, severity="critical")
              for i in range(12)]
    t.eq(h.post_webhook(rbtest.payload(alerts)).status, 200, "twelve pages for Hal")
    t.check(rbtest.wait_for(lambda: rx.hits("/slack/hang/hal/"), 10), "Hal's receiver is hanging")
    t0 = time.monotonic()
    iid, _, _ = fire(t, h, "BobbysTurn", "high")
    got = rbtest.wait_for(lambda: slack_for(rx, "bobby", iid), 15)
    took = time.monotonic() - t0
    t.check(got and took < 1.5, "Bobby paged %.1f s after his alert (Hal's pages take 2 s each)"
            % took)
    h.kill9()


FAKETIME = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"


def wall_clock_steps(t, rx, sanitized):
    """A daemon whose wall clock libfaketime steps (its monotonic clocks
    left alone): +1 h escalates nothing early, -1 h delays nothing."""
    if not os.path.exists(FAKETIME) or sanitized:
        t.note("skipped: %s" % ("libfaketime not installed" if not sanitized
                                else "AddressSanitizer and LD_PRELOAD do not mix"))
        return
    rc = t.path("faketime.rc")

    def step(offset):
        with open(rc, "w") as f:
            f.write(offset + "\n")

    step("+0")
    sev = {"respond_within_seconds": 3600, "path": ["clocka", "clockb"], "methods": ["slack"]}
    cfg = {"escalation": {
        "progress_interval_seconds": 0, "multi_component": {"deployments": 0},
        "policy": dict({k: sev for k in ("emergency", "critical", "medium", "low")},
                       high=dict(sev, respond_within_seconds=4)),
        "contacts": {"clocka": {"name": "A", "slack": {"url_file": "secrets/slack-clocka"}},
                     "clockb": {"name": "B", "slack": {"url_file": "secrets/slack-clockb"}}},
        "notifiers": {"timeout_seconds": 2, "retries": 0, "backoff_ms": 100}}}
    c = t.daemon(name="clock", start=False, config=cfg)
    os.makedirs(os.path.join(c.dir, "secrets"), exist_ok=True)
    for who in ("clocka", "clockb"):
        c.file("secrets/slack-" + who, "%s/slack/%s/T\n" % (rx.url, who))
    env = {"LD_PRELOAD": FAKETIME, "FAKETIME_TIMESTAMP_FILE": rc, "FAKETIME_NO_CACHE": "1",
           "FAKETIME_DONT_FAKE_MONOTONIC": "1"}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        c.start()
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v

    # critical: 1 h to acknowledge.  The wall clock jumps 61 minutes.
    fwd, _, _ = fire(t, c, "ClockForward", "critical")
    t.check(rbtest.wait_for(lambda: slack_for(rx, "clocka", fwd), 10), "+1 h: first page")
    step("+3660")
    t0 = time.monotonic()
    while time.monotonic() - t0 < 4:
        time.sleep(0.2)
    t.eq(len(slack_for(rx, "clockb", fwd)), 0, "+1 h: the next level is not paged early")
    t.check("wall clock stepped" in c.log_text(), "+1 h: the step is logged")

    # high: 4 s to acknowledge.  The wall clock jumps back (to -1 h).
    back, _, _ = fire(t, c, "ClockBack", "high")
    first = rbtest.wait_for(lambda: slack_for(rx, "clocka", back), 10)
    t.check(first, "-1 h: first page")
    step("-3600")
    nxt = rbtest.wait_for(lambda: slack_for(rx, "clockb", back), 12)
    t.check(nxt, "-1 h: the next level is still paged after 4 s")
    if first and nxt:
        t.check(3.5 <= nxt[0].t - first[0].t < 7, "-1 h: paged %.1f s after the first page" %
                (nxt[0].t - first[0].t))
    c.stop()


def main(t):
    if not shutil.which("openssl"):
        rbtest.log("SKIP: openssl not installed")
        sys.exit(rbtest.SKIP)
    cert, _key, ctx = receivers.self_signed(t.tmp)
    rx = receivers.Receiver(secret=HMAC)
    smtp = receivers.SMTPSink("tls", ctx, user=SMTP_USER, password=SMTP_PASS)
    down_port = rbtest.free_port()

    k = rbtest.StandIn(t)
    plans = rbtest.write_plans(t, "plans", [{
        "name": "exec-false", "match": ['alertname="RemediationFails"'],
        "target": {"deployment": "cognitive-core"},
        "allow": {"namespaces": [NS], "deployments": ["cognitive-core"]},
        "steps": [{"kind": "exec", "argv": ["/bin/false"]}],
        "limits": {"max_attempts_per_incident": 10, "cooldown_seconds": 0,
                   "max_per_hour": 1000, "max_per_day": 1000, "breaker_failures": 100}}])
    d = t.daemon(name="esc", start=False, config={"escalation": policy(rx, smtp.port, down_port,
                                                                         cert)},
                 args=rbtest.remediation_args(k, plans))
    write_secrets(d, rx, down_port)
    d.start()

    # ------------------------------------------------------------------
    t.section("first page, escalation, ack, resolution")
    iid, a, fp = fire(t, d, "HighResponseTime", "critical")
    key = "runbookd-%s-%s" % (fp, iid)
    first = rbtest.wait_for(lambda: slack_for(rx, "alice", iid), 10)
    t.check(first, "first page reached Slack", rx.hits())
    if first:
        check_slack_shape(t, first[0], iid, "first page")
        t.check(first[0].path.endswith(SLACK_TOKENS["alice"]), "Slack: the URL from url_file")
    ev = rbtest.wait_event(d, iid, "paged", 10)
    t.check(ev and ev[0]["detail"].get("method") == "slack"
            and ev[0]["detail"].get("contact") == "Alice", "timeline: paged (slack, Alice)", ev)

    pd = rbtest.wait_for(lambda: pd_for(rx, key), 10)
    t.check(pd, "no ack within %d s: the next level (PagerDuty) is paged" % RESPOND,
            [h.json for h in rx.hits("/pagerduty/")])
    if pd:
        e = pd[0].json
        t.eq(e.get("event_action"), "trigger", "PagerDuty: trigger")
        t.eq(e.get("routing_key"), ROUTING, "PagerDuty: routing key from its file")
        t.eq((e.get("payload") or {}).get("severity"), "critical", "PagerDuty: severity")
        t.check(pd[0].t - first[0].t >= RESPOND - 0.3 if first else False,
                "PagerDuty paged after the level's window (%.2f s)" %
                ((pd[0].t - first[0].t) if first else -1))
    esc = rbtest.wait_event(d, iid, "escalated", 10)
    t.check(esc and esc[0]["detail"].get("level") == 1 and esc[0]["detail"].get("contact") == "Bob",
            "timeline: escalated to level 1 (Bob)", esc)

    r = d.post("/api/v1/incidents/%s/ack" % iid, {"by": "alice"})
    t.eq(r.status, 200, "ack: 200")
    t_ack = time.monotonic()
    carol_at_ack = len(hook_for(rx, iid))
    ack = rbtest.wait_for(lambda: [h for h in pd_for(rx, key)
                                   if h.json.get("event_action") == "acknowledge"], 10)
    t.check(ack, "PagerDuty: acknowledge with the same dedup_key", [h.json for h in pd_for(rx, key)])
    if ack:
        t.eq(set(ack[0].json), {"routing_key", "dedup_key", "event_action"},
             "PagerDuty acknowledge: the three keys")
    t.check(rbtest.wait_for(lambda: [h for h in slack_for(rx, "alice", iid)
                                     if h.json.get("text", "").startswith("Acknowledged")], 10),
            "Slack: acknowledged notice to Alice",
            [h.json.get("text") for h in slack_for(rx, "alice", iid)])
    # Bounded window: 2 more response windows after the ack.
    while time.monotonic() - t_ack < 2 * RESPOND + 1:
        time.sleep(0.2)
    t.eq(len(hook_for(rx, iid)), carol_at_ack, "acked: the next level (Carol) is not paged")
    t.eq(len([h for h in pd_for(rx, key) if h.json.get("event_action") == "trigger"]), 1,
         "acked: no further PagerDuty trigger")

    resolve_by_alertmanager(t, d, a)
    res = rbtest.wait_for(lambda: [h for h in pd_for(rx, key)
                                   if h.json.get("event_action") == "resolve"], 10)
    t.check(res, "resolution notice: PagerDuty resolve, same dedup_key")
    t.check(rbtest.wait_for(lambda: [h for h in slack_for(rx, "alice", iid)
                                     if h.json.get("text", "").startswith("Resolved")], 10),
            "resolution notice: Slack to Alice", [h.json.get("text") for h in
                                                  slack_for(rx, "alice", iid)])

    # ------------------------------------------------------------------
    t.section("method fallback: Slack down -> email")
    iid2, _, _ = fire(t, d, "DiskPressure", "high")
    failed = rbtest.wait_event(d, iid2, "page failed", 15)
    t.check(failed and failed[0]["detail"].get("method") == "slack",
            "Slack down: page failed (slack)", failed)
    if failed:
        t.eq(failed[0]["detail"].get("attempts"), 2, "page failed after 1 + retries attempts")
    paged = rbtest.wait_event(d, iid2, "paged", 15)
    t.check(paged and paged[0]["detail"].get("method") == "email", "then email: paged", paged)
    mail = rbtest.wait_for(lambda: [m for m in smtp.mails if "<dora@example.org>" in m[1]], 10)
    t.check(mail, "the SMTP sink got the page for dora@")
    if mail:
        t.check(mail[0][3] and mail[0][4], "email: over STARTTLS after AUTH")
        t.check(b"incident" in mail[0][2].lower(), "email: a message about the incident")

    t.section("Slack answers 429 with Retry-After, then 200")
    iid3, _, _ = fire(t, d, "QueueBacklog", "medium")
    paged = rbtest.wait_event(d, iid3, "paged", 15)
    t.check(paged and paged[0]["detail"].get("attempts") == 2
            and paged[0]["detail"].get("status") == 200, "429 then 200: paged on attempt 2", paged)
    hits = rx.hits("/slack/flaky429")
    t.check(len(hits) == 2 and hits[1].t - hits[0].t >= 0.95,
            "Retry-After honoured (%s)" % ["%.2f" % (h.t - hits[0].t) for h in hits])
    t.check(not rbtest.events(d, iid3, "page failed"), "no page failed for a retried 429")

    # ------------------------------------------------------------------
    t.section("remediation failure pages at once")
    iid4, _, _ = fire(t, d, "RemediationFails", "low",
                      labels={"deployment": "cognitive-core"})
    fin = rbtest.wait_finished(d, iid4, 30)
    t.check(fin and fin.get("outcome") == "failed", "remediation failed", fin)
    esc = rbtest.wait_event(d, iid4, "escalated", 10)
    t.check(esc and esc[0]["detail"].get("reason"), "timeline: escalated with the reason",
            [(e["kind"], (e.get("detail") or {}).get("reason")) for e in rbtest.events(d, iid4)])
    if esc:
        t.note("reason: %s" % esc[0]["detail"].get("reason"))
    two = rbtest.wait_for(lambda: len(slack_for(rx, "alice", iid4)) >= 2, 10)
    t.check(two, "an immediate page (low's window is 600 s): first notice + urgent page",
            [h.json.get("text") for h in slack_for(rx, "alice", iid4)])
    t.eq(len(rbtest.events(d, iid4, "paged")), 2, "two paged events")

    # ------------------------------------------------------------------
    t.section("restart in the middle of an escalation")
    iid5, a5, fp5 = fire(t, d, "PodCrashLooping", "critical")
    key5 = "runbookd-%s-%s" % (fp5, iid5)
    t.check(rbtest.wait_for(lambda: slack_for(rx, "alice", iid5), 10), "first page before restart")
    d.stop()
    d.start()
    pd5 = rbtest.wait_for(lambda: pd_for(rx, key5), 15)
    t.check(pd5, "after the restart, level 2 (PagerDuty) is paged")
    hk = rbtest.wait_for(lambda: hook_for(rx, iid5), 15)
    t.check(hk, "then level 3 (the signed webhook)")
    if hk:
        h = hk[0]
        t.check(receivers.verify_signature(HMAC, h.headers.get("X-Runbookd-Signature", ""), h.body),
                "webhook: HMAC-SHA256 signature verifies")
        t.eq(h.status, 204, "webhook: the receiver accepted it")
        t.eq(h.headers.get("X-Runbookd-Event"), "escalated", "webhook: event header")
        t.check(h.headers.get("X-Runbookd-Delivery"), "webhook: delivery id")
        t.check(not receivers.verify_signature(HMAC, h.headers.get("X-Runbookd-Signature", ""),
                                               h.body.replace(b"escalated", b"resolved")),
                "webhook: tampering detected")
    exh = rbtest.wait_event(d, iid5, "escalation exhausted", 15)
    t.check(exh, "escalation exhausted after the last level's window")
    time.sleep(0.5)  # let any (wrong) extra page arrive; nothing below waits for one
    t.eq(len(slack_for(rx, "alice", iid5)), 1, "restart: the first page was not repeated")
    t.eq(len([h for h in pd_for(rx, key5) if h.json.get("event_action") == "trigger"]), 1,
         "restart: level 2 paged once")
    t.eq(len(hook_for(rx, iid5)), 1, "restart: level 3 paged once")
    t.eq(len(rbtest.events(d, iid5, "paged")), 3, "three paged events")

    r = d.post("/api/v1/incidents/%s/resolve" % iid5, {"by": "bob"})
    t.eq(r.status, 200, "resolve through the API")
    t.check(rbtest.wait_for(lambda: [h for h in hook_for(rx, iid5)
                                     if h.headers.get("X-Runbookd-Event") == "resolved"], 10),
            "resolution notice to Carol too (everyone paged)")

    # ------------------------------------------------------------------
    t.section("ack and resolve stop a page being retried")
    # Frank's phone provider answers pages 503 with Retry-After: 4: each
    # page waits 4 s for its next attempt, then would fall back to Slack.
    cases = []
    for how in ("ack", "resolve"):
        iid6, a6, _ = fire(t, d, "ServiceDown%s" % how.capitalize(), "emergency")
        cases.append((how, iid6, a6))
    for how, iid6, a6 in cases:
        t.check(rbtest.wait_for(lambda: phone_for(rx, iid6, "trigger"), 10),
                "%s: the phone provider got the page (and answered 503)" % how)
        if how == "ack":
            r = d.post("/api/v1/incidents/%s/ack" % iid6, {"by": "frank"})
            t.eq(r.status, 200, "ack while the page waits to be retried")
        else:
            resolve_by_alertmanager(t, d, a6)
    t_act = time.monotonic()
    last_hit = max([h.t for how, iid6, _ in cases for h in phone_for(rx, iid6, "trigger")] or [0])
    for how, iid6, _ in cases:
        why = "acknowledged by frank" if how == "ack" else "resolved by alertmanager"
        cancelled = rbtest.wait_event(d, iid6, "page cancelled", 10)
        t.check(cancelled and cancelled[0]["detail"].get("why") == "the incident was " + why
                and cancelled[0]["detail"].get("method") == "phone",
                "%s: page cancelled, naming why" % how, cancelled)
        if cancelled:
            t.check(time.monotonic() - t_act < 3, "%s: stopped within seconds (%.1f s)" %
                    (how, time.monotonic() - t_act))
        notice = "acknowledged" if how == "ack" else "resolved"
        t.check(rbtest.wait_for(lambda: phone_for(rx, iid6, notice), 10),
                "%s: the %s notice still goes out" % (how, notice),
                [h.json.get("event") for h in phone_for(rx, iid6)])
    # Past the moment the retry (then Slack) would have come.
    while time.monotonic() < last_hit + 5:
        time.sleep(0.2)
    for how, iid6, _ in cases:
        t.eq(len(phone_for(rx, iid6, "trigger")), 1, "%s: the page was not retried" % how)
        t.eq([h.json.get("text", "")[:40] for h in slack_for(rx, "frank", iid6)], [],
             "%s: the next method (Slack) got nothing" % how)
        t.eq(len(rbtest.events(d, iid6, "page failed")), 0, "%s: no page failed" % how)

    # ------------------------------------------------------------------
    t.section("a hanging receiver delays only its own pages")
    hanging_receiver(t, rx)

    # ------------------------------------------------------------------
    t.section("steps of the wall clock (libfaketime)")
    wall_clock_steps(t, rx, d.sanitized())

    # ------------------------------------------------------------------
    t.section("secrets never in the log")
    d.stop()
    text = d.log_text()
    for s in list(SLACK_TOKENS.values()) + [HMAC, ROUTING, SMTP_PASS]:
        t.check(s not in text, "log: no %s..." % s[:6])
    rx.stop()
    smtp.stop = True
    k.stop()


if __name__ == "__main__":
    rbtest.Test("escalation").run(main)
