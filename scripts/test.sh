#!/usr/bin/env bash
# Runs the whole test suite: unit, integration, browser and install tests (ctest); the unit and
# integration tests again under ASan+UBSan; each fuzz target for seconds; then a seconds-long
# benchmark smoke run that checks every proxy path relays without errors (it asserts no timings).
# The trees are those scripts/setup.sh configures.
set -euo pipefail
cd "$(dirname "$0")/.."

cmake --build build
ctest --test-dir build --output-on-failure -j2
# Label gtest: not the browser tests (a Chromium driving an uninstrumented harness: nothing of
# sluice's under the sanitizers that the WebSocket tests do not run) nor the install tests (they
# package and inspect the binary, and would ship an instrumented one).
cmake --build build-asan --target sluice_tests
ctest --test-dir build-asan -L gtest --output-on-failure -j2
cmake --build build-fuzz --target fuzz
ctest --test-dir build-fuzz -L fuzz --output-on-failure -j2
bench/run.sh --smoke
