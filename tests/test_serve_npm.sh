#!/bin/sh
# tests/test_serve_npm.sh — `natter serve` driven by a client nobody here wrote: the official
# `openai` package from the npm registry (installed on first run into build/npm), streaming and
# not, chat and completions, logprobs, models, and its error classes for 404 and 401
# (tests/serve_openai.mjs). Skips, saying so, when node/npm or the registry are unavailable.
BUILD=${1:-build}
. "$(dirname "$0")/lib.sh"
MODEL=models/natter-guide.gguf
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    skip "test_serve_npm: node and npm are not installed"
    finish
fi
NPM_DIR="$BUILD/npm"
MOD="$(pwd)/$NPM_DIR/node_modules/openai/index.mjs"
if [ ! -f "$MOD" ]; then
    mkdir -p "$NPM_DIR"
    if ! timeout 300 npm install --prefix "$NPM_DIR" --no-audit --no-fund openai >"$tmp/npm.log" 2>&1 || [ ! -f "$MOD" ]; then
        skip "test_serve_npm: cannot install the openai package from the npm registry ($(tail -n 1 "$tmp/npm.log"))"
        finish
    fi
fi
. "$(dirname "$0")/serve_lib.sh"
NATTER_TEST_KEY=npm-test-key start_server npm -m "$MODEL" --threads 1 --api-key-env NATTER_TEST_KEY || finish
timeout 120 node tests/serve_openai.mjs "$MOD" "http://127.0.0.1:$PORT/v1" npm-test-key >"$tmp/out" 2>&1
rc=$?
while IFS= read -r line; do
    case "$line" in
        "ok   "*) ok "openai: ${line#ok   }" ;;
        "FAIL "*) bad "openai: ${line#FAIL }" ;;
    esac
done <"$tmp/out"
check "the client script ran to its end (exit $rc)" grep -q '^done ' "$tmp/out" || cat "$tmp/out"
stop_server
check "exit 0 after SIGTERM" [ "$SERVER_RC" = 0 ]
finish
