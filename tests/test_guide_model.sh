#!/bin/sh
# The quality bar of natter's own default model (issue 7): greedy answers to the trained
# questions of models/corpus must contain the expected key phrase at least 90% of the time,
# and answers to the held-out phrasings (never trained on) at least 60% of the time.
# `natter train --eval` does the counting; this script turns its two figures into checks.
NATTER=${NATTER_BIN:-build/natter}
MODEL=models/natter-guide.gguf
pass=0; fail=0; skip=0
if [ ! -f "$MODEL" ]; then
    echo "SKIP: $MODEL is missing (make model builds it)"
    echo "test_guide_model: 0 passed, 0 failed, 2 skipped"
    exit 0
fi
out=$("$NATTER" train --eval "$MODEL" --data models/corpus 2>&1)
echo "$out" | grep -E '^(trained|held-out) questions'
pct() { echo "$out" | sed -nE "s/^$1 questions: .*\\(([0-9.]+)%.*/\\1/p"; }
trained=$(pct trained)
heldout=$(pct held-out)
if [ -z "$trained" ] || [ -z "$heldout" ]; then
    echo "FAIL: natter train --eval printed no figures:"; echo "$out" | tail -n 5
    echo "test_guide_model: 0 passed, 1 failed, 0 skipped"
    exit 1
fi
if awk -v v="$trained" 'BEGIN { exit !(v >= 90) }'; then
    pass=$((pass + 1))
else
    echo "FAIL: trained questions: $trained% < 90%"; fail=$((fail + 1))
fi
if awk -v v="$heldout" 'BEGIN { exit !(v >= 60) }'; then
    pass=$((pass + 1))
else
    echo "FAIL: held-out phrasings: $heldout% < 60%"; fail=$((fail + 1))
fi
echo "test_guide_model: $pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
