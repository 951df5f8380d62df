#!/usr/bin/env bash
# `cpack` makes a .deb that installs the Debian layout owned by root, marks /etc/sluice/sluice.yaml
# as a conffile, and whose maintainer scripts never enable or start the service; and a tarball of
# the same tree. One package for Debian 12 and 13 and Ubuntu 22.04 and 24.04: Depends: names only
# packages all four have, every library the binary and its private ones need is one of those or
# travels in /usr/lib/sluice, and no symbol asks for a newer glibc or libstdc++ than Ubuntu
# 22.04's (2.35, GCC 12). Needs no root: the package is inspected with dpkg-deb and unpacked into
# the scratch directory (debian13_test.sh installs it into a Debian 13 root).
# Usage: deb_test.sh CPACK BUILD_DIR SCRATCH_DIR
set -euo pipefail
cpack=$1 build=$2 scratch=$3

fail() {
    echo "FAIL: $*"
    exit 1
}

rm -rf "$scratch"
mkdir -p "$scratch"
"$cpack" --config "$build/CPackConfig.cmake" -B "$scratch" >"$scratch/cpack.log" 2>&1 ||
    { cat "$scratch/cpack.log"; fail "cpack failed"; }
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
[[ $depends == "libc6 (>= 2.34), libgcc-s1 (>= 3.0), libstdc++6 (>= 12), libssl3 (>= 3.0.0) | libssl3t64, libsqlite3-0 (>= 3.14.0), libsystemd0" ]] ||
    fail "Depends: is not the four systems' common set"

# Files: exactly these, owned by root. dpkg-deb -c lines: mode owner/group size date time path.
files=$(dpkg-deb --contents "$deb" | awk '$1 !~ /^d/ {print $6}' | grep -v '^\./usr/lib/sluice/' | LC_ALL=C sort)
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

dpkg-deb --extract "$deb" "$scratch/root"

# Libraries: what the binary and its private libraries need (NEEDED) is in /usr/lib/sluice or in a
# package Depends: names; each symbol version is one Ubuntu 22.04 has (the oldest of the four).
declare -A from_depends=([libc.so.6]=libc6 [libm.so.6]=libc6 [ld-linux-x86-64.so.2]=libc6 [ld-linux-aarch64.so.1]=libc6 [libgcc_s.so.1]=libgcc-s1 [libstdc++.so.6]=libstdc++6
    [libssl.so.3]=libssl3 [libcrypto.so.3]=libssl3 [libsqlite3.so.0]=libsqlite3-0 [libsystemd.so.0]=libsystemd0)
for object in "$scratch/root/usr/bin/sluice" "$scratch"/root/usr/lib/sluice/*.so.*.*; do
    for needed in $(objdump -p "$object" | awk '$1 == "NEEDED" {print $2}'); do
        [[ -e $scratch/root/usr/lib/sluice/$needed || -n ${from_depends[$needed]:-} ]] ||
            fail "$(basename "$object") needs $needed, which is neither in /usr/lib/sluice nor in Depends:"
    done
    newest() { objdump -T "$object" | grep -o "$1_[0-9.]*" | sort -Vu | tail -1; }
    glibc=$(newest GLIBC) glibcxx=$(newest GLIBCXX)
    [[ $(printf '%s\n' "$glibc" GLIBC_2.35 | sort -V | tail -1) == GLIBC_2.35 ]] ||
        fail "$(basename "$object") needs $glibc, newer than Ubuntu 22.04's glibc 2.35"
    [[ -z $glibcxx || $(printf '%s\n' "$glibcxx" GLIBCXX_3.4.30 | sort -V | tail -1) == GLIBCXX_3.4.30 ]] ||
        fail "$(basename "$object") needs $glibcxx, newer than GCC 12's libstdc++ (GLIBCXX_3.4.30)"
done

# The tarball: the same tree under one directory.
tarballs=("$scratch"/sluice-*-linux-*.tar.gz)
[[ ${#tarballs[@]} -eq 1 && -f ${tarballs[0]} ]] || fail "expected one sluice-*-linux-*.tar.gz, found: ${tarballs[*]}"
top=$(basename "${tarballs[0]}" .tar.gz)
[[ $(tar -tzf "${tarballs[0]}" | grep -v '/$' | LC_ALL=C sort) == \
   "$(dpkg-deb --contents "$deb" | awk '$1 !~ /^d/ {print $6}' | sed "s|^\./|$top/|" | LC_ALL=C sort)" ]] ||
    fail "the tarball holds other files than the .deb"

# The packaged (stripped) binary runs.
version=$("$scratch/root/usr/bin/sluice" --version) || fail "the packaged sluice does not run"
[[ $version == "sluice $(field Version)" ]] || fail "the packaged sluice says '$version', the package $(field Version)"
echo "$version; $(wc -l <<<"$files") files and $(ls "$scratch/root/usr/lib/sluice" | wc -l) in /usr/lib/sluice; conffiles: /etc/sluice/sluice.yaml; tarball $top"
