#!/usr/bin/env bash
# heap.sh: heap allocations per relayed line, on both front ends, counted by heaptrack around
# `sluice --threads 1` in front of sluice_fast_upstream. Each front end runs twice with four
# times the lines; the same count both times means no allocation per line (what remains is
# start-up and a fixed number per request). Prints a Markdown table (bench/RESULTS.md).
#
#   HTTP: sluice_loadgen, 10 streams x 5 requests of /api/chat, 100 then 400 tokens, 1000 tok/s.
#   WebSocket: sluice_ws_chat, 2 chats one after another, 2000 then 8000 tokens, unpaced (each
#   read from Ollama then brings hundreds of lines: the case that needs the frame window).
#
# With --ws-callgrind it counts instead the user-space instructions per WebSocket frame (callgrind
# around sluice, the same two WebSocket runs: the difference over the difference in frames), the
# page's counterpart of `bench/run.sh --callgrind` (HTTP streams).
#
# usage: bench/heap.sh [--build-dir DIR] [--sluice BIN] [--ws-callgrind]
#        (default build and build/sluice; needs heaptrack, or valgrind for --ws-callgrind)
set -euo pipefail

build=build sluice= callgrind=false
while [[ $# -gt 0 ]]; do
    case $1 in
        --build-dir) build=$2; shift 2 ;;
        --sluice) sluice=$2; shift 2 ;;
        --ws-callgrind) callgrind=true; shift ;;
        *) echo "usage: bench/heap.sh [--build-dir DIR] [--sluice BIN] [--ws-callgrind]" >&2; exit 2 ;;
    esac
done
sluice=${sluice:-$build/sluice}
tool=heaptrack
$callgrind && tool=valgrind
command -v $tool >/dev/null || { echo "heap.sh: $tool is not installed (apt-get install $tool)" >&2; exit 2; }
bench=$build/bench
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$work"' EXIT
ports=($("$bench/sluice_loadgen" --free-ports 2))
upstream_port=${ports[0]} sluice_port=${ports[1]}

# One measurement: prints "<lines relayed> <allocations>".
measure() {
    local front=$1 tokens=$2 rate=$3 lines
    "$bench/sluice_fast_upstream" --listen "127.0.0.1:$upstream_port" --rate "$rate" --tokens "$tokens" >/dev/null 2>&1 &
    local upstream=$!
    local run=(heaptrack -o "$work/heap")
    $callgrind && run=(valgrind --tool=callgrind "--callgrind-out-file=$work/callgrind.out")
    "${run[@]}" "$sluice" --threads 1 --listen "127.0.0.1:$sluice_port" \
        --upstream "http://127.0.0.1:$upstream_port" --log-level warn >/dev/null 2>&1 &
    local proxy=$!
    for _ in $(seq 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$sluice_port") 2>/dev/null && break
        sleep 0.1
    done
    if [[ $front == http ]]; then
        lines=$("$bench/sluice_loadgen" --target "127.0.0.1:$sluice_port" --streams 10 --requests 5 --rate "$rate" \
            --tokens "$tokens" --duration 120 | tail -1 | python3 -c 'import json, sys; print(json.load(sys.stdin)["lines"])')
    else
        lines=$("$bench/sluice_ws_chat" "$sluice_port" 2 | awk '{print $2}')
    fi
    if $callgrind; then
        kill -TERM "$proxy"
    else
        pkill -TERM -x sluice -P "$proxy" 2>/dev/null || true  # heaptrack runs sluice as its child
    fi
    wait "$proxy" 2>/dev/null || true
    kill "$upstream"; wait "$upstream" 2>/dev/null || true
    if $callgrind; then
        echo "$lines $(callgrind_annotate "$work/callgrind.out" | sed -n 's/^\([0-9,]*\) .*PROGRAM TOTALS.*/\1/p' | tr -d ,)"
    else
        echo "$lines $(heaptrack_print "$work"/heap.*zst 2>/dev/null | sed -n 's/^calls to allocation functions: \([0-9]*\).*/\1/p')"
    fi
    rm -f "$work"/heap.* "$work"/callgrind.out
}

if $callgrind; then
    read -r small_lines small < <(measure ws 2000 0)
    read -r large_lines large < <(measure ws 8000 0)
    echo "WebSocket: $small / $large instructions for $small_lines / $large_lines frames:" \
        "$(( (large - small) / (large_lines - small_lines) )) per frame"
    exit 0
fi

echo "| front end | tokens per reply | lines relayed | allocations (whole process, start-up included) |"
echo "|---|---|---|---|"
for run in "http 100 1000" "http 400 1000" "ws 2000 0" "ws 8000 0"; do
    read -r front tokens rate <<<"$run"
    read -r lines allocations < <(measure "$front" "$tokens" "$rate")
    echo "| $front | $tokens | $lines | $allocations |"
done
