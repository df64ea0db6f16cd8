#!/bin/sh
# tests/test_fuzz.sh — a smoke run of every libFuzzer target (fuzz/fuzz_*.c): each replays its
# seeds (fuzz/corpus/NAME) and kept findings (fuzz/regress/NAME), then mutates for up to 6 s,
# under ASan and UBSan. Needs clang and libFuzzer (mk/deps.sh installs them as root); skips,
# saying so, where they are absent. `make fuzz` is the long run.
BUILD=${1:-build}
. "$(dirname "$0")/lib.sh"
if ! command -v clang >/dev/null 2>&1 || \
   ! echo 'int LLVMFuzzerTestOneInput(const char *d, long n){return 0;}' | \
     clang -x c -fsanitize=fuzzer -o /tmp/natter-fuzz-probe.$$ - >/dev/null 2>&1; then
    skip "test_fuzz: clang with libFuzzer is not installed (apt-get install clang libclang-rt-14-dev)"
    finish
fi
rm -f /tmp/natter-fuzz-probe.$$
log="$tmp/log"
# MAKEFLAGS cleared: the runner's make may have handed down a jobserver this shell cannot
# use, and the Makefile then builds on every core by itself.
if ! MAKEFLAGS= make -s fuzz-build >"$log" 2>&1; then
    cat "$log"
    bad "test_fuzz: the fuzz targets do not build"
    finish
fi
for src in fuzz/fuzz_*.c; do
    n=${src#fuzz/fuzz_}; n=${n%.c}
    [ "$n" = common ] && continue
    bin=build/fuzz/fuzz/fuzz_$n
    # new inputs go to the first folder, a scratch one: the seeds stay as committed
    rm -rf build/fuzz/smoke/$n && mkdir -p build/fuzz/smoke/$n
    set -- build/fuzz/smoke/$n fuzz/corpus/$n
    [ -d fuzz/regress/$n ] && set -- "$@" fuzz/regress/$n
    if "$bin" -runs=3000 -max_total_time=6 -timeout=60 -rss_limit_mb=2048 \
        -artifact_prefix=build/fuzz/crash-$n- "$@" >"$log" 2>&1; then
        ok "fuzz_$n: seeds, findings and $(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$log") runs clean"
    else
        tail -n 30 "$log"
        bad "fuzz_$n (its input is in build/fuzz/crash-$n-*)"
    fi
done
finish
