#!/bin/sh
# tests/test_serve.sh — `natter serve` over real HTTP with curl: every endpoint, streaming and
# not, logprobs, prompt-prefix reuse, determinism with a seed (streamed text equal to the whole
# answer), the errors (bad JSON, too large, unknown model, missing/wrong key, full queue → 503,
# wrong method, unknown path), the escaped request log, and Ctrl-C/SIGTERM (a waiting request
# gets 503, the running one finishes, exit 0). Servers bind 127.0.0.1 on a free port and are
# stopped by the test. The model is the repository's natter-guide (a chatml template).
# tests/test_serve_npm.sh drives it with the official openai client; tests/test_serve_load.sh
# is the load test.
BUILD=${1:-build}
. "$(dirname "$0")/lib.sh"
MODEL=models/natter-guide.gguf
if ! command -v curl >/dev/null 2>&1; then
    skip "test_serve: curl is not installed"
    finish
fi
. "$(dirname "$0")/serve_lib.sh"

"$NATTER" serve --temp 99 >/dev/null 2>"$tmp/e"; rc=$?
check "a bad default parameter: exit 2 naming it" sh -c "[ $rc = 2 ] && grep -q \"^natter serve: --temp: '99' is out of range (0 to 10)\" '$tmp/e'"
env -u NATTER_NO_SUCH_KEY "$NATTER" serve --api-key-env NATTER_NO_SUCH_KEY >/dev/null 2>"$tmp/e"; rc=$?
check "--api-key-env naming an unset variable: exit 2" sh -c "[ $rc = 2 ] && grep -q 'NATTER_NO_SUCH_KEY: that environment variable is not set or empty' '$tmp/e'"

start_server main -m "$MODEL" --threads 1 || finish
U="http://127.0.0.1:$PORT"

# post PATH BODY [CURL ARGS]: the response body in $tmp/r, the status in $code.
post() {
    _p=$1; _b=$2; shift 2
    code=$(curl -s -o "$tmp/r" -w '%{http_code}' -H 'Content-Type: application/json' --data-binary "$_b" "$@" "$U$_p")
}

code=$(curl -s -o "$tmp/r" -w '%{http_code}' "$U/health")
check "health: 200 {status: ok, nothing running or waiting}" sh -c "[ $code = 200 ] && grep -q '\"status\":\"ok\",\"requests_running\":0,\"requests_waiting\":0' '$tmp/r'"
code=$(curl -s -o "$tmp/r" -w '%{http_code}' "$U/v1/models")
check "models: the one model by its file's name" sh -c "[ $code = 200 ] && grep -q '\"data\":\[{\"id\":\"natter-guide\",\"object\":\"model\"' '$tmp/r'"

CHAT0='{"model":"natter-guide","messages":[{"role":"system","content":"You are natter'"'"'s guide."},{"role":"user","content":"What is natter?"}],"seed":42,"max_tokens":24'
CHAT="$CHAT0"',"temperature":0.8'
post /v1/chat/completions "$CHAT}"
cp "$tmp/r" "$tmp/a1"
check "chat: 200 with one assistant message" sh -c "[ $code = 200 ] && grep -q '\"object\":\"chat.completion\"' '$tmp/a1' && grep -q '\"message\":{\"role\":\"assistant\",\"content\":\"' '$tmp/a1'"
check "chat: finish_reason and usage" sh -c "grep -q '\"finish_reason\":\"\(stop\|length\)\"' '$tmp/a1' && grep -q '\"usage\":{\"prompt_tokens\":[1-9]' '$tmp/a1'"
content() { sed -n 's/.*"content":"\([^"]*\)".*/\1/p' "$1" | head -n 1; }
a1=$(content "$tmp/a1")
check "chat: the answer is not empty" [ -n "$a1" ]
# system_fingerprint: natter's version and the model's content hash, the one sessions record.
fp=$(sed -n 's/.*"system_fingerprint":"\([^"]*\)".*/\1/p' "$tmp/a1")
hash=$("$NATTER" -m "$MODEL" -p "x" -n 1 --threads 1 --save "$tmp/fp.yaml" >/dev/null 2>&1; sed -n 's/^ *hash: xxh3:\([0-9a-f]*\).*/\1/p' "$tmp/fp.yaml" | head -n 1)
check "system_fingerprint: natter's version and the model's hash ($fp, $hash)" \
    sh -c "[ -n '$hash' ] && [ '$fp' = \"natter-\$('$NATTER' --version | cut -d' ' -f2)-xxh3-$hash\" ]"

# Another conversation in between, then the first again: the same seed gives the same answer,
# with the shared prompt prefix taken from the cache.
post /v1/chat/completions '{"messages":[{"role":"user","content":"How do sliders work?"}],"seed":7,"max_tokens":12}'
post /v1/chat/completions "$CHAT}"
check "determinism: same seed and prompt, same answer after another request" [ "$(content "$tmp/r")" = "$a1" ]
post /v1/chat/completions "$CHAT}"
check "prefix reuse: a repeated prompt comes from the cache" grep -q '"cached_tokens":[1-9]' "$tmp/r"
check "prefix reuse: ... and answers the same" [ "$(content "$tmp/r")" = "$a1" ]

# The same answer as the chat's one-shot command line with the same model, question, seed and
# parameters (a high temperature, so a different loop or sampler would show).
post /v1/chat/completions '{"messages":[{"role":"user","content":"Tell me a story."}],"max_tokens":30,"seed":7,"temperature":1.6,"top_k":0,"top_p":1,"min_p":0}'
cli=$("$NATTER" -m "$MODEL" --threads 1 -p "Tell me a story." --seed 7 -n 30 --temp 1.6 --top-k 0 --top-p 1 --min-p 0 2>/dev/null)
check "the answer is the chat's, token for token ('$cli')" test -n "$cli" -a "$(content "$tmp/r")" = "$cli"

# Streaming: SSE chunks, the role first, [DONE] last, the text equal to the whole answer.
curl -sN -H 'Content-Type: application/json' --data-binary "${CHAT},\"stream\":true,\"stream_options\":{\"include_usage\":true}}" \
    "$U/v1/chat/completions" >"$tmp/s" 2>/dev/null
check "stream: every event is a data: line" sh -c "! grep -v '^data: ' '$tmp/s' | grep -q ."
check "stream: the first chunk gives the role" sh -c "head -n 1 '$tmp/s' | grep -q '\"delta\":{\"role\":\"assistant\",\"content\":\"\"}'"
check "stream: ends with data: [DONE]" sh -c "grep . '$tmp/s' | tail -n 1 | grep -qx 'data: \[DONE\]'"
check "stream: a usage chunk before [DONE]" grep -q '"choices":\[\],"usage":{"prompt_tokens"' "$tmp/s"
check "stream: a finish_reason in the last choice" grep -q '"delta":{},"logprobs":null,"finish_reason":"\(stop\|length\)"' "$tmp/s"
streamed=$(sed -n 's/.*"delta":{"content":"\([^"]*\)"}.*/\1/p' "$tmp/s" | tr -d '\n')
check "stream: the chunks join to the non-streamed answer" [ "$streamed" = "$a1" ]

# logprobs: each token with its log-probability and 3 alternatives, the chosen one's first
# when it is the likeliest.
post /v1/chat/completions "${CHAT0},\"temperature\":0,\"logprobs\":true,\"top_logprobs\":3}"
check "logprobs: 200 with a content list" sh -c "[ $code = 200 ] && grep -q '\"logprobs\":{\"content\":\[{\"token\":' '$tmp/r'"
n_tok=$(grep -o '"top_logprobs":\[' "$tmp/r" | wc -l)
n_alt=$(grep -o '{"token":"[^"]*","logprob":-\?[0-9.e-]*,"bytes":\[[0-9,]*\]}' "$tmp/r" | wc -l)
check "logprobs: 3 alternatives per token ($n_tok tokens, $n_alt alternatives)" test "$n_tok" -gt 0 -a "$n_alt" -eq $((3 * n_tok))
first=$(grep -o '"content":\[{"token":"[^"]*"' "$tmp/r" | sed 's/.*"token":"//')
alt=$(grep -o '"top_logprobs":\[{"token":"[^"]*"' "$tmp/r" | head -n 1 | sed 's/.*"token":"//')
check "logprobs: greedy picks the likeliest (first token '$first' = first alternative '$alt')" test -n "$first" -a "$first" = "$alt"

# Completions: a raw prompt, streaming and not, logprobs in the completions form.
post /v1/completions '{"prompt":"natter is","max_tokens":8,"seed":5,"logprobs":2}'
check "completions: 200 text_completion with text" sh -c "[ $code = 200 ] && grep -q '\"object\":\"text_completion\"' '$tmp/r' && grep -q '\"text\":\"' '$tmp/r'"
check "completions: logprobs tokens, token_logprobs, top_logprobs, text_offset" \
    grep -q '"logprobs":{"tokens":\[.*\],"token_logprobs":\[.*\],"top_logprobs":\[{.*}\],"text_offset":\[0' "$tmp/r"
ctext=$(sed -n 's/.*"text":"\([^"]*\)".*/\1/p' "$tmp/r")
curl -sN --data-binary '{"prompt":"natter is","max_tokens":8,"seed":5,"stream":true}' "$U/v1/completions" >"$tmp/s2"
check "completions stream: [DONE] last" sh -c "grep . '$tmp/s2' | tail -n 1 | grep -qx 'data: \[DONE\]'"
check "completions stream: the same text" [ "$(sed -n 's/.*"text":"\([^"]*\)".*/\1/p' "$tmp/s2" | tr -d '\n')" = "$ctext" ]

# A prompt rendered with the chat template (control tokens as text, as a client continuing an
# answer sends it) reads as the chat's own prompt: the same tokens, the same greedy answer.
post /v1/chat/completions '{"messages":[{"role":"user","content":"What is natter?"}],"max_tokens":12,"temperature":0}'
chat_text=$(content "$tmp/r")
chat_n=$(sed -n 's/.*"prompt_tokens":\([0-9]*\).*/\1/p' "$tmp/r")
post /v1/completions '{"prompt":"<|im_start|>user\nWhat is natter?<|im_end|>\n<|im_start|>assistant\n","max_tokens":12,"temperature":0}'
check "completions: control tokens in the prompt are read as such (prompt tokens $chat_n)" grep -q "\"prompt_tokens\":$chat_n," "$tmp/r"
check "completions: ... and continue like the chat" [ "$(sed -n 's/.*"text":"\([^"]*\)".*/\1/p' "$tmp/r")" = "$chat_text" ]

# Errors: OpenAI-style JSON bodies with a clear message.
post /v1/chat/completions '{"messages": [1,}'
check "bad JSON: 400 naming the place" sh -c "[ $code = 400 ] && grep -q '\"message\":\"the body is not valid JSON: 1:17: ' '$tmp/r' && grep -q '\"type\":\"invalid_request_error\"' '$tmp/r'"
post /v1/chat/completions '{"messages":[{"role":"user","content":"hi"}],"temperature":11}'
check "out-of-range parameter: 400 naming it" sh -c "[ $code = 400 ] && grep -q \"'temperature': '11' is out of range (0 to 10)\" '$tmp/r'"
post /v1/chat/completions '{"messages":[{"role":"robot","content":"hi"}]}'
check "unknown role: 400" sh -c "[ $code = 400 ] && grep -q 'is not system, developer, user or assistant' '$tmp/r'"
post /v1/chat/completions '{"model":"gpt-9","messages":[{"role":"user","content":"hi"}]}'
check "unknown model: 404 model_not_found" sh -c "[ $code = 404 ] && grep -q '\"code\":\"model_not_found\"' '$tmp/r' && grep -q \"this server has 'natter-guide'\" '$tmp/r'"
head -c 1100000 /dev/zero | tr '\0' 'a' >"$tmp/big"
code=$(curl -s -o "$tmp/r" -w '%{http_code}' --data-binary @"$tmp/big" "$U/v1/chat/completions")
check "too large: 413" sh -c "[ $code = 413 ] && grep -q 'larger than 1048576 bytes' '$tmp/r'"
long=$(head -c 3000 /dev/zero | tr '\0' 'x' | sed 's/x/word /g')
post /v1/completions "{\"prompt\":\"$long\"}"
check "prompt beyond the context: 400 context_length_exceeded" sh -c "[ $code = 400 ] && grep -q 'context_length_exceeded' '$tmp/r'"
code=$(curl -s -o "$tmp/r" -w '%{http_code}' "$U/v1/chat/completions")
check "GET on a POST endpoint: 405" [ "$code" = 405 ]
code=$(curl -s -o "$tmp/r" -w '%{http_code}' "$U/v2/%1b%5b31mnope")
check "unknown path: 404 JSON" sh -c "[ $code = 404 ] && grep -q '\"error\":{\"message\":\"no endpoint here' '$tmp/r'"
check "the log: one line per request" grep -q 'natter serve: 127.0.0.1 POST /v1/chat/completions 200 prompt [0-9]* (cached [0-9]*) answer [0-9]* ' "$SERVER_LOG"
check "the log: a client's control bytes are escaped" sh -c "grep -q 'GET /v2/\\\\x1b\[31mnope 404' '$SERVER_LOG' && ! grep -q \"\$(printf '\\033')\" '$SERVER_LOG'"
stop_server
check "SIGTERM: exit 0" [ "$SERVER_RC" = 0 ]

# An API key, from the environment variable --api-key-env names; never printed.
NATTER_TEST_KEY=s3cret-key start_server key -m "$MODEL" --threads 1 --api-key-env NATTER_TEST_KEY || finish
U="http://127.0.0.1:$PORT"
post /v1/chat/completions '{"messages":[{"role":"user","content":"hi"}],"max_tokens":2}'
check "no key: 401" sh -c "[ $code = 401 ] && grep -q '\"code\":\"invalid_api_key\"' '$tmp/r'"
post /v1/chat/completions '{"messages":[{"role":"user","content":"hi"}],"max_tokens":2}' -H 'Authorization: Bearer s3cret-kez'
check "wrong key: 401" [ "$code" = 401 ]
post /v1/chat/completions '{"messages":[{"role":"user","content":"hi"}],"max_tokens":2}' -H 'Authorization: Bearer s3cret-key'
check "the right key: 200" [ "$code" = 200 ]
code=$(curl -s -o "$tmp/r" -w '%{http_code}' "$U/health")
check "health needs no key" [ "$code" = 200 ]
stop_server
check "the key is never printed" sh -c "! grep -q s3cret '$SERVER_LOG'"
unset NATTER_TEST_KEY 2>/dev/null

# A full queue and a shutdown: tokens slowed to 40 ms, no waiting room (--queue 0), then one.
NATTER_TEST_TOKEN_DELAY_MS=40 start_server q -m "$MODEL" --threads 1 --queue 0 --timeout 1 || finish
U="http://127.0.0.1:$PORT"
SLOW='{"prompt":"natter","max_tokens":40,"seed":1}'
curl -s -o "$tmp/slow" -w '%{http_code}' --data-binary "$SLOW" "$U/v1/completions" >"$tmp/slow.code" &
slow=$!
wait_running
post /v1/completions "$SLOW"
check "full queue: 503 overloaded with an OpenAI error body" sh -c "[ $code = 503 ] && grep -q '\"type\":\"server_error\"' '$tmp/r' && grep -q '\"code\":\"overloaded\"' '$tmp/r'"
wait $slow
check "... while the running request is answered (longer than --timeout: only idle connections close)" sh -c "[ \"\$(cat '$tmp/slow.code')\" = 200 ]"
# A slow client: headers, then a body that never comes. The idle connection is closed after
# --timeout 1 s, long before the client would have finished.
(sleep 3 | curl -s -o /dev/null -T - -X POST "$U/v1/completions"; echo $? >"$tmp/stall.rc") &
stall=$!
wait_log 'connection cut' 1
check "a stalled client is cut off after --timeout" grep -q 'POST /v1/completions 0 [0-9.]* s (connection cut)' "$SERVER_LOG"
wait $stall
check "... and its request fails" [ "$(cat "$tmp/stall.rc")" != 0 ]
# A client that gives up on a whole (not streamed) answer: the generation stops with it,
# instead of going on for nobody. The same question answered whole first, for its length.
GONE='{"messages":[{"role":"user","content":"What is natter?"}],"max_tokens":200,"seed":1}'
post /v1/chat/completions "$GONE"
full=$(sed -n 's/.*"completion_tokens":\([0-9]*\).*/\1/p' "$tmp/r")
curl -s -o /dev/null --max-time 0.5 --data-binary "$GONE" "$U/v1/chat/completions"
t0=$(date +%s)
_i=0
until curl -s "$U/health" | grep -q '"requests_running":0' || [ $_i -ge 100 ]; do sleep 0.1; _i=$((_i + 1)); done
t1=$(date +%s)
check "a client gone mid-answer: the generation stops within a second ($((t1 - t0)) s)" [ $((t1 - t0)) -le 2 ]
wait_log 'answer [0-9]* [0-9.]* s (connection cut)' 1
n=$(sed -n 's|.*POST /v1/chat/completions 0 prompt [0-9]* (cached [0-9]*) answer \([0-9]*\) .*(connection cut)|\1|p' "$SERVER_LOG" | tail -n 1)
check "... logged as cut, after $n of the $full tokens of the whole answer" \
    sh -c "[ -n '$n' ] && [ -n '$full' ] && [ '$n' -lt '$full' ]"
stop_server

NATTER_TEST_TOKEN_DELAY_MS=40 start_server sig -m "$MODEL" --threads 1 --queue 4 || finish
U="http://127.0.0.1:$PORT"
curl -s -o "$tmp/run" -w '%{http_code}' --data-binary "$SLOW" "$U/v1/completions" >"$tmp/run.code" &
c1=$!
wait_running
curl -s -o "$tmp/wait" -w '%{http_code}' --data-binary "$SLOW" "$U/v1/completions" >"$tmp/wait.code" &
c2=$!
_i=0
until curl -s "$U/health" | grep -q '"requests_waiting":1' || [ $_i -ge 100 ]; do sleep 0.1; _i=$((_i + 1)); done
kill -INT "$SERVER_PID"
wait $c1 $c2
check "Ctrl-C: the waiting request gets 503 shutting_down" sh -c "[ \"\$(cat '$tmp/wait.code')\" = 503 ] && grep -q shutting_down '$tmp/wait'"
check "Ctrl-C: the running request finishes" sh -c "[ \"\$(cat '$tmp/run.code')\" = 200 ] && grep -q '\"finish_reason\"' '$tmp/run'"
stop_server
check "Ctrl-C: exit 0" [ "$SERVER_RC" = 0 ]
finish
