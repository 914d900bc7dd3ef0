#!/usr/bin/env bash
# layers.sh - the include rule of src/ (README, "Layout"), as TAP: each
# layer is a directory and includes only headers of its own layer or of
# the layers below it, and no two modules (a .c with its .h) include each
# other, directly or round a longer cycle.  Run by make check.
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=${LUAFPM_SRCDIR:-$here/..}/src
order="core shm event fcgi lua request api process tools main"

rank() { # rank LAYER
    local i=0 l
    for l in $order; do
        [ "$l" = "$1" ] && { echo $i; return; }
        i=$((i + 1))
    done
    echo -1
}

# Which layer a header lives in ("" when it is not one of ours: config.h).
declare -A layer_of
for f in "$src"/*/*.h; do
    layer_of[$(basename "$f")]=$(basename "$(dirname "$f")")
done

n=0 bad=0
edges=$(mktemp)
trap 'rm -f "$edges"' EXIT
for f in "$src"/main.c "$src"/*/*.[ch]; do
    dir=$(basename "$(dirname "$f")")
    [ "$dir" = src ] && dir=main
    mine=$(rank "$dir")
    mod=$(basename "$f"); mod=${mod%.*}
    for h in $(sed -n 's/^#include "\([a-z_0-9]*\.h\)".*/\1/p' "$f"); do
        l=${layer_of[$h]:-}
        [ -n "$l" ] || continue
        if [ "$(rank "$l")" -gt "$mine" ]; then
            echo "# ${f#"$src"/} ($dir) includes $h ($l), a layer above it"
            bad=$((bad + 1))
        fi
        [ "${h%.h}" != "$mod" ] && echo "$mod ${h%.h}" >>"$edges"
    done
done
n=$((n + 1))
if [ "$bad" -eq 0 ]; then
    echo "ok $n every file includes its own layer or those below ($order)"
else
    echo "not ok $n $bad includes of a layer above"
fi

# Cycles between modules: a depth-first search over the include edges.
cycles=$(sort -u "$edges" | awk '
    { adj[$1] = adj[$1] " " $2; nodes[$1] = 1; nodes[$2] = 1 }
    function visit(u,    i, k, v, parts) {
        state[u] = 1; stack[++depth] = u
        k = split(adj[u], parts, " ")
        for (i = 1; i <= k; i++) {
            v = parts[i]
            if (state[v] == 1) {
                line = v
                for (j = depth; j >= 1 && stack[j] != v; j--) line = stack[j] " -> " line
                print v " -> " line
            } else if (state[v] == 0) visit(v)
        }
        depth--; state[u] = 2
    }
    END { for (u in nodes) if (state[u] == 0) visit(u) }')
n=$((n + 1))
if [ -z "$cycles" ]; then
    echo "ok $n no module includes another that includes it back"
else
    echo "$cycles" | sed 's/^/# cycle: /'
    echo "not ok $n modules that include each other"
fi
# The README's layout names every layer and every file outside the API
# (whose files are one per area of ngx.*).
readme=${LUAFPM_SRCDIR:-$here/..}/README.md
layout=$(sed -n '/^## Layout/,/^## /p' "$readme")
missing=""
for d in "$src"/*/; do
    d=$(basename "$d")
    grep -q "src/$d/" <<<"$layout" || missing="$missing src/$d/"
done
for f in "$src"/*/*.c; do
    case "$f" in */api/*) continue ;; esac
    grep -qw "$(basename "$f")" <<<"$layout" || missing="$missing ${f#"$src"/}"
done
n=$((n + 1))
if [ -z "$missing" ]; then
    echo "ok $n the README's layout names every layer and file"
else
    echo "not ok $n the README's layout does not name:$missing"
fi
echo "1..$n"
