#!/usr/bin/env bash
# bench/run.sh - runbookd's durable webhook intake vs Alertmanager 0.25's
# in-memory intake (POST /api/v2/alerts), side by side in one run.
#
#   1. starts runbookd (temporary SQLite store) and Alertmanager (null
#      receiver, no cluster), both on loopback;
#   2. single-alert requests with wrk: distinct alerts (new incident / new
#      alert every request) and the same alert repeated;
#   3. one request holding BIG_N distinct alerts, BIG_REPS times, plus the
#      last batch re-delivered;
#   4. VmRSS of both, idle after start and idle after the load.
# A third server, bench/ceiling.c (HTTP on the same library plus an
# fdatasync'd append of each body, nothing else), takes the single-alert
# distinct load too: the most any durable intake gets out of this machine.
# CEILING_MODES=all runs it in each of its ways of waiting and flushing
# (ceiling.c's MODE), to show that the default one is the fastest here.
# A fourth, "rb-noflush", is runbookd again under bench/noflush.c (an
# LD_PRELOAD shim that makes fsync and fdatasync no-ops; NOT durable) and
# takes both loads: runbookd's own work with the disk's flush time taken
# out, the most any durability scheme built on this code could reach.
# Prints a table and writes it to bench/results/latest.txt (raw wrk output
# and logs go to bench/results/raw/).  Stops by itself; every wait is bounded.
#
# Environment (defaults):
#   DURATION=10     seconds of each measured wrk run
#   WARMUP=2        seconds of unmeasured load before each measured run
#   ROUNDS=3        measured runs per server and case, interleaved; the
#                   table shows the median round (and the range)
#   CONNS=16        wrk connections
#   WRK_THREADS=2   wrk threads
#   BIG_N=10000     alerts in the big request
#   BIG_REPS=3      big requests of new alerts per server
#   SETTLE=8        seconds idle before the after-load RSS reading (the
#                   store gives its caches back after 5 s idle)
#   RUNBOOKD=build-bench/runbookd   (built with cmake if missing)
#   ALERTMANAGER=/usr/bin/prometheus-alertmanager
#   BENCH_TMPDIR=/tmp   where the stores live (must be a real disk: on
#                       tmpfs fsync costs nothing and the figures flatter)
#   KEEP_TMP=0      1 keeps the temporary directory
#   CEILING_MODES=resume  the ceiling's modes (bench/ceiling.c), any of
#                   "resume block dsync direct", or "all"; resume is always
#                   run and is the row "ceiling", the others "ceiling-MODE"
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)

DURATION=${DURATION:-10}
WARMUP=${WARMUP:-2}
ROUNDS=${ROUNDS:-3}
CONNS=${CONNS:-16}
WRK_THREADS=${WRK_THREADS:-2}
BIG_N=${BIG_N:-10000}
BIG_REPS=${BIG_REPS:-3}
SETTLE=${SETTLE:-8}
RUNBOOKD=${RUNBOOKD:-$root/build-bench/runbookd}
ALERTMANAGER=${ALERTMANAGER:-/usr/bin/prometheus-alertmanager}
BENCH_TMPDIR=${BENCH_TMPDIR:-/tmp}
KEEP_TMP=${KEEP_TMP:-0}
CEILING_MODES=${CEILING_MODES:-resume}
[ "$CEILING_MODES" = all ] && CEILING_MODES="resume block dsync direct"
ce_modes=resume
for m in $CEILING_MODES; do
  case $m in
    resume) ;;
    block|dsync|direct) ce_modes="$ce_modes $m" ;;
    *) echo "bench: CEILING_MODES: unknown mode $m (resume, block, dsync, direct or all)" >&2; exit 2 ;;
  esac
done
# One startsAt for every alert of the run, so a re-delivery is a repeat.
BENCH_STARTS=$(date -u +%Y-%m-%dT%H:%M:%S.000000000Z)
export BENCH_STARTS

py() { timeout 180 python3 "$here/benchlib.py" "$@"; }
die() { echo "bench: $*" >&2; exit 1; }

command -v wrk >/dev/null || die "wrk is not installed (apt-get install wrk)"
[ -x "$ALERTMANAGER" ] || die "$ALERTMANAGER not found (apt-get install prometheus-alertmanager)"
if [ ! -x "$RUNBOOKD" ]; then
  echo "bench: building $RUNBOOKD (Release)" >&2
  bdir=$(dirname "$RUNBOOKD")
  cmake -S "$root" -B "$bdir" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$bdir" -j"$(nproc)" --target runbookd >/dev/null
fi

results_dir=$here/results
raw=$results_dir/raw
mkdir -p "$raw"
rm -f "$raw"/*
tmp=$(mktemp -d "$BENCH_TMPDIR/runbookd-bench.XXXXXX")
res=$tmp/results
rb_pid=
am_pid=
ce_pids=
declare -A ce_pid ce_url
nf_pid=

cleanup() {
  local p
  for p in $rb_pid $am_pid $ce_pids $nf_pid; do
    kill -TERM "$p" 2>/dev/null || true
  done
  for p in $rb_pid $am_pid $ce_pids $nf_pid; do
    for _ in $(seq 1 50); do
      kill -0 "$p" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$p" 2>/dev/null || true
  done
  cp -f "$tmp"/*.log "$raw"/ 2>/dev/null || true
  if [ "$KEEP_TMP" = 1 ]; then
    echo "bench: kept $tmp" >&2
  else
    rm -rf "$tmp"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fs=$(df --output=fstype "$tmp" | tail -1 | tr -d " ")
case $fs in
  tmpfs|ramfs) echo "bench: WARNING: $tmp is $fs; fsync is free there, so runbookd's figures are not durable-write figures" >&2 ;;
esac

{
  echo "meta date=$(date -u +%Y-%m-%d_%H:%M_UTC) host=$(uname -n) cpus=$(nproc) fs=$fs tmpdir=$BENCH_TMPDIR" \
       "load=$(cut -d" " -f1 /proc/loadavg) conns=$CONNS wrk_threads=$WRK_THREADS duration=$DURATION warmup=$WARMUP rounds=$ROUNDS big_n=$BIG_N" \
       "runbookd_version=$("$RUNBOOKD" version 2>/dev/null | head -1 | awk '{print $3}')" \
       "am_version=$("$ALERTMANAGER" --version 2>&1 | head -1 | awk '{print $3}')"
} >"$res"

# ---------------------------------------------------------------- start
"$RUNBOOKD" --storage.path="$tmp/rb" --web.listen-address=127.0.0.1:0 \
  >"$tmp/runbookd.log" 2>&1 &
rb_pid=$!

cat >"$tmp/alertmanager.yml" <<'EOF'
route:
  receiver: 'null'
receivers:
  - name: 'null'
EOF
am_port=$(py freeport)
"$ALERTMANAGER" --config.file="$tmp/alertmanager.yml" --storage.path="$tmp/am" \
  --web.listen-address="127.0.0.1:$am_port" --cluster.listen-address= \
  --log.level=warn >"$tmp/alertmanager.log" 2>&1 &
am_pid=$!

${CC:-cc} -O2 -std=gnu11 -Wall -Wextra -o "$tmp/ceiling" "$here/ceiling.c" -lmicrohttpd -lpthread \
  || die "cannot build bench/ceiling.c (libmicrohttpd-dev)"
# ceiling_name MODE: the server's row, "ceiling" for the default mode.
ceiling_name() { if [ "$1" = resume ]; then echo ceiling; else echo "ceiling-$1"; fi; }
for m in $ce_modes; do
  n=$(ceiling_name "$m")
  "$tmp/ceiling" "$tmp/$n.wal" 2 "$m" 2>"$tmp/$n.log" &
  ce_pid[$n]=$!
  ce_pids="$ce_pids $!"
done

${CC:-cc} -O2 -Wall -Wextra -shared -fPIC -o "$tmp/noflush.so" "$here/noflush.c" \
  || die "cannot build bench/noflush.c"
LD_PRELOAD=$tmp/noflush.so "$RUNBOOKD" --storage.path="$tmp/rbnf" \
  --web.listen-address=127.0.0.1:0 >"$tmp/noflush.log" 2>&1 &
nf_pid=$!

# port_of NAME PID: the port the server logged ("msg=listening ... port=N").
port_of() {
  local port
  for _ in $(seq 1 100); do
    port=$(sed -n 's/.*msg=listening.* port=\([0-9][0-9]*\).*/\1/p' "$tmp/$1.log" | head -1)
    [ -n "$port" ] && { echo "$port"; return; }
    kill -0 "$2" 2>/dev/null || { cat "$tmp/$1.log" >&2; die "$1 exited"; }
    sleep 0.1
  done
  die "$1 did not log its port within 10 s"
}
rb_port=$(port_of runbookd "$rb_pid")
for m in $ce_modes; do
  n=$(ceiling_name "$m")
  ce_url[$n]=http://127.0.0.1:$(port_of "$n" "${ce_pid[$n]}")
done
nf_port=$(port_of noflush "$nf_pid")
rb=http://127.0.0.1:$rb_port
nf=http://127.0.0.1:$nf_port
am=http://127.0.0.1:$am_port
py wait-ready "$rb/-/ready" 15 || die "runbookd not ready"
py wait-ready "$am/-/ready" 15 || { cat "$tmp/alertmanager.log" >&2; die "alertmanager not ready"; }
echo "bench: runbookd pid $rb_pid on $rb, alertmanager pid $am_pid on $am, stores in $tmp ($fs)" >&2

sleep 2
echo "rss.runbookd.start $(py proc "$rb_pid")" >>"$res"
echo "rss.alertmanager.start $(py proc "$am_pid")" >>"$res"

rb_metrics() {
  py metrics "$rb/metrics" \
    'accepted=runbookd_webhook_requests_total{outcome="accepted"}' \
    'unavailable=runbookd_webhook_requests_total{outcome="unavailable"}' \
    'commits=runbookd_store_commit_duration_seconds_count' \
    'commit_s=runbookd_store_commit_duration_seconds_sum' \
    'syncs=runbookd_store_sync_duration_seconds_count' \
    'sync_s=runbookd_store_sync_duration_seconds_sum' \
    'jobs=runbookd_store_committed_jobs_total' \
    'new=runbookd_alerts_total{status="firing",result="new"}'
}

# ---------------------------------------------------------------- wrk
run_no=0
# wrk_run TARGET MODE ROUND: warm-up (first round only), then the measured run.
wrk_run() {
  local target=$1 mode=$2 round=$3 url pid out
  case $target in
    runbookd) url=$rb; pid=$rb_pid ;;
    alertmanager) url=$am; pid=$am_pid ;;
    noflush) url=$nf; pid=$nf_pid ;;
    *) url=${ce_url[$target]}; pid=${ce_pid[$target]} ;;
  esac
  if [ "$WARMUP" -gt 0 ] && [ "$round" = 1 ]; then
    run_no=$((run_no + 1))
    BENCH_TARGET=$target BENCH_MODE=$mode BENCH_RUN=$run_no \
      timeout $((WARMUP + 30)) wrk -t"$WRK_THREADS" -c"$CONNS" -d"${WARMUP}s" --timeout 10s \
      -s "$here/alerts.lua" "$url" >"$raw/wrk-$target-$mode-warmup.txt" 2>&1 || true
  fi
  sleep 1
  run_no=$((run_no + 1))
  [ "$target" = runbookd ] && echo "rbm.$mode.r$round.before $(rb_metrics)" >>"$res"
  local cpu0 cpu1
  cpu0=$(py proc "$pid" | sed 's/.*cpu_s=//')
  out=$raw/wrk-$target-$mode-r$round.txt
  local TIMEFORMAT='%U %S' wrk_cpu
  { time BENCH_TARGET=$target BENCH_MODE=$mode BENCH_RUN=$run_no \
    timeout $((DURATION + 30)) wrk -t"$WRK_THREADS" -c"$CONNS" -d"${DURATION}s" --timeout 10s \
    --latency -s "$here/alerts.lua" "$url" >"$out" 2>&1 || die "wrk failed: $(cat "$out")"; } 2>"$tmp/time"
  wrk_cpu=$(awk '{print $1 + $2}' "$tmp/time")
  cpu1=$(py proc "$pid" | sed 's/.*cpu_s=//')
  [ "$target" = runbookd ] && echo "rbm.$mode.r$round.after $(rb_metrics)" >>"$res"
  local line
  line=$(grep '^BENCH ' "$out" | sed 's/^BENCH //') || die "no BENCH line in $out"
  echo "wrk.$target.$mode.r$round $line cpu_s=$(python3 -c "print(round($cpu1-$cpu0,2))") wrk_cpu_s=$wrk_cpu" >>"$res"
  echo "bench: round $round, $target $mode: $(grep -E 'Requests/sec|Non-2xx' "$out" | tr -s ' ' | tr '\n' ' ')" >&2
}

for round in $(seq 1 "$ROUNDS"); do
  for mode in distinct same; do
    wrk_run runbookd "$mode" "$round"
    wrk_run noflush "$mode" "$round"
    wrk_run alertmanager "$mode" "$round"
  done
  # The ceiling does the same work for a repeated alert: distinct only.
  for m in $ce_modes; do
    wrk_run "$(ceiling_name "$m")" distinct "$round"
  done
done

sleep "$SETTLE"
echo "rss.runbookd.after_wrk $(py proc "$rb_pid")" >>"$res"
echo "rss.alertmanager.after_wrk $(py proc "$am_pid")" >>"$res"

# ---------------------------------------------------------------- big
for i in $(seq 1 "$BIG_REPS"); do
  for target in runbookd alertmanager; do
    if [ "$target" = runbookd ]; then url=$rb/webhook; else url=$am/api/v2/alerts; fi
    sleep 1
    line=$(py big "$target" "$url" "$BIG_N" "batch$i") || die "big request to $target failed: $line"
    echo "big.$target.new$i $line" >>"$res"
    echo "bench: $target $BIG_N alerts (new, #$i): $line" >&2
  done
done
for target in runbookd alertmanager; do
  if [ "$target" = runbookd ]; then url=$rb/webhook; else url=$am/api/v2/alerts; fi
  sleep 1
  line=$(py big "$target" "$url" "$BIG_N" "batch$BIG_REPS") || die "big request to $target failed: $line"
  echo "big.$target.redelivered $line" >>"$res"
  echo "bench: $target $BIG_N alerts (re-delivered): $line" >&2
done

# ---------------------------------------------------------------- after
sleep "$SETTLE"
echo "rss.runbookd.after $(py proc "$rb_pid")" >>"$res"
echo "rss.alertmanager.after $(py proc "$am_pid")" >>"$res"
echo "verify incidents=$(py count-incidents "$tmp/rb/runbookd.db" 2>/dev/null || echo '?')" \
     "$(rb_metrics | tr ' ' '\n' | sed -n 's/^new=\(.*\)\.0$/new_alerts=\1/p')" >>"$res"

cp "$res" "$raw/results.txt"
py report "$res" "$results_dir/latest.txt"
