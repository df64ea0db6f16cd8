#!/bin/sh
# Runs every test program (BUILD/tests/test_*) and every shell test (tests/test_*.sh) from the
# repository root, adds up their `N passed, N failed, N skipped` lines and prints the total as
# the closing line. Exits non-zero if anything failed or a program crashed.
# Usage: tests/run.sh BUILD_DIR [NAME_FILTER]
# Each test's wall time goes to BUILD/test-times (slowest first), so a slow suite can be read.
BUILD=${1:-build}
FILTER=${2:-}
export NATTER_BIN="$BUILD/natter"
pass=0; fail=0; skip=0; crashed=""
out=$(mktemp)
times=$(mktemp)
for t in "$BUILD"/tests/test_* tests/test_*.sh; do
    [ -f "$t" ] || continue
    case "$t" in *.o|*.d) continue ;; esac
    [ -n "$FILTER" ] && case "$t" in *"$FILTER"*) ;; *) continue ;; esac
    t0=$(date +%s)
    case "$t" in
        *.sh) sh "$t" >"$out" 2>&1 ;;
        *) [ -x "$t" ] || continue; "$t" >"$out" 2>&1 ;;
    esac
    rc=$?
    echo "$(( $(date +%s) - t0 )) $t" >>"$times"
    cat "$out"
    line=$(grep -E '^[A-Za-z0-9_.-]*: [0-9]+ passed, [0-9]+ failed' "$out" | tail -n 1)
    if [ -z "$line" ]; then
        echo "CRASH $t (exit $rc, no result line)"
        fail=$((fail + 1)); crashed="$crashed $t"; continue
    fi
    p=$(echo "$line" | sed -E 's/.*: ([0-9]+) passed.*/\1/')
    f=$(echo "$line" | sed -E 's/.* ([0-9]+) failed.*/\1/')
    s=$(echo "$line" | sed -nE 's/.* ([0-9]+) skipped.*/\1/p')
    pass=$((pass + p)); fail=$((fail + f)); skip=$((skip + ${s:-0}))
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        echo "CRASH $t (exit $rc after its result line)"
        fail=$((fail + 1))
    fi
done
rm -f "$out"
sort -rn "$times" >"$BUILD/test-times" 2>/dev/null; rm -f "$times"
if [ "$skip" -gt 0 ]; then
    echo "$pass passed, $fail failed, $skip skipped"
else
    echo "$pass passed, $fail failed"
fi
[ "$fail" -eq 0 ]
