#!/usr/bin/env bash
# bench/remediation.sh - time from webhook receipt to the first Kubernetes
# request of a remediation (issue 3), at RATE alerts per second.
#
# Per round, with a fresh store:
#   1. bench/remediation-sink (a fast loopback stand-in for the Kubernetes
#      API, answering the GET and PATCH of a rollout restart) and runbookd
#      (live, --kube.api-url pointing at the sink, a generated plan that
#      allows Deployments d-00001..d-N and restarts the alert's Deployment);
#   2. bench/remediation-send paces N = RATE * DURATION single-alert
#      webhooks, alert i (deployment=d-<i>) at start + i/RATE, open loop,
#      and records each send time;
#   3. when every run has sent its first request (or after WAIT_MAX s):
#      the latency per alert = the sink's arrival time of the first request
#      for d-<i> minus the send time of alert i (both CLOCK_MONOTONIC on
#      this machine), and runbookd's own histogram
#      runbookd_remediation_first_request_seconds, interpolated.
# Prints a table and appends it to bench/results/remediation-latest.txt
# (round lines, logs and raw files in bench/results/raw-remediation/).
#
# Environment (defaults):
#   RATE=1000        alerts per second
#   DURATION=1       seconds of sending.  remediation.max_actions_per_minute
#                    is at most 1000 (src/config/config.c), so with the
#                    defaults a round is the most a runbookd can remediate
#                    in a minute; RATE*DURATION above PER_MINUTE leaves the
#                    rest refused ("rate-limited") and unmeasured
#   ROUNDS=3         rounds (fresh runbookd, sink and store each)
#   WORKERS=32       --remediation.workers (its maximum)
#   PER_MINUTE=1000  --remediation.max-actions-per-minute
#   PER_HOUR=100000  --remediation.max-actions-per-hour
#   QUEUE=100000     --remediation.queue-size
#   MAXCONNS=256     sender connections at most (open loop)
#   WAIT_MAX=60      seconds to wait for the last first request
#   RUNBOOKD=build-bench/runbookd   (built with cmake if missing)
#   BENCH_TMPDIR=/tmp   stores (a real disk: fsync is on the path)
#   KEEP_TMP=0
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)

RATE=${RATE:-1000}
DURATION=${DURATION:-1}
ROUNDS=${ROUNDS:-3}
WORKERS=${WORKERS:-32}
PER_MINUTE=${PER_MINUTE:-1000}
PER_HOUR=${PER_HOUR:-100000}
QUEUE=${QUEUE:-100000}
MAXCONNS=${MAXCONNS:-256}
WAIT_MAX=${WAIT_MAX:-60}
RUNBOOKD=${RUNBOOKD:-$root/build-bench/runbookd}
BENCH_TMPDIR=${BENCH_TMPDIR:-/tmp}
KEEP_TMP=${KEEP_TMP:-0}
NS=bench

die() { echo "bench: $*" >&2; exit 1; }
py() { timeout 120 python3 "$here/benchlib.py" "$@"; }
rep() { timeout 120 python3 "$here/remediation-report.py" "$@"; }

if [ "$RUNBOOKD" = "$root/build-bench/runbookd" ]; then
  # Our own build: bring it up to date with the tree (a stale binary
  # would measure old code).
  bdir=$(dirname "$RUNBOOKD")
  [ -f "$bdir/CMakeCache.txt" ] || cmake -S "$root" -B "$bdir" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$bdir" -j"$(nproc)" --target runbookd >/dev/null
fi
[ -x "$RUNBOOKD" ] || die "no runbookd at $RUNBOOKD"

results_dir=$here/results
raw=$results_dir/raw-remediation
rm -rf "$raw"
mkdir -p "$raw"
out=$results_dir/remediation-latest.txt
: >"$out"

# The two helpers are small; build them here (cmake -DRUNBOOKD_BENCH=ON
# builds them too).
bin=$raw/bin
mkdir -p "$bin"
for t in remediation-sink remediation-send; do
  ${CC:-cc} -O2 -std=gnu11 -Wall -Wextra -o "$bin/$t" "$here/$t.c" || die "cannot build $t"
done

n=$(python3 -c "print(round($RATE * $DURATION))")
[ "$n" -le 99999 ] || die "RATE*DURATION = $n: at most 99999 alerts (d-00001..d-99999)"
if [ "$n" -gt "$PER_MINUTE" ]; then
  echo "bench: warning: $n alerts > PER_MINUTE=$PER_MINUTE: the alerts past the" \
       "global limit are refused (rate-limited) and not measured" >&2
fi

tmp=$(mktemp -d "$BENCH_TMPDIR/runbookd-rembench.XXXXXX")
rb_pid="" sink_pid=""
cleanup() {
  [ -n "$rb_pid" ] && kill "$rb_pid" 2>/dev/null || true
  [ -n "$sink_pid" ] && kill "$sink_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  [ "$KEEP_TMP" = 1 ] || rm -rf "$tmp"
}
trap cleanup EXIT
mkdir -p "$tmp/plans"
rep plan "$n" "$NS" "$tmp/plans/bench-remediation.json"
"$RUNBOOKD" check-config --remediation.dir="$tmp/plans" >/dev/null \
  || die "the generated plan does not pass check-config"

{
  echo "runbookd remediation latency: webhook receipt to the first Kubernetes request"
  echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')  host: $(nproc) cores  runbookd: $RUNBOOKD"
  echo "RATE=$RATE DURATION=$DURATION ($n alerts/round) ROUNDS=$ROUNDS WORKERS=$WORKERS" \
       "PER_MINUTE=$PER_MINUTE PER_HOUR=$PER_HOUR MAXCONNS=$MAXCONNS"
} | tee -a "$out"

metric_sum() { # URL NAME: the sum of a family's samples
  py metrics "$1" "x=$2" | sed -n 's/^x=//p'
}

for r in $(seq 1 "$ROUNDS"); do
  load=$(cut -d' ' -f1-3 /proc/loadavg)
  store=$tmp/store-$r
  "$bin/remediation-sink" "$raw/sink-$r.txt" >"$raw/sink-$r.port" 2>"$raw/sink-$r.log" &
  sink_pid=$!
  for _ in $(seq 50); do grep -q port= "$raw/sink-$r.port" 2>/dev/null && break; sleep 0.1; done
  sport=$(sed -n 's/^port=//p' "$raw/sink-$r.port")
  [ -n "$sport" ] || die "the sink did not start"
  port=$(py freeport)
  "$RUNBOOKD" --storage.path="$store" --web.listen-address="127.0.0.1:$port" \
    --remediation.dir="$tmp/plans" --kube.api-url="http://127.0.0.1:$sport" --dry-run=false \
    --remediation.workers="$WORKERS" --remediation.queue-size="$QUEUE" \
    --remediation.max-actions-per-minute="$PER_MINUTE" \
    --remediation.max-actions-per-hour="$PER_HOUR" --log.level=warn \
    >"$raw/runbookd-$r.log" 2>&1 &
  rb_pid=$!
  py wait-ready "http://127.0.0.1:$port/-/ready" 20 || die "runbookd did not start (see $raw/runbookd-$r.log)"
  sleep 1
  "$bin/remediation-send" "$port" "$RATE" "$DURATION" "$NS" "$r" "$raw/send-$r.txt" "$MAXCONNS" \
    | tee "$raw/send-$r.summary"
  # until every decision is taken and every run has made its first request
  deadline=$((SECONDS + WAIT_MAX))
  while [ $SECONDS -lt $deadline ]; do
    dec=$(metric_sum "http://127.0.0.1:$port/metrics" runbookd_remediation_decisions_total)
    firsts=$(metric_sum "http://127.0.0.1:$port/metrics" runbookd_remediation_first_request_seconds_count)
    matched=$(py metrics "http://127.0.0.1:$port/metrics" \
      'x=runbookd_remediation_decisions_total{decision="matched"}' | sed -n 's/^x=//p')
    python3 -c "import sys; sys.exit(0 if float('$dec') >= $n and float('$firsts') >= float('$matched') else 1)" \
      && break
    sleep 0.5
  done
  curl -s "http://127.0.0.1:$port/metrics" >"$raw/metrics-$r.txt"
  kill "$rb_pid"; wait "$rb_pid" 2>/dev/null || true; rb_pid=""
  kill "$sink_pid"; wait "$sink_pid" 2>/dev/null || true; sink_pid=""
  line=$(rep round "$raw/send-$r.txt" "$raw/sink-$r.txt" "$raw/metrics-$r.txt" "$(date -u +%H:%M:%S)")
  echo "round=$r $line load=${load// /,}" | tee -a "$raw/rounds.txt"
  cat "$raw/sink-$r.log"
  rm -rf "$store"
  sleep 2
done

echo | tee -a "$out"
rep report "$raw/rounds.txt" "$out"
cp "$raw/rounds.txt" "$results_dir/remediation-rounds.txt"
