#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan) and runs each for a
# bounded time.  FUZZ_SECONDS (default 60) sets the time per target.
# Usage: scripts/fuzz.sh [target...]
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${FUZZ_SECONDS:-60}"
dir=build-fuzz
CC=clang cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DRUNBOOKD_FUZZ=ON -DRUNBOOKD_TESTS=OFF >/dev/null
all=(fuzz_payload fuzz_auth fuzz_matcher fuzz_silence fuzz_promql fuzz_kube fuzz_answers fuzz_api)
cmake --build "$dir" -j2 --target "${all[@]}" >/dev/null

# Seed corpora: the captured Alertmanager deliveries' bodies, and headers.
corpus="$dir/corpus"
mkdir -p "$corpus/payload" "$corpus/auth"
fixtures="${FIXTURES_DIR:-../shared/fixtures/alertmanager}"
if [ -d "$fixtures" ]; then
  for f in "$fixtures"/*.json; do
    python3 -c 'import json,sys; sys.stdout.write(json.dumps(json.load(open(sys.argv[1]))["body"]))' \
      "$f" > "$corpus/payload/$(basename "$f")"
  done
fi
cp test/fuzz/seeds/payload/* "$corpus/payload/" 2>/dev/null || true
printf 'Bearer s3cret-token' > "$corpus/auth/bearer"
printf 'Basic YWxlcnRtYW5hZ2VyOmh1bnRlcjI=' > "$corpus/auth/basic"
printf 'Basic Og==' > "$corpus/auth/empty"
mkdir -p "$corpus/matcher"
printf 'alertname="HighResponseTime"' > "$corpus/matcher/eq"
printf '{severity=~"critical|page", namespace!="kube-system", pod!~"canary-.*"}' > "$corpus/matcher/list"
mkdir -p "$corpus/silence"
cp test/fuzz/seeds/silence/* "$corpus/silence/"
mkdir -p "$corpus/promql"
cp test/fuzz/seeds/promql/* "$corpus/promql/"
mkdir -p "$corpus/kube"
cp test/fuzz/seeds/kube/* "$corpus/kube/"
mkdir -p "$corpus/answers"
cp test/fuzz/seeds/answers/* "$corpus/answers/"
mkdir -p "$corpus/api"
cp test/fuzz/seeds/api/* "$corpus/api/"

targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${all[@]}")
for t in "${targets[@]}"; do
  c="$corpus/${t#fuzz_}"
  echo "fuzz: $t for ${secs}s"
  "$dir/test/fuzz/$t" -max_total_time="$secs" -max_len=65536 -rss_limit_mb=2048 \
    -timeout=10 -print_final_stats=1 "$c" 2>"$dir/$t.log" || {
      echo "fuzz: $t FAILED; see $dir/$t.log"; tail -40 "$dir/$t.log"; exit 1; }
  grep -E '^stat::number_of_executed_units' "$dir/$t.log" || true
done
echo "fuzz: all targets ran ${secs}s without a finding"
