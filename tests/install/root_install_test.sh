#!/usr/bin/env bash
# The .deb built here (Debian 12) installs with dpkg into another system's root made with
# debootstrap, where the libraries it carries (yaml-cpp 0.7, fmt 9, spdlog 1.10, simdjson 14) are
# not installed: in CI the Debian 13 root scripts/setup.sh makes (OpenSSL there is libssl3t64);
# by hand, an Ubuntu root (README.md, "Install"). There sluice --version, --check-config of the
# shipped config and a request proxied to an Ollama-shaped upstream on loopback all work. chroot
# needs root: without it the test reports itself skipped (77).
# Usage: root_install_test.sh CPACK BUILD_DIR SCRATCH_DIR ROOT FAST_UPSTREAM
set -euo pipefail
cpack=$1 build=$2 scratch=$3 root=$4 upstream_binary=$5

fail() {
    echo "FAIL: $*"
    exit 1
}

[[ $(id -u) -eq 0 ]] || { echo "SKIP: chroot needs root"; exit 77; }
[[ -x $root/usr/bin/dpkg && ! -d $root/debootstrap ]] || fail "no complete root at $root (scripts/setup.sh makes one with debootstrap)"
system=$(. "$root/etc/os-release" && echo "$PRETTY_NAME")
for library in libyaml-cpp.so.0.7 libfmt.so.9 libspdlog.so.1.10 libsimdjson.so.14; do
    [[ -z $(find "$root/usr/lib" -name "$library*" -print -quit) ]] || fail "$system already has $library"
done

rm -rf "$scratch"
mkdir -p "$scratch"
"$cpack" -G DEB --config "$build/CPackConfig.cmake" -B "$scratch" >"$scratch/cpack.log" 2>&1 ||
    { cat "$scratch/cpack.log"; fail "cpack -G DEB failed"; }
debs=("$scratch"/sluice_*.deb)
cp "${debs[0]}" "$root/tmp/sluice.deb"

pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    in_root dpkg --purge sluice >/dev/null 2>&1 || true
    rm -f "$root/tmp/sluice.deb"
}
trap cleanup EXIT
# /proc as on a real system (the loader reads /proc/self/exe to expand the binary's $ORIGIN), in a
# mount namespace of the command's own, so no mount outlives it.
in_root_command=(unshare --mount --propagation private sh -c 'mount -t proc proc "$0/proc" && exec chroot "$0" "$@"'
                 "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root)
in_root() { "${in_root_command[@]}" "$@"; }

in_root dpkg -i /tmp/sluice.deb >"$scratch/dpkg.log" 2>&1 || { cat "$scratch/dpkg.log"; fail "dpkg -i failed in $system"; }
installed=$(in_root dpkg-query -W -f='${db:Status-Abbrev} ${Package} ${Version}\n' libc6 libstdc++6 'libssl3*' 2>/dev/null |
    awk '$1 == "ii" {print $2, $3}' | paste -sd, | sed 's/,/, /g')
echo "installed into $system beside $installed"

version=$(in_root sluice --version) || fail "sluice --version failed in $system"
[[ $version == "sluice $(dpkg-deb --field "${debs[0]}" Version)" ]] || fail "sluice --version says '$version'"
check=$(in_root sluice --config /etc/sluice/sluice.yaml --check-config 2>&1) ||
    { echo "$check"; fail "--check-config of the shipped config failed in $system"; }
echo "$version; $check"

# A request through the installed sluice to an Ollama-shaped upstream outside the root: a chroot
# shares the host's loopback. Free ports from the kernel; a port taken in between fails the test.
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
upstream_port=$(free_port) sluice_port=$(free_port)
"$upstream_binary" --listen "127.0.0.1:$upstream_port" --tokens 5 --rate 0 >"$scratch/upstream.log" 2>&1 &
pids+=($!)
# exec: the background job becomes sluice itself (unshare, sh, chroot and env each exec the
# next), so the cleanup's kill stops it rather than a shell around it.
(exec "${in_root_command[@]}" sluice --config /etc/sluice/sluice.yaml --listen "127.0.0.1:$sluice_port" \
    --upstream "http://127.0.0.1:$upstream_port") >"$scratch/sluice.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
    curl -s -o /dev/null "http://127.0.0.1:$sluice_port/api/version" && break
    sleep 0.1
done
reply=$(curl -sS --max-time 10 "http://127.0.0.1:$sluice_port/api/chat" \
    -d '{"model":"qwen3:14b","messages":[{"role":"user","content":"hi"}]}') ||
    { cat "$scratch/sluice.log"; fail "the request through sluice in $system failed"; }
lines=$(grep -c '"done":false' <<<"$reply" || true)
[[ $lines -eq 5 && $(tail -n 1 <<<"$reply") == *'"done":true'* ]] ||
    { echo "$reply"; cat "$scratch/sluice.log"; fail "the proxied stream is not 5 token lines and a done line"; }
echo "proxied /api/chat in $system: $lines token lines and the done line"
