#!/bin/sh
# tests/test_remote_serve.sh — natter's remote backend (--api-base) against `natter serve` on
# the repository's natter-guide model, both real, on 127.0.0.1 with a free port, stopped by
# the test: the streamed remote answer equals the local one (same model, question, seed and
# greedy parameters), natter models lists the served model, and on the chat screen (tmux) Esc
# stops a remote answer at once and a slider moved mid-answer continues the same answer
# through /v1/completions, recorded as a live change in the session; the status bar names the
# server and its token count, and F4 shows the probabilities the server sent (logprobs); replay
# --check asks natter serve again and finds every answer identical (it honours the seed), the
# chat's live change and stop included. The server is slowed
# with NATTER_TEST_TOKEN_DELAY_MS (its worker is natter's) so the screen can act mid-answer.
BUILD=${1:-build}
. "$(dirname "$0")/lib.sh"
MODEL=models/natter-guide.gguf
missing=""
[ -f "$MODEL" ] || missing="$MODEL is absent"
command -v curl >/dev/null 2>&1 || missing="${missing:+$missing; }curl is not installed"
"$NATTER" serve --help >/dev/null 2>&1 || missing="${missing:+$missing; }natter serve is not built in"
if [ -n "$missing" ]; then
    skip "test_remote_serve: $missing"
    finish
fi
. "$(dirname "$0")/serve_lib.sh"
export XDG_STATE_HOME="$tmp/state"

start_server main -m "$MODEL" --threads 1 || finish
B="http://127.0.0.1:$PORT/v1"
Q="What is natter?"
"$NATTER" --api-base "$B" -m natter-guide -p "$Q" --temp 0 --seed 4 -n 24 >"$tmp/remote" 2>"$tmp/e"
rc=$?
"$NATTER" -m "$MODEL" -p "$Q" --temp 0 --seed 4 -n 24 --threads 1 >"$tmp/local" 2>>"$tmp/e"
check "a remote answer from natter serve ($(cat "$tmp/e"))" sh -c "[ $rc = 0 ] && [ -s '$tmp/remote' ]"
if cmp -s "$tmp/remote" "$tmp/local"; then ok "the remote answer equals the local one"
else bad "the remote answer differs from the local one" "remote: $(cat "$tmp/remote")
local:  $(cat "$tmp/local")"; fi
"$NATTER" models --api-base "$B" >"$tmp/m" 2>&1
check "natter models --api-base lists the served model" grep -qx "natter-guide" "$tmp/m"
# replay --check against the server: natter serve honours the seed, so a session sampled at
# temperature 1 comes back identical, answer by answer.
"$NATTER" --api-base "$B" -m natter-guide -p "$Q" --temp 1 --seed 21 -n 24 --save "$tmp/r.yaml" >/dev/null 2>"$tmp/e"
"$NATTER" -m natter-guide -p "And sessions?" --temp 1 --seed 22 -n 24 --resume "$tmp/r.yaml" \
    --save "$tmp/r.yaml" >/dev/null 2>>"$tmp/e"
"$NATTER" replay --check "$tmp/r.yaml" >"$tmp/o" 2>"$tmp/e2"
rc=$?
check "replay --check against natter serve: exit 0 ($(cat "$tmp/e" "$tmp/o" "$tmp/e2"))" [ $rc = 0 ]
check "replay --check against natter serve: both answers identical" \
    sh -c "[ \$(grep -c ': identical, ' '$tmp/o') = 2 ] && grep -q '2 identical, 0 differ' '$tmp/o'"
check "replay --check says only a seed-honouring server can match" grep -q "honours the seed" "$tmp/e2"
stop_server

# ---- the chat screen against a slow server: Esc, and a slider mid-answer ------------------------
if ! command -v tmux >/dev/null 2>&1; then
    skip "test_remote_serve: tmux is not installed" 3
    finish
fi
NATTER_TEST_TOKEN_DELAY_MS=150 start_server slow -m "$MODEL" --threads 1 || finish
B="http://127.0.0.1:$PORT/v1"
T new-session -d -s nt -x 100 -y 30 \
    "env HOME='$tmp/home' XDG_STATE_HOME='$tmp/state' LANG=C.UTF-8 LC_ALL=C.UTF-8 \
     '$NATTER' --api-base '$B' -m natter-guide --template chatml --system '' --seed 3 -n 60 \
     --save '$tmp/chat.yaml' 2>'$tmp/stderr'; echo EXIT=\$?; sleep 600"
T set-option -t nt status off >/dev/null
wait_for "F1 shows the keys" 100 || bad "the chat screen did not start" "$(cap; cat "$tmp/stderr")"
# A slider moved mid-answer: /set is the keyboard's way to the same live change.
T send-keys -t nt "$Q" Enter
wait_for "generating" 100
sleep 1
T send-keys -t nt "/set temp 0.3" Enter
wait_for "idle" 300 || bad "the answer did not end" "$(cap)"
if grep -q '"/v1/completions"\|/v1/completions' "$SERVER_LOG" || [ "$(grep -c completions "$SERVER_LOG")" -ge 2 ]; then
    ok "the change went to the server as a continuation"
else
    bad "no continuation request reached the server" "$(tail -n 5 "$SERVER_LOG")"
fi
check "the session records the live change ($(grep -A3 changes "$tmp/chat.yaml" | head -n 4))" \
    grep -q "changes:" "$tmp/chat.yaml"
# The status bar names the server and what it counted; F4 shows the server's probabilities.
if wait_for "natter-guide @ 127.0.0.1:$PORT" 20 && cap | grep -q "tokens (server)"; then
    ok "the status bar names the server and its token count"
else
    bad "the status bar of a remote chat" "$(cap | tail -n 3)"
fi
if cap | grep -q "ctx [0-9]*/0"; then bad "the status bar still shows a context meter of 0"; else ok; fi
T send-keys -t nt F4
if wait_for "candidate    server's %" 30 && cap | grep -q "[0-9]\.[0-9]%"; then
    ok "F4: the probabilities natter serve sent (logprobs)"
else
    bad "F4: the probabilities natter serve sent (logprobs)" "$(cap)"
fi
T send-keys -t nt F4
# Esc mid-answer: the answer stops at once and is marked.
T send-keys -t nt "And then?" Enter
wait_for "generating" 100
sleep 1
T send-keys -t nt Escape
if wait_for "[stopped]" 10; then ok "Esc stops a remote answer at once"; else bad "Esc did not stop the remote answer within 1 s" "$(cap)"; fi
T send-keys -t nt C-d
# The chat's session, its live change continued through /completions and its Esc'd answer,
# asked again of the same (slow) server: the same pieces, the change at the same one.
wait_for "EXIT=" 50
"$NATTER" replay --check "$tmp/chat.yaml" >"$tmp/o" 2>"$tmp/e2"
rc=$?
check "replay --check of the chat with a live change and a stop: identical ($(cat "$tmp/o" "$tmp/e2"))" \
    sh -c "[ $rc = 0 ] && grep -q '2 identical, 0 differ' '$tmp/o'"
stop_server
finish
