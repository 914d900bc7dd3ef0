#!/usr/bin/env bash
# run.sh - set up and run the whole test suite from a fresh checkout:
# Debian packages, then two builds (plain, and ASan+UBSan), `make check`
# in each.  Ends with one line: "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
top=$(pwd)
bash tests/install-deps.sh || exit 1
# The builds are out of tree, which configure refuses next to an in-tree
# one (./configure run in the source directory itself).
if [ -f config.status ]; then
    echo "tests/run.sh: $top is configured in place (./configure was run there); the test" \
        "builds go to _build/ and configure refuses them next to it: run 'make distclean'" \
        "in $top first" >&2
    echo "0 passed, 1 failed"
    exit 1
fi
./autogen.sh >/dev/null 2>&1 || { echo "autogen.sh failed" >&2; exit 1; }

passed=0 failed=0 rc=0
for variant in plain sanitizers; do
    dir=$top/_build/$variant
    mkdir -p "$dir"
    flags=()
    [ "$variant" = sanitizers ] && flags=(--enable-sanitizers)
    echo "=== $variant build" >&2
    if ! (cd "$dir" && "$top/configure" -q --enable-werror "${flags[@]}" && make -j2 >/dev/null); then
        echo "build ($variant) failed" >&2
        failed=$((failed + 1)); rc=1
        continue
    fi
    # Bounded: a hang fails the run instead of eating the CI budget.
    (cd "$dir" && timeout 1500 make -j2 check) >"$dir/check.out" 2>&1
    [ $? -eq 0 ] || rc=1
    grep -E '^(PASS|FAIL|XPASS|ERROR|SKIP):' "$dir/check.out" >&2 || true
    p=$(sed -n 's/^# PASS: *//p' "$dir/check.out" | tail -1)
    f=$(sed -n 's/^# FAIL: *//p' "$dir/check.out" | tail -1)
    e=$(sed -n 's/^# ERROR: *//p' "$dir/check.out" | tail -1)
    passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0} + ${e:-0}))
    if [ $rc -ne 0 ]; then
        echo "--- $variant: failures (from $dir/test-suite.log)" >&2
        sed -n '/^not ok\|^# /p' "$dir"/tests/*.log 2>/dev/null | head -80 >&2
    fi
done
echo "$passed passed, $failed failed"
exit $rc
