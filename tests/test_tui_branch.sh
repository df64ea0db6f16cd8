#!/bin/sh
# tests/test_tui_branch.sh — branches of the conversation and A/B answers in the chat screen
# (issue 15),
# driven through tmux with the stories260K fixture: /regen and /edit keep what they replace
# (the history marks a message with alternatives ‹n/m›), Alt-Up/Alt-Down and /branch N switch
# between them reading only the differing suffix into the model (the shared prefix stays in
# the cache), the session file keeps the whole tree and the current path (--resume brings both
# back), exports take the current path and `natter replay --check` replays every branch; /ab
# writes two answers from the same cached prompt (the second reads no prompt token), shows
# them side by side (one above the other when narrow), the probabilities view for either
# (Tab), scrolls both back (PgUp) when they are longer than their boxes, and keeps one with a
# key, the other staying as an alternative that replays too.
# Private tmux server and XDG folders (lib.sh); skips cleanly without tmux, the binary or the
# model.
. "$(dirname "$0")/lib.sh"
MODEL=$STORIES
case "$MODEL" in /*) ;; *) MODEL="$(pwd)/$MODEL" ;; esac

tui_needs "$MODEL"
export XDG_STATE_HOME="$tmp/state" XDG_CONFIG_HOME="$tmp/config" HOME="$tmp/home"
mkdir -p "$tmp/home" "$tmp/state" "$tmp/config"
SESS="$tmp/state/natter/sessions"

# start ARGS...: a fresh natter in a fresh tmux session, 100x30 (COLS, ROWS to change).
start() {
    t_fresh
    T new-session -d -s nt -x "${COLS:-100}" -y "${ROWS:-30}" \
        "env HOME='$tmp/home' XDG_STATE_HOME='$tmp/state' XDG_CONFIG_HOME='$tmp/config' \
         INPUTRC=/dev/null LANG=C.UTF-8 LC_ALL=C.UTF-8 ${ENVS:-} \
         '$NATTER' $* 2>'$tmp/stderr'; echo \"EXIT=\$?\"; sleep 600"
    T set-option -t nt status off >/dev/null
    wait_for "${START_TEXT:-F1 shows the keys}" 100
}
# ask TEXT / cmd TEXT: types TEXT, waits until the input line shows it, presses Enter, waits
# until natter has taken it (the input line is empty again: the status bar then says what
# runs), then until the model is idle. Waiting only for "idle" passes at once on a slow run
# (make asan on a busy machine), before natter has read the keys: the next keys then arrive
# while the answer is written.
ask() {
    T send-keys -t nt -l "$1"
    input_is "$1"
    T send-keys -t nt Enter
    input_is ""
    sleep 0.2
    idle
}
cmd() { ask "$1"; }
# input_is TEXT: polls (10 s) until the input line (the last line starting with >) holds TEXT
# (is empty when TEXT is).
input_is() {
    _i=0
    while [ "$_i" -lt 100 ]; do
        _in=$(cap | grep '^>' | tail -n 1 | sed 's/^> *//; s/ *$//')
        [ "$_in" = "$1" ] && return 0
        sleep 0.1; _i=$((_i + 1))
    done
    return 1
}
# replay_all FILE N NAME: `natter replay --check` finds N answers identical and none differing.
replay_all() {
    _out=$("$NATTER" replay "$1" --check 2>&1)
    if [ "$(echo "$_out" | grep -c 'tokens identical')" -eq "$2" ] && ! echo "$_out" | grep -q differs; then
        ok "$3"
    else
        bad "$3" "$_out"
    fi
}
# msgline: the message line (the line above the input's prompt).
msgline() { cap | grep -B1 '^>' | head -n 1; }

COLS=250 start -m "'$MODEL'" --max-tokens 12 --ctx 256 --seed 5 --system "''"
ask "Once upon a time"
first=$(answer_text)
cmd "/regen"
second=$(answer_text)
if wait_for "Assistant ‹2/2›" && [ -n "$first" ] && [ "$first" != "$second" ]; then
    ok "/regen keeps the first answer: the new one is shown as ‹2/2›"
else
    bad "/regen keeps the first answer: the new one is shown as ‹2/2›" "$(cap)"
fi
ask "Lily"
T send-keys -t nt M-Up
# the switch shows at once; the message line gives the figures when the re-read has ended
wait_re "alternative 1 of 2; [0-9]+ tokens kept in the cache, [0-9]+ read" 150
idle
if wait_for "Assistant ‹1/2›" && [ "$(answer_text)" = "$first" ] && ! cap | grep -qF "Lily"; then
    ok "Alt-Up shows the first answer, without the question asked under the second"
else
    bad "Alt-Up shows the first answer, without the question asked under the second" "$(cap)"
fi
# The cache keeps the prompt both answers share: only the answer that differs is read.
line=$(msgline)
kept=$(echo "$line" | sed -n 's/.*; \([0-9]*\) tokens kept in the cache, \([0-9]*\) read.*/\1/p')
read_n=$(echo "$line" | sed -n 's/.*; \([0-9]*\) tokens kept in the cache, \([0-9]*\) read.*/\2/p')
if echo "$line" | grep -qF "message 2: alternative 1 of 2" && [ -n "$kept" ] && [ "$kept" -gt 0 ] &&
   [ "$kept" -ge 15 ] && [ -n "$read_n" ] && [ "$read_n" -gt 0 ] && [ "$read_n" -le 24 ]; then
    ok "switching reads only the differing answer ($kept tokens kept, $read_n read)"
else
    bad "switching reads only the differing answer" "$line"
fi
# The first answer's candidates as they were written come back with it (kept by the tree).
T send-keys -t nt F4
if wait_for "candidate    before" 30 && wait_re "[0-9.]+% → +[0-9.]+%" 30; then
    ok "the probabilities view shows the candidates of the answer switched back to"
else
    bad "the probabilities view shows the candidates of the answer switched back to" "$(cap)"
fi
T send-keys -t nt F4
T send-keys -t nt M-Down
wait_re "alternative 2 of 2; [0-9]+ tokens kept in the cache, [0-9]+ read" 150
idle
check "Alt-Down goes back to the second answer and its follow-up" wait_for "Lily"
# /stats after a question on the branch: the prompt came from the cache but for the new turn.
ask "The dog"
T send-keys -t nt "/stats" Enter
wait_re "^  last answer: .*reused from the cache;"
reused=$(cap | sed -n 's/^  last answer: .*, \([0-9]*\) reused from the cache;.*/\1/p' | head -n 1)
if [ -n "$reused" ] && [ "$reused" -gt "$kept" ]; then
    ok "/stats: the answer on the branch reused $reused tokens from the cache"
else
    bad "/stats: the answer on the branch reused tokens from the cache" "$(cap | grep -E '^  (last|session)')"
fi
# /edit: the question back in the input line; asked again, an alternative of the old one.
T send-keys -t nt F7
wait_for "back in the input line"
T send-keys -t nt C-u
ask "The cat"
if wait_for "You ‹2/2›" && cap | grep -qF "The cat" && ! cap | grep -qF "The dog"; then
    ok "/edit then a new question: the old question stays as an alternative (‹2/2›)"
else
    bad "/edit then a new question: the old question stays as an alternative (‹2/2›)" "$(cap)"
fi
cmd "/branch 1"
check "/branch 1 shows the first version of the question" wait_for "The dog"
cmd "/branch"
if wait_for "message 5 (question 3): alternative 1 of 2" && cap | grep -qF "message 2 (answer 1): alternative 2 of 2"; then
    ok "/branch lists where the conversation branches"
else
    bad "/branch lists where the conversation branches" "$(cap)"
fi
cmd "/branch 7"
check "/branch N out of range is refused" wait_for "/branch: '7' is not an alternative here (1 to 2)"
cmd "/export $tmp/out.md"
wait_for "exported "
if grep -qF "The dog" "$tmp/out.md" && ! grep -qF "The cat" "$tmp/out.md" && grep -qF "Lily" "$tmp/out.md"; then
    ok "/export takes the current path"
else
    bad "/export takes the current path" "$(cat "$tmp/out.md")"
fi
T send-keys -t nt "/quit" Enter
wait_for "EXIT=0" 50
f=$(ls "$SESS"/*.yaml | head -n 1)
# Q1 A1 A1b Q-Lily A-Lily Q-dog A-dog Q-cat A-cat
if [ "$(grep -c '^- role:' "$f")" -eq 9 ] && grep -q '^message_count: 9$' "$f" &&
   [ "$(grep -c '^  alternative_to:' "$f")" -eq 2 ] && [ "$(grep -c '^  current: true$' "$f")" -eq 2 ]; then
    ok "the session file keeps the tree: 9 messages, 2 alternatives, the current ones marked"
else
    bad "the session file keeps the tree" "$(grep -E '^(- role|  alternative_to|  current|message_count)' "$f")"
fi
replay_all "$f" 5 "replay --check replays every answer of every branch (5)"
out=$("$NATTER" replay "$f" 2>&1)
if [ "$(echo "$out" | grep -c '^--- another version of message')" -eq 2 ]; then
    ok "replay says where each alternative belongs"
else
    bad "replay says where each alternative belongs" "$out"
fi
"$NATTER" export "$f" --format md >"$tmp/exp.md" 2>&1
check "natter export takes the current path" sh -c "grep -qF 'The dog' '$tmp/exp.md' && ! grep -qF 'The cat' '$tmp/exp.md'"

# --resume brings back the tree and the current path: Alt-Down reaches the other question.
start -m "'$MODEL'" --max-tokens 12 --ctx 256 --resume
if wait_for "You ‹1/2›" && cap | grep -qF "The dog" && wait_for "Assistant ‹2/2›"; then
    ok "--resume shows the current path with its ‹n/m› marks"
else
    bad "--resume shows the current path with its ‹n/m› marks" "$(cap)"
fi
idle
T send-keys -t nt M-Down
idle
check "after --resume, Alt-Down switches to the other question" wait_for "The cat"
# ---- /ab: two answers from the same cached prompt, side by side; a key keeps one
COLS=130 start -m "'$MODEL'" --max-tokens 16 --ctx 256 --seed 3 --system "''"
ask "Once upon a time"
T send-keys -t nt "/ab temp=0.2 temp=1.5" Enter
if wait_for "Keep A or B?" 150 && cap | grep -qE "^A  temp=0\.2 .*│ B  temp=1\.5 " &&
   cap | grep -q "^A/B · You: Once upon a time"; then
    ok "/ab shows both answers side by side under their parameters"
else
    bad "/ab shows both answers side by side under their parameters" "$(cap)"
fi
a_text=$(cap | awk -F'│' '/^A  temp=0\.2/ {on = 1; next} on && /^a keeps A/ {on = 0} on {print $1}' | tr -d ' \n')
b_text=$(cap | awk -F'│' '/^A  temp=0\.2/ {on = 1; next} on && /^a keeps A/ {on = 0} on {print $2}' | tr -d ' \n')
if [ -n "$a_text" ] && [ -n "$b_text" ] && [ "$a_text" != "$b_text" ]; then
    ok "both sides have their own answer"
else
    bad "both sides have their own answer" "A: $a_text
B: $b_text"
fi
T send-keys -t nt F4
check "the probabilities view shows side A" wait_for "A: Token 16/16" 30
T send-keys -t nt Tab
check "Tab: the probabilities of side B" wait_for "B: Token 16/16" 30
# Alt-Left picks B's token before the last: highlighted (reverse video) in B's column only
T send-keys -t nt M-Left
wait_for "B: Token 15/16" 30
rev_in() { # rev_in COLUMN: a reverse-video run in the A/B rows' column 1 (A) or 2 (B)
    T capture-pane -e -p -t nt | awk -F'│' -v c="$1" '/A  temp=0\.2/ {on = 1; next} /a keeps A/ {on = 0}
        on && index($c, "\033[7m") {f = 1} END {exit !f}'
}
if rev_in 2 && ! rev_in 1; then
    ok "the picked token is highlighted in its side's column"
else
    bad "the picked token is highlighted in its side's column" "$(T capture-pane -e -p -t nt | cat -v | head -n 12)"
fi
T send-keys -t nt x
check "another key says what to press" wait_for "a keeps A, b keeps B" 30
T send-keys -t nt a
shown=""
if wait_for "kept A (temp=0.2): answer 2 of 3 here" 50 && wait_for "Assistant ‹2/3›" && idle &&
   shown=$(answer_text) && [ -n "$a_text" ] && [ "${shown#"$a_text"}" != "$shown" ]; then
    ok "a keeps A: it is the answer shown (‹2/3›), the first answer and B stay as alternatives"
else
    bad "a keeps A: it is the answer shown (‹2/3›)" "$(cap)
A: $a_text
shown: $(answer_text)"
fi
T send-keys -t nt M-Down
check "Alt-Down shows B, kept as an alternative" wait_for "Assistant ‹3/3›"
T send-keys -t nt "/ab nosuch" Enter
check "/ab with an unknown side says what a side can be" wait_for "/ab: B: 'nosuch' is not NAME=VALUE, a strategy" 30
T send-keys -t nt "/ab temp=x" Enter
check "/ab with a bad value names it" wait_for "/ab: B: 'temp=x': 'x' is not a number" 30
# narrow: one above the other; strategies, beams included; b keeps B
T resize-window -t nt -x 56 -y 30
T send-keys -t nt "/ab greedy beam-4" Enter
if wait_for "Keep A or B?" 150 && cap | grep -q "^A  greedy" && cap | grep -q "^B  beam-4" &&
   [ "$(cap | grep -n '^A  greedy' | cut -d: -f1)" -lt "$(cap | grep -n '^B  beam-4' | cut -d: -f1)" ]; then
    ok "/ab on a narrow screen: A above B; a strategy and beam search compared"
else
    bad "/ab on a narrow screen: A above B; a strategy and beam search compared" "$(cap)"
fi
T send-keys -t nt b
check "b keeps B" wait_for "kept B (beam-4)" 50
idle
T send-keys -t nt "/quit" Enter
wait_for "EXIT=0" 50
f=$(ls -t "$SESS"/*.yaml | head -n 1)
# the question's five answers: the first, A and B of each /ab; every /ab side read no prompt
if [ "$(grep -c '^- role: assistant' "$f")" -eq 5 ] && [ "$(grep -c '^  prompt_tokens: 0$' "$f")" -eq 4 ]; then
    ok "the session records every answer; each /ab side started from the cached prompt (0 tokens read)"
else
    bad "the session records every answer; each /ab side started from the cached prompt" "$(grep -E '^(- role|  alternative_to|  current|  prompt_tokens)' "$f")"
fi
replay_all "$f" 5 "replay --check replays both sides of every /ab"
# two personas: each side takes the persona's sampling values
start -m "'$MODEL'" --max-tokens 8 --ctx 256 --system "''"
ask "Tom went"
T send-keys -t nt "/ab concise guide" Enter
if wait_for "Keep A or B?" 150 && cap | grep -qE "^A  concise .*│ B  guide "; then
    ok "/ab with two personas compares their sampling values"
else
    bad "/ab with two personas compares their sampling values" "$(cap)"
fi
T send-keys -t nt Escape
check "Esc keeps B" wait_for "kept B (guide)" 50
idle
T send-keys -t nt "/quit" Enter
wait_for "EXIT=0" 50
f=$(ls -t "$SESS"/*.yaml | head -n 1)
if grep -q "params: {temp: 0.3," "$f" && grep -q "params: {temp: 0.2," "$f"; then
    ok "the sides were written with concise's temperature (0.3) and guide's (0.2)"
else
    bad "the sides were written with concise's temperature (0.3) and guide's (0.2)" "$(grep 'params:' "$f")"
fi
# a long answer in a short box: the sides show their ends (the part being written), PgUp
# scrolls both back to their starts, the label says which lines are shown
T kill-server 2>/dev/null && sleep 0.3
COLS=130 ROWS=12 start -m "'$MODEL'" --max-tokens 200 --ctx 256 --seed 3 --system "''"
ask "Once upon a time"
T send-keys -t nt "/ab temp=0.2 temp=0.9" Enter
a_col() { cap | awk -F'│' '/^A  temp=0\.2/ {on = 1; next} on && /^a keeps A/ {on = 0} on {print $1}' | tr -d ' \n'; }
if wait_for "Keep A or B?" 300 && cap | grep -qE "^A  temp=0\.2 .* lines ([2-9]|[1-9][0-9]+)–[0-9]+ of [0-9]+"; then
    ok "/ab: a side longer than its box shows its end, and says which lines"
else
    bad "/ab: a side longer than its box shows its end, and says which lines" "$(cap)"
fi
a_end=$(a_col)
for _i in 1 2 3 4 5 6 7 8 9 10; do T send-keys -t nt PPage; done
sleep 0.5
a_top=$(a_col)
if cap | grep -qE '^A  temp=0\.2 .* lines 1–'; then
    ok "PgUp scrolls the sides back to their starts"
else
    bad "PgUp scrolls the sides back to their starts" "$(cap)"
fi
T send-keys -t nt a
wait_for "kept A (temp=0.2)" 50
idle
T resize-window -t nt -x 130 -y 60
sleep 0.5
shown=$(answer_text)
if [ -n "$a_top" ] && [ "$a_top" != "$a_end" ] && [ "${shown#"$a_top"}" != "$shown" ]; then
    ok "scrolled back, the side showed the start of the answer it keeps"
else
    bad "scrolled back, the side showed the start of the answer it keeps" "top: $a_top
end: $a_end
shown: $shown"
fi
T send-keys -t nt "/quit" Enter
wait_for "EXIT=0" 50
finish
