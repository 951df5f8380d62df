#!/bin/sh
# What help2man reads to write sluice.1: `sluice --help` with each subcommand's --help appended as
# a subsection of its own, so every flag of every subcommand is in the man page, generated from
# the binary and never stale. The binary is $SLUICE_BINARY (help2man passes only --help/--version).
set -eu
sluice=${SLUICE_BINARY:?set SLUICE_BINARY to the sluice binary}
if [ "${1:-}" = --version ]; then exec "$sluice" --version; fi

# --help's last line points to this page ("More: man sluice."): the page does not name itself.
main_help=$("$sluice" --help | sed '/^More: man sluice\.$/d')
subcommands=$(printf '%s\n' "$main_help" | sed -n '/^Subcommands:$/,/^$/s/^  \([a-z][a-z0-9-]*\)  .*/\1/p')

# The synopsis: sluice's usage line, then one "or:" line per subcommand (help2man's convention).
printf '%s\n' "$main_help" | while IFS= read -r line; do
    printf '%s\n' "$line"
    case $line in
    Usage:*)
        for subcommand in $subcommands; do
            "$sluice" "$subcommand" --help | sed -n 's/^Usage: /  or:  /p'
        done
        ;;
    esac
done
for subcommand in $subcommands; do
    # "sluice explain:" becomes a subsection; its description, options and footer are indented
    # under it (its own usage line is already in the synopsis).
    printf '\nsluice %s:\n' "$subcommand"
    "$sluice" "$subcommand" --help | sed -e '/^Usage: /d' -e '/^Options:$/d' -e 's/^\(.\)/  \1/'
done
