#!/bin/sh
# tests/test_serve_load.sh — `natter serve` under load: LOAD_N requests (default 40; the
# closing note's figures come from LOAD_N=200) from 8 concurrent clients against a queue of 2,
# streaming and not, chat and completions. Every request must be answered 200 or refused 503
# (none lost, nothing else), every 200 must be a whole answer, and the server's resident memory
# must stay flat: after a warm-up, it may grow by at most 4 MiB over the run (a normal build
# grows by about 0.4 MiB, whether 40 or 400 requests). Prints the figures (answered, refused,
# seconds, RSS before/after).
# Under AddressSanitizer (make asan) the allocator's own bookkeeping grows instead: its
# quarantine keeps every freed block (up to 256 MiB; +24 MiB over 200 requests) and its
# stack-trace store and per-thread caches add 3.5 to 5.6 MiB (40 to 800 requests) while the
# heap in use at exit stays the same block for block. There the quarantine is bounded to 1 MiB
# (recent frees are still caught) and the bound is 8 MiB; a leak is what LeakSanitizer reports
# when the server exits, and that fails the run.
BUILD=${1:-build}
. "$(dirname "$0")/lib.sh"
if ! command -v curl >/dev/null 2>&1; then
    skip "test_serve_load: curl is not installed"
    finish
fi
MODEL=models/natter-guide.gguf
have_stories && MODEL=$STORIES
N=${LOAD_N:-40}
CLIENTS=8
LIMIT=4096
if grep -q __asan_init "$NATTER" 2>/dev/null; then
    export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=1"
    LIMIT=8192
fi
. "$(dirname "$0")/serve_lib.sh"
start_server load -m "$MODEL" --threads 1 --queue 2 --quiet || finish
U="http://127.0.0.1:$PORT"
rss() { sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$SERVER_PID/status"; }

# one K I: request I of client K (the kinds rotate); its status and whether the body is whole.
one() {
    case $(( $2 % 4 )) in
        0) p=/v1/chat/completions; b='{"messages":[{"role":"user","content":"Tell me a story '"$2"'"}],"max_tokens":12,"seed":'"$2"'}' ;;
        1) p=/v1/chat/completions; b='{"messages":[{"role":"user","content":"Hi '"$1"'"}],"max_tokens":12,"stream":true}' ;;
        2) p=/v1/completions; b='{"prompt":"Once upon a time '"$2"'","max_tokens":12,"logprobs":2}' ;;
        *) p=/v1/completions; b='{"prompt":"Lily","max_tokens":12,"stream":true}' ;;
    esac
    c=$(curl -s -m 120 -o "$tmp/body.$1" -w '%{http_code}' --data-binary "$b" "$U$p")
    whole=no
    case "$c" in
        200) { grep -q '"finish_reason":"\(stop\|length\)"' "$tmp/body.$1" && { [ $(( $2 % 2 )) = 0 ] || grep -qx 'data: \[DONE\]' "$tmp/body.$1"; }; } && whole=yes ;;
        503) grep -q '"code":"overloaded"' "$tmp/body.$1" && whole=yes ;;
    esac
    echo "$c $whole"
}

for i in 1 2 3 4 5 6 7 8; do one w "$i" >/dev/null; done # warm-up: every path once, buffers grown
rss0=$(rss)
t0=$(date +%s.%N)
k=1
pids=""
while [ "$k" -le "$CLIENTS" ]; do
    (
        i=$k
        while [ "$i" -le "$N" ]; do one "$k" "$i"; i=$((i + CLIENTS)); done >"$tmp/codes.$k"
    ) &
    pids="$pids $!"
    k=$((k + 1))
done
wait $pids # the clients only: the server is a child too
t1=$(date +%s.%N)
rss1=$(rss)
cat "$tmp"/codes.* >"$tmp/codes"
total=$(wc -l <"$tmp/codes")
n200=$(grep -c '^200 ' "$tmp/codes")
n503=$(grep -c '^503 ' "$tmp/codes")
broken=$(grep -vc ' yes$' "$tmp/codes")
secs=$(echo "$t0 $t1" | awk '{printf "%.1f", $2 - $1}')
echo "load: $N requests, $CLIENTS clients, queue 2: $n200 answered, $n503 refused (503), $broken broken, ${secs} s; RSS ${rss0} kB after warm-up, ${rss1} kB after"
check "every request got a response ($total of $N)" [ "$total" -eq "$N" ]
check "each one 200 or 503 ($n200 + $n503)" [ $((n200 + n503)) -eq "$N" ]
check "every 200 a whole answer, every 503 an overloaded error" [ "$broken" -eq 0 ]
check "some were answered" [ "$n200" -gt 0 ]
check "memory flat: RSS grew by $((rss1 - rss0)) kB (at most $LIMIT)" [ $((rss1 - rss0)) -le "$LIMIT" ]
code=$(curl -s -o /dev/null -w '%{http_code}' "$U/health")
check "the server still answers" [ "$code" = 200 ]
stop_server
check "exit 0 after SIGTERM" [ "$SERVER_RC" = 0 ]
finish
