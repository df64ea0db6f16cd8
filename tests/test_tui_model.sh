#!/bin/sh
# tests/test_tui_model.sh — /model in the chat screen and the context warning, driven through
# tmux like tests/test_tui.sh: /model NAME keeps the conversation and reads it into the new
# model (y) or starts a new one (n), Esc stays; a bad name is an error and the model stays;
# /model is refused with a warning while an answer is being written; --ctx above the trained
# context is a warning on the message line. Uses natter's own model (always in the
# repository) and a copy of it found by name through NATTER_MODELS.
. "$(dirname "$0")/lib.sh"
GUIDE="$(pwd)/models/natter-guide.gguf"
TMP=$tmp
if ! command -v tmux >/dev/null 2>&1 || [ ! -x "$NATTER" ]; then
    skip "test_tui_model: tmux or $NATTER missing"
    finish
fi
NATTER_BIN=$NATTER

# start ARGS...: a fresh natter on the guide model (greedy) with the copy findable by name.
mkdir -p "$TMP/models" "$TMP/home" "$TMP/state" "$TMP/config"
cp "$GUIDE" "$TMP/models/other-guide.gguf"
start() {
    t_fresh
    T new-session -d -s nt -x 110 -y 30 \
        "env HOME='$TMP/home' XDG_STATE_HOME='$TMP/state' XDG_CONFIG_HOME='$TMP/config' \
         NATTER_MODELS='$TMP/models' INPUTRC=/dev/null LANG=C.UTF-8 LC_ALL=C.UTF-8 ${ENVS:-} \
         '$NATTER_BIN' -m '$GUIDE' --temp 0 $* 2>'$TMP/stderr'; echo \"EXIT=\$?\"; sleep 600"
    T set-option -t nt status off >/dev/null
    wait_for "F1 shows the keys" 150
}

# ---- the context warning
start --ctx 1024
if wait_for "the context (1024 tokens) is longer than the 256 the model was trained for"; then
    ok "--ctx above the trained context: a warning on the message line"
else
    bad "--ctx above the trained context: a warning on the message line" "$(cap)"
fi

# ---- /model keeps the conversation (y) and reads it into the new model
start
T send-keys -t nt "How do I quit natter?" Enter
# the finished answer's header, then idle (idle alone can match the bar of before the question)
wait_re "tokens, [0-9.]+ tok/s" 300
idle 300
T send-keys -t nt "/model other-guide" Enter
if wait_for "Switch to other-guide.gguf: keep the conversation"; then
    T send-keys -t nt y
    # The note of the switch, then that of the finished re-read (which may come at once).
    if wait_for "back into the model" 300 && idle 300 && cap | grep -q "How do I quit natter?"; then
        ok "/model NAME, y: the conversation stays and is read into the new model"
    else
        bad "/model NAME, y: the conversation stays and is read into the new model" "$(cap)"
    fi
else
    bad "/model NAME asks what to do with the conversation" "$(cap)"
fi
T send-keys -t nt "/model" Enter
if wait_for "other-guide.gguf), context 256 of 256 trained"; then
    ok "/model without NAME shows the current model's file"
else
    bad "/model without NAME shows the current model's file" "$(cap)"
fi
# The new model answers the next question after the re-read history. Idle alone can be the
# bar of before the question and a second label can be the answer still being written (then the
# /model below is refused): wait for the second finished answer's header.
two_answers() { [ "$(cap | grep -cE '^Assistant .*tokens, [0-9.]+ tok/s')" -ge 2 ]; }
T send-keys -t nt "What does F2 do?" Enter
if until_ok 300 two_answers && idle 300; then
    ok "after /model the new model answers"
else
    bad "after /model the new model answers" "$(cap)"
fi

# ---- Esc stays, n starts a new conversation
T send-keys -t nt "/model $GUIDE" Enter
if ! wait_for "keep the conversation" 300; then bad "/model FILE asks what to do with the conversation" "$(cap)"; fi
T send-keys -t nt Escape
if wait_for "kept model"; then ok "/model, Esc: nothing changes"; else bad "/model, Esc: nothing changes" "$(cap)"; fi
T send-keys -t nt "/model $GUIDE" Enter
wait_for "keep the conversation"
T send-keys -t nt n
if wait_for "a new conversation" && ! cap | grep -q "How do I quit natter?"; then
    ok "/model, n: a new conversation"
else
    bad "/model, n: a new conversation" "$(cap)"
fi

# ---- a name that is nothing: an error, the model stays
T send-keys -t nt "/model no-such-model" Enter
if wait_for "no model file or model name 'no-such-model'" && cap | grep -q "/model: no such model"; then
    ok "/model with an unknown name: an error, the model stays"
else
    bad "/model with an unknown name: an error, the model stays" "$(cap)"
fi

# ---- refused while an answer is being written
ENVS="NATTER_TEST_TOKEN_DELAY_MS=300" start
T send-keys -t nt "Tell me about natter" Enter
wait_for "Assistant"
T send-keys -t nt "/model other-guide" Enter
if wait_for "model: an answer is being written; stop it first (Esc)"; then
    ok "/model while an answer is being written: refused with a warning"
else
    bad "/model while an answer is being written: refused with a warning" "$(cap)"
fi
T send-keys -t nt Escape
idle

finish
