#!/usr/bin/env bash
# Installs what is missing, builds runbookd and starts it in the foreground
# with the bundled configuration (deploy/local/runbookd.json): listens on
# 127.0.0.1:9095, stores incidents in ./data (SQLite), dry-run because no
# cluster is configured.  Extra arguments are passed to runbookd.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh build
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRUNBOOKD_TESTS=OFF >/dev/null
cmake --build build -j"$(nproc)" --target runbookd >/dev/null
exec ./build/runbookd --config.file=deploy/local/runbookd.json "$@"
