#!/usr/bin/env bash
# Installs what is missing, builds runbookd and runs the whole test suite:
#   1. unit, integration and deploy tests (CTest) on a normal build;
#   2. the same suite on an AddressSanitizer + UndefinedBehaviorSanitizer build;
#   3. every libFuzzer target for FUZZ_SECONDS (default 60) each.
# RUNBOOKD_TEST_PHASES selects phases (default "plain sanitizers fuzz").
set -euo pipefail
cd "$(dirname "$0")/.."
phases="${RUNBOOKD_TEST_PHASES:-plain sanitizers fuzz}"
jobs="${RUNBOOKD_TEST_JOBS:-2}"
start=$(date +%s)

scripts/install-deps.sh all

run_suite() { # build-dir, extra cmake args...
  local dir="$1"; shift
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRUNBOOKD_TESTS=ON "$@" >/dev/null
  cmake --build "$dir" -j2 >/dev/null
  (cd "$dir" && ctest --output-on-failure -j"$jobs" --timeout 600)
}

for phase in $phases; do
  echo "=== test phase: $phase ($(( $(date +%s) - start ))s elapsed)"
  case "$phase" in
    plain) run_suite build ;;
    sanitizers)
      # Leaks, overflows and undefined behaviour fail the tests; the daemon
      # is started by the integration tests from this build too.
      ASAN_OPTIONS="abort_on_error=1:detect_leaks=1:strict_string_checks=1" \
      LSAN_OPTIONS="suppressions=$PWD/test/lsan.supp:print_suppressions=0" \
      UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" \
        run_suite build-san -DRUNBOOKD_ASAN=ON -DRUNBOOKD_UBSAN=ON ;;
    fuzz) scripts/fuzz.sh ;;
    *) echo "unknown test phase: $phase" >&2; exit 2 ;;
  esac
done
echo "=== all test phases passed in $(( $(date +%s) - start ))s"
