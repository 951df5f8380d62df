#!/usr/bin/env bash
# rss_storm.sh: sluice's RSS before and after storms of aborted streams (issue 11: glibc kept
# what the storm grew its arenas to). Starts fast_upstream and sluice, warms up, then runs
# `--rounds` storms of `--cancels` streams each (opened `--streams` at a time, each closed after
# its first line), and prints VmRSS after each storm and once sluice has been idle a few seconds.
# Compare two binaries: bench/rss_storm.sh --sluice /path/to/old/sluice; bench/rss_storm.sh
# Not part of ctest (it takes about a minute). Usage:
#   bench/rss_storm.sh [--build-dir DIR] [--sluice BIN] [--threads N] [--streams N] [--cancels N] [--rounds N]
set -euo pipefail

BUILD_DIR=$(cd "$(dirname "$0")/.." && pwd)/build
SLUICE=
THREADS=2
STREAMS=500
CANCELS=20000
ROUNDS=3
while [ $# -gt 0 ]; do
    case $1 in
        --build-dir) BUILD_DIR=$2; shift 2 ;;
        --sluice) SLUICE=$2; shift 2 ;;
        --threads) THREADS=$2; shift 2 ;;
        --streams) STREAMS=$2; shift 2 ;;
        --cancels) CANCELS=$2; shift 2 ;;
        --rounds) ROUNDS=$2; shift 2 ;;
        *) echo "usage: $0 [--build-dir DIR] [--sluice BIN] [--threads N] [--streams N] [--cancels N] [--rounds N]" >&2; exit 2 ;;
    esac
done
SLUICE=${SLUICE:-$BUILD_DIR/sluice}
LOADGEN=$BUILD_DIR/bench/sluice_loadgen
UPSTREAM=$BUILD_DIR/bench/sluice_fast_upstream
for binary in "$SLUICE" "$LOADGEN" "$UPSTREAM"; do
    [ -x "$binary" ] || { echo "$binary missing: cmake --build $BUILD_DIR --target sluice sluice_loadgen sluice_fast_upstream" >&2; exit 1; }
done
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

WORK=$(mktemp -d)
PIDS=()
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() {
    local i
    for ((i = 0; i < 100; i++)); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.05
    done
    return 1
}
rss_mib() { awk '/^VmRSS:/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status"; }

UPSTREAM_PORT=$(free_port)
SLUICE_PORT=$(free_port)
"$UPSTREAM" --listen "127.0.0.1:$UPSTREAM_PORT" --rate 200 --tokens 400 >"$WORK/upstream.log" 2>&1 &
PIDS+=($!)
wait_port "$UPSTREAM_PORT" || { cat "$WORK/upstream.log" >&2; exit 1; }
"$SLUICE" --listen "127.0.0.1:$SLUICE_PORT" --upstream "http://127.0.0.1:$UPSTREAM_PORT" --threads "$THREADS" \
    --log-level warn >"$WORK/sluice.log" 2>&1 &
SLUICE_PID=$!
PIDS+=("$SLUICE_PID")
wait_port "$SLUICE_PORT" || { cat "$WORK/sluice.log" >&2; exit 1; }

storm() {
    "$LOADGEN" --target "127.0.0.1:$SLUICE_PORT" --stats "127.0.0.1:$UPSTREAM_PORT" --path /api/chat \
        --cancel "$1" --streams "$STREAMS" >"$WORK/loadgen.log" 2>&1 || { cat "$WORK/loadgen.log" >&2; exit 1; }
}

storm 200  # warm-up: the pools and buffers every run needs
sleep 3
echo "sluice: $SLUICE ($THREADS loops); storms of $CANCELS aborted streams, $STREAMS at a time"
echo "RSS MiB after warm-up: $(rss_mib "$SLUICE_PID")"
for ((round = 1; round <= ROUNDS; round++)); do
    storm "$CANCELS"
    echo "RSS MiB after storm $round: $(rss_mib "$SLUICE_PID")"
done
sleep 3
echo "RSS MiB idle 3 s later: $(rss_mib "$SLUICE_PID")"
