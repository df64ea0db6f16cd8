#!/bin/sh
# tests/test_tui_think.sh — the thinking switch and thinking sections in the chat screen,
# driven through tmux like tests/test_tui.sh, on a tiny qwen3 model whose ChatML template
# reads enable_thinking (build/tests/mktiny qwen3-think, tests/tiny/tiny_qwen3.c): /think
# shows, sets and refuses; the answer is recorded with its switch in the session, which
# `natter replay --check` reproduces; --resume brings the switch back; an answer with a
# <think> section shows it folded (F9 unfolds it); /export and `natter export` leave the
# thoughts out unless asked. natter's own model, whose template has no switch, says so.
. "$(dirname "$0")/lib.sh"
GUIDE="$(pwd)/models/natter-guide.gguf"
MKTINY="$(dirname "$NATTER")/tests/mktiny"
TMP=$tmp
if ! command -v tmux >/dev/null 2>&1 || [ ! -x "$NATTER" ] || [ ! -x "$MKTINY" ]; then
    skip "test_tui_think: tmux, $NATTER or $MKTINY missing"
    finish
fi
"$MKTINY" qwen3-think "$TMP/qt.gguf" >/dev/null || { bad "mktiny qwen3-think"; finish; }
mkdir -p "$TMP/home" "$TMP/state" "$TMP/config"
SESS="$TMP/state/natter/sessions"

# start MODEL ARGS...: a fresh natter, greedy, 8 tokens an answer.
start() {
    _m=$1; shift
    t_fresh
    T new-session -d -s nt -x 110 -y 30 \
        "env HOME='$TMP/home' XDG_STATE_HOME='$TMP/state' XDG_CONFIG_HOME='$TMP/config' \
         INPUTRC=/dev/null LANG=C.UTF-8 LC_ALL=C.UTF-8 \
         '$NATTER' -m '$_m' --temp 0 -n 8 $* 2>'$TMP/stderr'; echo \"EXIT=\$?\"; sleep 600"
    T set-option -t nt status off >/dev/null
    wait_for "F1 shows the keys" 150
}
# say TEXT EXPECTED NAME: types TEXT, Enter, and checks the screen shows EXPECTED.
say() {
    T send-keys -t nt "$1" Enter
    if wait_for "$2"; then ok "$3"; else bad "$3" "$(cap)"; fi
}

# ---- a template with a switch
start "$TMP/qt.gguf"
say "/think" "thinking: default (the template's: the model may think)" "/think shows the default"
say "/think maybe" "/think: 'maybe': say on or off" "/think with another word: an error"
say "/think off" "thinking off for the next answers" "/think off"
T send-keys -t nt "hi" Enter
idle 300
say "/save thinkoff" "saved to" "/save after an answer with thinking off"
check "the session records the switch" grep -q "^  think: off$" "$SESS/thinkoff.yaml"
"$NATTER" replay --check "$SESS/thinkoff.yaml" >"$TMP/replay.out" 2>&1; rc=$?
check "replay --check reproduces it ($rc): $(tail -1 "$TMP/replay.out")" [ "$rc" -eq 0 ]
# Without the record the prompt differs: replay says so (the record is what makes it exact).
sed '/^  think: off$/d' "$SESS/thinkoff.yaml" >"$TMP/nothink.yaml"
"$NATTER" replay --check "$TMP/nothink.yaml" >"$TMP/replay2.out" 2>&1; rc=$?
check "without the record the replay differs ($rc)" \
    sh -c "[ $rc -eq 1 ] && grep -q 'the prompt does not have the recorded length' '$TMP/replay2.out'"
say "/think on" "thinking on for the next answers" "/think on"

# ---- --resume brings the switch back; a thinking section is folded, F9 unfolds it
awk 'BEGIN { n = 0 }
     /^  text: / { n++; if (n == 2) { print "  text: \"<think>\\nI should greet back.\\n</think>\\n\\nHello there!\""; next } }
     { print }' "$SESS/thinkoff.yaml" >"$SESS/thought.yaml"
start "$TMP/qt.gguf" --resume thought
if wait_for "Hello there!" && ! cap | grep -q "I should greet back" && cap | grep -q "▸ thought"; then
    ok "a thinking section is folded to one line"
else
    bad "a thinking section is folded to one line" "$(cap)"
fi
say "/think" "thinking: off" "--resume restores the switch"
T send-keys -t nt F9
if wait_for "I should greet back." && cap | grep -q "Hello there!"; then
    ok "F9 unfolds it"
else
    bad "F9 unfolds it" "$(cap)"
fi
say "/export $TMP/plain.md" "exported 2 messages as Markdown to" "/export"
check "/export leaves the thoughts out" sh -c "grep -q '^Hello there!' '$TMP/plain.md' && ! grep -q 'greet back' '$TMP/plain.md'"
say "/export $TMP/with.md thinking" "exported 2 messages as Markdown with the thinking to" "/export ... thinking"
check "/export ... thinking quotes them" grep -q '^> I should greet back\.$' "$TMP/with.md"
"$NATTER" export "$SESS/thought.yaml" --format json >"$TMP/e.json" 2>&1
check "natter export: content without the thoughts" sh -c "grep -q '\"content\": \"Hello there!\"' '$TMP/e.json' && ! grep -q 'greet back' '$TMP/e.json'"
"$NATTER" export "$SESS/thought.yaml" --format json --thinking >"$TMP/et.json" 2>&1
check "natter export --thinking: reasoning_content" grep -q '"reasoning_content": "I should greet back."' "$TMP/et.json"

# ---- a template without a switch says so, on the screen and on the command line
start "$GUIDE"
say "/think off" "/think off: this model's chat template has no thinking switch" "/think off without a switch: said"
say "/think" "thinking: this model's chat template has no switch" "/think without a switch: said"
"$NATTER" -m "$GUIDE" -p hi --temp 0 -n 2 --think off >/dev/null 2>"$TMP/oneshot.err"; rc=$?
check "one-shot --think off without a switch: a warning, the answer still comes ($rc)" \
    sh -c "[ $rc -eq 0 ] && grep -q '^natter: warning: --think off: this model' '$TMP/oneshot.err'"
"$NATTER" -m "$TMP/qt.gguf" -p hi --think off --show-prompt >"$TMP/sp.out" 2>&1
check "one-shot --think off: the answer opens with an empty thinking block" grep -q '^<think>$' "$TMP/sp.out"

finish
