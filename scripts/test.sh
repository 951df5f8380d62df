#!/usr/bin/env bash
# Runs the whole test suite: unit and integration tests under the sanitizers, browser and install
# tests (ctest); each fuzz target for seconds; then seconds-long benchmark smoke runs that check
# every proxy path relays without errors, over plain HTTP and over TLS (they assert no timings).
# The trees are those scripts/setup.sh configures.
set -euo pipefail
cd "$(dirname "$0")/.."

# A sluice a test starts without store.path keeps its conversations here, not in the user's own.
XDG_STATE_HOME=$(mktemp -d)
export XDG_STATE_HOME
trap 'rm -rf "$XDG_STATE_HOME"' EXIT

cmake --build build
cmake --build build-san
# The unit and integration tests under ASan and UBSan (label sanitize) and each fuzz target's smoke
# (label fuzz), then the browser, install and resource tests against the optimized binary.
ctest --test-dir build-san --output-on-failure -j2
ctest --test-dir build --output-on-failure -j2
bench/run.sh --smoke
bench/run.sh --smoke --tls --paths sluice,nginx
