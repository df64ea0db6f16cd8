#!/bin/sh
# bench/soak.sh — a long scripted chat through the real binary in tmux, for leaks and drift
# (issue 17): TURNS questions on the tiny stories260K model with a context short enough to
# shift often, slider moves in the middle of answers, stops (Esc), /regen, /save and /load,
# a resize, and at the end /replay of the saved session.
# Every STEP turns it prints natter's resident memory (VmRSS), its open file descriptors and
# the tokens/s the status bar shows, so a leak or a slowdown shows as a trend; at the end it
# checks that the saved session holds every answer. Not part of `make test` (it takes minutes).
#
#   bench/soak.sh [-n TURNS] [-s STEP] [-w WRAPPER] [-c]     (from the repository root)
#
# -c clears the conversation (/clear) after each /save and /load: it then never holds more
# than 100 turns, so resident memory must come back to the same level every 100 turns. Without
# -c the conversation grows to all TURNS (and memory with it, by what the chat keeps per turn:
# texts, token ids, each token's candidates for the probabilities view, the rendered lines).
#
# NATTER_BIN names another binary, e.g. build/asan/natter (LeakSanitizer's report, if any,
# comes with natter's stderr at the end).
#
# -w runs natter under a wrapper, e.g. -w "valgrind --leak-check=full --log-file=vg.%p"
# (then use few turns: valgrind is some 50 times slower).
set -u
turns=500
step=50
wrap=""
clear=0
while getopts n:s:w:c opt; do
    case $opt in
    n) turns=$OPTARG ;;
    s) step=$OPTARG ;;
    w) wrap=$OPTARG ;;
    c) clear=1 ;;
    *) echo "usage: bench/soak.sh [-n TURNS] [-s STEP] [-w WRAPPER] [-c]" >&2; exit 2 ;;
    esac
done
NATTER=${NATTER_BIN:-$(pwd)/build/natter} # NATTER_BIN: another build (build/asan/natter)
case "$NATTER" in /*) ;; *) NATTER="$(pwd)/$NATTER" ;; esac
MODEL=${NATTER_FIXTURES:-$(pwd)/../shared/fixtures}/models/stories260K.gguf
[ -x "$NATTER" ] && [ -f "$MODEL" ] || { echo "soak: needs build/natter and $MODEL" >&2; exit 2; }
tmp=$(mktemp -d)
sock="natter-soak-$$"
T() { tmux -u -L "$sock" "$@"; }
trap 'T kill-server 2>/dev/null; rm -rf "$tmp"' EXIT
cap() { T capture-pane -p -t soak 2>/dev/null; }
idle() { # up to 60 s for the status bar's idle/stopped
    i=0
    while [ "$i" -lt 600 ]; do
        cap | tail -n 1 | grep -qE " (idle|stopped) *$" && return 0
        sleep 0.1; i=$((i + 1))
    done
    echo "soak: natter is not idle after 60 s" >&2; cap >&2; return 1
}
T new-session -d -s soak -x 120 -y 35 \
    "env HOME='$tmp' XDG_STATE_HOME='$tmp/state' XDG_CONFIG_HOME='$tmp/config' INPUTRC=/dev/null \
     LANG=C.UTF-8 LC_ALL=C.UTF-8 NATTER_TEST_TOKEN_DELAY_MS=2 $wrap '$NATTER' -m '$MODEL' --ctx 256 \
     -n 48 --seed 1 2>'$tmp/stderr'; echo EXIT=\$?; sleep 3600"
T set-option -t soak status off >/dev/null
i=0; while [ $i -lt 600 ] && ! cap | grep -q "F1 shows the keys"; do sleep 0.1; i=$((i + 1)); done
pid=$(pgrep -f "^$NATTER -m $MODEL" | head -n 1)
[ -z "$wrap" ] || pid=$(pgrep -f "$MODEL" | head -n 1)
echo "soak: natter pid $pid, $turns turns"
printf '%6s %10s %5s %10s\n' turn rss_kib fds tok/s
sample() {
    rss=$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status" 2>/dev/null)
    fds=$(ls "/proc/$pid/fd" 2>/dev/null | wc -l)
    tps=$(cap | tail -n 1 | grep -oE '[0-9.]+ tok/s' | head -n 1 | cut -d' ' -f1)
    printf '%6s %10s %5s %10s\n' "$1" "${rss:-?}" "$fds" "${tps:-?}"
}
# ask TEXT: types a question and waits until natter has taken it: the question shows in the
# history (above the input line and the status bar). The status bar alone cannot tell: it
# still says idle from the last answer until natter reads the keys. A question typed while
# the last answer is still being written is refused and stays on the input line: Enter again,
# once natter is idle, sends it.
ask() {
    T send-keys -t soak "$1" Enter
    i=0
    while [ $i -lt 3000 ]; do
        scr=$(cap)
        printf '%s\n' "$scr" | head -n -2 | grep -qE "$1( |\$)" && return 0
        if [ $((i % 50)) -eq 49 ] && printf '%s\n' "$scr" | tail -n 1 | grep -qE " (idle|stopped) *$" &&
            printf '%s\n' "$scr" | tail -n 2 | head -n 1 | grep -qF "$1"; then
            T send-keys -t soak Enter
        fi
        sleep 0.02; i=$((i + 1))
    done
    echo "soak: natter did not take the question '$1' in 60 s" >&2; cap >&2; return 1
}
# After Esc, a pause before the next keys: Esc followed at once by "O" reads as a key's
# escape sequence (ESC O ...), and under a slow wrapper natter reads both in one go.
pause=0.3
[ -z "$wrap" ] || pause=3
sample 0
answers=0
regens=0
t=1
while [ "$t" -le "$turns" ]; do
    ask "Once upon a time $t" || exit 1
    case $((t % 10)) in
    3) sleep 0.05; T send-keys -t soak F2 Right Right F2 ;;   # a slider moved mid-answer
    5) sleep 0.05; T send-keys -t soak Escape; sleep "$pause" ;; # stopped mid-answer
    esac
    idle || exit 1
    answers=$((answers + 1))
    if [ $((t % 25)) -eq 0 ]; then
        T send-keys -t soak "/regen" Enter; sleep 0.2; idle || exit 1
        regens=$((regens + 1))
    fi
    if [ $((t % 100)) -eq 0 ]; then
        T send-keys -t soak "/save soak" Enter; sleep 0.2; idle || exit 1
        T send-keys -t soak "/load soak" Enter; sleep 0.2; idle || exit 1
        if [ "$clear" = 1 ]; then T send-keys -t soak "/clear" Enter; sleep 0.2; idle || exit 1; fi
    fi
    if [ $((t % 100)) -eq 50 ]; then T send-keys -t soak F6; T resize-window -t soak -x 100 -y 30 2>/dev/null; fi
    [ $((t % step)) -eq 0 ] && sample "$t"
    t=$((t + 1))
done
# /replay regenerates every answer of the saved session on a thread of its own.
T send-keys -t soak "/save soak" Enter; sleep 0.2; idle || exit 1
T send-keys -t soak "/replay soak" Enter
i=0; while [ $i -lt 6000 ] && ! cap | grep -q "replay done:"; do sleep 0.1; i=$((i + 1)); done
r=$(cap | grep -o "replay done:.*" | tail -n 1 | sed 's/ *$//')
echo "soak: ${r:-the replay did not finish in 10 minutes}"
sample end
T send-keys -t soak "/quit" Enter
i=0; while [ $i -lt 600 ] && ! cap | grep -q "EXIT="; do sleep 0.1; i=$((i + 1)); done
sleep 1; cap | grep "EXIT=" || { echo "soak: natter did not exit:"; cap | tail -5; }
f=$(ls -t "$tmp"/state/natter/sessions/*.yaml 2>/dev/null | head -n 1)
n=$(grep -c "^- role: assistant" "$f" 2>/dev/null)
echo "soak: $answers questions asked and $regens regenerated; the newest session file holds $n answers"
if [ "$clear" = 0 ] && [ "${n:-0}" -ne $((answers + regens)) ]; then
    cp "$f" soak-session.yaml 2>/dev/null
    echo "soak: answers missing from the session file (kept as soak-session.yaml)"
fi
cat "$tmp/stderr"
