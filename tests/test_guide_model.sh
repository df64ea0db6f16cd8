#!/bin/sh
# The quality bar of natter's own default model (issue 7): greedy answers to the trained
# questions of models/corpus must contain the expected key phrase at least 90% of the time,
# and answers to the held-out phrasings (never trained on) at least 60% of the time.
# The guide persona asks each question after the previous exchange (memory: 1), so the same
# is checked with one earlier exchange before each question (--after-turn), on every fifth
# question to keep the test short. That sample holds 230 held-out phrasings, so its figure
# strays a few points from the whole set's (61.3% against 67.8% for the shipped model): its
# held-out bar is 55%, the trained one stays 90%.
# `natter train --eval` does the counting; this script turns its figures into checks.
. "$(dirname "$0")/lib.sh"
MODEL=models/natter-guide.gguf
AT_TRAIN=90
AT_HELD=55
if [ ! -f "$MODEL" ]; then
    skip "$MODEL is missing (make model builds it)" 4
    finish
fi
# at_least NAME VALUE BAR
at_least() {
    if [ -n "$2" ] && awk -v v="$2" -v b="$3" 'BEGIN { exit !(v >= b) }'; then
        ok
    else
        bad "$1: ${2:-no figure}% < $3%"
    fi
}
pct() { echo "$2" | sed -nE "s/^$1 questions: .*\\(([0-9.]+)%.*/\\1/p"; }
out=$("$NATTER" train --eval "$MODEL" --data models/corpus 2>&1)
echo "$out" | grep -E '^(trained|held-out) questions' || echo "$out" | tail -n 5
at_least "trained questions" "$(pct trained "$out")" 90
at_least "held-out phrasings" "$(pct held-out "$out")" 60
out=$("$NATTER" train --eval "$MODEL" --data models/corpus --after-turn --every 5 \
      --min-train "$AT_TRAIN" --min-heldout "$AT_HELD" 2>&1)
echo "$out" | grep -E '^(trained|held-out) questions' | sed 's/^/after a turn: /' || echo "$out" | tail -n 5
at_least "trained questions after a turn" "$(pct trained "$out")" "$AT_TRAIN"
at_least "held-out phrasings after a turn" "$(pct held-out "$out")" "$AT_HELD"
finish
