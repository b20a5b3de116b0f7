#!/usr/bin/env bash
# bench/timers.sh - escalation timers at scale (issue 4): builds
# bench/timers.c with -DRUNBOOKD_BENCH=ON and runs it.
#
#   N=100000      pending escalation timers in a temporary SQLite store
#   FIRE=15000    of them due in the firing window
#   SPREAD_MS=4000  the window's length
#   BUILD=build-bench-timers   build directory (configured if missing)
#   BENCH_TMPDIR=/tmp   where the store lives (a real disk: on tmpfs fsync
#                       costs nothing and the figures flatter)
# Prints a table and writes it to bench/results/timers.txt.  Every wait in
# the benchmark is bounded (the firing phase gives up 120 s after the
# window closes).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-100000}
FIRE=${FIRE:-15000}
SPREAD_MS=${SPREAD_MS:-4000}
BUILD=${BUILD:-build-bench-timers}
export BENCH_TMPDIR=${BENCH_TMPDIR:-/tmp}
mkdir -p "$BENCH_TMPDIR"

if [ ! -f "$BUILD/CMakeCache.txt" ]; then
  cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRUNBOOKD_BENCH=ON \
    -DRUNBOOKD_TESTS=OFF >/dev/null
fi
cmake --build "$BUILD" --target bench_timers -j"$(nproc)" >/dev/null
fs=$(stat -f -c %T "$BENCH_TMPDIR" 2>/dev/null || echo unknown)
mkdir -p bench/results
{
  echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, store on $BENCH_TMPDIR ($fs)"
  echo "# N=$N FIRE=$FIRE SPREAD_MS=$SPREAD_MS"
  "$BUILD/bench/bench_timers" "$N" "$FIRE" "$SPREAD_MS"
} | tee bench/results/timers.txt
