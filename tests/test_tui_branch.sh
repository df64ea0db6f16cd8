#!/bin/sh
# tests/test_tui_branch.sh — branches of the conversation in the chat screen (issue 15),
# driven through tmux with the stories260K fixture: /regen and /edit keep what they replace
# (the history marks a message with alternatives ‹n/m›), Alt-Up/Alt-Down and /branch N switch
# between them reading only the differing suffix into the model (the shared prefix stays in
# the cache), the session file keeps the whole tree and the current path (--resume brings both
# back), exports take the current path and `natter replay --check` replays every branch.
# Private tmux server and XDG folders (lib.sh); skips cleanly without tmux, the binary or the
# model.
. "$(dirname "$0")/lib.sh"
MODEL=$STORIES
case "$MODEL" in /*) ;; *) MODEL="$(pwd)/$MODEL" ;; esac

missing=""
command -v tmux >/dev/null 2>&1 || missing="tmux is not installed"
[ -x "$NATTER" ] || missing="${missing:+$missing; }$NATTER is not built"
[ -f "$MODEL" ] || missing="${missing:+$missing; }$MODEL is absent"
if [ -n "$missing" ]; then
    skip "test_tui_branch: $missing"
    finish
fi
export XDG_STATE_HOME="$tmp/state" XDG_CONFIG_HOME="$tmp/config" HOME="$tmp/home"
mkdir -p "$tmp/home" "$tmp/state" "$tmp/config"
SESS="$tmp/state/natter/sessions"

# start ARGS...: a fresh natter in a fresh tmux session, 100x30 (COLS, ROWS to change).
start() {
    # the old session's server goes first (killing its last session ends it: a new session
    # started meanwhile would meet a server on its way out)
    T kill-server 2>/dev/null && sleep 0.3
    T new-session -d -s nt -x "${COLS:-100}" -y "${ROWS:-30}" \
        "env HOME='$tmp/home' XDG_STATE_HOME='$tmp/state' XDG_CONFIG_HOME='$tmp/config' \
         INPUTRC=/dev/null LANG=C.UTF-8 LC_ALL=C.UTF-8 ${ENVS:-} \
         '$NATTER' $* 2>'$tmp/stderr'; echo \"EXIT=\$?\"; sleep 600"
    T set-option -t nt status off >/dev/null
    wait_for "${START_TEXT:-F1 shows the keys}" 100
}
ask() {
    T send-keys -t nt -l "$1"
    T send-keys -t nt Enter
    sleep 0.2
    idle
}
cmd() {
    T send-keys -t nt -l "$1"
    T send-keys -t nt Enter
    sleep 0.2
    idle
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
sleep 0.2
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
T send-keys -t nt M-Down
sleep 0.2
idle
check "Alt-Down goes back to the second answer and its follow-up" wait_for "Lily"
# /stats after a question on the branch: the prompt came from the cache but for the new turn.
ask "The dog"
T send-keys -t nt "/stats" Enter
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
out=$("$NATTER" replay "$f" --check 2>&1)
if [ "$(echo "$out" | grep -c 'tokens identical')" -eq 5 ] && ! echo "$out" | grep -q differs; then
    ok "replay --check replays every answer of every branch (5)"
else
    bad "replay --check replays every answer of every branch (5)" "$out"
fi
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
finish
