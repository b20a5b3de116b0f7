#!/usr/bin/env python3
"""benchlib.py - Python 3 stdlib helpers for bench/run.sh.

Subcommands (each bounded in time):
  freeport                         print a free loopback TCP port
  wait-ready URL SECONDS           poll URL until it answers 200
  proc PID                         print "rss_kb=N hwm_kb=N cpu_s=F"
  metrics URL ALIAS=SELECTOR...    print "ALIAS=value" for each selector
  big TARGET URL N PREFIX          build one request holding N distinct alerts
                                   (TARGET runbookd: a v4 webhook; alertmanager:
                                   a postable-alert array), send it, print
                                   "status=... seconds=... bytes=..."; with
                                   PREFIX reused, the same alerts again
  count-incidents DBFILE           print the number of rows in incidents
  report RESULTS OUT               render the results file as the table
"""
import http.client
import json
import os
import socket
import sqlite3
import sys
import time
import urllib.parse
import urllib.request
import zlib


def freeport():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    print(s.getsockname()[1])
    s.close()


def wait_ready(url, seconds):
    deadline = time.monotonic() + float(seconds)
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1) as r:
                if r.status == 200:
                    return 0
        except Exception:
            pass
        time.sleep(0.1)
    print("not ready after %ss: %s" % (seconds, url), file=sys.stderr)
    return 1


def proc(pid):
    rss = hwm = 0
    with open("/proc/%s/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
            elif line.startswith("VmHWM:"):
                hwm = int(line.split()[1])
    with open("/proc/%s/stat" % pid) as f:
        stat = f.read()
    fields = stat[stat.rindex(")") + 2:].split()
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = (int(fields[11]) + int(fields[12])) / ticks  # utime + stime
    print("rss_kb=%d hwm_kb=%d cpu_s=%.2f" % (rss, hwm, cpu))


def metrics(url, specs):
    """specs are ALIAS=SELECTOR; a SELECTOR with labels ({...}) matches that
    one sample, a bare name sums every sample of the family."""
    with urllib.request.urlopen(url, timeout=5) as r:
        text = r.read().decode()
    want = [s.split("=", 1) for s in specs]
    sums = {a: 0.0 for a, _ in want}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        series, _, value = line.rpartition(" ")
        name = series.split("{", 1)[0]
        for alias, sel in want:
            if ("{" in sel and series == sel) or ("{" not in sel and name == sel):
                sums[alias] += float(value)
    print(" ".join("%s=%r" % (a, v) for a, v in sums.items()))


LABELS = {"job": "bench", "namespace": "bench", "severity": "warning"}
ANNOTATIONS = {"summary": "runbookd benchmark alert", "runbook_url": "https://runbooks/8"}


def big_body(target, n, prefix):
    starts = os.environ.get("BENCH_STARTS") or time.strftime(
        "%Y-%m-%dT%H:%M:%S.000000000Z", time.gmtime())
    alerts = []
    for i in range(n):
        labels = dict(LABELS, alertname="BenchBatch", instance="%s-%d" % (prefix, i))
        a = {"labels": labels, "annotations": ANNOTATIONS, "startsAt": starts,
             "generatorURL": "http://bench/graph"}
        if target == "runbookd":
            a["status"] = "firing"
            a["endsAt"] = "0001-01-01T00:00:00Z"
            # 16 hex digits; prefix hashed in so each batch is its own set.
            a["fingerprint"] = "%06x%010x" % (zlib.crc32(prefix.encode()) & 0xFFFFFF, i)
        alerts.append(a)
    if target == "alertmanager":
        return json.dumps(alerts).encode()
    return json.dumps({
        "receiver": "bench", "status": "firing", "alerts": alerts,
        "groupLabels": {"alertname": "BenchBatch"},
        "commonLabels": {"alertname": "BenchBatch", **LABELS},
        "commonAnnotations": ANNOTATIONS, "externalURL": "http://bench:9093",
        "version": "4", "groupKey": '{}:{alertname="BenchBatch"}',
        "truncatedAlerts": 0}).encode()


def big(target, url, n, prefix):
    body = big_body(target, int(n), prefix)
    u = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=120)
    conn.connect()
    t0 = time.monotonic()
    conn.request("POST", u.path, body=body,
                 headers={"Content-Type": "application/json"})
    r = conn.getresponse()
    data = r.read()
    dt = time.monotonic() - t0
    conn.close()
    detail = data.decode(errors="replace").strip().replace(" ", "")[:200] or "-"
    print("status=%d seconds=%.4f bytes=%d reply=%s" % (r.status, dt, len(body), detail))
    return 0 if r.status == 200 else 1


def count_incidents(dbfile):
    db = sqlite3.connect("file:%s?mode=ro" % dbfile, uri=True, timeout=10)
    print(db.execute("SELECT count(*) FROM incidents").fetchone()[0])
    db.close()


# ---------------------------------------------------------------- report

def load(path):
    res = {}
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            key, _, rest = line.partition(" ")
            kv = {}
            for tok in rest.split(" "):
                if "=" in tok:
                    k, _, v = tok.partition("=")
                    kv[k] = v
            res.setdefault(key, {}).update(kv)
    return res


def ms(us):
    return "%.2f ms" % (float(us) / 1000.0)


def report(path, out):
    r = load(path)
    meta = r.get("meta", {})
    L = []
    w = L.append
    w("runbookd vs Alertmanager intake benchmark")
    w("date %s  host %s  cpus %s  load %s  stores on %s (%s)" % (
        meta.get("date", "?").replace("_", " "), meta.get("host", "?"),
        meta.get("cpus", "?"), meta.get("load", "?"), meta.get("fs", "?"),
        meta.get("tmpdir", "?")))
    w("runbookd %s (SQLite WAL, fdatasync of the WAL before every 200)  vs  "
      "Alertmanager %s (in-memory alert store)" % (
          meta.get("runbookd_version", "?"), meta.get("am_version", "?")))
    w("wrk: %s connections, %s threads, %s s per run, %s rounds (after %s s warm-up)" % (
        meta.get("conns", "?"), meta.get("wrk_threads", "?"),
        meta.get("duration", "?"), meta.get("rounds", "?"), meta.get("warmup", "?")))
    w("")
    w("1. Single-alert requests, %s connections" % meta.get("conns", "?"))
    hdr = "%-9s %-14s %9s %9s %9s %9s %8s %7s %6s %6s   %s" % (
        "alerts", "server", "req/s", "p50", "p99", "max", "non-2xx", "sockerr", "cpu%",
        "wrk%", "rounds")
    w(hdr)
    w("-" * len(hdr))
    ratios = {}
    chosen = {}
    ceiling = 0.0
    noflush = {}
    shown = {"noflush": "rb-noflush"}
    # The ceiling's other modes (CEILING_MODES), rows "ceiling-MODE".
    extra = sorted({k.split(".")[1] for k in r if k.startswith("wrk.ceiling-")})
    others = {}
    for mode in ("distinct", "same"):
        rps = {}
        for tgt in ["runbookd", "noflush", "alertmanager", "ceiling"] + extra:
            if tgt.startswith("ceiling") and mode != "distinct":
                continue
            rounds = []
            for k, d in r.items():
                if k.startswith("wrk.%s.%s." % (tgt, mode)):
                    secs = int(d["duration_us"]) / 1e6
                    rounds.append((int(d["requests"]) / secs if secs else 0.0, k, d))
            if not rounds:
                w("%-9s %-14s %9s" % (mode, shown.get(tgt, tgt), "(missing)"))
                continue
            rounds.sort(key=lambda x: x[0])
            rate, key, d = rounds[len(rounds) // 2]
            chosen[(tgt, mode)] = key
            secs = int(d["duration_us"]) / 1e6
            rps[tgt] = rate
            sockerr = sum(int(d.get(x, 0)) for x in
                          ("err_connect", "err_read", "err_write", "err_timeout"))
            cpu = float(d.get("cpu_s", 0)) / secs * 100 if secs else 0.0
            wcpu = float(d.get("wrk_cpu_s", 0)) / secs * 100 if secs else 0.0
            w("%-9s %-14s %9.0f %9s %9s %9s %8s %7d %5.0f%% %5.0f%%   %s" % (
                mode, shown.get(tgt, tgt), rate, ms(d["p50_us"]), ms(d["p99_us"]), ms(d["max_us"]),
                d.get("err_status", "?"), sockerr, cpu, wcpu,
                "/".join("%.0f" % x[0] for x in rounds)))
        if rps.get("alertmanager"):
            ratios[mode] = rps.get("runbookd", 0) / rps["alertmanager"]
        if rps.get("ceiling"):
            ceiling = rps["ceiling"]
        others.update({t: rps[t] for t in extra if rps.get(t)})
        if rps.get("noflush") and rps.get("alertmanager"):
            noflush[mode] = rps["noflush"] / rps["alertmanager"]
    for mode, x in ratios.items():
        w("ratio runbookd/Alertmanager, %-8s alerts: %.2fx" % (mode, x))
    for mode, x in noflush.items():
        # runbookd under bench/noflush.c: fsync and fdatasync are no-ops,
        # so nothing is durable.  What is left is runbookd's own work,
        # which any durable design on this code still has to do.
        w("ratio rb-noflush/Alertmanager, %-8s alerts: %.2fx   (runbookd with every flush "
          "a no-op, NOT durable: the bound of any durability scheme on this code)" % (mode, x))
    if ceiling:
        # The ceiling (bench/ceiling.c) reads each body and appends it to
        # an fdatasync'd log with the same HTTP library, threads and group
        # commit: no parsing, no database.  It bounds any durable intake.
        w("ceiling (same HTTP library, body appended to an fdatasync'd log, nothing else): "
          "%.0f req/s" % ceiling)
        for t, x in sorted(others.items()):
            # Other ways of waiting and flushing (bench/ceiling.c MODE).
            # The ratios below take the fastest mode of the run.
            w("%s: %.0f req/s (%.0f%% of the default mode)" % (t, x, 100 * x / ceiling))
        if others and max(others.values()) > ceiling:
            best = max(others, key=others.get)
            ceiling = others[best]
            w("the ratios below use %s, the fastest mode in this run" % best)
        for mode in ("distinct", "same"):
            key = chosen.get(("alertmanager", mode))
            if key:
                d = r[key]
                secs = int(d["duration_us"]) / 1e6
                amr = int(d["requests"]) / secs if secs else 0
                if amr:
                    w("ratio ceiling/Alertmanager, %-8s alerts: %.2fx   (2x needs %.0f req/s)"
                      % (mode, ceiling / amr, 2 * amr))
        for mode in ("distinct", "same"):
            key = chosen.get(("runbookd", mode))
            if key:
                d = r[key]
                secs = int(d["duration_us"]) / 1e6
                w("runbookd/ceiling, %-8s alerts: %.0f%%" % (
                    mode, 100 * (int(d["requests"]) / secs) / ceiling if secs else 0))
    for mode in ("distinct", "same"):
        key = chosen.get(("runbookd", mode))
        if not key:
            continue
        rnd = key.rsplit(".", 1)[1]
        a, b = r.get("rbm.%s.%s.before" % (mode, rnd)), r.get("rbm.%s.%s.after" % (mode, rnd))
        if a and b:
            dl = {k: float(b[k]) - float(a[k]) for k in a if k in b}
            commits = dl.get("commits", 0)
            # The commit metric counts durable syncs: one fdatasync of the
            # WAL answers every batch committed before it; its duration runs
            # from the first such batch's BEGIN until the sync returned.
            syncs = dl.get("syncs", 0)
            w("runbookd %-8s: %d webhooks answered 200 (%d 503), %d WAL syncs, "
              "%.1f webhooks/sync, mean %.2f ms from BEGIN to durable, of which "
              "the fdatasync %.2f ms" % (
                  mode, dl.get("accepted", 0), dl.get("unavailable", 0), commits,
                  dl.get("jobs", 0) / commits if commits else 0,
                  dl.get("commit_s", 0) / commits * 1000 if commits else 0,
                  dl.get("sync_s", 0) / syncs * 1000 if syncs else 0))
    w("each row is the median of %s rounds (req/s of every round at the right)"
      % meta.get("rounds", "?"))
    w("cpu%% / wrk%% = CPU time of the server / of wrk over wall time (100%% = one core;"
      " the machine has %s)" % meta.get("cpus", "?"))
    w("")
    w("2. One request holding %s distinct alerts (send to response)" % meta.get("big_n", "?"))
    hdr = "%-13s %-22s %10s %10s %8s" % ("server", "case", "seconds", "body", "status")
    w(hdr)
    w("-" * len(hdr))
    for tgt in ("runbookd", "alertmanager"):
        for key in sorted(k for k in r if k.startswith("big.%s." % tgt)):
            d = r[key]
            case = key.split(".", 2)[2]
            w("%-13s %-22s %10.3f %9.1fM %8s" % (
                tgt, case, float(d.get("seconds", "nan")),
                int(d.get("bytes", 0)) / 1e6, d.get("status", "?")))
    bs = {}
    for tgt in ("runbookd", "alertmanager"):
        v = sorted(float(d["seconds"]) for k, d in r.items()
                   if k.startswith("big.%s.new" % tgt) and "seconds" in d)
        if v:
            bs[tgt] = v[len(v) // 2]
            w("%s new batches: median %.3f s (min %.3f, max %.3f)" % (
                tgt, bs[tgt], v[0], v[-1]))
    w("")
    w("3. Memory (VmRSS; VmHWM = peak)")
    hdr = "%-13s %12s %16s %16s %10s" % (
        "server", "idle, start", "idle, after wrk", "idle, after big", "peak")
    w(hdr)
    w("-" * len(hdr))
    for tgt in ("runbookd", "alertmanager"):
        a = r.get("rss.%s.start" % tgt, {})
        m = r.get("rss.%s.after_wrk" % tgt, {})
        b = r.get("rss.%s.after" % tgt, {})
        w("%-13s %9.1f MB %13.1f MB %13.1f MB %7.1f MB" % (
            tgt, int(a.get("rss_kb", 0)) / 1024, int(m.get("rss_kb", 0)) / 1024,
            int(b.get("rss_kb", 0)) / 1024, int(b.get("hwm_kb", 0)) / 1024))
    v = r.get("verify", {})
    if v:
        w("")
        w("check: incidents in runbookd's store %s, new alerts it acknowledged %s" % (
            v.get("incidents", "?"), v.get("new_alerts", "?")))
    w("")
    w("Targets (issue 2)")
    tgt = []
    if "distinct" in ratios:
        x = ratios["distinct"]
        tgt.append(("durable intake >= 2x Alertmanager (distinct alerts)",
                    "%.2fx" % x, x >= 2.0))
    if "same" in ratios:
        x = ratios["same"]
        tgt.append(("durable intake >= 2x Alertmanager (same alert)",
                    "%.2fx" % x, x >= 2.0))
    if "runbookd" in bs:
        tgt.append(("10,000-alert webhook stored in < 1 s (median)",
                    "%.3f s" % bs["runbookd"], bs["runbookd"] < 1.0))
    a = r.get("rss.runbookd.start", {})
    if a:
        mb = int(a.get("rss_kb", 0)) / 1024
        tgt.append(("runbookd idle RSS < 10 MB", "%.1f MB" % mb, mb < 10.0))
    for key, what in (("after_wrk", "after single-alert load"), ("after", "after the big batches")):
        b = r.get("rss.runbookd.%s" % key, {})
        if b:
            mb = int(b.get("rss_kb", 0)) / 1024
            tgt.append(("runbookd idle RSS < 10 MB, %s" % what, "%.1f MB" % mb, mb < 10.0))
    for name, val, ok in tgt:
        w("  %-50s %10s  %s" % (name, val, "MET" if ok else "NOT MET"))
    text = "\n".join(L) + "\n"
    sys.stdout.write(text)
    with open(out, "w") as f:
        f.write(text)


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    cmd, args = argv[1], argv[2:]
    if cmd == "freeport":
        freeport()
    elif cmd == "wait-ready":
        return wait_ready(args[0], args[1])
    elif cmd == "proc":
        proc(args[0])
    elif cmd == "metrics":
        metrics(args[0], args[1:])
    elif cmd == "big":
        return big(*args)
    elif cmd == "count-incidents":
        count_incidents(args[0])
    elif cmd == "report":
        report(args[0], args[1])
    else:
        print("unknown subcommand %s" % cmd, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
