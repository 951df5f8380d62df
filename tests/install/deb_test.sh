#!/usr/bin/env bash
# `cpack -G DEB` makes a .deb that installs the Debian layout owned by root, marks
# /etc/sluice/sluice.yaml as a conffile, depends on the packages of the libraries sluice links,
# and whose maintainer scripts never enable or start the service. Needs no root: the package is
# inspected with dpkg-deb and unpacked into the scratch directory, never installed.
# Usage: deb_test.sh CPACK BUILD_DIR SCRATCH_DIR
set -euo pipefail
cpack=$1 build=$2 scratch=$3

fail() {
    echo "FAIL: $*"
    exit 1
}

rm -rf "$scratch"
mkdir -p "$scratch"
"$cpack" -G DEB --config "$build/CPackConfig.cmake" -B "$scratch" >"$scratch/cpack.log" 2>&1 ||
    { cat "$scratch/cpack.log"; fail "cpack -G DEB failed"; }
debs=("$scratch"/sluice_*.deb)
[[ ${#debs[@]} -eq 1 && -f ${debs[0]} ]] || fail "expected one sluice_*.deb in $scratch, found: ${debs[*]}"
deb=${debs[0]}
echo "package: $(basename "$deb")"

field() { dpkg-deb --field "$deb" "$1"; }
[[ $(field Package) == sluice ]] || fail "Package: is '$(field Package)'"
[[ $(field Section) == net ]] || fail "Section: is '$(field Section)'"
[[ -n $(field Maintainer) ]] || fail "no Maintainer:"
[[ -n $(field Version) && $(basename "$deb") == "sluice_$(field Version)_$(field Architecture).deb" ]] ||
    fail "file name $(basename "$deb") does not match Version: $(field Version), Architecture: $(field Architecture)"
depends=$(field Depends)
echo "Depends: $depends"
for package in libc6 libstdc++6 libyaml-cpp libspdlog libfmt libsimdjson libsystemd0 libsqlite3-0; do
    [[ $depends == *"$package"* ]] || fail "Depends: lacks $package (dpkg-shlibdeps should find it)"
done

# Files: exactly these, owned by root. dpkg-deb -c lines: mode owner/group size date time path.
files=$(dpkg-deb --contents "$deb" | awk '$1 !~ /^d/ {print $6}' | LC_ALL=C sort)
expected=$(printf '%s\n' \
    ./etc/sluice/sluice.yaml \
    ./usr/bin/sluice \
    ./usr/lib/systemd/system/sluice.service \
    ./usr/lib/systemd/system/sluice.socket \
    ./usr/share/doc/sluice/README.md \
    ./usr/share/doc/sluice/copyright \
    ./usr/share/man/man1/sluice.1.gz)
[[ $files == "$expected" ]] || { diff <(echo "$expected") <(echo "$files") || true; fail "the .deb holds a different set of files (< expected, > packaged)"; }
owners=$(dpkg-deb --contents "$deb" | awk '{print $2}' | sort -u)
[[ $owners == root/root ]] || fail "files are owned by $owners, not root/root"

# Control files: the conffile, and maintainer scripts that are valid sh and only reload systemd.
[[ $(dpkg-deb --info "$deb" conffiles) == /etc/sluice/sluice.yaml ]] ||
    fail "conffiles is '$(dpkg-deb --info "$deb" conffiles 2>&1)', not /etc/sluice/sluice.yaml"
mkdir -p "$scratch/control"
dpkg-deb --control "$deb" "$scratch/control"
for script in postinst prerm postrm; do
    [[ -x $scratch/control/$script ]] || fail "no executable $script"
    sh -n "$scratch/control/$script" || fail "$script is not valid sh"
    if grep -v '^[[:space:]]*#' "$scratch/control/$script" | grep -E 'systemctl[^#]*\b(enable|start|unmask)\b'; then
        fail "$script enables or starts a unit; installing must leave that to the user"
    fi
    grep -q -- '-d /run/systemd/system' "$scratch/control/$script" || fail "$script does not check that systemd runs"
done
grep -q 'daemon-reload' "$scratch/control/postinst" || fail "postinst does not run systemctl daemon-reload"

# The packaged (stripped) binary runs.
dpkg-deb --extract "$deb" "$scratch/root"
version=$("$scratch/root/usr/bin/sluice" --version) || fail "the packaged sluice does not run"
[[ $version == "sluice $(field Version)" ]] || fail "the packaged sluice says '$version', the package $(field Version)"
echo "$version; $(wc -l <<<"$files") files; conffiles: /etc/sluice/sluice.yaml"
