# tests/lib.sh — what every shell test (tests/test_*.sh) shares, sourced first thing:
#     . "$(dirname "$0")/lib.sh"
# It gives the paths (NATTER: the binary, absolute; FIX: the fixtures; STORIES: the
# stories260K model), a temporary folder $tmp removed at exit (kept when KEEP is set), result
# counting (ok, bad, skip, check) and finish, which prints the closing line tests/run.sh adds
# up, `NAME: N passed, N failed, N skipped`, and exits non-zero on a failure. NAME is T_NAME,
# by default the script's name without .sh. Tests that drive natter's screen get a private
# tmux server (T, cap, wait_for, wait_gone), stopped at exit with the rest.

NATTER=${NATTER_BIN:-build/natter}
case "$NATTER" in /*) ;; *) NATTER="$(pwd)/$NATTER" ;; esac
FIX=${NATTER_FIXTURES:-../shared/fixtures}
STORIES="$FIX/models/stories260K.gguf"
T_NAME=${T_NAME:-$(basename "$0" .sh)}
pass=0; fail=0; skip=0

tmp=$(mktemp -d)
# The user's own config file (~/.config/natter/config.yaml may name a server) never steers a
# test: natter reads its files from here unless a test says otherwise.
export XDG_CONFIG_HOME="$tmp/config"
# Nor does the user's cache: a document index left there by another natter (another schema)
# failed test_harden's --docs checks; each test starts with an empty cache.
export XDG_CACHE_HOME="$tmp/cache"
# One tmux server per test run (-L), so nothing of the user's own sessions is seen or touched.
T_SOCK="natter-test-$$"
t_cleanup() {
    command -v tmux >/dev/null 2>&1 && tmux -L "$T_SOCK" kill-server 2>/dev/null
    # A natter the hangup ends may still be writing its autosave: a second try then.
    [ -n "${KEEP:-}" ] || rm -rf "$tmp" 2>/dev/null || { sleep 1; rm -rf "$tmp"; }
}
trap t_cleanup EXIT
# A signal ends the script through exit, so the EXIT trap cleans up once.
trap 'exit 130' INT TERM

# ok [NAME]: a passed check (NAME is printed when given). bad NAME [DETAIL]: a failed one, with
# DETAIL (several lines, e.g. the screen) indented under it. skip WHY [N]: N checks (1) skipped.
ok() {
    pass=$((pass + 1))
    if [ -n "${1:-}" ]; then echo "ok   $1"; fi
}
bad() {
    fail=$((fail + 1))
    echo "FAIL: $1"
    if [ -n "${2:-}" ]; then echo "$2" | sed 's/^/    | /'; fi
}
skip() {
    skip=$((skip + ${2:-1}))
    echo "SKIP: $1"
}
# check NAME COMMAND...: passes when the command succeeds.
check() {
    _name=$1; shift
    if "$@"; then ok; else bad "$_name"; fi
}
have_stories() { [ -f "$STORIES" ]; }

# finish: the closing line; the exit status says whether anything failed.
finish() {
    echo "$T_NAME: $pass passed, $fail failed, $skip skipped"
    [ "$fail" -eq 0 ]
    exit $?
}

# tui_needs MODEL: the screen tests' requirements (tmux, the built binary, the model); when one
# is missing, skips the whole script saying which.
tui_needs() {
    _missing=""
    command -v tmux >/dev/null 2>&1 || _missing="tmux is not installed"
    [ -x "$NATTER" ] || _missing="${_missing:+$_missing; }$NATTER is not built"
    [ -f "$1" ] || _missing="${_missing:+$_missing; }$1 is absent"
    if [ -n "$_missing" ]; then
        skip "$T_NAME: $_missing"
        finish
    fi
}

# --- tmux: one pane, the session `nt` ---------------------------------------------------------
T() { tmux -u -L "$T_SOCK" "$@"; }
# t_fresh: ends the session `nt`, if any, before a new one. A session `keep` outlives it: killing
# a server's last session ends the server, and a new-session sent meanwhile meets a server on
# its way out ("server exited unexpectedly"), which made TUI tests fail now and then.
t_fresh() {
    T has-session -t keep 2>/dev/null || T new-session -d -s keep "sleep 3600"
    T kill-session -t nt 2>/dev/null
    return 0
}
# cap: the pane's text now.
cap() { T capture-pane -p -t nt 2>/dev/null; }
# wait_for TEXT [TENTHS]: polls the screen until it shows TEXT (fixed string), 10 s by default.
wait_for() { t_poll -F 1 "$1" "${2:-100}"; }
# wait_re REGEX [TENTHS]: the same for a line matching REGEX (extended).
wait_re() { t_poll -E 1 "$1" "${2:-100}"; }
# until_ok TENTHS CMD...: runs CMD every tenth of a second until it succeeds, at most TENTHS times;
# its last status (for what the screen does not show, such as a file being written).
until_ok() {
    _u=$1; shift
    while [ "$_u" -gt 1 ] && ! "$@"; do sleep 0.1; _u=$((_u - 1)); done
    "$@"
}
# wait_gone TEXT [TENTHS]: polls until the screen no longer shows TEXT.
wait_gone() { t_poll -F 0 "$1" "${2:-100}"; }
# t_poll GREP_FLAG SHOWN PATTERN TENTHS: the three above (SHOWN 1: until it is there, 0: gone).
t_poll() {
    _i=0
    while [ "$_i" -lt "$4" ]; do
        if cap | grep -q "$1" -- "$3"; then [ "$2" = 1 ] && return 0; else [ "$2" = 0 ] && return 0; fi
        sleep 0.1; _i=$((_i + 1))
    done
    return 1
}
# idle [TENTHS]: polls until natter's status bar (the last line) says the model is idle or
# stopped, 15 s by default.
idle() {
    _k=0; _klim=${1:-150}
    while [ "$_k" -lt "$_klim" ]; do
        cap | tail -n 1 | grep -qE " (idle|stopped) *$" && return 0
        sleep 0.1; _k=$((_k + 1))
    done
    return 1
}
# answer_text: the last answer's text on the screen (the lines under its label up to the
# blank line after it, the side panel cut off, the cursor sign dropped), all whitespace
# removed so that re-wrapping while it grows does not matter; slider marks included.
answer_text() {
    cap | awk '{ sub(/ *│.*$/, "") }
               /^Assistant/ { buf = ""; on = 1; next }
               on && /^ *$/ { on = 0 }
               on { buf = buf $0 }
               END { print buf }' | sed 's/▍//g' | tr -d ' \t'
}
