#!/usr/bin/env bash
# 12-compat.sh - the ngx.* compatibility cases (tests/compat/, each checked
# against the real lua-nginx-module) run against the built luafpm behind
# nginx, reported as TAP for automake's driver: one test point per case.
#
# The public cases and luafpm's own (cases/luafpm/, checked against the
# real module too).  Left out (tests/compat/SOURCE.md lists them):
# globals-shared (luafpm isolates handler globals on purpose, design.md
# point 3).
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export WORKER_BIN=${LUAFPM_BIN:-$here/../luafpm}
skip=globals-shared

cases=$(mktemp -d "${TMPDIR:-/tmp}/luafpm-compat.XXXXXX") || exit 1
trap 'rm -rf "$cases"' EXIT
for d in "$here"/compat/cases/public/*/ "$here"/compat/cases/luafpm/*/; do
    [ -f "$d/case.txt" ] || continue
    name=$(basename "$d")
    cp -R "$d" "$cases/$name"
done

out=$cases/out
bash "$here/compat/run.sh" --target fastcgi --cases "$cases" --skip-tags "$skip" --verbose >"$out" 2>&1
rc=$?

n=0
while IFS= read -r line; do
    case "$line" in
        "PASS "*) n=$((n + 1)); echo "ok $n ${line#PASS }" ;;
        "FAIL "*) n=$((n + 1)); echo "not ok $n ${line#FAIL }" ;;
        *) echo "# $line" ;;
    esac
done <"$out"
if [ "$n" -eq 0 ]; then
    echo "not ok 1 the compatibility runner ran no case (exit $rc)"
    n=1
fi
echo "1..$n"
