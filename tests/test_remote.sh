#!/bin/sh
# Tests for natter's remote backend on the command line (--api-base, natter models --api-base):
# against tests/remote_server.py (a fault-injecting OpenAI-compatible server on 127.0.0.1, a
# free port, started and stopped here), each failure gives its one message and exit status 1
# with the partial answer printed (connection refused, DNS, TLS, 401, 404, 429 with
# Retry-After, 500, a stream cut mid-answer, a malformed event, an oversized event, an error
# event, the idle timeout); the API key reaches the server as the header only and never
# stdout, stderr, a session or an export; the session records the backend without
# credentials, the server's model and fingerprint. Then against llama.cpp's llama-server with
# stories260K (../shared; skipped when absent): a streamed answer, greedy and seeded answers
# that repeat, max tokens.
. "$(dirname "$0")/lib.sh"
export XDG_STATE_HOME="$tmp/state"

if ! command -v python3 >/dev/null 2>&1; then
    skip "test_remote: python3 (for tests/remote_server.py) is not installed" 1
    finish
fi
KEY=sk-test-secret-7
export REMOTE_TEST_KEY=$KEY
python3 tests/remote_server.py "$tmp/port" "$tmp/requests.log" &
srv=$!
trap 'kill $srv 2>/dev/null; t_cleanup' EXIT
i=0
while [ ! -s "$tmp/port" ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
if [ ! -s "$tmp/port" ]; then
    bad "the test server did not start"
    finish
fi
BASE="http://127.0.0.1:$(cat "$tmp/port")/v1"

# ask MODEL: runs a one-shot question; out, err and rc are left in $tmp/o, $tmp/e, $rc.
ask() {
    OPENAI_API_KEY=$KEY "$NATTER" --api-base "$BASE" -m "$1" -p "hi" --seed 3 >"$tmp/o" 2>"$tmp/e"
    rc=$?
}
# expect MODEL RC STDOUT STDERR-PART: one case.
expect() {
    ask "$1"
    o=$(cat "$tmp/o"); e=$(cat "$tmp/e")
    if [ -z "$4" ]; then _e_ok=$([ ! -s "$tmp/e" ] && echo y); else
        _e_ok=$(grep -qF -- "$4" "$tmp/e" && [ "$(wc -l <"$tmp/e")" -le 1 ] && echo y); fi
    if [ "$rc" = "$2" ] && [ "$o" = "$3" ] && [ "$_e_ok" = y ]; then
        ok "$1: $4"
    else
        bad "$1: want exit $2, '$3' and '$4'" "exit $rc
stdout: $o
stderr: $e"
    fi
}

expect ok 0 "Hello, world!" ""
expect length 0 "Hello, world!" ""
expect cut 1 "Hello, world" "127.0.0.1:$(cat "$tmp/port"): the stream was cut before the answer ended"
expect malformed 1 "Hello, world" "malformed event in the stream"
expect big 1 "Hello, world" "larger than 1048576 bytes (natter's cap)"
expect errevent 1 "Hello, world" "the server reported an error mid-answer: the model crashed"
expect 401 1 "" 'HTTP 401: the server refused the API key (from $OPENAI_API_KEY, set)'
expect 403 1 "" "HTTP 403: the server refused the API key"
expect 404 1 "" "HTTP 404: no model '404'"
expect 429 1 "" "HTTP 429: too many requests (rate limit); retry after 7 s"
expect 500 1 "" "HTTP 500: the server failed (the server says: fault 500?[31m)"
expect 503 1 "" "HTTP 503: the server failed"
expect strict 0 "Hello, world!" ""
# The server's message never carries its escape byte to the terminal.
ask 500
if grep -q "$(printf '\033')" "$tmp/e"; then bad "an escape byte from the server reached stderr"; else ok; fi

NATTER_API_IDLE_TIMEOUT=0.5 OPENAI_API_KEY=$KEY "$NATTER" --api-base "$BASE" -m stall -p hi >"$tmp/o" 2>"$tmp/e"
rc=$?
check "stall: idle timeout, exit 1 ($(cat "$tmp/e"))" [ $rc = 1 ]
check "stall: the partial answer is printed" [ "$(cat "$tmp/o")" = "waiting" ]
check "stall: the message says idle timeout" grep -q "sent nothing for 0.5 s (idle timeout)" "$tmp/e"

"$NATTER" --api-base http://127.0.0.1:1/v1 -m x -p hi >"$tmp/o" 2>"$tmp/e"
check "connection refused: one message" grep -q "127.0.0.1:1: cannot connect (connection refused): is a server running at http://127.0.0.1:1/v1?" "$tmp/e"
"$NATTER" --api-base http://no-such-host.invalid/v1 -m x -p hi >"$tmp/o" 2>"$tmp/e"
check "DNS failure: one message" grep -q "no-such-host.invalid: no such host (DNS lookup failed)" "$tmp/e"
# TLS spoken to a plain HTTP server fails the handshake.
"$NATTER" --api-base "https://127.0.0.1:$(cat "$tmp/port")/v1" -m x -p hi >"$tmp/o" 2>"$tmp/e"
check "TLS error: one message ($(cat "$tmp/e"))" grep -q "TLS error" "$tmp/e"
"$NATTER" --api-base ftp://x/v1 -m x -p hi >"$tmp/o" 2>"$tmp/e"
check "a base that is not http(s) is refused" grep -q "must be an http:// or https:// URL" "$tmp/e"

# --- natter models --api-base ------------------------------------------------------------------
"$NATTER" models --api-base "$BASE" >"$tmp/o" 2>"$tmp/e"
check "models: the server's list" [ "$(cat "$tmp/o")" = "model-a
model-b" ]
"$NATTER" models --api-base http://127.0.0.1:1/v1 >"$tmp/o" 2>"$tmp/e"
check "models: connection refused is exit 1" [ $? = 1 ]

# --- the key and the credentials stay out of files and output -----------------------------------
CRED_BASE="http://user:pw-secret@127.0.0.1:$(cat "$tmp/port")/v1?key=q-secret"
OPENAI_API_KEY=$KEY "$NATTER" --api-base "$CRED_BASE" -m ok -p hi --save "$tmp/s.yaml" \
    >"$tmp/o" 2>"$tmp/e"
check "save: the answer" [ "$(cat "$tmp/o")" = "Hello, world!" ]
check "save: the session records the base without credentials" \
    grep -qF "api-base: http://127.0.0.1:$(cat "$tmp/port")/v1" "$tmp/s.yaml"
check "save: the served model" grep -qF "served-model: served-model-1" "$tmp/s.yaml"
check "save: the fingerprint" grep -qF "fingerprint: fp-test-42" "$tmp/s.yaml"
check "save: the model asked for" grep -qF "name: ok" "$tmp/s.yaml"
"$NATTER" export "$tmp/s.yaml" --format json -o "$tmp/x.json" 2>"$tmp/e2"
"$NATTER" export "$tmp/s.yaml" --format md -o "$tmp/x.md" 2>>"$tmp/e2"
check "export works on a remote session" [ -s "$tmp/x.json" ] && [ -s "$tmp/x.md" ]
leak=$(grep -l -e "$KEY" -e pw-secret -e q-secret "$tmp/o" "$tmp/e" "$tmp/e2" "$tmp/s.yaml" \
       "$tmp/x.json" "$tmp/x.md" 2>/dev/null)
check "no key or password in output, session or exports ($leak)" [ -z "$leak" ]
# The key went to the server, as the header.
check "the server saw the key as the Authorization header" grep -q '"auth": "ok"' "$tmp/requests.log"
if grep -F "$KEY" "$tmp/requests.log" >/dev/null; then
    bad "the key appeared in a request body"
else
    ok
fi
# replay of a remote session asks its server again: the server here ignores nothing for "ok"
# (the same text every time), so every answer is identical; "random" gives a new text each time.
OPENAI_API_KEY=$KEY "$NATTER" replay --check "$tmp/s.yaml" >"$tmp/o" 2>"$tmp/e"
rc=$?
check "replay --check of a remote session: identical, exit 0 ($(cat "$tmp/o" "$tmp/e"))" [ $rc = 0 ]
check "replay --check says plainly that only a seed-honouring server can match" \
    grep -q "can only match the recording if the server honours the seed" "$tmp/e"
check "replay --check reports the answer identical" grep -q "message 2: .*: identical, 13 characters (end of text)" "$tmp/o"
check "replay --check: the closing count" grep -q "replay check: 1 answers from ok at $BASE: 1 identical, 0 differ" "$tmp/o"
if grep -F "$KEY" "$tmp/o" "$tmp/e" >/dev/null; then bad "replay printed the key"; else ok; fi
OPENAI_API_KEY=$KEY "$NATTER" --api-base "$BASE" -m random -p "one" --save "$tmp/rnd.yaml" >/dev/null 2>&1
OPENAI_API_KEY=$KEY "$NATTER" --api-base "$BASE" -m random -p "two" --resume "$tmp/rnd.yaml" \
    --save "$tmp/rnd.yaml" >/dev/null 2>&1
OPENAI_API_KEY=$KEY "$NATTER" replay --check "$tmp/rnd.yaml" >"$tmp/o" 2>"$tmp/e"
rc=$?
check "replay --check: a server that ignores the seed differs, exit 1 ($(cat "$tmp/e"))" [ $rc = 1 ]
check "replay --check: every answer reported, at the character where it differs" \
    sh -c "[ \$(grep -c 'differs at character 7 (of' '$tmp/o') = 2 ]"
check "replay --check: the closing count says it" grep -q "0 identical, 2 differ (does the server honour the seed?)" "$tmp/o"
"$NATTER" replay --check "$tmp/s.yaml" --api-base http://127.0.0.1:1/v1 >"$tmp/o" 2>"$tmp/e"
rc=$?
check "replay --api-base: another server, its failure said ($(cat "$tmp/e"))" \
    sh -c "[ $rc = 1 ] && grep -q 'message 2: 127.0.0.1:1: cannot connect' '$tmp/e'"
# --resume of a remote session asks the same server again.
OPENAI_API_KEY=$KEY "$NATTER" --api-base "$BASE" -m echo -p "again" --resume "$tmp/s.yaml" \
    >"$tmp/o" 2>"$tmp/e"
check "resume: the earlier exchange goes to the server ($(cat "$tmp/e"))" \
    grep -qF '{"role": "assistant", "content": "Hello, world!"}, {"role": "user", "content": "again"}' "$tmp/o"
# --docs with a server: the passages go in the system message, the sources follow on stderr;
# a question about what the documents lack sends the no-passage notice instead.
XDG_CACHE_HOME="$tmp/cache" OPENAI_API_KEY=$KEY "$NATTER" --api-base "$BASE" -m echo \
    --persona docqa --docs tests/data/docs -p "How do I descale the kettle?" >"$tmp/o" 2>"$tmp/e"
check "--docs with a server: the passage is sent ($(cat "$tmp/e"))" \
    grep -qF '=== Passage 1: tests/data/docs/kettle.md:19-23 (Descaling) ===' "$tmp/o"
check "--docs with a server: its source is said" grep -qF 'tests/data/docs/kettle.md:19-23' "$tmp/e"
XDG_CACHE_HOME="$tmp/cache" OPENAI_API_KEY=$KEY "$NATTER" --api-base "$BASE" -m echo \
    --persona docqa --docs tests/data/docs -p "Can the kettle brew espresso?" >"$tmp/o" 2>"$tmp/e"
check "--docs with a server: the no-passage notice is sent ($(cat "$tmp/e"))" \
    sh -c "grep -qF '=== No passage: the documents do not mention brew, espresso ===' '$tmp/o' &&
           ! grep -qF '=== Passage' '$tmp/o'"

# --- the config file and a persona's backend ----------------------------------------------------
mkdir -p "$XDG_CONFIG_HOME/natter"
CFG="$XDG_CONFIG_HOME/natter/config.yaml"
printf 'api-base: %s\nmodel: ok\napi-key-env: MY_TEST_KEY\n' "$BASE" >"$CFG"
"$NATTER" --check "$CFG" >"$tmp/o" 2>&1
check "natter --check reads the config file ($(cat "$tmp/o"))" \
    grep -qF "config.yaml: ok (config: server $BASE, model ok, its key from \$MY_TEST_KEY)" "$tmp/o"
: >"$tmp/requests.log"
MY_TEST_KEY=$KEY "$NATTER" -p hi >"$tmp/o" 2>"$tmp/e"
check "config: its server and model answer ($(cat "$tmp/e"))" [ "$(cat "$tmp/o")" = "Hello, world!" ]
check "config: the key from the variable it names" grep -q '"auth": "ok"' "$tmp/requests.log"
MY_TEST_KEY=$KEY "$NATTER" -m length -p hi --save "$tmp/cfg.yaml" >"$tmp/o" 2>"$tmp/e"
check "config: -m on the command line names another of the server's models" \
    grep -q '"model": "length"' "$tmp/requests.log"
check "config: the session records the config's server" grep -qF "api-base: $BASE" "$tmp/cfg.yaml"
"$NATTER" --api-base http://127.0.0.1:1/v1 -p hi >"$tmp/o" 2>"$tmp/e"
check "config: --api-base on the command line wins" grep -q "127.0.0.1:1: cannot connect" "$tmp/e"
if [ -f models/natter-guide.gguf ]; then
    n0=$(wc -l <"$tmp/requests.log")
    "$NATTER" -m models/natter-guide.gguf -p hi -n 3 --seed 1 >"$tmp/o" 2>"$tmp/e"
    rc=$?
    check "config: -m FILE.gguf answers locally, nothing sent ($(cat "$tmp/e"))" \
        sh -c "[ $rc = 0 ] && [ $n0 = \$(wc -l <'$tmp/requests.log') ]"
else
    skip "models/natter-guide.gguf is absent"
fi
printf 'api-base: %s\nmodel: stall\nidle-timeout: 0.5\n' "$BASE" >"$CFG"
"$NATTER" -p hi >"$tmp/o" 2>"$tmp/e"
check "config: idle-timeout ($(cat "$tmp/e"))" grep -q "sent nothing for 0.5 s (idle timeout)" "$tmp/e"
NATTER_API_IDLE_TIMEOUT=0.7 "$NATTER" -p hi >"$tmp/o" 2>"$tmp/e"
check "config: the environment's timeout wins over the file's" grep -q "sent nothing for 0.7 s" "$tmp/e"
# Mistakes name file:line:col, show the line and a caret, and stop before anything is sent.
printf 'api-base: ftp://x/v1\napi-key-env: %s\napi-bse: x\napi-key: %s\nidle-timeout: 0\n' "$KEY" "$KEY" >"$CFG"
"$NATTER" -p hi >"$tmp/o" 2>"$tmp/e"
rc=$?
check "config errors: exit 2" [ $rc = 2 ]
check "config errors: a base that is not http(s) at 1:11" grep -qF "config.yaml:1:11: 'api-base' must be an http:// or https:// URL" "$tmp/e"
check "config errors: a key where its variable's name belongs" grep -qF "config.yaml:2:14: 'api-key-env' names the environment variable" "$tmp/e"
check "config errors: a typo with its suggestion" grep -qF "config.yaml:3:1: unknown key 'api-bse' (did you mean 'api-base'?)" "$tmp/e"
check "config errors: a key is never read from a file" grep -qF "config.yaml:4:10: an API key is never read from a file" "$tmp/e"
check "config errors: a timeout out of range" grep -qF "config.yaml:5:15:" "$tmp/e"
check "config errors: the line and a caret" grep -qx "api-bse: x" "$tmp/e"
check "config errors: the file cannot be used" grep -qF "config.yaml: the config file cannot be used" "$tmp/e"
"$NATTER" --check "$CFG" >"$tmp/o" 2>&1
rc=$?
check "natter --check finds the config file's errors, exit 1" \
    sh -c "[ $rc = 1 ] && grep -qF \"config.yaml:3:1: unknown key 'api-bse'\" '$tmp/o'"
if grep -qF "$KEY" "$tmp/o"; then bad "natter --check echoed a key written in the config file"; else ok; fi
if grep -qF "$KEY" "$tmp/e"; then bad "a key written in the config file was echoed"; else ok; fi
# A persona's backend wins over the config file's; the command line over both.
printf 'api-base: http://127.0.0.1:1/v1\nmodel: ok\n' >"$CFG"
printf 'name: Remote\nsystem: You answer from afar.\nbackend:\n  api-base: %s\n  model: echo\n  api-key-env: MY_TEST_KEY\n' "$BASE" >"$tmp/remote-persona.yaml"
: >"$tmp/requests.log"
MY_TEST_KEY=$KEY "$NATTER" --persona "$tmp/remote-persona.yaml" -p hi >"$tmp/o" 2>"$tmp/e"
check "persona backend: its server and model, over the config's ($(cat "$tmp/e"))" \
    grep -qF '"content": "You answer from afar."' "$tmp/o"
check "persona backend: the key from its variable" grep -q '"auth": "ok"' "$tmp/requests.log"
MY_TEST_KEY=$KEY "$NATTER" --persona "$tmp/remote-persona.yaml" -m ok -p hi >"$tmp/o" 2>"$tmp/e"
check "persona backend: -m overrides its model" [ "$(cat "$tmp/o")" = "Hello, world!" ]
MY_TEST_KEY=$KEY "$NATTER" --persona "$tmp/remote-persona.yaml" --api-base http://127.0.0.1:1/v1 \
    -p hi >"$tmp/o" 2>"$tmp/e"
check "persona backend: --api-base overrides its server" grep -q "127.0.0.1:1: cannot connect" "$tmp/e"
# replay takes the config file's timeouts too (the environment's win over them).
# The session recorded with the server's model "length", its record turned to "stall".
sed 's/^\( *name:\) length$/\1 stall/' "$tmp/cfg.yaml" >"$tmp/stall.yaml"
printf 'idle-timeout: 0.6\n' >"$CFG"
"$NATTER" replay --check "$tmp/stall.yaml" >"$tmp/o" 2>"$tmp/e"
check "replay: the config file's idle-timeout ($(tail -n 1 "$tmp/e"))" grep -q "sent nothing for 0.6 s (idle timeout)" "$tmp/e"
# A config file's model without a server is the local model.
if [ -f models/natter-guide.gguf ]; then
    printf 'model: models/natter-guide.gguf\n' >"$CFG"
    "$NATTER" -p hi -n 4 --seed 1 --save "$tmp/local.yaml" >"$tmp/o" 2>"$tmp/e"
    check "config: a model without api-base is the local one ($(cat "$tmp/e"))" \
        grep -q "file: natter-guide.gguf" "$tmp/local.yaml"
else
    skip "models/natter-guide.gguf is absent"
fi
rm -f "$CFG"
printf 'name: R\nsystem: s\nbackend:\n  model: x\n  api_key_env: K\n' >"$tmp/bad-persona.yaml"
"$NATTER" --persona "$tmp/bad-persona.yaml" -p hi >"$tmp/o" 2>"$tmp/e"
check "persona backend errors: exit non-zero" [ $? -ne 0 ]
check "persona backend errors: a misspelt key at its place" grep -qF "bad-persona.yaml:5:3: unknown key 'api_key_env' (did you mean 'api-key-env'?)" "$tmp/e"
check "persona backend errors: api-base is required" grep -qF "bad-persona.yaml:4:3: 'backend' needs 'api-base'" "$tmp/e"
# A base curl cannot parse is refused at its line (before: only when the chat started, with no
# place), the line not quoted (a key may hide in a URL), and not also called missing.
printf 'name: R\nsystem: s\nbackend:\n  api-base: "http://user:%s@bad host/v1"\n' "$KEY" >"$tmp/bad-url.yaml"
"$NATTER" --check "$tmp/bad-url.yaml" >"$tmp/o" 2>&1
rc=$?
check "persona backend errors: a base that is not a URL, at its place, exit 1 ($rc: $(cat "$tmp/o"))" \
    sh -c "[ $rc = 1 ] && grep -qF \"bad-url.yaml:4:13: 'api-base' is not a valid URL (\" '$tmp/o'"
check "persona backend errors: such a base is not also called missing" sh -c "! grep -q \"needs 'api-base'\" '$tmp/o'"
if grep -qF "$KEY" "$tmp/o"; then bad "an api-base's line was quoted, with the key in it"; else ok; fi
"$NATTER" --check "$tmp/remote-persona.yaml" >"$tmp/o" 2>&1
check "natter --check accepts a persona with a backend ($(cat "$tmp/o"))" [ $? = 0 ]
# A remote session resumes against its recorded server without --api-base.
OPENAI_API_KEY=$KEY "$NATTER" -m echo -p "once more" --resume "$tmp/s.yaml" >"$tmp/o" 2>"$tmp/e"
check "resume: a remote session goes back to its server ($(cat "$tmp/e"))" \
    grep -qF '{"role": "user", "content": "once more"}' "$tmp/o"

# --- the chat screen: a server without logprobs, its status bar -------------------------------------
if command -v tmux >/dev/null 2>&1; then
    T new-session -d -s nt -x 110 -y 30 \
        "env HOME='$tmp/home' XDG_STATE_HOME='$tmp/state' XDG_CONFIG_HOME='$tmp/config' LANG=C.UTF-8 \
         LC_ALL=C.UTF-8 MY_TEST_KEY=$KEY '$NATTER' --api-base '$BASE' -m nologprobs --system '' \
         --api-key-env MY_TEST_KEY \
         2>'$tmp/tui-err'; echo EXIT=\$?; sleep 600"
    T set-option -t nt status off >/dev/null
    wait_for "F1 shows the keys" 100 || bad "the chat screen did not start" "$(cap; cat "$tmp/tui-err")"
    T send-keys -t nt "hi" Enter
    wait_for "Hello, world!" 100
    T send-keys -t nt F4
    if wait_for "the server sent no" 30 && cap | grep -q "piece (no logprobs)"; then
        ok "F4: the view says the server sent no probabilities"
    else
        bad "F4: the view says the server sent no probabilities" "$(cap)"
    fi
    if cap | grep -q "nologprobs @ 127.0.0.1:$(cat "$tmp/port") │ default │ tokens not reported"; then
        ok "the status bar: the server, and no count it did not give"
    else
        bad "the status bar of a remote chat without usage" "$(cap | tail -n 2)"
    fi
    # /replay of a remote session on the screen: asked of its server again. s.yaml was resumed
    # twice with -m echo, so its model is now "echo": the two echo answers match (the echo
    # repeats the seed), the first one, written by "ok", does not.
    : >"$tmp/requests.log"
    T send-keys -t nt "/replay $tmp/s.yaml" Enter
    if wait_for "replay done: 2 of 3 answers matched" 100 && cap | grep -q "matched the recording (1 pieces"; then
        ok "/replay of a remote session asks its server again"
    else
        bad "/replay of a remote session asks its server again" "$(cap)"
    fi
    # The chat's key variable (--api-key-env) goes with /replay to the same server.
    check "/replay: the chat's key variable, for its server" \
        sh -c "grep -q '\"auth\": \"ok\"' '$tmp/requests.log' && ! grep -q '\"auth\": \"none\"' '$tmp/requests.log'"
    # /persona with one naming another server: the chat says the server is not switched.
    printf 'name: Elsewhere\nsystem: s\nbackend:\n  api-base: http://127.0.0.1:1/v1\n' >"$tmp/elsewhere.yaml"
    T send-keys -t nt "/persona $tmp/elsewhere.yaml" Enter
    wait_for "(y/n)" 30 && T send-keys -t nt y
    if wait_for "answered as before (the server it names applies when natter starts" 30; then
        ok "/persona naming another server: said, not switched"
    else
        bad "/persona naming another server: said, not switched" "$(cap | tail -n 4)"
    fi
    T send-keys -t nt C-d
else
    skip "tmux is not installed" 4
fi

# --- llama.cpp's llama-server, an independent implementation --------------------------------------
LS=${NATTER_REF:-../shared/ref}/llama.cpp/llama-server
if [ ! -x "$LS" ] || ! have_stories; then
    skip "llama-server or stories260K is not available (../shared)" 4
    finish
fi
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
LD_LIBRARY_PATH="$(dirname "$LS")" "$LS" -m "$STORIES" --host 127.0.0.1 --port "$port" -c 256 \
    -t 1 >"$tmp/ls.log" 2>&1 &
ls_pid=$!
trap 'kill $srv $ls_pid 2>/dev/null; t_cleanup' EXIT
i=0
until curl -sf "http://127.0.0.1:$port/health" >/dev/null 2>&1 || [ $i -ge 300 ]; do
    sleep 0.1; i=$((i + 1))
done
LB="http://127.0.0.1:$port/v1"
"$NATTER" --api-base "$LB" -m stories --template llama2 -p "Once upon a time" --temp 0 -n 24 \
    >"$tmp/a1" 2>"$tmp/ae"
r1=$?
"$NATTER" --api-base "$LB" -m stories --template llama2 -p "Once upon a time" --temp 0 -n 24 \
    >"$tmp/a2" 2>>"$tmp/ae"
check "llama-server: a streamed answer ($(head -c 200 "$tmp/ae"))" [ $r1 = 0 ] && [ -s "$tmp/a1" ]
check "llama-server: greedy answers repeat" cmp -s "$tmp/a1" "$tmp/a2"
"$NATTER" --api-base "$LB" -m stories -p "Lily" --temp 1 --seed 11 -n 16 >"$tmp/b1" 2>>"$tmp/ae"
"$NATTER" --api-base "$LB" -m stories -p "Lily" --temp 1 --seed 11 -n 16 >"$tmp/b2" 2>>"$tmp/ae"
check "llama-server: the seed is honoured (same seed, same answer)" cmp -s "$tmp/b1" "$tmp/b2"
"$NATTER" models --api-base "$LB" >"$tmp/m" 2>>"$tmp/ae"
check "llama-server: natter models lists its model" [ -s "$tmp/m" ]
kill $ls_pid 2>/dev/null
finish
