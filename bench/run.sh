#!/usr/bin/env bash
# run.sh: sluice's benchmark driver; compares direct, sluice, nginx and HAProxy in one run.
#
# One fast_upstream serves every path. Each path in turn is put between it and the load
# generator, the proxy alone on CPU 0 and upstream + load generator on CPU 1, and driven at 1,
# 100 and 1000 concurrent streams, then as hard as the driver can; then cancellations and a blob
# upload. Each run's raw figures go to results.jsonl; bench/report.py renders the result from it:
# one Markdown table with ratios against nginx from the same run. See bench/README.md for what
# each figure means, and the shared bench protocol for the method. With --tls the load generator
# speaks TLS to each proxy (certificates made here, with the openssl CLI); proxies still reach the
# upstream over plain HTTP, as sluice reaches Ollama.
#
# Builds nothing: expects sluice_fast_upstream and sluice_loadgen (and build/sluice) to exist.
set -uo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$SCRIPT_DIR/.." && pwd)

usage() {
    cat <<'EOF'
usage: bench/run.sh [--build-dir DIR] [--sluice BIN] [--quick | --smoke | --callgrind | --metrics-cost]
                    [--paths LIST] [--repeat N] [--out DIR] [--no-install] [--wait-quiet S] [--tls]
                    [--backends N]
  --build-dir DIR  where the binaries are (default: <repo>/build; the tools in DIR/bench or DIR)
  --sluice BIN     the sluice binary (default: DIR/sluice)
  --quick          shorter runs and a 512 MiB upload (about 1 minute)
  --smoke          each path for about 2 s with a few streams; exits non-zero only if a path
                   returned errors or no lines, never on timings (for CI)
  --callgrind      instead of timings: user-space instructions per relayed line of each proxy
                   under valgrind --tool=callgrind (repeatable on a noisy machine; ~1 minute)
  --metrics-cost   only sluice, with Prometheus metrics on (metrics.path: /metrics) and off
                   (""): CPU per relayed line at 100 streams x 80 tok/s, the two in alternating
                   order, --repeat pairs (default 3); prints each pair and the median on/off ratio
  --paths LIST     comma-separated subset of direct,sluice,nginx,haproxy (default: all)
  --repeat N       run the whole comparison N times (a table each, then the spread)
  --out DIR        keep raw results there: results.jsonl, table.md, logs
                   (bench/report.py DIR/results.jsonl prints the tables again)
  --no-install     do not apt-get nginx-light/haproxy when missing; skip those paths
  --wait-quiet S   before each run, wait up to S seconds for both CPUs to be 90 % idle (for
                   shared machines; default 0: do not wait)
  --tls            loadgen -> proxy over TLS (a throwaway CA and an EC P-256 certificate for
                   localhost and 127.0.0.1, made in the work dir); proxy -> upstream stays plain
                   HTTP, and so does the direct path (the floor). Combines with every mode above
  --backends N     N fast_upstreams (1-8, default 1) behind each proxy: sluice with upstreams:,
                   nginx with an upstream block (least_conn), HAProxy with balance leastconn; the
                   load generator's rate is the combined one. Stream runs only (no direct, cancel
                   or upload: they measure one upstream); the upstream CPU figure is the first one's
EOF
}

BUILD_DIR=$REPO_DIR/build
SLUICE_BIN=
MODE=full
PATH_LIST=direct,sluice,nginx,haproxy
REPEAT=
OUT_DIR=
INSTALL=1
QUIET_WAIT=0
TLS=0
BACKENDS=1
COMMAND_LINE="bench/run.sh $*"
while [ $# -gt 0 ]; do
    case $1 in
    --build-dir) BUILD_DIR=${2:?--build-dir needs a value}; shift 2 ;;
    --sluice) SLUICE_BIN=${2:?--sluice needs a value}; shift 2 ;;
    --quick) MODE=quick; shift ;;
    --smoke) MODE=smoke; shift ;;
    --callgrind) MODE=callgrind; shift ;;
    --metrics-cost) MODE=metrics; PATH_LIST=sluice; shift ;;
    --paths) PATH_LIST=${2:?--paths needs a value}; shift 2 ;;
    --repeat) REPEAT=${2:?--repeat needs a value}; shift 2 ;;
    --out) OUT_DIR=${2:?--out needs a value}; shift 2 ;;
    --no-install) INSTALL=0; shift ;;
    --wait-quiet) QUIET_WAIT=${2:?--wait-quiet needs a value}; shift 2 ;;
    --tls) TLS=1; shift ;;
    --backends) BACKENDS=${2:?--backends needs a value}; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "run.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
    esac
done
[ -z "$REPEAT" ] && REPEAT=$([ "$MODE" = metrics ] && echo 3 || echo 1)
case $REPEAT in *[!0-9]* | 0) echo "run.sh: --repeat wants a positive number" >&2; exit 2 ;; esac
case $BACKENDS in [1-8]) ;; *) echo "run.sh: --backends wants 1 to 8" >&2; exit 2 ;; esac
IFS=, read -r -a PATHS <<<"$PATH_LIST"
for p in "${PATHS[@]}"; do
    case $p in direct | sluice | nginx | haproxy) ;; *) echo "run.sh: unknown path $p" >&2; exit 2 ;; esac
done

# ---------------------------------------------------------------------------------------------
# The load shapes. Rates are per stream; tokens are lines per response before the done line.
# At 1000 streams the per-stream rate is lowered: 1000 x 80 tok/s = 80k lines/s nearly fills the
# driver's core on this kind of machine (upstream + load generator, one write per line) and, at
# ~17 us/line, a stock proxy's too, so its latency would measure queueing. 25 tok/s keeps both
# well below saturation, which has its own run: 200k lines/s offered, whatever gets through.
RATE=80 TOKENS=100
S1_DURATION=5 S100_DURATION=5
S1000_STREAMS=1000 S1000_RATE=25 S1000_DURATION=6
SAT_STREAMS=200 SAT_RATE=1000 SAT_TOKENS=1000 SAT_DURATION=5
CANCELS=200 CANCEL_TOKENS=200 UPLOAD_BYTES=$((4 << 30))
if [ "$MODE" = quick ]; then
    S1_DURATION=3 S100_DURATION=3 S1000_DURATION=4 SAT_DURATION=3
    CANCELS=50 UPLOAD_BYTES=$((512 << 20))
fi
METRICS_DURATION=8  # --metrics-cost: each half of a pair, 100 streams (~64k lines)
S1000_TOKENS=$TOKENS
if [ "$TLS" = 1 ]; then
    # Decrypting every line costs the load generator ~1.5x its plain CPU per line: 25k lines/s over
    # TLS make CPU 1 (load generator + upstream) the limit, not the proxy (~13k got through). 10 tok/s
    # x 40-token replies keep the plain run's request timing (a 4 s reply) at 40 % of its lines.
    S1000_RATE=10 S1000_TOKENS=40
fi

# ---------------------------------------------------------------------------------------------
# Processes, clean-up, small helpers.

WORK=$(mktemp -d /tmp/sluice-bench.XXXXXX)
STARTED_PIDS=()  # every background process this script started, stopped on exit
RESULTS=$WORK/results.jsonl
: >"$RESULTS"
ROUND=1

log() { printf '%s\n' "$*" >&2; }
die() { log "run.sh: $*"; exit 2; }

stop_pid() {  # stop_pid PID [NAME]: TERM, a bounded wait, then KILL; says if NAME crashed
    local pid=$1 name=${2:-} i rc
    kill -TERM "$pid" 2>/dev/null || return 0
    for ((i = 0; i < 50; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -KILL "$pid" 2>/dev/null; then
        [ -n "$name" ] && log "warning: $name did not stop within 5 s of SIGTERM; killed"
    fi
    wait "$pid" 2>/dev/null
    rc=$?
    if [ -n "$name" ] && [ "$rc" -gt 128 ] && [ "$rc" != 143 ] && [ "$rc" != 137 ]; then
        log "warning: $name died of signal $((rc - 128)) ($(kill -l $((rc - 128)) 2>/dev/null)) when asked to stop"
    fi
    return 0
}

forget_pid() {  # drop a pid from STARTED_PIDS once it has ended
    local kept=() pid
    for pid in "${STARTED_PIDS[@]}"; do
        [ "$pid" != "$1" ] && kept+=("$pid")
    done
    STARTED_PIDS=("${kept[@]}")
}

cleanup() {
    local pid
    for pid in "${STARTED_PIDS[@]}"; do
        stop_pid "$pid"
    done
    if [ -n "$OUT_DIR" ]; then
        mkdir -p "$OUT_DIR" && cp -r "$WORK"/. "$OUT_DIR"/ && log "raw results and logs kept in $OUT_DIR"
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

find_binary() {
    local name=$1 dir
    for dir in "$BUILD_DIR/bench" "$BUILD_DIR"; do
        if [ -x "$dir/$name" ]; then
            echo "$dir/$name"
            return 0
        fi
    done
    return 1
}
LOADGEN=$(find_binary sluice_loadgen) ||
    die "no sluice_loadgen in $BUILD_DIR/bench or $BUILD_DIR: build it first (cmake --build $BUILD_DIR --target sluice_loadgen sluice_fast_upstream)"
UPSTREAM_BIN=$(find_binary sluice_fast_upstream) || die "no sluice_fast_upstream in $BUILD_DIR/bench or $BUILD_DIR: build it first"
command -v python3 >/dev/null || die "python3 is needed: bench/report.py renders the tables"

# Placement: the proxy alone on CPU 0; upstream and load generator on CPU 1.
if [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null; then
    ON_PROXY_CPU=(taskset -c 0)
    ON_DRIVER_CPU=(taskset -c 1)
    PLACEMENT="proxy pinned to CPU 0; fast_upstream and loadgen pinned to CPU 1"
else
    ON_PROXY_CPU=()
    ON_DRIVER_CPU=()
    PLACEMENT="not pinned (fewer than 2 CPUs or no taskset): figures are rough"
    log "warning: $PLACEMENT"
fi

# 1000 streams take 1000 descriptors in the load generator and 2000 in a proxy.
ulimit -n "$(ulimit -Hn)" 2>/dev/null
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt 4096 ]; then
    S1000_STREAMS=$(($(ulimit -n) / 3))
    log "warning: only $(ulimit -n) file descriptors allowed: the 1000-stream run uses $S1000_STREAMS"
fi

wait_file() {  # wait_file FILE PID SECONDS: until FILE exists (as long as PID lives)
    local file=$1 pid=$2 i
    for ((i = 0; i < $3 * 100; i++)); do
        [ -e "$file" ] && return 0
        kill -0 "$pid" 2>/dev/null || return 1
        sleep 0.01
    done
    return 1
}

wait_port() {  # wait_port PORT PID [SECONDS]: until something accepts on 127.0.0.1:PORT (default 5 s)
    local port=$1 pid=$2 i
    for ((i = 0; i < ${3:-5} * 20; i++)); do
        kill -0 "$pid" 2>/dev/null || return 1
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            return 0
        fi
        sleep 0.05
    done
    return 1
}

# CPU time of processes in ns: the scheduler's sum_exec_runtime of every thread. It is the
# quantity /proc/<pid>/stat reports as utime+stime, without the 10 ms tick rounding.
cpu_ns() {
    local total=0 pid f v rest
    for pid in "$@"; do
        for f in /proc/"$pid"/task/*/schedstat; do
            read -r v rest 2>/dev/null <"$f" && total=$((total + v))
        done
    done
    echo "$total"
}

# utime+stime from /proc/<pid>/stat (ticks), kept beside cpu_ns as a cross-check.
stat_ticks() {
    local total=0 pid line fields
    for pid in "$@"; do
        read -r line 2>/dev/null </proc/"$pid"/stat || continue
        read -r -a fields <<<"${line##*) }"  # fields after "(comm) ": state is [0], utime [11], stime [12]
        total=$((total + fields[11] + fields[12]))
    done
    echo "$total"
}

status_kb() {  # status_kb FIELD PID...: sum of a /proc/<pid>/status field (VmRSS, VmHWM) in KiB
    local field=$1 total=0 pid key value
    shift
    for pid in "$@"; do
        while read -r key value _; do
            [ "$key" = "$field:" ] && total=$((total + value))
        done <"/proc/$pid/status"
    done
    echo "$total"
}

cpu_busy_ticks() {  # "busy total" ticks of one CPU from /proc/stat
    local cpu=$1 name user nice system idle iowait irq softirq steal rest
    while read -r name user nice system idle iowait irq softirq steal rest; do
        if [ "$name" = "cpu$cpu" ]; then
            echo "$((user + nice + system + irq + softirq + steal)) $((user + nice + system + idle + iowait + irq + softirq + steal))"
            return
        fi
    done </proc/stat
    echo "0 0"
}

idle_pct() {  # idle_pct SECONDS: "cpu0 cpu1" idle percentages over that long
    local b0 t0 c0 u0 b1 t1 c1 u1
    read -r b0 t0 < <(cpu_busy_ticks 0)
    read -r c0 u0 < <(cpu_busy_ticks 1)
    sleep "$1"
    read -r b1 t1 < <(cpu_busy_ticks 0)
    read -r c1 u1 < <(cpu_busy_ticks 1)
    echo "$(calc "%.0f" "100 - 100 * b / t" b=$((b1 - b0)) t=$((t1 - t0))) $(calc "%.0f" "100 - 100 * b / t" b=$((c1 - c0)) t=$((u1 - u0)))"
}

wait_quiet() {  # between runs our own processes idle: wait (bounded) until the CPUs are too
    [ "$QUIET_WAIT" = 0 ] && return
    local waited=0 i0 i1
    while :; do
        read -r i0 i1 < <(idle_pct 0.5)
        if [ "${i0:-0}" -ge 90 ] && [ "${i1:-0}" -ge 90 ]; then
            return
        fi
        if awk -v w="$waited" -v q="$QUIET_WAIT" 'BEGIN { exit !(w >= q) }'; then
            log "  (still busy after ${QUIET_WAIT}s: CPU 0 ${i0}% idle, CPU 1 ${i1}% idle; going on)"
            return
        fi
        [ "$waited" = 0 ] && log "  (waiting for a quiet machine: CPU 0 ${i0}% idle, CPU 1 ${i1}% idle)"
        waited=$(calc "%.1f" "w + 0.5" w="$waited")
    done
}

calc() {  # calc FORMAT AWK-EXPRESSION [name=value...]: arithmetic for the waits and RSS samples
    local format=$1 expr=$2 arg vars=()
    shift 2
    for arg in "$@"; do
        vars+=(-v "$arg")
    done
    awk "${vars[@]}" "BEGIN { printf \"$format\", $expr }" 2>/dev/null
}

children_of() {  # direct children of a pid
    local stat pid ppid rest
    for stat in /proc/[0-9]*/stat; do
        read -r line 2>/dev/null <"$stat" || continue
        pid=${line%% *}
        rest=${line##*) }
        ppid=${rest#* }
        ppid=${ppid%% *}
        [ "$ppid" = "$1" ] && echo "$pid"
    done
}

# ---------------------------------------------------------------------------------------------
# nginx and HAProxy: installed from Debian when missing.

ensure_installed() {  # ensure_installed COMMAND PACKAGE
    local cmd=$1 package=$2
    if command -v "$cmd" >/dev/null || [ -x "/usr/sbin/$cmd" ]; then
        return 0
    fi
    if [ "$INSTALL" = 1 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        log "installing $package with apt-get"
        if [ -z "${APT_UPDATED:-}" ]; then
            DEBIAN_FRONTEND=noninteractive apt-get update -qq >"$WORK/apt.log" 2>&1
            APT_UPDATED=1
        fi
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$package" >>"$WORK/apt.log" 2>&1
        command -v "$cmd" >/dev/null || [ -x "/usr/sbin/$cmd" ]
        return
    fi
    return 1
}
tool_path() { command -v "$1" 2>/dev/null || echo "/usr/sbin/$1"; }

# ---------------------------------------------------------------------------------------------
# --tls: a throwaway CA and a server certificate signed by it, made with the openssl CLI in the
# work dir: EC P-256 keys, SAN localhost and 127.0.0.1, valid for two days. Every proxy serves the
# same certificate (the chain is the leaf alone; the load generator trusts the CA and checks the
# name "localhost", which it also sends as SNI).

TLS_DIR=
CLIENT_TLS=()  # the load generator's TLS flags for the current path (none for direct)

make_tls_material() {
    local dir=$WORK/tls
    mkdir -p "$dir"
    printf '%s\n' "basicConstraints = critical, CA:FALSE" "keyUsage = critical, digitalSignature" \
        "extendedKeyUsage = serverAuth" "subjectAltName = DNS:localhost, IP:127.0.0.1" >"$dir/server.ext"
    {
        openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$dir/ca.key" &&
            openssl req -x509 -new -key "$dir/ca.key" -sha256 -days 2 -subj "/CN=sluice bench throwaway CA" \
                -addext "basicConstraints = critical, CA:TRUE" -addext "keyUsage = critical, keyCertSign, cRLSign" \
                -out "$dir/ca.crt" &&
            openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$dir/server.key" &&
            openssl req -new -key "$dir/server.key" -subj "/CN=localhost" -out "$dir/server.csr" &&
            openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" -CAcreateserial \
                -days 2 -sha256 -extfile "$dir/server.ext" -out "$dir/server.crt" &&
            cat "$dir/server.crt" "$dir/server.key" >"$dir/combined.pem" &&  # HAProxy's crt: both in one file
            openssl verify -CAfile "$dir/ca.crt" "$dir/server.crt"
    } >"$dir/openssl.log" 2>&1 || { cat "$dir/openssl.log" >&2; return 1; }
    printf 'tls:\n  cert: %s\n  key: %s\n' "$dir/server.crt" "$dir/server.key" >"$dir/sluice-tls.yaml"
    TLS_DIR=$dir
}

# ---------------------------------------------------------------------------------------------
# Starting and stopping a path. Sets TARGET_PORT and PROXY_PIDS (empty for direct).

declare -A SKIPPED  # path -> why it was not measured
PROXY_MAIN_PID=
PROXY_PIDS=()

# upstream_servers nginx|haproxy INDENT: that proxy's servers, one per fast_upstream (and, with
# several, least-connections balancing first), as one sed replacement: lines joined by "\n" and
# INDENT (the template's indentation of the placeholder).
upstream_servers() {
    local lines=() i joined
    if [ "$BACKENDS" -gt 1 ]; then
        if [ "$1" = nginx ]; then lines+=("least_conn;"); else lines+=("balance leastconn"); fi
    fi
    for i in "${!UPSTREAM_PORTS[@]}"; do
        if [ "$1" = nginx ]; then
            lines+=("server 127.0.0.1:${UPSTREAM_PORTS[i]};")
        else
            lines+=("server ollama$((i + 1)) 127.0.0.1:${UPSTREAM_PORTS[i]}")
        fi
    done
    printf -v joined '%s\\n'"$2" "${lines[@]}"
    printf '%s' "${joined%\\n"$2"}"
}

start_path() {
    local path=$1 dir=$WORK/$1 port
    local -a run_proxy=("${ON_PROXY_CPU[@]}")
    if [ "$MODE" = callgrind ]; then
        run_proxy+=(valgrind --tool=callgrind "--callgrind-out-file=$dir/callgrind.%p.out" --log-file="$dir/valgrind.log")
        # --tls: each of the load's connections does a full handshake (a few million instructions,
        # more than its ~2000 lines at this load); not counted, so the figure stays per line. All
        # three proxies handshake through OpenSSL's SSL_do_handshake (SSL_accept calls it).
        # (--toggle-collect turns collection off at start: --collect-atstart=yes must follow it.)
        [ "$TLS" = 1 ] && run_proxy+=(--toggle-collect=SSL_do_handshake --collect-atstart=yes)
    fi
    mkdir -p "$dir"
    PROXY_PIDS=()
    PROXY_MAIN_PID=
    CLIENT_TLS=()
    # --tls: every proxy is reached over TLS; direct is fast_upstream itself, plain HTTP.
    [ "$TLS" = 1 ] && [ "$path" != direct ] && CLIENT_TLS=(--tls --tls-ca "$TLS_DIR/ca.crt")
    case $path in
    direct)
        TARGET_PORT=$UPSTREAM_PORT
        return 0
        ;;
    sluice)
        port=$SLUICE_PORT
        local -a config=() upstream=(--upstream "http://127.0.0.1:$UPSTREAM_PORT")
        # --metrics-cost's on/off configs (with the tls section when --tls), else --tls's own.
        local file=${SLUICE_CONFIG:-${TLS_DIR:+$TLS_DIR/sluice-tls.yaml}}
        if [ "$BACKENDS" -gt 1 ]; then  # --backends: the upstreams list, beside what the file had
            { [ -n "$file" ] && cat "$file"; echo "upstreams:"; printf '  - http://127.0.0.1:%s\n' "${UPSTREAM_PORTS[@]}"; } \
                >"$dir/sluice-fleet.yaml"
            file=$dir/sluice-fleet.yaml upstream=()
        fi
        [ -n "$file" ] && config=(--config "$file")
        "${run_proxy[@]}" "$SLUICE_BIN" "${config[@]}" --listen "127.0.0.1:$port" "${upstream[@]}" \
            --threads 1 --log-level warn >>"$dir/sluice.log" 2>&1 &
        ;;
    nginx)
        port=$NGINX_PORT
        # --tls: the listener gets "ssl" and the lines marked "#tls " are switched on.
        local -a tls_edits=(-e "s|@SSL@||g")
        [ "$TLS" = 1 ] && tls_edits=(-e "s|@SSL@| ssl|g" -e "s|@TLS_DIR@|$TLS_DIR|g" -e 's|^\( *\)#tls |\1|')
        sed -e "s|@PREFIX@|$dir|g" -e "s|@LISTEN_PORT@|$port|g" -e "s|@UPSTREAM_PORT@|$UPSTREAM_PORT|g" \
            -e "s|@UPSTREAM_SERVERS@|$(upstream_servers nginx '        ')|" \
            "${tls_edits[@]}" "$SCRIPT_DIR/nginx.conf.in" >"$dir/nginx.conf"
        if [ "$MODE" = callgrind ]; then  # one process, so callgrind_control can reach the worker's work
            sed -i 's/^master_process on;/master_process off;/' "$dir/nginx.conf"
        fi
        if ! "$NGINX_BIN" -t -q -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log" >"$dir/check.log" 2>&1; then
            log "nginx: config check failed:"; cat "$dir/check.log" "$dir/error.log" >&2 2>/dev/null
            return 1
        fi
        "${run_proxy[@]}" "$NGINX_BIN" -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log" >>"$dir/nginx.log" 2>&1 &
        ;;
    haproxy)
        port=$HAPROXY_PORT
        local bind_tls=""
        [ "$TLS" = 1 ] && bind_tls=" ssl crt $TLS_DIR/combined.pem ssl-min-ver TLSv1.2"
        sed -e "s|@LISTEN_PORT@|$port|g" -e "s|@UPSTREAM_PORT@|$UPSTREAM_PORT|g" -e "s|@BIND_TLS@|$bind_tls|g" \
            -e "s|@UPSTREAM_SERVERS@|$(upstream_servers haproxy '    ')|" \
            "$SCRIPT_DIR/haproxy.cfg.in" >"$dir/haproxy.cfg"
        if ! "$HAPROXY_BIN" -c -q -f "$dir/haproxy.cfg" >"$dir/check.log" 2>&1; then
            log "haproxy: config check failed:"; cat "$dir/check.log" >&2
            return 1
        fi
        "${run_proxy[@]}" "$HAPROXY_BIN" -db -f "$dir/haproxy.cfg" >>"$dir/haproxy.log" 2>&1 &
        ;;
    esac
    PROXY_MAIN_PID=$!
    PROXY_NAME=$path
    STARTED_PIDS+=("$PROXY_MAIN_PID")
    TARGET_PORT=$port
    if ! wait_port "$port" "$PROXY_MAIN_PID" "$([ "$MODE" = callgrind ] && echo 60 || echo 5)"; then
        log "$path did not start listening on 127.0.0.1:$port; its log:"
        tail -n 20 "$dir"/*.log >&2 2>/dev/null
        stop_path
        return 1
    fi
    # One short request, so the idle figures include a warmed-up connection to the upstream (and
    # nginx's worker, which the listening socket does not wait for, has surely started).
    "${ON_DRIVER_CPU[@]}" "$LOADGEN" --target "127.0.0.1:$port" "${CLIENT_TLS[@]}" --streams 1 --requests 1 \
        --tokens 1 --rate 0 --duration 10 >"$dir/warmup.out" 2>&1
    # nginx's worker is a child of its master; CPU and memory count both.
    mapfile -t PROXY_PIDS < <(echo "$PROXY_MAIN_PID"; children_of "$PROXY_MAIN_PID")
    return 0
}

stop_path() {
    if [ -n "$PROXY_MAIN_PID" ]; then
        stop_pid "$PROXY_MAIN_PID" "$PROXY_NAME"
        forget_pid "$PROXY_MAIN_PID"
    fi
    PROXY_MAIN_PID=
    PROXY_PIDS=()
}

# ---------------------------------------------------------------------------------------------
# results.jsonl: one JSON object a line, raw figures only; bench/report.py derives and renders
# (its docstring lists the records). Runs and path facts carry their round and path.

json_fields() {  # json_fields KEY=TEXT | KEY:=JSON ...: a JSON object's members; an empty JSON value is null
    local arg key value members=()
    for arg in "$@"; do
        key=${arg%%=*}
        value=${arg#*=}
        if [ "${key%:}" != "$key" ]; then
            members+=("\"${key%:}\":${value:-null}")
        else
            value=${value//\\/\\\\}
            value=${value//\"/\\\"}
            value=${value//$'\t'/\\t}
            value=${value//$'\n'/\\n}
            members+=("\"$key\":\"$value\"")
        fi
    done
    local IFS=,
    printf '%s' "${members[*]}"
}

record() { printf '{%s}\n' "$(json_fields "$@")" >>"$RESULTS"; }

path_record() {  # path_record PATH FIELDS...: facts about PATH in this round
    local path=$1
    shift
    record record=path round:="$ROUND" path="$path" "$@"
}

skip() {  # skip PATH WHY [FIELDS...]: not measured (from now on), and the table says why
    SKIPPED[$1]=$2
    path_record "$1" skipped="$2" "${@:3}"
}

progress() { python3 "$SCRIPT_DIR/report.py" --progress "$RESULTS" >&2; }  # on the last record

commit_note() {  # the commit measured (read-only git)
    local commit
    commit=$(git -C "$REPO_DIR" rev-parse --short HEAD 2>/dev/null || echo "no commit yet")
    if ! git -C "$REPO_DIR" diff --quiet HEAD 2>/dev/null; then
        commit+=" (with uncommitted changes)"
    fi
    echo "$commit"
}

meta_record() {  # what was measured, on what, under which load shape
    local paths sluice=() tls_meta=()
    if [ "$TLS" = 1 ]; then
        tls_meta=(tls_certificate="EC P-256, SAN localhost and 127.0.0.1, leaf only; the loadgen verifies it against a throwaway CA"
            openssl="$(openssl version 2>/dev/null | cut -d" " -f1-2)")
    fi
    printf -v paths '"%s",' "${PATHS[@]}"
    if [[ " ${PATHS[*]} " == *" sluice "* ]] && [ -z "${SKIPPED[sluice]:-}" ]; then
        # Which sluice binary: it may be rebuilt between runs.
        sluice=(sluice="$SLUICE_BIN" sluice_sha256="$(sha256sum "$SLUICE_BIN" | cut -d' ' -f1)"
            sluice_built="$(date -u -r "$SLUICE_BIN" +%FT%TZ)")
    fi
    record record=meta date="$(date -u +%FT%TZ)" command="$COMMAND_LINE" mode="$MODE" repeat:="$REPEAT" \
        paths:="[${paths%,}]" commit="$(commit_note)" "${sluice[@]}" \
        cpus:="$(nproc)" cpu_model="$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)" \
        mem_total_kb:="$(awk '/MemTotal/ { print $2 }' /proc/meminfo)" kernel="$(uname -r)" \
        tls:="$([ "$TLS" = 1 ] && echo true || echo false)" "${tls_meta[@]}" backends:="$BACKENDS" \
        placement="$PLACEMENT" cpu0_idle_pct:="$IDLE0" cpu1_idle_pct:="$IDLE1" load_average="$LOAD_NOTE" \
        clk_tck:="$(getconf CLK_TCK)" rate:="$RATE" tokens:="$TOKENS" \
        s1_duration:="$S1_DURATION" s100_duration:="$S100_DURATION" \
        s1000_streams:="$S1000_STREAMS" s1000_rate:="$S1000_RATE" s1000_tokens:="$S1000_TOKENS" s1000_duration:="$S1000_DURATION" \
        sat_streams:="$SAT_STREAMS" sat_rate:="$SAT_RATE" sat_tokens:="$SAT_TOKENS" sat_duration:="$SAT_DURATION" \
        cancels:="$CANCELS" cancel_tokens:="$CANCEL_TOKENS" upload_bytes:="$UPLOAD_BYTES" \
        metrics_duration:="$METRICS_DURATION" callgrind_streams:="$CALLGRIND_STREAMS" \
        callgrind_rate:="$CALLGRIND_RATE" callgrind_duration:="$CALLGRIND_DURATION"
}

# ---------------------------------------------------------------------------------------------
# One load-generator run against the current path: one "run" record.

run_load() {  # run_load PATH RUN SAMPLE_RSS(0/1) LOADGEN-ARGS...
    local path=$1 run=$2 sample_rss=$3
    shift 3
    local out=$WORK/$path/$ROUND-$run.out
    local cpu0 ticks0 t0 busy0 total0 cpu1 ticks1 t1 busy1 total1 lg rc rss=0 now i
    local ready=() cpu_ready= t_ready=
    if [ ${#CLIENT_TLS[@]} -gt 0 ] && [ ${#PROXY_PIDS[@]} -gt 0 ] && [[ " $* " != *" --upload "* ]]; then
        # --tls: the load generator opens and handshakes every connection before its run starts,
        # and says when (the file): the proxy's CPU before it is the handshakes', after it the relay's.
        rm -f "$out.ready"
        ready=(--ready-file "$out.ready")
    fi
    wait_quiet
    cpu0=$(cpu_ns "${PROXY_PIDS[@]}")
    ticks0=$(stat_ticks "${PROXY_PIDS[@]}")
    read -r busy0 total0 < <(cpu_busy_ticks 0)
    t0=$(date +%s%N)
    "${ON_DRIVER_CPU[@]}" "$LOADGEN" --target "127.0.0.1:$TARGET_PORT" --stats "127.0.0.1:$UPSTREAM_PORT" \
        "${CLIENT_TLS[@]}" "${ready[@]}" --label "$path/$run" "$@" >"$out" 2>"$out.err" &
    lg=$!
    STARTED_PIDS+=("$lg")
    if [ ${#ready[@]} -gt 0 ] && wait_file "$out.ready" "$lg" 120; then
        cpu_ready=$(cpu_ns "${PROXY_PIDS[@]}")
        t_ready=$(date +%s%N)
    fi
    if [ "$sample_rss" = 1 ] && [ ${#PROXY_PIDS[@]} -gt 0 ]; then
        # RSS with every stream active: the largest of a few samples across the steady window.
        sleep "$SAMPLE_FIRST"
        for ((i = 0; i < 4; i++)); do
            now=$(status_kb VmRSS "${PROXY_PIDS[@]}")
            [ "$now" -gt "$rss" ] && rss=$now
            sleep "$SAMPLE_GAP"
        done
    fi
    wait "$lg"
    rc=$?
    t1=$(date +%s%N)
    cpu1=$(cpu_ns "${PROXY_PIDS[@]}")
    ticks1=$(stat_ticks "${PROXY_PIDS[@]}")
    read -r busy1 total1 < <(cpu_busy_ticks 0)
    forget_pid "$lg"

    local json
    json=$(grep '^{' "$out" | tail -n 1)
    if [ $rc -ne 0 ] || [ -z "$json" ]; then
        log "  $path/$run: loadgen failed (exit $rc):"
        tail -n 5 "$out.err" "$out" >&2
        json='{"errors":1,"lines":0}'
    fi
    sed -n '/^{/!p' "$out" | sed 's/^/  /' >&2
    [ -s "$out.err" ] && head -n 5 "$out.err" | sed 's/^/  ! /' >&2

    # The load generator's JSON as it printed it, beside the proxy's raw counters (none for direct);
    # report.py derives CPU/line, busy and other work on CPU 0 from them. Ticks: a cross-check.
    local proxy=()
    if [ ${#PROXY_PIDS[@]} -gt 0 ]; then
        proxy=(proxy_cpu_ns:=$((cpu1 - cpu0)) proxy_stat_ticks:=$((ticks1 - ticks0)))
        if [ -n "$cpu_ready" ]; then  # --tls: the same split in two at the start of the run proper
            proxy+=(proxy_handshake_cpu_ns:=$((cpu_ready - cpu0)) proxy_relay_cpu_ns:=$((cpu1 - cpu_ready))
                relay_wall_ns:=$((t1 - t_ready)))
        fi
        [ "$sample_rss" = 1 ] && proxy+=(rss_active_kb:="$rss")
    fi
    printf '{%s,"loadgen":%s}\n' "$(json_fields record=run round:="$ROUND" path="$path" run="$run" \
        wall_ns:=$((t1 - t0)) cpu0_busy_ticks:=$((busy1 - busy0)) cpu0_total_ticks:=$((total1 - total0)) \
        "${proxy[@]}")" "$json" >>"$RESULTS"
    if [ "$MODE" != callgrind ]; then
        progress
    fi
}

# ---------------------------------------------------------------------------------------------
# One path, start to finish.

bench_path() {
    local path=$1
    log ""
    log "== $path"
    if ! start_path "$path"; then
        skip "$path" "did not start" failed:=true
        return
    fi
    [ ${#PROXY_PIDS[@]} -gt 0 ] && path_record "$path" idle_rss_kb:="$(status_kb VmRSS "${PROXY_PIDS[@]}")"

    if [ "$MODE" = smoke ]; then
        run_load "$path" chat 0 --path /api/chat --streams 4 --rate 200 --tokens 20 --duration 1.5
        run_load "$path" sse 0 --path /v1/chat/completions --streams 4 --rate 200 --tokens 20 --duration 1
        if [ "$BACKENDS" -eq 1 ]; then  # cancels and the upload are about one upstream
            run_load "$path" cancel 0 --cancel 5 --streams 5 --tokens 400 --rate 80 --cancel-wait 1
            run_load "$path" upload 0 --upload $((16 << 20))
        fi
        stop_path
        return
    fi

    run_load "$path" s1 0 --streams 1 --rate "$RATE" --tokens "$TOKENS" --duration "$S1_DURATION"
    run_load "$path" s100 0 --streams 100 --rate "$RATE" --tokens "$TOKENS" --duration "$S100_DURATION"
    SAMPLE_FIRST=$(calc "%.2f" "0.5 + 0.0005 * n + (d - 0.5 - 0.0005 * n) * 0.2" n="$S1000_STREAMS" d="$S1000_DURATION")
    SAMPLE_GAP=$(calc "%.2f" "(d - 0.5 - 0.0005 * n) * 0.15" n="$S1000_STREAMS" d="$S1000_DURATION")
    run_load "$path" s1000 1 --streams "$S1000_STREAMS" --rate "$S1000_RATE" --tokens "$S1000_TOKENS" --duration "$S1000_DURATION"
    run_load "$path" sat 0 --streams "$SAT_STREAMS" --rate "$SAT_RATE" --tokens "$SAT_TOKENS" --duration "$SAT_DURATION"
    [ ${#PROXY_PIDS[@]} -gt 0 ] && path_record "$path" peak_rss_kb:="$(status_kb VmHWM "${PROXY_PIDS[@]}")"
    if [ "$BACKENDS" -gt 1 ]; then  # cancels and the upload are about one upstream
        stop_path
        return
    fi
    run_load "$path" cancel 0 --cancel "$CANCELS" --streams 10 --tokens "$CANCEL_TOKENS" --rate "$RATE" --cancel-wait 2
    # The upload gets a fresh proxy, so its peak RSS is the upload's own.
    stop_path
    if start_path "$path"; then
        run_load "$path" upload 0 --upload "$UPLOAD_BYTES" --timeout 30
        [ ${#PROXY_PIDS[@]} -gt 0 ] && path_record "$path" upload_peak_rss_kb:="$(status_kb VmHWM "${PROXY_PIDS[@]}")"
        stop_path
    fi
}

# Callgrind mode: instructions per line are repeatable to the instruction, whatever else the
# machine does. Counters are zeroed after a warm-up request and dumped after the load, so start-up
# and shutdown are not counted. Kernel work (the syscalls themselves) is not counted either.
CALLGRIND_STREAMS=10 CALLGRIND_RATE=40 CALLGRIND_DURATION=5

callgrind_path() {
    local path=$1 dir=$WORK/$1 before out total
    log ""
    log "== $path under callgrind"
    [ "$path" = direct ] && return
    if ! start_path "$path"; then
        skip "$path" "did not start"
        return
    fi
    callgrind_control -z "$PROXY_MAIN_PID" >"$dir/callgrind_control.log" 2>&1
    before=$(find "$dir" -name 'callgrind.*.out*' | wc -l)
    run_load "$path" callgrind 0 --streams "$CALLGRIND_STREAMS" --rate "$CALLGRIND_RATE" --tokens "$TOKENS" \
        --duration "$CALLGRIND_DURATION" --timeout 30
    callgrind_control -d "$PROXY_MAIN_PID" >>"$dir/callgrind_control.log" 2>&1
    # The dump just written is the newest file; its "totals:" line sums every event since the zeroing.
    out=$(ls -t "$dir"/callgrind.*.out* 2>/dev/null | head -n 1)
    total=$(sed -n 's/^totals: *\([0-9]*\).*/\1/p' "$out" 2>/dev/null | head -n 1)
    if [ -z "$total" ] || [ "$(find "$dir" -name 'callgrind.*.out*' | wc -l)" -le "$before" ]; then
        log "  no callgrind dump (see $dir/callgrind_control.log)"
        total=""
    fi
    path_record "$path" callgrind_instructions:="$total"
    progress
    stop_path
}

# ---------------------------------------------------------------------------------------------
# --metrics-cost: the same 100-stream load against sluice with metrics on and off, in pairs.

metrics_half() {  # metrics_half on|off: a fresh sluice with that config, one run; says if it counted
    local variant=$1 counted
    SLUICE_CONFIG=$WORK/metrics-$variant.yaml
    if ! start_path sluice; then
        SLUICE_CONFIG=
        path_record sluice failed:=true
        return 1
    fi
    SLUICE_CONFIG=
    run_load sluice "metrics_$variant" 0 --streams 100 --rate "$RATE" --tokens "$TOKENS" --duration "$METRICS_DURATION"
    if [ "$variant" = on ] && command -v curl >/dev/null; then
        # The "on" half must have counted what it relayed, or the pair compares nothing.
        local -a curl_tls=()
        local scheme=http
        [ "$TLS" = 1 ] && curl_tls=(--cacert "$TLS_DIR/ca.crt") && scheme=https
        counted=$(curl -s "${curl_tls[@]}" "$scheme://127.0.0.1:$SLUICE_PORT/metrics" |
            sed -n 's|^sluice_requests_total{route="/api/chat",status="200"} \([0-9]*\).*|\1|p')
        path_record sluice metrics_counted:="${counted:-0}"
        log "  -> /metrics counted ${counted:-no} /api/chat requests"
    fi
    stop_path
}

metrics_pair() {  # one pair, in the order of the round (alternating, so drift favours neither)
    log ""
    log "== sluice, metrics pair $ROUND of $REPEAT"
    if ((ROUND % 2 == 1)); then
        metrics_half on && metrics_half off
    else
        metrics_half off && metrics_half on
    fi
}

# ---------------------------------------------------------------------------------------------
# Main.

SLUICE_BIN=${SLUICE_BIN:-$BUILD_DIR/sluice}
if [ "$TLS" = 1 ]; then
    command -v openssl >/dev/null || die "--tls needs the openssl command (Debian: apt-get install openssl)"
    make_tls_material || die "--tls: could not make the throwaway certificates (see above)"
    log "TLS: loadgen -> proxies over TLS; certificate for localhost and 127.0.0.1 in $TLS_DIR"
fi
NGINX_BIN=
HAPROXY_BIN=
if [ "$MODE" = callgrind ]; then
    command -v valgrind >/dev/null && command -v callgrind_control >/dev/null ||
        ensure_installed valgrind valgrind || die "--callgrind needs valgrind"
fi
for p in "${PATHS[@]}"; do
    if [ "$BACKENDS" -gt 1 ] && [ "$p" = direct ]; then
        skip direct "one upstream; --backends measures the proxies in front of several"
        continue
    fi
    case $p in
    sluice)
        [ -x "$SLUICE_BIN" ] || { skip sluice "no $SLUICE_BIN"; log "sluice: skipped, no $SLUICE_BIN (build it first)"; }
        ;;
    nginx)
        if ensure_installed nginx nginx-light; then NGINX_BIN=$(tool_path nginx); else
            skip nginx "not installed"; log "nginx: skipped, not installed and could not install nginx-light"
        fi
        ;;
    haproxy)
        if ensure_installed haproxy haproxy; then HAPROXY_BIN=$(tool_path haproxy); else
            skip haproxy "not installed"; log "haproxy: skipped, not installed and could not install haproxy"
        fi
        ;;
    esac
done

# Is the machine quiet? Other work on CPU 0 shows up in the proxy's figures.
read -r IDLE0 IDLE1 < <(idle_pct 1)
LOAD_NOTE=$(cut -d' ' -f1-3 /proc/loadavg)
QUIET_NOTE="CPU 0 ${IDLE0} % idle, CPU 1 ${IDLE1} % idle"
if [ "${IDLE0:-0}" -lt 85 ] || [ "${IDLE1:-0}" -lt 85 ]; then
    log "warning: the machine is busy before the benchmark starts ($QUIET_NOTE): figures will be noisy"
fi
meta_record

mapfile -t FREE_PORTS < <("$LOADGEN" --free-ports $((3 + BACKENDS)) | tr -s ' \t' '\n' | grep .)
[ ${#FREE_PORTS[@]} -eq $((3 + BACKENDS)) ] || die "could not pick free ports"
SLUICE_PORT=${FREE_PORTS[0]} NGINX_PORT=${FREE_PORTS[1]} HAPROXY_PORT=${FREE_PORTS[2]}
UPSTREAM_PORTS=("${FREE_PORTS[@]:3}")
UPSTREAM_PORT=${UPSTREAM_PORTS[0]}  # the load generator's --stats, and the direct path

UPSTREAM_PIDS=()
for i in "${!UPSTREAM_PORTS[@]}"; do
    "${ON_DRIVER_CPU[@]}" "$UPSTREAM_BIN" --listen "127.0.0.1:${UPSTREAM_PORTS[i]}" --rate "$RATE" --tokens "$TOKENS" \
        >"$WORK/fast_upstream.$i.log" 2>&1 &
    UPSTREAM_PIDS+=($!)
    STARTED_PIDS+=($!)
    wait_port "${UPSTREAM_PORTS[i]}" "$!" || { cat "$WORK/fast_upstream.$i.log" >&2; die "fast_upstream did not start"; }
done
log "fast_upstream on 127.0.0.1:${UPSTREAM_PORTS[*]} ($PLACEMENT)"

printf 'metrics:\n  path: /metrics\n' >"$WORK/metrics-on.yaml"
printf 'metrics:\n  path: ""\n' >"$WORK/metrics-off.yaml"
if [ "$TLS" = 1 ]; then  # --metrics-cost --tls: both halves over TLS
    tee -a "$WORK/metrics-on.yaml" <"$TLS_DIR/sluice-tls.yaml" >>"$WORK/metrics-off.yaml"
fi

for ((ROUND = 1; ROUND <= REPEAT; ROUND++)); do
    ORDER=("${PATHS[@]}")
    if ((ROUND % 2 == 0)); then  # alternate the order, so drift over time does not favour one path
        ORDER=()
        for ((i = ${#PATHS[@]} - 1; i >= 0; i--)); do ORDER+=("${PATHS[i]}"); done
    fi
    for p in "${ORDER[@]}"; do
        [ -n "${SKIPPED[$p]:-}" ] && continue
        if [ "$MODE" = callgrind ]; then
            callgrind_path "$p"
        elif [ "$MODE" = metrics ]; then
            metrics_pair
        else
            bench_path "$p"
        fi
    done
    record record=round round:="$ROUND" date="$(date -u +%FT%TZ)"
done

for i in "${!UPSTREAM_PIDS[@]}"; do
    stop_pid "${UPSTREAM_PIDS[i]}" fast_upstream
    forget_pid "${UPSTREAM_PIDS[i]}"
done
log ""
for i in "${!UPSTREAM_PIDS[@]}"; do log "$(tail -n 1 "$WORK/fast_upstream.$i.log")"; done

# The tables come from results.jsonl alone, so a kept --out DIR renders them again. --smoke fails
# (status 1) only when a path returned errors or no lines.
python3 "$SCRIPT_DIR/report.py" "$RESULTS" | tee "$WORK/table.md"
exit "${PIPESTATUS[0]}"
