#!/usr/bin/env bash
# `cmake --install` into a scratch DESTDIR installs exactly the Debian layout (binary and its
# private libraries, conffile, units, man page and nothing else: no test, benchmark or fuzz
# binaries), and the installed binary loads its libraries from there and accepts the installed
# config.
# Usage: install_tree_test.sh CMAKE BUILD_DIR SCRATCH_DIR
set -euo pipefail
cmake=$1 build=$2 scratch=$3

rm -rf "$scratch"
mkdir -p "$scratch"
DESTDIR="$scratch/root" "$cmake" --install "$build" >"$scratch/install.log"

expected=$(printf '%s\n' \
    /etc/sluice/sluice.yaml \
    /usr/bin/sluice \
    /usr/lib/systemd/system/sluice.service \
    /usr/lib/systemd/system/sluice.socket \
    /usr/share/doc/sluice/README.md \
    /usr/share/doc/sluice/copyright \
    /usr/share/man/man1/sluice.1.gz)
installed=$(cd "$scratch/root" && find . ! -type d ! -path './usr/lib/sluice/*' | sed 's/^\.//' | LC_ALL=C sort)
if [[ $installed != "$expected" ]]; then
    echo "FAIL: cmake --install installed a different set of files (< expected, > installed):"
    diff <(echo "$expected") <(echo "$installed") || true
    exit 1
fi

[[ -x $scratch/root/usr/bin/sluice ]] || { echo "FAIL: /usr/bin/sluice is not executable"; exit 1; }

# /usr/lib/sluice: each private library (cmake/install.cmake) as its file and its soname link, and
# the binary finds them there, not in the system's directories.
private=$(cd "$scratch/root/usr/lib/sluice" && ls | sed -E 's/\.so\..*//' | LC_ALL=C sort -u | tr '\n' ' ')
[[ $private == "libfmt libprometheus-cpp-core libsimdjson libspdlog libyaml-cpp " ]] ||
    { echo "FAIL: /usr/lib/sluice holds '$private'"; exit 1; }
resolved=$(ldd "$scratch/root/usr/bin/sluice")
for library in libfmt libprometheus-cpp-core libsimdjson libspdlog libyaml-cpp; do
    grep -q "$library\.so\.[0-9.]* => $scratch/root/usr/bin/../lib/sluice/" <<<"$resolved" ||
        { echo "FAIL: the installed sluice does not load $library from /usr/lib/sluice:"; echo "$resolved"; exit 1; }
done
mode=$(stat -c %a "$scratch/root/etc/sluice/sluice.yaml")
[[ $mode == 644 ]] || { echo "FAIL: /etc/sluice/sluice.yaml has mode $mode, not 644 (the service's DynamicUser reads it)"; exit 1; }

output=$("$scratch/root/usr/bin/sluice" --config "$scratch/root/etc/sluice/sluice.yaml" --check-config 2>&1) || {
    echo "FAIL: the installed sluice rejects the installed config:"
    echo "$output"
    exit 1
}
[[ $output == "config OK: "* ]] || { echo "FAIL: unexpected --check-config output: $output"; exit 1; }
gzip -t "$scratch/root/usr/share/man/man1/sluice.1.gz" || { echo "FAIL: the man page is not valid gzip"; exit 1; }
if zcat "$scratch/root/usr/share/man/man1/sluice.1.gz" | grep -q 'man sluice'; then
    echo "FAIL: the man page refers to itself ('man sluice')"; exit 1
fi
# Each unit's Documentation= names the man page and the README, which is installed where it says.
for unit in sluice.service sluice.socket; do
    documentation=$(sed -n 's/^Documentation=//p' "$scratch/root/usr/lib/systemd/system/$unit")
    for page in 'man:sluice(1)' 'file:/usr/share/doc/sluice/README.md'; do
        [[ " $documentation " == *" $page "* ]] || { echo "FAIL: $unit's Documentation= lacks $page"; exit 1; }
    done
done
echo "installed: $(echo "$installed" | tr '\n' ' ')"
echo "$output"
