#!/usr/bin/env bash
# Installs everything sluice needs to build and test (Debian 12 packages), then builds into build/
# (GCC, as it ships) and the sanitized test suite and fuzz targets into build-san/ (clang).
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  g++ cmake ninja-build pkg-config
  clang libclang-rt-14-dev   # the sanitized tests and libFuzzer targets
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
  dpkg-dev                   # dpkg-deb and objdump's company for the package tests
  debootstrap                # the Debian 13 root the .deb is installed into (tests/install/root_install_test.sh)
)
# The browser UI is built with node and npm; Debian's packages unless a node is already there.
command -v npm >/dev/null 2>&1 || packages+=(nodejs npm)

sudo=""
[[ $(id -u) -eq 0 ]] || sudo="sudo"
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# The page's build tools and libraries, at the versions in ui/package-lock.json.
(cd ui && npm ci --no-audit --no-fund)

# build/debian13-root: a minimal Debian 13 made once by debootstrap from Debian's archive, which
# the install test installs the .deb into (a root left half-made by an interrupted run is remade).
# It downloads while the compilers run.
mkdir -p build
root=build/debian13-root
debootstrap_pid=""
if [[ ! -x $root/usr/bin/dpkg || -d $root/debootstrap ]]; then
  echo "setup: debootstrap Debian 13 into $root (build/debootstrap.log)"
  $sudo rm -rf "$root"
  $sudo debootstrap --variant=minbase --include=libsqlite3-0,libsystemd0 trixie "$root" http://deb.debian.org/debian >build/debootstrap.log 2>&1 &
  debootstrap_pid=$!
fi

# build/: sluice as it ships, the benchmark tools, the browser and install tests' harness.
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSLUICE_BUILD_SUITE=OFF
cmake --build build
# build-san/: the unit and integration tests with AddressSanitizer and UBSan (tests/CMakeLists.txt)
# and the libFuzzer targets (tests/fuzz/README.md), on one sluice_core. clang: it compiles Beast at
# -O0 in about 60% of GCC's time, and libFuzzer is clang's; GCC still compiles everything in build/.
CC=clang CXX=clang++ cmake -S . -B build-san -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSLUICE_SANITIZE=ON \
  -DSLUICE_FUZZ=ON -DSLUICE_BUILD_BENCH=OFF
cmake --build build-san
if [[ -n $debootstrap_pid ]] && ! wait "$debootstrap_pid"; then
  tail -20 build/debootstrap.log
  echo "setup: debootstrap of Debian 13 failed (build/debootstrap.log)"
  exit 1
fi
