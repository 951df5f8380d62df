#!/usr/bin/env bash
# Runs the whole test suite: unit and integration tests (ctest), then a seconds-long benchmark
# smoke run that checks every proxy path relays without errors (it asserts no timings).
set -euo pipefail
cd "$(dirname "$0")/.."

cmake --build build
ctest --test-dir build --output-on-failure -j2
bench/run.sh --smoke
