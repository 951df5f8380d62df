#!/usr/bin/env bash
# Runs the whole test suite: unit, integration, browser and install tests (ctest); each fuzz target
# for seconds; then a seconds-long benchmark smoke run that checks every proxy path relays without
# errors (it asserts no timings).
# The trees are those scripts/setup.sh configures.
set -euo pipefail
cd "$(dirname "$0")/.."

cmake --build build
ctest --test-dir build --output-on-failure -j2
cmake --build build-fuzz --target fuzz
ctest --test-dir build-fuzz -L fuzz --output-on-failure -j2
bench/run.sh --smoke
