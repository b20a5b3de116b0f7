#!/usr/bin/env python3
"""Durability: kill -9 during sustained concurrent intake loses nothing that
was answered 200; a full store answers 503 with Retry-After (so Alertmanager
retries) and the daemon keeps serving reads."""

import http.client
import json
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rbtest  # noqa: E402

THREADS = 8
RUN_S = 3.0


def all_incidents(d):
    out, off = [], 0
    for _ in range(1000):
        page = d.incidents("state=all&limit=500&offset=%d" % off)
        out += page
        if len(page) < 500:
            break
        off += 500
    return out


def sender(port, tid, stop, acked, errors, sent):
    """Sends distinct single-alert webhooks on a keep-alive connection until
    stop is set or the daemon goes away."""
    conn = None
    deadline = time.monotonic() + RUN_S
    n = 0
    while not stop.is_set() and time.monotonic() < deadline:
        name = "Dur-%d-%d" % (tid, n)
        n += 1
        a = rbtest.alert(name, labels={"thread": str(tid), "seq": str(n)})
        body = json.dumps(rbtest.payload([a])).encode()
        try:
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            sent.append(a["fingerprint"])
            conn.request("POST", "/webhook", body=body,
                         headers={"Content-Type": "application/json"})
            r = conn.getresponse()
            data = r.read()
            if r.status == 200 and json.loads(data).get("new") == 1:
                acked.append((a["fingerprint"], name))
            else:
                errors.append((name, r.status, data[:200]))
        except (OSError, http.client.HTTPException) as e:
            errors.append((name, "conn", repr(e)[:100]))
            break  # the daemon is gone
    if conn is not None:
        conn.close()


def main(t):
    t.section("kill -9 during concurrent intake")
    d = t.daemon(name="dur")
    stop = threading.Event()
    acked, errors, sent = [], [], []
    threads = [threading.Thread(target=sender, args=(d.port, i, stop, acked, errors, sent))
               for i in range(THREADS)]
    t0 = time.monotonic()
    for th in threads:
        th.start()
    # Sustained intake: kill once it has run 1.5 s and 200 were answered.
    got = rbtest.wait_for(lambda: time.monotonic() - t0 >= 1.5 and len(acked) >= 200,
                          timeout=RUN_S - 0.5)
    t.check(got, "at least 200 deliveries answered 200 in 1.5 s before the kill (%d)"
            % len(acked))
    t.check(all(th.is_alive() for th in threads), "all %d senders still running at the kill"
            % THREADS)
    n_before_kill = len(acked)
    d.kill9()
    t.note("killed after %.2f s with %d acked" % (time.monotonic() - t0, n_before_kill))
    for th in threads:
        th.join(RUN_S + 15)
    t.check(not any(th.is_alive() for th in threads), "all sender threads finished")
    stop.set()
    acked_fps = {fp for fp, _ in acked}
    t.note("%d requests sent, %d answered 200, %d failed (connection lost at the kill)"
           % (len(sent), len(acked), len(errors)))
    bad = [e for e in errors if e[1] != "conn"]
    t.check(not bad, "no delivery got a non-200 HTTP answer before the kill", bad[:3])
    t.check(len(acked_fps) == len(acked), "each acked delivery has a distinct fingerprint")

    d.restart()
    incs = all_incidents(d)
    have = {i["fingerprint"] for i in incs}
    missing = acked_fps - have
    t.check(not missing, "after restart every delivery answered 200 has its incident "
            "(%d acked, %d stored, %d missing)" % (len(acked_fps), len(have), len(missing)),
            sorted(missing)[:5])
    extra = have - set(sent)
    t.check(not extra, "no incident that was never sent", sorted(extra)[:5])
    t.check(len(have) <= len(sent), "stored <= sent (%d <= %d)" % (len(have), len(sent)))
    t.check(len(have) - len(acked_fps) <= THREADS,
            "at most one unanswered-but-stored delivery per thread (%d)"
            % (len(have) - len(acked_fps)))
    sample = [i for i in incs if i["fingerprint"] in acked_fps][:3]
    for i in sample:
        full = d.incident(i["id"])
        t.eq([e["kind"] for e in full["timeline"]], ["received"],
             "incident %s survived with its timeline" % i["id"])
    r = d.post_webhook(rbtest.payload([rbtest.alert("AfterRestart")]))
    t.eq((r.status, r.json.get("new")), (200, 1), "intake works after the restart")
    # The same deliveries again are repeats: the store kept their identity.
    if sample:
        r = d.post_webhook(rbtest.payload([rbtest.alert(sample[0]["alertname"],
                                                        labels=sample[0]["labels"],
                                                        starts_at=sample[0]["startsAt"])]))
        t.eq((r.status, r.json.get("repeat")), (200, 1),
             "re-delivery of a pre-kill alert is a repeat after restart")
    d.stop()
    d.restart()
    t.eq(len(all_incidents(d)), len(have) + 1, "clean stop/start keeps every incident")
    d.stop()

    t.section("HA peers: the same notification delivered concurrently")
    h = t.daemon(name="ha")
    same = json.dumps(rbtest.payload([rbtest.alert("HAPeers", labels={"pod": "p-1"})])).encode()
    results, barrier = [], threading.Barrier(THREADS)

    def peer():
        try:
            barrier.wait(10)
            results.append(h.post_webhook(same, timeout=20))
        except Exception as e:  # recorded as a failure below
            results.append(e)
    ths = [threading.Thread(target=peer) for _ in range(THREADS)]
    for th in ths:
        th.start()
    for th in ths:
        th.join(30)
    codes = [getattr(r, "status", r) for r in results]
    t.eq(codes, [200] * THREADS, "%d concurrent identical deliveries all 200" % THREADS)
    t.eq(sum(r.json.get("new", 0) for r in results if hasattr(r, "json")), 1,
         "exactly one of them opened the incident")
    t.eq(sum(r.json.get("repeat", 0) for r in results if hasattr(r, "json")), THREADS - 1,
         "the others were repeats")
    incs = h.incidents()
    t.eq(len(incs), 1, "one incident")
    if incs:
        full = h.incident(incs[0]["id"])
        t.eq(full["deliveries"], THREADS, "deliveries == %d" % THREADS)
        t.eq([e["kind"] for e in full["timeline"]], ["received"], "one timeline event")

    t.section("one 5,000-alert webhook")
    many = [rbtest.alert("Bulk", labels={"instance": "i-%05d" % i}) for i in range(5000)]
    t0 = time.monotonic()
    r = h.post_webhook(rbtest.payload(many), timeout=60)
    el = time.monotonic() - t0
    t.eq((r.status, r.json.get("alerts"), r.json.get("new")), (200, 5000, 5000),
         "5,000 alerts in one webhook -> 200 new=5000 (%.2f s)" % el)
    h.kill9()
    h.restart()
    stored = {i["fingerprint"] for i in all_incidents(h) if i["alertname"] == "Bulk"}
    t.eq(len(stored), 5000, "all 5,000 incidents survive kill -9 after the 200")
    t.eq(stored, {a["fingerprint"] for a in many}, "with the fingerprints sent")
    h.stop()

    t.section("store full -> 503")
    f = t.daemon(name="full", args=["--storage.max-bytes=200000"])
    status, ok, resp = None, 0, None
    for i in range(200):
        a = rbtest.alert("Full%d" % i, annotations={"description": "x" * 20000})
        resp = f.post_webhook(rbtest.payload([a]))
        status = resp.status
        if status == 200:
            ok += 1
            continue
        break
    t.eq(status, 503, "a large-annotation delivery eventually gets 503 (after %d x 200)" % ok)
    t.check(ok >= 1, "some deliveries were stored before the store filled (%d)" % ok)
    if resp is not None:
        t.check(resp.header("Retry-After"), "503 carries Retry-After", resp.headers)
        t.check("store" in resp.error, "503 error names the store", resp.error)
    r = f.get("/-/ready")
    t.note("/-/ready with a full store: %s %r" % (r.status, r.body[:80]))
    t.check(r.status in (200, 503), "/-/ready answers (200 or 503) with a full store")
    t.check(f.alive(), "/-/healthy 200 with a full store")
    r = f.get("/api/v1/incidents?state=all&limit=500")
    t.eq(r.status, 200, "GET /api/v1/incidents still served")
    t.eq(len(r.json.get("incidents", [])), ok, "the %d stored incidents are all readable" % ok)
    if r.json.get("incidents"):
        t.eq(f.get("/api/v1/incidents/%s" % r.json["incidents"][0]["id"]).status, 200,
             "GET one incident still served")
    t.eq(f.get("/metrics").status, 200, "/metrics still served")
    t.check((f.metric("runbookd_webhook_requests_total", {"outcome": "unavailable"}) or 0) >= 1,
            "runbookd_webhook_requests_total{outcome=unavailable} >= 1")
    r = f.post_webhook(rbtest.payload([rbtest.alert("Full%d" % (ok + 1),
                                                    annotations={"d": "x" * 60000})]))
    t.eq(r.status, 503, "the next large delivery is refused with 503 too")
    f.stop()
    f.restart()
    t.eq(len(f.incidents("state=all&limit=500")), ok,
         "after a restart the full store still holds the %d incidents" % ok)
    f.stop()


if __name__ == "__main__":
    rbtest.Test("durability").run(main)
