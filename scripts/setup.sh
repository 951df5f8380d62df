#!/usr/bin/env bash
# Installs everything sluice needs to build and test (Debian 12 packages), then builds into build/,
# the sanitized test suite into build-san/ and the fuzz targets into build-fuzz/.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  g++ cmake ninja-build pkg-config
  clang libclang-rt-14-dev   # libFuzzer, for the fuzz targets
  libboost1.81-dev libsimdjson-dev libspdlog-dev libfmt-dev libcli11-dev libyaml-cpp-dev
  libssl-dev                # libcrypto: SHA-256 and random numbers for API keys and sessions
  libsqlitecpp-dev libsqlite3-dev sqlite3  # the conversation store; sqlite3 for its backups and tests
  libgtest-dev
  prometheus-cpp-dev         # metrics: the core library (registry, text format); not its pull server
  prometheus                 # promtool, which the metrics tests run on sluice's /metrics output
  libsystemd-dev systemd     # sd_notify and socket activation; systemd-analyze and systemd-socket-activate for tests
  nginx-light haproxy curl   # the benchmark's comparison proxies
  python3                    # bench/report.py: the benchmark's tables, from its results.jsonl
  chromium                   # the browser UI's end-to-end tests (driven by playwright-core)
  help2man                   # the man page, generated from sluice --help at build time
  dpkg-dev                   # dpkg-shlibdeps: the .deb's Depends: (cpack -G DEB)
)
# The browser UI is built with node and npm; Debian's packages unless a node is already there.
command -v npm >/dev/null 2>&1 || packages+=(nodejs npm)

missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if ((${#missing[@]})); then
  sudo=""
  [[ $(id -u) -eq 0 ]] || sudo="sudo"
  echo "setup: installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# The page's build tools and libraries, at the versions in ui/package-lock.json.
(cd ui && npm ci --no-audit --no-fund)

# build/: sluice as it ships, the benchmark tools, the browser and install tests' harness.
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSLUICE_BUILD_SUITE=OFF
cmake --build build
# build-san/: the unit and integration tests with AddressSanitizer and UBSan (tests/CMakeLists.txt).
cmake -S . -B build-san -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSLUICE_SANITIZE=ON -DSLUICE_BUILD_BENCH=OFF
cmake --build build-san
# The libFuzzer targets alone, for their smoke runs (tests/fuzz/README.md).
CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSLUICE_FUZZ=ON \
  -DSLUICE_BUILD_TESTS=OFF -DSLUICE_BUILD_BENCH=OFF
cmake --build build-fuzz --target fuzz
