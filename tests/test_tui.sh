#!/bin/sh
# tests/test_tui.sh — drives the real natter binary in tmux (send-keys, capture-pane) with the
# stories260K fixture: a streamed answer, a slider moved during an answer (value shown and the
# change marked), Esc stopping an answer, resizing mid-answer, scrolling, multi-line input,
# wide characters at the right columns, quitting (/quit, Ctrl-C twice, SIGTERM) with the
# terminal given back, the readline history kept across runs, and personas and themes
# (/persona, /theme, bad files reported; the theme's border, warning, input and probs elements
# drawn), sessions (autosave, /save, /sessions, /export, --resume,
# /load, /replay), beam search's live beams in the probabilities view. Mid-answer tests use NATTER_TEST_TOKEN_DELAY_MS so
# their keys really arrive while the answer is being written.
#
# Uses a private tmux server (-L natter-test-PID) with a fixed size, HOME and XDG folders under
# a temporary folder (the real history is never touched), and polls capture-pane with a
# timeout instead of sleeping fixed times. Skips cleanly without tmux, the binary or the model.
# Ends with `test_tui: N passed, N failed, N skipped`.

. "$(dirname "$0")/lib.sh"
MODEL=$STORIES

tui_needs "$MODEL"

# start [COLS ROWS]: a fresh natter in a fresh session. The shell around it prints the exit
# status afterwards so tests can see how natter ended and what the terminal looks like then.
# ARGS (default: --system '', no system prompt: the default persona's would fill most of the
# tiny model's 128-token context) and ENVS (extra VAR=value words) change the command.
ARGS_DEFAULT="--system ''"
start() {
    t_fresh
    mkdir -p "$tmp/home" "$tmp/state" "$tmp/config"
    T new-session -d -s nt -x "${1:-100}" -y "${2:-30}" \
        "env HOME='$tmp/home' XDG_STATE_HOME='$tmp/state' XDG_CONFIG_HOME='$tmp/config' \
         INPUTRC='${INPUTRC_FILE:-/dev/null}' LANG=C.UTF-8 LC_ALL=C.UTF-8 ${ENVS:-} \
         '$NATTER' -m '$MODEL' --seed 7 ${ARGS-$ARGS_DEFAULT} 2>'$tmp/stderr'; echo \"EXIT=\$?\"; sleep 600"
    T set-option -t nt status off >/dev/null
    wait_for "${START_TEXT:-F1 shows the keys}" 100
}

# natter's pid: the child of the pane's shell (never another program's natter).
natter_pid() { pgrep -P "$(T display-message -p -t nt '#{pane_pid}')" 2>/dev/null | head -n 1; }


# ---- 1. a question gets a streamed answer
start 100 30
T send-keys -t nt "Once upon a time" Enter
if wait_for "Assistant" && idle && cap | grep -q "tokens, .* tok/s"; then
    # The answer has text under its label, and the status bar shows the speed.
    body=$(cap | sed -n '/^Assistant/,$p' | sed -n '2p')
    if [ -n "$(echo "$body" | tr -d ' ')" ] && cap | tail -n 1 | grep -q "tok/s"; then
        ok "a question gets a streamed answer"
    else
        bad "a question gets a streamed answer" "$(cap)"
    fi
else
    bad "a question gets a streamed answer" "$(cap)"
fi

# (2 and 3, acting in the middle of an answer, are 13 and 14 below: they need the token
# delay of a natter started for them.)

# ---- 4. resizing mid-answer keeps the screen whole
T send-keys -t nt "The dog" Enter
T resize-window -t nt -x 60 -y 20
idle
sleep 0.2
s=$(cap)
lines=$(echo "$s" | wc -l)
last=$(echo "$s" | tail -n 1)
prompt_row=$(echo "$s" | grep -n '^>' | tail -n 1 | cut -d: -f1)
if [ "$lines" -eq 20 ] && echo "$last" | grep -q "ctx .*idle" && [ "$prompt_row" = 19 ] &&
   echo "$s" | grep -q "^  The dog" && ! echo "$s" | grep -q "Sampling"; then
    ok "resizing mid-answer re-lays out the screen (60x20, narrow layout)"
else
    bad "resizing mid-answer re-lays out the screen (60x20, narrow layout)" "$s"
fi
T resize-window -t nt -x 100 -y 30
if wait_for "Sampling" && cap | tail -n 1 | grep -q "idle" && [ "$(cap | wc -l)" -eq 30 ]; then
    ok "growing back brings the side panel back"
else
    bad "growing back brings the side panel back" "$(cap)"
fi
T resize-window -t nt -x 30 -y 10
if wait_for "natter needs 40x12"; then ok "a too small terminal gets a clear message"; else bad "a too small terminal gets a clear message" "$(cap)"; fi
T resize-window -t nt -x 100 -y 30
wait_for "Sampling"

# ---- 5. scrolling: PgUp shows older lines and the "more below" sign, End goes back
T resize-window -t nt -x 60 -y 14
wait_for " idle"
T send-keys -t nt PgUp
if wait_for "more lines (End)"; then
    T send-keys -t nt End
    if wait_gone "more lines (End)"; then
        ok "PgUp scrolls up with a more-below sign, End follows again"
    else
        bad "End after PgUp" "$(cap)"
    fi
else
    bad "PgUp scrolls the history" "$(cap)"
fi
# While scrolled up, a new answer does not move the view: PgUp right after sending (before
# the first token) scrolls one page; the lines arriving below then add to the distance from the
# bottom instead of pulling the view down, so afterwards it is more than one page.
more() { cap | sed -n 's/.*↓ \([0-9]*\) more lines.*/\1/p' | head -n 1; }
T send-keys -t nt "Ben" Enter PgUp
idle
sleep 0.2
n=$(more)
T send-keys -t nt End
wait_gone "more lines (End)"
T send-keys -t nt PgUp  # one page, now that the history is long
wait_for "more lines (End)"
page=$(more)
if [ -n "$page" ] && [ -n "$n" ] && [ "$n" -gt "$page" ]; then
    ok "while scrolled up, new output does not yank the view ($n > $page lines below)"
else
    bad "while scrolled up, new output does not yank the view" "page=$page now=$n
$(cap)"
fi
T send-keys -t nt End
wait_gone "more lines (End)"
T resize-window -t nt -x 100 -y 30

# ---- 6. multi-line input (Alt-Enter and Ctrl-J) is sent as one message
T send-keys -t nt "/clear" Enter
wait_for "conversation cleared"
T send-keys -t nt "first line" M-Enter "second line" C-j "third line"
if wait_for "third line"; then
    T send-keys -t nt Enter
    idle
    s=$(cap)
    if [ "$(echo "$s" | grep -c '^You')" -eq 1 ] && echo "$s" | grep -q "^  first line$" &&
       echo "$s" | grep -q "^  second line$" && echo "$s" | grep -q "^  third line$"; then
        ok "multi-line input is sent as one message"
    else
        bad "multi-line input is sent as one message" "$s"
    fi
else
    bad "multi-line input shows its lines" "$(cap)"
fi

# ---- 7. wide characters at the right columns: 25 CJK characters (50 columns) in a 40-column
# terminal wrap after 18 of them (36 of the 37 columns the body has); the text after a wide
# character starts right after its two columns.
T send-keys -t nt "/clear" Enter
wait_for "conversation cleared"
T resize-window -t nt -x 40 -y 16
sleep 0.2
wide="一二三四五六七八九十一二三四五六七八九十一二三四五"
T send-keys -t nt -l "$wide x"
T send-keys -t nt Enter
idle
s=$(cap)
l1=$(echo "$s" | grep -A2 '^You' | sed -n 2p)
l2=$(echo "$s" | grep -A2 '^You' | sed -n 3p)
w1=$(printf '%s' "$l1" | sed 's/ *$//' | wc -L)
if [ "$l1" = "  一二三四五六七八九十一二三四五六七八" ] && [ "$w1" -eq 38 ] &&
   [ "$(echo "$l2" | sed 's/ *$//')" = "  九十一二三四五 x" ]; then
    ok "wide characters wrap and align at the right columns"
else
    bad "wide characters wrap and align at the right columns" "l1='$l1' (width $w1) l2='$l2'"
fi
# The input line's cursor after wide characters: type two and check tmux's cursor column.
T send-keys -t nt -l "中文"
sleep 0.3
cx=$(T display-message -p -t nt '#{cursor_x}')
if [ "$cx" = 6 ]; then ok "the input cursor sits after the wide characters (column 6)"; else bad "input cursor column after 2 wide chars" "cursor_x=$cx"; fi
T send-keys -t nt C-u
T resize-window -t nt -x 100 -y 30

# ---- 7a. combining marks, emoji and control characters: a bracketed paste holding an escape
# sequence and a bell shows them as symbols (␛, ␇) instead of obeying them; é (e + U+0301)
# takes one column and 😀 two, so the x after them sits where the columns say.
T send-keys -t nt "/clear" Enter
wait_for "conversation cleared"
esc=$(printf '\033')
T send-keys -t nt -l "${esc}[200~red ${esc}[31mX${esc}[0m bell $(printf '\007') e$(printf '\314\201')😀x${esc}[201~"
T send-keys -t nt Enter
idle
l=$(cap | grep -A1 '^You' | sed -n 2p | sed 's/ *$//')
want="  red ␛[31mX␛[0m bell ␇ e$(printf '\314\201')😀x"
if [ "$l" = "$want" ]; then
    ok "control characters are shown, not obeyed; combining marks and emoji take their widths"
else
    bad "control characters are shown, not obeyed; combining marks and emoji take their widths" "line: '$l'"
fi

# ---- 7b. Markdown: emphasis and inline code lose their markers; a fenced block stands out
# (its fences show as empty lines)
# (drawn in the theme's code colour: capture-pane -e shows its escape sequence; the built-in
# dark theme says 150, or green = 32 with 8 colours).
T send-keys -t nt "/clear" Enter
wait_for "conversation cleared"
T send-keys -t nt -l 'say **bold** and `code` here'
T send-keys -t nt M-Enter '```' M-Enter 'x = 1' M-Enter '```' Enter
idle
s=$(cap)
codeline=$(T capture-pane -p -e -t nt | grep 'x = 1' | head -n 1)
if echo "$s" | grep -q "^  say bold and code here$" && ! echo "$s" | grep -qF '```' &&
   echo "$s" | grep -A2 "^  say bold and code here$" | tail -1 | grep -q "^  x = 1$" &&
   echo "$codeline" | grep -q '38;5;150m\|\[32m'; then
    ok "Markdown emphasis is rendered and fenced code stands out"
else
    bad "Markdown emphasis is rendered and fenced code stands out" "$s
code line: $codeline"
fi

# ---- 8. help screen from the command table
T send-keys -t nt F1
if wait_for "/regen" && wait_for "/replay NAME"; then
    # the keys come after the commands: a page down at a time until they show
    for _pg in 1 2 3 4; do T send-keys -t nt PgDn; wait_for "Alt-Enter, Ctrl-J" 10 && break; done
    if wait_for "Alt-Enter, Ctrl-J"; then ok "F1 shows the help built from the command table (PgDn scrolls it)"; else bad "F1 help: PgDn" "$(cap)"; fi
else
    bad "F1 help" "$(cap)"
fi
T send-keys -t nt q
wait_gone "Alt-Enter, Ctrl-J"

# ---- 8b. the mouse: a click at the right end of the temperature track (SGR report, 1-based
# column 93 = the track's last cell in a 100-column screen) sets 2.00; a drag to its start 0.00.
esc=$(printf '\033')
T send-keys -t nt -l "${esc}[<0;93;2M${esc}[<0;93;2m"
if wait_for "2.00" 30 && cap | grep -q "│ temp .* 2\.00"; then
    T send-keys -t nt -l "${esc}[<0;90;2M${esc}[<32;85;2M${esc}[<32;70;2M${esc}[<0;70;2m"
    if wait_for "0.00" 30 && cap | grep -q "│ temp .* 0\.00"; then
        ok "clicking and dragging on a slider's track set its value"
    else
        bad "dragging a slider" "$(cap | head -n 4)"
    fi
else
    bad "clicking a slider's track" "$(cap | head -n 4)"
fi
T send-keys -t nt F6
wait_for "sliders reset"
# A click on a word of an answer opens the probabilities view on that token.
T send-keys -t nt "Sue" Enter
idle
row=$(cap | grep -n "^Assistant" | tail -n 1 | cut -d: -f1)
word=$(cap | sed -n "$((row + 1))p" | cut -c1-20)
T send-keys -t nt -l "${esc}[<0;5;$((row + 1))M${esc}[<0;5;$((row + 1))m"
if wait_for "before → after" 30 && cap | grep -q "│ Token [0-9]*/[0-9]* «"; then
    ok "clicking a word of an answer shows that token's candidates"
else
    bad "clicking a word of an answer shows that token's candidates" "row $((row + 1)): $word
$(cap)"
fi
T send-keys -t nt F4
if wait_gone "before → after" 30; then ok "F4 hides the probabilities view without leftovers"; else bad "F4 hides the probabilities view without leftovers" "$(cap)"; fi
T send-keys -t nt F3
if wait_gone "Sampling" 30 && ! cap | grep -q "│ temp"; then ok "F3 hides the sampling panel without leftovers"; else bad "F3 hides the sampling panel without leftovers" "$(cap)"; fi
T send-keys -t nt F3
wait_for "Sampling" 30

# ---- 9. /quit restores the terminal; the history survives for the next run
T send-keys -t nt "/quit" Enter
if wait_for "EXIT=0" && ! cap | grep -q "Sampling"; then
    ok "/quit exits with status 0 and gives the screen back"
else
    bad "/quit exits with status 0 and gives the screen back" "$(cap)"
fi
if grep -q "Once upon a time" "$tmp/state/natter/history" 2>/dev/null; then
    ok "the input history is saved under XDG_STATE_HOME"
else
    bad "the input history is saved under XDG_STATE_HOME" "$(ls -R "$tmp/state" 2>&1)"
fi
if grep -qF 'first line\nsecond line\nthird line' "$tmp/state/natter/history" 2>/dev/null; then
    ok "a multi-line question is one history entry"
else
    bad "a multi-line question is one history entry" "$(cat "$tmp/state/natter/history" 2>&1)"
fi
start 100 30
T send-keys -t nt Up
if wait_for "> /quit" 30; then ok "the history is there in the next run (Up)"; else bad "history across runs" "$(cap)"; fi
T send-keys -t nt C-u C-r "second"
if wait_for "reverse-i-search" 30 && wait_for "second line" 30 && wait_for "third line" 30; then
    ok "Ctrl-R finds the multi-line question of the last run"
else
    bad "Ctrl-R finds the multi-line question of the last run" "$(cap)"
fi
T send-keys -t nt C-g C-u
wait_gone "reverse-i-search"

# ---- 10. Ctrl-C at an idle prompt asks first; the second press quits
T send-keys -t nt C-c
if wait_for "press Ctrl-C again"; then
    T send-keys -t nt C-c
    if wait_for "EXIT=0"; then ok "Ctrl-C twice at an idle prompt quits"; else bad "second Ctrl-C quits" "$(cap)"; fi
else
    bad "first Ctrl-C asks" "$(cap)"
fi

# ---- 11. SIGTERM: the terminal is restored and natter ends with 128+15
start 100 30
pid=$(natter_pid)
if [ -n "$pid" ]; then
    kill -TERM "$pid"
    if wait_for "EXIT=143" && ! cap | grep -q "Sampling"; then
        ok "SIGTERM restores the terminal (exit 143)"
    else
        bad "SIGTERM restores the terminal (exit 143)" "$(cap)"
    fi
else
    skip "SIGTERM test: natter's pid not found"
fi

# ---- 11a. Ctrl-Z gives the terminal back and stops natter; fg brings the screen back. This
# needs a shell with job control, as a person would use: an interactive bash in the pane.
if command -v bash >/dev/null 2>&1; then
    t_fresh
    T new-session -d -s nt -x 100 -y 30 "env PS1='$ ' bash --norc --noprofile -i"
    T set-option -t nt status off >/dev/null
    wait_for "$" 30
    T send-keys -t nt "HOME='$tmp/home' XDG_STATE_HOME='$tmp/state' INPUTRC=/dev/null LANG=C.UTF-8 LC_ALL=C.UTF-8 '$NATTER' -m '$MODEL' --system '' 2>/dev/null" Enter
    wait_for "F1 shows the keys" 100
    T send-keys -t nt "kept text"
    wait_for "> kept text" 30
    T send-keys -t nt C-z
    if wait_for "Stopped" 30 && ! cap | grep -q "Sampling"; then
        T send-keys -t nt "fg" Enter
        if wait_for "Sampling" 30 && wait_for "> kept text" 30; then
            ok "Ctrl-Z suspends with the terminal restored; fg redraws"
        else
            bad "fg redraws after Ctrl-Z" "$(cap)"
        fi
    else
        bad "Ctrl-Z suspends with the terminal restored" "$(cap)"
    fi
    T send-keys -t nt C-u "/quit" Enter
else
    skip "Ctrl-Z test: no bash for job control"
fi

# ---- 11b. readline follows the user's inputrc: vi mode (Esc to command mode, 0, x, w, D)
echo "set editing-mode vi" > "$tmp/vi.inputrc"
INPUTRC_FILE="$tmp/vi.inputrc" start 100 30
T send-keys -t nt "abc def"
wait_for "> abc def" 30
T send-keys -t nt Escape
sleep 0.2 # the Esc key is told from a sequence by a short pause
T send-keys -t nt 0 x w D
if wait_for "> bc" 30 && ! cap | grep -q "> bc d"; then ok "vi editing mode from the inputrc"; else bad "vi editing mode from the inputrc" "$(cap | tail -n 3)"; fi

# ---- 13. acting mid-answer for sure: NATTER_TEST_TOKEN_DELAY_MS makes the worker pause
# between tokens, so keys sent once the answer has begun arrive while it is being written.
# (answer_text, in lib.sh, is the last answer's text as shown.)
ENVS="NATTER_TEST_TOKEN_DELAY_MS=80" ARGS="--system '' -n 60" start 100 30
T send-keys -t nt "Tom went" Enter
if wait_for " generating" 100; then
    sleep 0.4 # a few tokens in
    T send-keys -t nt F2 Right Right Right Right Tab
    idle 300
    a=$(answer_text)
    before=${a%%"[temp=1.00]"*}
    if [ "$before" != "$a" ] && echo "$before" | grep -q '[A-Za-z]' &&
       cap | grep -q "│ temp .* 1\.00"; then
        ok "a slider moved during an answer is marked after the text already written (token > 0)"
    else
        bad "a slider moved during an answer is marked after the text already written (token > 0)" "answer: $a
$(cap)"
    fi
else
    bad "the delayed answer starts" "$(cap)"
fi

# ---- 14. Esc in the middle of an answer stops it and keeps what was written
T send-keys -t nt F6 "/clear" Enter
wait_for "conversation cleared"
T send-keys -t nt "Lily saw a cat" Enter
if wait_for " generating" 100; then
    sleep 0.5
    shown=$(answer_text)
    T send-keys -t nt Escape
    idle 100
    kept=$(answer_text)
    case "$kept" in
    "$shown"*"[stopped]")
        if [ -n "$shown" ] && cap | tail -n 1 | grep -q " stopped *$"; then
            ok "Esc mid-answer stops it and keeps the text written so far"
        else
            bad "Esc mid-answer stops it and keeps the text written so far" "shown: $shown
$(cap)"
        fi ;;
    *) bad "Esc mid-answer stops it and keeps the text written so far" "shown: $shown
kept:  $kept" ;;
    esac
else
    bad "the delayed answer starts" "$(cap)"
fi
T send-keys -t nt "/quit" Enter
wait_for "EXIT=0"

# ---- 15. personas and themes: /persona switches (asking first when the conversation is
# unsaved: every answer is autosaved, so here the sessions folder cannot be made), shows the
# greeting, puts the persona's sampling values on the sliders (F6 goes
# back to them); a bad file is reported in the history with file:line:col and the current
# persona stays; /theme switches live and reports bad files the same way.
mkdir -p "$tmp/config/natter/prompts"
cat >"$tmp/config/natter/prompts/tiny.yaml" <<'YAML'
name: tiny
description: a persona small enough for the test model
system: Tell short stories.
greeting: Hello there, {{user}}!
sampling:
  temperature: 0.5
YAML
printf 'name: broken\nsystem: x\ntempreature: 1\n' >"$tmp/broken.yaml"
printf 'name: badtheme\nstyles:\n  usr: {fg: red}\n' >"$tmp/badtheme.yaml"
: >"$tmp/statefile"
ENVS="XDG_STATE_HOME=$tmp/statefile" start 100 30
T send-keys -t nt "Once" Enter
idle
if wait_for "cannot autosave the session" 30; then
    ok "an autosave that fails is a note in the history, not fatal"
else
    bad "an autosave that fails is a note in the history, not fatal" "$(cap)"
fi
T send-keys -t nt "/persona tiny" Enter
if wait_for "not saved" 30 && cap | tail -n 1 | grep -q "Start a new one with persona tiny? (y/n)"; then
    T send-keys -t nt n
    if wait_for "kept persona" 30 && cap | grep -q "^  Once" && cap | tail -n 1 | grep -q " idle *$"; then
        ok "/persona asks in the status bar before leaving an unsaved conversation; n keeps it"
    else
        bad "/persona: n keeps the conversation" "$(cap)"
    fi
else
    bad "/persona asks before leaving an unsaved conversation" "$(cap)"
fi
T send-keys -t nt "/persona tiny" Enter
wait_for "(y/n)" 30
T send-keys -t nt y
if wait_for "Hello there, User!" 30 && cap | tail -n 1 | grep -q "│ tiny [0-9]* tok │" &&
   cap | grep -q "│ temp .* 0\.50" && ! cap | grep -q "^  Once"; then
    ok "/persona y: a new conversation with the greeting, the name and token count in the status bar, its temperature"
else
    bad "/persona y: a new conversation with the greeting, the name and token count in the status bar, its temperature" "$(cap)"
fi
T send-keys -t nt F2 Right Right Tab F6
if wait_for "sliders reset to the tiny persona" 30 && cap | grep -q "│ temp .* 0\.50"; then
    ok "F6 resets the sliders to the persona's values"
else
    bad "F6 resets the sliders to the persona's values" "$(cap)"
fi
T send-keys -t nt "/persona $tmp/broken.yaml" Enter
if wait_for "broken.yaml:3:1: unknown key 'tempreature'" 30 && wait_for "keeping tiny" 30 &&
   cap | tail -n 1 | grep -q "│ tiny "; then
    ok "a bad persona file is reported in the history (file:line:col) and the current persona stays"
else
    bad "a bad persona file is reported in the history (file:line:col) and the current persona stays" "$(cap)"
fi
# The status bar's text stays the same; its colours change (dark: 252 on 236, or black on
# white with 8 colours; light: 235 on 253, or white on blue).
status_before=$(T capture-pane -p -e -t nt | tail -n 1)
T send-keys -t nt "/theme light" Enter
if wait_for "theme light" 30; then
    sleep 0.2
    status_after=$(T capture-pane -p -e -t nt | tail -n 1)
    if [ "$status_before" != "$status_after" ] &&
       [ "$(echo "$status_before" | sed 's/\x1b\[[0-9;]*m//g')" = "$(echo "$status_after" | sed 's/\x1b\[[0-9;]*m//g')" ]; then
        ok "/theme switches the colours live"
    else
        bad "/theme switches the colours live" "before: $status_before
after:  $status_after"
    fi
else
    bad "/theme light" "$(cap)"
fi
T send-keys -t nt "/theme $tmp/badtheme.yaml" Enter
if wait_for "badtheme.yaml:3:3: unknown" 30 && wait_for "keeping light" 30; then
    ok "a bad theme file is reported in the history and the current theme stays"
else
    bad "a bad theme file is reported in the history and the current theme stays" "$(cap)"
fi
T send-keys -t nt "/quit" Enter
wait_for "EXIT=0"
# At start, a bad --persona falls back to the default persona and shows the errors.
ARGS="--persona $tmp/broken.yaml" START_TEXT="unknown key" start 100 30
if cap | grep -q "broken.yaml:3:1: unknown key 'tempreature'" && cap | tail -n 1 | grep -q "│ default "; then
    ok "a bad --persona at start: the default persona, the errors shown"
else
    bad "a bad --persona at start: the default persona, the errors shown" "$(cap)"
fi

# Context documents are summed up in the history (the model reads them whole). --ctx 256:
# with the default instruction the fixed part takes 182 of the default 128 tokens, and a
# document that leaves no room for an answer is searched instead (test_docs.sh).
printf 'Lily has a red ball.' >"$tmp/doc.txt"
ARGS="--persona tiny --ctx 256 --context $tmp/doc.txt" START_TEXT="Hello there" start 100 30
if wait_for "[Document 1: doc.txt: 20 bytes]" 30 && ! cap | grep -q "red ball" &&
   cap | tail -n 1 | grep -q "│ tiny [0-9]* tok │"; then
    ok "--context documents are summed up under the system prompt"
else
    bad "--context documents are summed up under the system prompt" "$(cap)"
fi

# ---- 15a. the theme's border, warning, input and probs elements are drawn: a theme gives each
# a colour no other element has (capture-pane -e shows it as 38;5;N before the characters):
# the separator lines 196, a warning in the message line 46 (a command refused while an answer
# is being written), the typed text 201, the probability bars 226 (70 columns: the view spans
# the screen, with room for bars).
cat >"$tmp/vivid.yaml" <<'YAML'
name: vivid
styles:
  border:  {fg: 196}
  warning: {fg: 46}
  input:   {fg: 201}
  probs:   {fg: 226}
YAML
ecap() { T capture-pane -p -e -t nt; }
E=$(printf '\033')
ENVS="NATTER_TEST_TOKEN_DELAY_MS=80" ARGS="--system '' -n 24 --theme $tmp/vivid.yaml" start 70 30
T send-keys -t nt -l "hello there"
wait_for "> hello there" 30
if ecap | grep -q "38;5;201m\($E\[[0-9;]*m\)*hello there"; then
    ok "the theme's input style colours the typed text"
else
    bad "the theme's input style colours the typed text" "$(ecap | grep "hello there" | cat -v)"
fi
if ecap | grep -q "38;5;196m─────" && ! ecap | grep -q "38;5;244m─────"; then
    ok "the theme's border style draws the separator line above the input"
else
    bad "the theme's border style draws the separator line above the input" "$(ecap | tail -n 3 | cat -v)"
fi
T send-keys -t nt C-u "Tom went" Enter
if wait_for " generating" 100; then
    T send-keys -t nt "/clear" Enter
    if wait_for "stop it first" 30 &&
       ecap | grep -q "38;5;46m\($E\[[0-9;]*m\)*clear: an answer is being written; stop it first"; then
        ok "a warning in the message line takes the theme's warning style"
    else
        bad "a warning in the message line takes the theme's warning style" "$(ecap | grep "stop it" | cat -v)"
    fi
else
    bad "the delayed answer starts" "$(cap)"
fi
idle 300
T send-keys -t nt F4
# (rows 1 to 11 of the screen; its line is the 11th)
if wait_for "before → after" 30 && ecap | grep -q "38;5;226m\($E\[[0-9;]*m\)*▇" &&
   ecap | sed -n 11p | grep -q "38;5;196m─────"; then
    ok "the probabilities view draws its bars in the probs style and its line in the border style"
else
    bad "the probabilities view draws its bars in the probs style and its line in the border style" "$(ecap | head -n 12 | cat -v)"
fi
T send-keys -t nt "/quit" Enter
wait_for "EXIT=0"

# ---- 15b. the theme's text element is the screen's background: blank cells of the history
# and of the panel carry its colour (48;5;N), and a style without a background of its own (the
# status bar's text) is drawn on it too.
cat >"$tmp/deep.yaml" <<'YAML'
name: deep
styles:
  text: {fg: 252, bg: 17}
YAML
start_deep() { ARGS="--theme $tmp/deep.yaml" start 100 30; }
start_deep
blank_rows=$(ecap | sed -n '3,12p' | grep -c "48;5;17m")
if [ "$blank_rows" -ge 5 ]; then
    ok "the theme's text background fills the blank cells of the screen"
else
    bad "the theme's text background fills the blank cells of the screen" "$(ecap | sed -n '1,12p' | cat -v)"
fi
T send-keys -t nt "/quit" Enter
wait_for "EXIT=0"

# ---- 16. NO_COLOR and a monochrome terminal: the theme's colours give way to attributes (no
# colour escapes on the screen; the status bar in reverse video).
colours() { T capture-pane -p -e -t nt | grep -c "$(printf '\033')\[[0-9;]*\(3[0-7]\|38;5;[0-9]*\|4[0-7]\|48;5;[0-9]*\)m"; }
ENVS="NO_COLOR=1" start 100 30
if [ "$(colours)" -eq 0 ] && T capture-pane -p -e -t nt | tail -n 1 | grep -q "$(printf '\033')\[0;7m"; then
    ok "NO_COLOR: no colours, the status bar in reverse video"
else
    bad "NO_COLOR: no colours, the status bar in reverse video" "$(T capture-pane -p -e -t nt | tail -n 3 | cat -v)"
fi
ENVS="TERM=vt100" start 100 30
if [ "$(colours)" -eq 0 ] && T capture-pane -p -e -t nt | tail -n 1 | grep -q "$(printf '\033')\[0;7m"; then
    ok "a monochrome terminal (vt100): attributes only"
else
    bad "a monochrome terminal (vt100): attributes only" "$(T capture-pane -p -e -t nt | tail -n 3 | cat -v)"
fi
# ... and with colours the same screen has them (the check above can fail).
start 100 30
if [ "$(colours)" -gt 0 ]; then ok "with colours the screen has colour escapes"; else bad "with colours the screen has colour escapes" "$(T capture-pane -p -e -t nt | tail -n 3 | cat -v)"; fi

# ---- 17. sessions: every answer is autosaved under $XDG_STATE_HOME/natter/sessions; /save
# NAME, /sessions, /export (Markdown and JSON); quitting and `natter --resume NAME` shows the
# old turns, reads them back into the model (the status bar's context count) and a new
# question continues the file; /load of a corrupt file reports file:line:col and changes
# nothing; /replay regenerates the answers and says they matched; a bad --resume starts a new
# conversation and never writes over the file.
SESS="$tmp/state/natter/sessions"
rm -rf "$tmp/state"
ARGS="--system '' -n 12" start 100 30
T send-keys -t nt "Once upon a time" Enter
# the autosave itself, then idle (idle alone can match the bar of before the question)
autosaved() { grep -qs "Once upon a time" "$SESS"/*.yaml; } # the glob read at every try
until_ok 300 autosaved
idle
if [ "$(ls "$SESS" 2>/dev/null | grep -c '\.yaml$')" -eq 1 ] && grep -q "Once upon a time" "$SESS"/*.yaml; then
    ok "an answer is autosaved into \$XDG_STATE_HOME/natter/sessions"
else
    bad "an answer is autosaved into \$XDG_STATE_HOME/natter/sessions" "$(ls -la "$SESS" 2>&1)"
fi
T send-keys -t nt "/save story" Enter
if wait_for "story.yaml (autosaves go there)" 30 && [ -f "$SESS/story.yaml" ]; then
    ok "/save NAME writes NAME.yaml in the sessions folder"
else
    bad "/save NAME writes NAME.yaml in the sessions folder" "$(cap | tail -n 3)"
fi
T send-keys -t nt "/persona tiny" Enter
if wait_for "persona tiny: a new conversation" 30 && ! cap | grep -q "(y/n)"; then
    ok "/persona does not ask when the conversation is saved"
else
    bad "/persona does not ask when the conversation is saved" "$(cap)"
fi
T send-keys -t nt "/sessions" Enter
if wait_for "saved sessions, newest first" 30 && cap | grep -q "^  story  .*stories260K\.gguf" &&
   cap | grep -q '1 turn .*"Once upon a time"'; then
    ok "/sessions lists the saved sessions (name, date, model, turns, first question)"
else
    bad "/sessions lists the saved sessions (name, date, model, turns, first question)" "$(cap)"
fi
# The style a note's line is drawn in: the last escape sequence (capture-pane -e) before the
# first line that matches $1, up to where $2 starts on it.
note_style() {
    T capture-pane -p -e -t nt | grep -m 1 -- "$1" | sed "s/$2.*//" |
        grep -o "$(printf '\033')\[[0-9;]*m" | tail -n 1 | cat -v
}
info_style=$(note_style "^.*story  .*stories260K" "story")
T send-keys -t nt "/load story" Enter
wait_for "read 2 messages back" 50
T send-keys -t nt "/export $tmp/chat.md" Enter
wait_for "exported 2 messages as Markdown to $tmp/chat.md" 30
T send-keys -t nt "/export $tmp/chat json" Enter
wait_for "exported 2 messages as JSON to $tmp/chat" 30
if grep -q "Once upon a time" "$tmp/chat.md" 2>/dev/null && grep -q '^#' "$tmp/chat.md" &&
   [ "$(grep -c '"role": "user"' "$tmp/chat" 2>/dev/null)" = 1 ] &&
   [ "$(grep -c '"role": "assistant"' "$tmp/chat")" = 1 ] && grep -q '"content": "Once upon a time"' "$tmp/chat"; then
    ok "/export writes the conversation as Markdown and as JSON messages"
else
    bad "/export writes the conversation as Markdown and as JSON messages" "$(cap | tail -n 3; cat "$tmp/chat.md" "$tmp/chat" 2>&1)"
fi
T send-keys -t nt "/quit" Enter
wait_for "EXIT=0"
ARGS="--resume story -n 12" START_TEXT="read 2 messages back" start 100 30
if cap | grep -q "read 2 messages back into the model ([1-9][0-9]* tokens)" &&
   cap | grep -q "^  Once upon a time" && cap | tail -n 1 | grep -q "ctx [1-9][0-9]*/128"; then
    ok "natter --resume NAME shows the old turns and reads them back into the model"
else
    bad "natter --resume NAME shows the old turns and reads them back into the model" "$(cap)"
fi
T send-keys -t nt "The dog" Enter
idle
if cap | grep -q "^  The dog" && [ "$(grep -c 'role: user' "$SESS/story.yaml")" = 2 ]; then
    ok "a new question continues the resumed session (autosaved into its file)"
else
    bad "a new question continues the resumed session (autosaved into its file)" "$(cap; cat "$SESS/story.yaml")"
fi
printf 'natter-session: 1\nmodel: [\n' >"$SESS/broken.yaml"
cp "$SESS/broken.yaml" "$tmp/broken.orig"
T send-keys -t nt "/load broken" Enter
if wait_for "broken.yaml:3:1:" 30 && wait_for "keeping the current conversation" 30 &&
   cap | grep -q "^  The dog" && cmp -s "$SESS/broken.yaml" "$tmp/broken.orig"; then
    ok "/load of a corrupt file shows file:line:col, keeps the conversation and the file"
else
    bad "/load of a corrupt file shows file:line:col, keeps the conversation and the file" "$(cap)"
fi
# A list is information, a bad file an error: the two notes are drawn in different styles
# (the theme's note and error elements).
error_style=$(note_style "broken\.yaml:3:1:" "broken")
if [ -n "$info_style" ] && [ -n "$error_style" ] && [ "$info_style" != "$error_style" ]; then
    ok "the /sessions note is drawn in the note style, a bad file's errors in the error style"
else
    bad "the /sessions note is drawn in the note style, a bad file's errors in the error style" \
        "info: $info_style error: $error_style"
fi
T send-keys -t nt "/replay story" Enter
if wait_for "replay done: 2 of 2 answers matched the recording" 150 &&
   cap | grep -q -- "-> matched the recording (12 tokens, max tokens)" && cap | grep -q "\[4\] assistant (seed"; then
    ok "/replay regenerates each answer turn by turn and says it matched"
else
    bad "/replay regenerates each answer turn by turn and says it matched" "$(cap)"
fi
T send-keys -t nt "/quit" Enter
wait_for "EXIT=0"
n_before=$(ls "$SESS" | wc -l)
ARGS="--system '' --resume broken -n 12" START_TEXT="has errors" start 100 30
shown=$(cap)
T send-keys -t nt "Once" Enter
more_sessions() { [ "$(ls "$SESS" | wc -l)" -gt "$n_before" ]; }
until_ok 300 more_sessions
idle
if echo "$shown" | grep -q "broken.yaml:3:1:" && cmp -s "$SESS/broken.yaml" "$tmp/broken.orig" &&
   [ "$(ls "$SESS" | wc -l)" -eq $((n_before + 1)) ]; then
    ok "--resume of a corrupt file: the errors shown, a new session under a new name"
else
    bad "--resume of a corrupt file: the errors shown, a new session under a new name" "$shown
$(ls "$SESS")"
fi

# ---- 18. reasoning models: an answer that opens with <think>...</think> shows one dim
# "thought" line in place of the thinking; F9 unfolds it (dim) and folds it again.
cat >"$SESS/think.yaml" <<'YAML'
natter-session: 1
created: 2026-01-01T00:00:00Z
updated: 2026-01-01T00:00:00Z
model:
  file: stories260K.gguf
  size: 10
  hash: fnv1a64:0000000000000001
template: chatml
context: 128
message_count: 2
messages:
  - role: user
    text: "Why?"
  - role: assistant
    text: "<think>\nThe reader asks why.\n</think>\n\nBecause it rained."
    seed: 5
    params: {temp: 0.8, top-k: 40, top-p: 0.95, min-p: 0.05, repeat-penalty: 1, repeat-last-n: 64, presence-penalty: 0, frequency-penalty: 0}
    end: eog
    tokens: [1, 2, 3]
complete: true
YAML
ARGS="--resume think -n 4" START_TEXT="read 2 messages back" start 100 30
folded=$(cap)
T send-keys -t nt F9
wait_for "thinking unfolded" 30
unfolded=$(cap)
dim=$(T capture-pane -p -e -t nt | grep -m 1 "The reader asks why" | grep -c "$(printf '\033')\[")
T send-keys -t nt F9
wait_for "thinking folded" 30
# (A loaded answer's tokens are decoded again for its marks, so the line may count them.)
if echo "$folded" | grep -q "^  .* thought\( for [0-9]* tokens\)\? (F9 shows it)" && ! echo "$folded" | grep -q "The reader asks" &&
   echo "$folded" | grep -q "^  Because it rained." &&
   echo "$unfolded" | grep -q "^  <think>" && echo "$unfolded" | grep -q "^  The reader asks why." &&
   [ "$dim" -ge 1 ] && ! cap | grep -q "The reader asks"; then
    ok "a <think> section is folded to one line; F9 unfolds it dimmed and folds it again"
else
    bad "a <think> section is folded to one line; F9 unfolds it dimmed and folds it again" "$folded
---
$unfolded"
fi
T send-keys -t nt "/quit" Enter
wait_for "EXIT=0"

# ---- 19. beam search: while it runs, the probabilities view lists every live beam, best
# first, with its log-probability, length and latest words; the answer then shows the winner
ENVS="NATTER_TEST_TOKEN_DELAY_MS=40" ARGS="--system '' --beams 3 -n 24" start 100 30
T send-keys -t nt F4
wait_for "no token yet" 30
T send-keys -t nt "Once upon a time" Enter
if wait_for "Beams  3 live" 100 && cap | grep -q "#    logp  tok  text" &&
   cap | grep -qE "│  *1 +-[0-9]+\.[0-9]{2} +[0-9]+ «" && cap | grep -qE "│  *3 +-[0-9]+\.[0-9]{2} +[0-9]+ «" &&
   cap | grep -q "provisional: best of 3 beams"; then
    ok "beam search: the probabilities view lists every live beam while it runs"
else
    bad "beam search: the probabilities view lists every live beam while it runs" "$(cap)"
fi
if idle && wait_gone "Beams  3 live" 100 && cap | grep -q "│ Token [0-9]*/[0-9]* «"; then
    ok "beam search: when it ends the view shows the winner's tokens"
else
    bad "beam search: when it ends the view shows the winner's tokens" "$(cap)"
fi
T send-keys -t nt "/quit" Enter
wait_for "EXIT=0"

# ---- 12. a crash (SIGSEGV): the handler restores the terminal, then dies of the signal
start 100 30
pid=$(natter_pid)
if [ -n "$pid" ]; then
    kill -SEGV "$pid"
    if wait_for "EXIT=139" && ! cap | grep -q "Sampling"; then
        ok "a fatal signal restores the terminal and re-raises (exit 139)"
    else
        bad "a fatal signal restores the terminal and re-raises (exit 139)" "$(cap)"
    fi
else
    skip "SIGSEGV test: natter's pid not found"
fi

finish
