#!/usr/bin/env python3
"""remediation-report.py - figures for bench/remediation.sh (Python 3 stdlib).

Subcommands:
  plan N NS OUT          write a plan matching alertname="BenchRemediation"
                         that allows Deployments d-00001..d-N in NS and runs
                         one rollout_restart step
  round SEND SINK METRICS WALL
                         one round: join the sender's send times with the
                         sink's first request per Deployment (same
                         CLOCK_MONOTONIC), and interpolate p50/p99 from
                         runbookd's histogram in the /metrics text METRICS;
                         prints one "key=value ..." line
  report RESULTS OUT     the table over the rounds in RESULTS (one round
                         line each); the median round by p99 is shown
"""
import json
import statistics
import sys


def plan(n, ns, out):
    p = {
        "name": "bench-remediation",
        "runbook": "bench/remediation.sh",
        "description": "Remediation latency benchmark: every alert names its own "
                       "Deployment, which gets one rollout restart.",
        "match": ['alertname="BenchRemediation"'],
        "allow": {"namespaces": [ns],
                  "deployments": ["d-%05d" % i for i in range(1, int(n) + 1)]},
        "steps": [{"name": "restart", "kind": "rollout_restart"}],
        "limits": {"max_attempts_per_incident": 1, "cooldown_seconds": 0,
                   "max_per_hour": 1, "max_per_day": 1,
                   "breaker_failures": 3, "breaker_reset_seconds": 60},
    }
    with open(out, "w") as f:
        json.dump(p, f, indent=1)
        f.write("\n")


def pct(sorted_v, q):
    """Nearest-rank percentile (q in 0..100) of an ascending list."""
    if not sorted_v:
        return float("nan")
    k = max(0, min(len(sorted_v) - 1, int(-(-q * len(sorted_v) // 100)) - 1))
    return sorted_v[k]


def histo_quantile(text, name, q):
    """Prometheus histogram_quantile: linear inside the bucket."""
    buckets = []
    for line in text.splitlines():
        if line.startswith(name + "_bucket{"):
            le = line.split('le="', 1)[1].split('"', 1)[0]
            buckets.append((float("inf") if le == "+Inf" else float(le),
                            float(line.rsplit(" ", 1)[1])))
    if not buckets or buckets[-1][1] == 0:
        return float("nan")
    buckets.sort()
    total = buckets[-1][1]
    rank = q * total
    lo_le, lo_c = 0.0, 0.0
    for le, c in buckets:
        if c >= rank:
            if le == float("inf"):
                return lo_le
            return lo_le + (le - lo_le) * ((rank - lo_c) / (c - lo_c) if c > lo_c else 0)
        lo_le, lo_c = le, c
    return float("nan")


def metric(text, series):
    for line in text.splitlines():
        if line.startswith(series + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def round_(send, sink, metrics, wall):
    sent = {}
    with open(send) as f:
        for line in f:
            d, s_ns, a_ns, st = line.split()
            sent[d] = (int(s_ns), int(a_ns), int(st))
    first = {}
    with open(sink) as f:
        for line in f:
            d, ns, method = line.split()
            first[d] = (int(ns), method)
    with open(metrics) as f:
        text = f.read()
    lat, intake, engine, gets = [], [], [], 0
    firsts_ns = [first[d][0] for d in sent if d in first]
    for d, (s_ns, a_ns, st) in sent.items():
        if d in first:
            t, method = first[d]
            lat.append((t - s_ns) / 1e6)
            gets += method == "GET"
            if a_ns:
                intake.append((a_ns - s_ns) / 1e6)
                engine.append((t - a_ns) / 1e6)
    lat.sort()
    intake.sort()
    engine.sort()
    ok = sum(1 for v in sent.values() if 200 <= v[2] < 300)
    name = "runbookd_remediation_first_request_seconds"
    h50 = histo_quantile(text, name, 0.50) * 1e3
    h99 = histo_quantile(text, name, 0.99) * 1e3
    sends = sorted(v[0] for v in sent.values())
    span = (sends[-1] - sends[0]) / 1e9 if len(sends) > 1 else 0
    rate = (len(sends) - 1) / span if span > 0 else 0
    # first requests per second over the whole round: from the first send to
    # the last first request (below rate when runbookd cannot keep up)
    drain = (max(firsts_ns) - sends[0]) / 1e9 if firsts_ns else 0
    thru = len(firsts_ns) / drain if drain > 0 else 0
    print("alerts=%d ok=%d measured=%d first_get=%d rate=%.1f thru=%.1f drain=%.3f "
          "p50=%.3f p90=%.3f p99=%.3f max=%.3f "
          "h50=%.3f h99=%.3f hcount=%d under5=%.1f "
          "intake_p50=%.3f intake_p99=%.3f engine_p50=%.3f engine_p99=%.3f "
          "matched=%d refused=%d wall=%s" % (
              len(sent), ok, len(lat), gets, rate, thru, drain,
              pct(lat, 50), pct(lat, 90), pct(lat, 99), lat[-1] if lat else float("nan"),
              h50, h99, metric(text, name + "_count"),
              100.0 * sum(1 for v in lat if v < 5.0) / len(lat) if lat else 0,
              pct(intake, 50), pct(intake, 99), pct(engine, 50), pct(engine, 99),
              metric(text, 'runbookd_remediation_decisions_total{decision="matched"}'),
              metric(text, 'runbookd_remediation_decisions_total{decision="refused"}'),
              wall))


def report(results, out):
    rows = []
    with open(results) as f:
        for line in f:
            if line.startswith("round="):
                rows.append(dict(kv.split("=", 1) for kv in line.split()))
    lines = []
    hdr = ("%-6s %7s %7s %8s %9s %9s %9s %9s %9s %9s %7s %11s %11s %5s" % (
        "round", "alerts", "rate/s", "served/s", "p50", "p90", "p99", "max", "hist p50",
        "hist p99", "<5 ms", "intake p50", "engine p50", "load"))
    lines.append(hdr)
    lines.append("-" * len(hdr))
    for r in rows:
        lines.append("%-6s %7s %7.0f %8.0f %6.2f ms %6.2f ms %6.2f ms %6.1f ms %6.2f ms %6.2f ms %6.1f%% %8.2f ms %8.2f ms %5s" % (
            r["round"], r["measured"], float(r["rate"]), float(r["thru"]), float(r["p50"]),
            float(r["p90"]), float(r["p99"]), float(r["max"]), float(r["h50"]), float(r["h99"]),
            float(r["under5"]), float(r["intake_p50"]), float(r["engine_p50"]),
            r.get("load", "?").split(",")[0]))
    if rows:
        by99 = sorted(rows, key=lambda r: float(r["p99"]))
        med = by99[len(by99) // 2]
        p50s = sorted(float(r["p50"]) for r in rows)
        p99s = sorted(float(r["p99"]) for r in rows)
        lines.append("")
        lines.append("median round (by p99): %s: p50 %.2f ms, p99 %.2f ms, max %.1f ms, "
                     "%.0f alerts/s sent" % (med["round"], float(med["p50"]), float(med["p99"]),
                                             float(med["max"]), float(med["rate"])))
        lines.append("spread over %d rounds: p50 %.2f..%.2f ms (median %.2f), "
                     "p99 %.2f..%.2f ms (median %.2f)" % (
                         len(rows), p50s[0], p50s[-1], statistics.median(p50s),
                         p99s[0], p99s[-1], statistics.median(p99s)))
        lines.append("target p99 < 5 ms: %s" % (
            "met" if float(med["p99"]) < 5.0 else "NOT met"))
    text = "\n".join(lines) + "\n"
    sys.stdout.write(text)
    with open(out, "a") as f:
        f.write(text)


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "plan":
        plan(*args)
    elif cmd == "round":
        round_(*args)
    elif cmd == "report":
        report(*args)
    else:
        sys.exit("unknown subcommand " + cmd)


if __name__ == "__main__":
    main()
