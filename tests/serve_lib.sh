# tests/serve_lib.sh — starting and stopping `natter serve` in the serve tests (sourced after
# lib.sh). start_server NAME ARGS...: starts natter serve ARGS on 127.0.0.1 with a free port
# (--port 0), its stderr in $tmp/serve-NAME.log (SERVER_LOG), and waits (at most 20 s) for the
# line that gives the port: PORT and SERVER_PID are then set. stop_server: SIGTERM, wait
# (at most 20 s, then SIGKILL), the exit status in SERVER_RC. The EXIT trap stops a server
# left running.

SERVER_PID=""
serve_cleanup() {
    [ -n "$SERVER_PID" ] && kill -KILL "$SERVER_PID" 2>/dev/null
    t_cleanup
}
trap serve_cleanup EXIT

start_server() {
    _n=$1; shift
    SERVER_LOG="$tmp/serve-$_n.log"
    "$NATTER" serve --host 127.0.0.1 --port 0 "$@" 2>"$SERVER_LOG" &
    SERVER_PID=$!
    _i=0
    while [ "$_i" -lt 200 ]; do
        PORT=$(sed -n 's|.* on http://127\.0\.0\.1:\([0-9]*\)/v1 .*|\1|p' "$SERVER_LOG")
        [ -n "$PORT" ] && return 0
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.1; _i=$((_i + 1))
    done
    bad "natter serve $* did not start" "$(cat "$SERVER_LOG")"
    kill -KILL "$SERVER_PID" 2>/dev/null
    SERVER_PID=""
    return 1
}

stop_server() {
    [ -n "$SERVER_PID" ] || return 0
    kill -TERM "$SERVER_PID" 2>/dev/null
    _i=0
    while kill -0 "$SERVER_PID" 2>/dev/null && [ "$_i" -lt 200 ]; do sleep 0.1; _i=$((_i + 1)); done
    if kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -KILL "$SERVER_PID" 2>/dev/null
        bad "natter serve did not stop within 20 s of SIGTERM" "$(tail -n 5 "$SERVER_LOG")"
    fi
    wait "$SERVER_PID"
    SERVER_RC=$?
    SERVER_PID=""
}

# wait_log TEXT N: waits (at most 5 s) until the log holds at least N lines with TEXT.
wait_log() {
    _i=0
    while [ "$_i" -lt 50 ]; do
        [ "$(grep -c -- "$1" "$SERVER_LOG")" -ge "$2" ] && return 0
        sleep 0.1; _i=$((_i + 1))
    done
    return 1
}

# wait_running: waits (at most 10 s) until /health says a request is running.
wait_running() {
    _i=0
    while [ "$_i" -lt 100 ]; do
        curl -s "http://127.0.0.1:$PORT/health" | grep -q '"requests_running":1' && return 0
        sleep 0.1; _i=$((_i + 1))
    done
    return 1
}
