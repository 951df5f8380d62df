#!/usr/bin/env bash
# The man page mentions every long flag that `sluice --help-all` prints (the main flags and every
# subcommand's) and every subcommand, so no flag goes undocumented.
# Usage: man_page_test.sh SLUICE MAN_PAGE
set -euo pipefail
sluice=$1 page=$2

help=$("$sluice" --help-all)
flags=$(grep -o -- '--[a-z][a-z0-9-]*' <<<"$help" | LC_ALL=C sort -u)
subcommands=$(sed -n '/^Subcommands:$/,$s/^\([a-z][a-z0-9-]*\)$/\1/p' <<<"$help")
[[ $(wc -l <<<"$flags") -ge 10 ]] || { echo "FAIL: found only these flags in --help-all: $flags"; exit 1; }
[[ -n $subcommands ]] || { echo "FAIL: found no subcommands in --help-all"; exit 1; }

# The page as a reader sees it: rendered in plain ASCII (so "\-" is "-"), wide enough that
# nothing is hyphenated.
text=$(LC_ALL=C MANWIDTH=1000 man --local-file "$page" | col -b)
missing=()
for flag in $flags; do
    grep -q -F -e "$flag" <<<"$text" || missing+=("$flag")
done
for subcommand in $subcommands; do
    grep -q -F -e "sluice $subcommand" <<<"$text" || missing+=("sluice $subcommand")
done
if ((${#missing[@]})); then
    echo "FAIL: the man page $page lacks ${missing[*]}"
    exit 1
fi
echo "man page covers $(wc -l <<<"$flags") flags: $(tr '\n' ' ' <<<"$flags")and subcommands: $(tr '\n' ' ' <<<"$subcommands")"
