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

tui_needs "$MODEL"
export XDG_STATE_HOME="$tmp/state" XDG_CONFIG_HOME="$tmp/config" HOME="$tmp/home"
mkdir -p "$tmp/home" "$tmp/state" "$tmp/config"

# start ARGS...: a fresh natter (its arguments given as one shell word list) in a fresh
# session, 100x30; the shell prints natter's exit status and what it wrote on stdout after it.
start() {
    t_fresh
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

# ---- the greeting is Markdown; fenced code is a block: fences hidden, indentation kept, a
# line wider than the screen cut with a sign instead of wrapped
cat >"$tmp/md.yaml" <<'YAML'
name: md
system: Tell a story.
greeting: |-
  **Hello** there, *friend*.
  ```python
  def f():
      return "a very long line of code that goes on and on past the edge of the screen for sure"
  ```
  After the code.
YAML
COLS=60 start -m "'$MODEL'" --persona "'$tmp/md.yaml'"
T send-keys -t nt F3
sleep 0.3
s=$(cap)
if echo "$s" | grep -qx "  Hello there, friend\." && ! echo "$s" | grep -qF '```' &&
   echo "$s" | grep -qx "      return \"a very long line of code that goes on and on›" &&
   echo "$s" | grep -qx "  def f():" && echo "$s" | grep -qx "  After the code\."; then
    ok "the greeting is Markdown; fenced code keeps its indentation and is cut, not wrapped"
else
    bad "the greeting is Markdown; fenced code keeps its indentation and is cut, not wrapped" "$s"
fi

# ---- a persona whose fixed part does not fit the context: said at once
{ printf 'name: big\nsystem: "'; for k in $(seq 1 40); do printf 'Tell a long story. '; done; printf '"\n'; } >"$tmp/big.yaml"
start -m "'$MODEL'" --persona "'$tmp/big.yaml'"
if wait_for "does not fit the context of 128 tokens"; then
    ok "a persona too big for the context is reported at start"
else
    bad "a persona too big for the context is reported at start" "$(cap)"
fi

# ---- /stats, /set NAME, the help at 40 columns
COLS=250 start -m "'$MODEL'" --system "''" -n 30
T send-keys -t nt "/stats" Enter
check "/stats before any answer" wait_for "no answer yet"
ask "Tom went"
n1=$(cap | sed -n 's/^Assistant  \([0-9]*\) tokens.*/\1/p' | tail -1)
ask "Lily"
n2=$(cap | sed -n 's/^Assistant  \([0-9]*\) tokens.*/\1/p' | tail -1)
T send-keys -t nt "/stats" Enter
wait_for "speeds and the context"
line=$(cap | sed -n 's/^  \(last answer: \)/\1/p')
sess=$(cap | sed -n 's/^  \(session (2 answers): \)/\1/p')
if echo "$line" | grep -qE "^last answer: first token after [0-9.]+ s; prompt [0-9]+ tokens read at [0-9.]+ tok/s, [1-9][0-9]* reused from the cache; $n2 tokens generated at [0-9.]+ tok/s" &&
   echo "$sess" | grep -qE "first token after [0-9.]+ s on average; .* $((n1 + n2)) tokens generated" &&
   cap | grep -qE "^  context: [0-9]+ of 128 tokens used"; then
    ok "/stats: the last answer's and the session's figures, the context used"
else
    bad "/stats: the last answer's and the session's figures, the context used" "$(cap | grep -E '^  (last|session|context)')"
fi
T send-keys -t nt "/set top-k" Enter
check "/set NAME shows the value" wait_for "top-k = 40"
T send-keys -t nt "/set tmep 1" Enter
check "/set with an unknown name suggests one and lists them" wait_for "/set: unknown parameter 'tmep' (did you mean temp?); one of: temp, top-k"
# /copy: through OSC 52 when tmux takes it (set-clipboard on: it lands in tmux's buffer),
# else into a file; the message says which.
T set-option -g set-clipboard on
T send-keys -t nt "/set temp 0" Enter
ask "The cat"
T send-keys -t nt "/copy" Enter
wait_for "copied answer 3" 30
T show-buffer >"$tmp/copy.got" 2>/dev/null
shown=$(answer_text | sed 's/\[max tokens\]$//; s/\[maxtokens\]$//')
if cap | grep -qF "copied answer 3 ($(wc -c <"$tmp/copy.got") bytes) to the clipboard (OSC 52)" &&
   [ -n "$shown" ] && [ "$(tr -d ' \t\n' <"$tmp/copy.got")" = "$shown" ]; then
    ok "/copy puts the last answer on the clipboard through OSC 52 (captured from tmux)"
else
    bad "/copy puts the last answer on the clipboard through OSC 52 (captured from tmux)" "$(cap | tail -n 3)
got:   $(cat "$tmp/copy.got")
shown: $shown"
fi
T set-option -g set-clipboard external
T send-keys -t nt "/copy 3" Enter
# the whole message polled for (a capture can catch the line half drawn)
if wait_for "copied answer 3 ($(wc -c <"$tmp/copy.got") bytes) into $tmp/state/natter/clipboard.txt (the terminal takes no clipboard writes)" 50 &&
   cmp -s "$tmp/state/natter/clipboard.txt" "$tmp/copy.got" && [ "$(stat -c %a "$tmp/state/natter/clipboard.txt")" = 600 ]; then
    ok "/copy N without a clipboard: a private file, and the message says so"
else
    bad "/copy N without a clipboard: a private file, and the message says so" "$(cap | tail -n 3)"
fi
T send-keys -t nt "/copy code" Enter
check "/copy code: an answer without code says so" wait_for "/copy: answer 3 has no code block 1" 30
T send-keys -t nt "/copy 9" Enter
check "/copy N beyond the answers says so" wait_for "/copy: there is no answer 9 (there are 3)" 30
T resize-window -t nt -x 40 -y 40
T send-keys -t nt F1
sleep 0.3
if wait_for "/quit" 30 && cap | grep -A1 "^ */quit *$" | tail -1 | grep -q "^     leave natter"; then
    ok "F1 help at 40 columns: the description goes under the command"
else
    bad "F1 help at 40 columns: the description goes under the command" "$(cap)"
fi
T send-keys -t nt q
T send-keys -t nt "/quit" Enter
wait_for "EXIT=" 50
rm -rf "$tmp/state/natter/sessions" # the tests below count the files there

# ---- /prompt: the prompt as the model sees it, its parts' tokens, following the conversation
printf 'name: docs\nsystem: Tell a story.\ncontext:\n  - title: note\n    text: Lily has a red ball.\n' >"$tmp/docs.yaml"
ROWS=50 start -m "'$MODEL'" --persona "'$tmp/docs.yaml'" --ctx 256 -n 20
T send-keys -t nt "/prompt" Enter
if wait_for "the prompt: " 30 && cap | grep -qE "^    system +[0-9]+$" && cap | grep -qE "^    documents +[0-9]+$" &&
   cap | grep -qF "  === Document 1: note ===" && cap | grep -qF "⟨<s>⟩System: Tell a story."; then
    ok "/prompt: the templated text with BOS marked, the system's and the documents' tokens"
else
    bad "/prompt: the templated text with BOS marked, the system's and the documents' tokens" "$(cap)"
fi
ask "Tom"
if cap | grep -qE "^    question 1 +[0-9]+$" && cap | grep -qE "^    answer 1 +[0-9]+$" && cap | grep -qF "  User: Tom"; then
    ok "/prompt follows the conversation"
else
    bad "/prompt follows the conversation" "$(cap)"
fi
T send-keys -t nt "/prompt ids" Enter
sleep 0.3
check "/prompt ids: token ids and pieces" sh -c "tmux -u -L '$T_SOCK' capture-pane -p -t nt | grep -qE '^ +[0-9]+ +[0-9]+  [^ ]'"
T send-keys -t nt "/prompt off" Enter
check "/prompt off closes it" wait_gone "the prompt: " 30
T send-keys -t nt "/quit" Enter
wait_for "EXIT=" 50
rm -rf "$tmp/state/natter/sessions"

# ---- faithful sessions -----------------------------------------------------------------------
mkdir -p "$tmp/config/natter/prompts"
cat >"$tmp/config/natter/prompts/teller.yaml" <<'YAML'
name: teller
system: Tell a story.
sampling:
  temperature: 0.4
  top_k: 12
YAML
S="$tmp/state/natter/sessions"
ENVS="NATTER_TEST_TOKEN_DELAY_MS=60" start -m "'$MODEL'" --persona teller --theme light --ctx 256 -n 40 --seed 3
T send-keys -t nt "Tom went" Enter
if wait_for " generating" 100; then
    sleep 0.4 # a few tokens in: the slider moves mid-answer
    T send-keys -t nt F2 Right Right Right Tab
    idle 300
else
    bad "the delayed answer starts" "$(cap)"
fi
live=$(answer_text)
live_temp=$(cap | grep -o "│ temp .*" | head -1 | awk '{ print $NF }')
case "$live" in
[!\[]*"[temp=0."*) ok ;;
*) bad "the answer has a mark after its first tokens" "$live" ;;
esac
n_files=$(ls "$S" | wc -l)
check "one autosave" [ "$n_files" -eq 1 ]
T send-keys -t nt "/quit" Enter
wait_for "EXIT=" 50
# capj: the pane with wrapped lines joined.
capj() { T capture-pane -p -J -t nt 2>/dev/null; }
name=$(capj | sed -n 's/^natter: continue it with: natter --resume \(.*\)$/\1/p')
file=$(ls "$S" | head -1)
if [ -n "$name" ] && [ "$name.yaml" = "$file" ] && capj | grep -qF "natter: the conversation is saved in $S/$file"; then
    ok "quitting says where the conversation is saved and how to resume it"
else
    bad "quitting says where the conversation is saved and how to resume it" "$(capj)"
fi
cp "$S/$file" "$tmp/marks.yaml"
check "the session records the persona as --persona finds it" grep -q '^persona: teller$' "$S/$file"
check "the session records the theme" grep -q '^theme: light$' "$S/$file"
check "the session records the context size" grep -q '^context: 256$' "$S/$file"

# --resume with nothing else: the persona, its sliders as they were, the context size, the
# marks where they were written.
START_TEXT="read 2 messages back" start --resume "$name"
idle 100
status=$(cap | tail -n 1)
if echo "$status" | grep -q "│ teller" && echo "$status" | grep -q "ctx [0-9]*/256"; then
    ok "--resume brings back the persona and the context size"
else
    bad "--resume brings back the persona and the context size" "$status"
fi
temp=$(cap | grep -o "│ temp .*" | head -1 | awk '{ print $NF }')
check "--resume puts the sliders where they were ($temp, live $live_temp)" [ -n "$temp" ] && [ "$temp" = "$live_temp" ]
topk=$(cap | grep -o "│ top-k .*" | head -1 | awk '{ print $NF }')
check "... the persona's values under them (top-k $topk)" [ "$topk" = 12 ]
resumed=$(answer_text)
if [ -n "$live" ] && [ "$resumed" = "$live" ]; then
    ok "the slider marks land at their recorded token after --resume"
else
    bad "the slider marks land at their recorded token after --resume" "live:    $live
resumed: $resumed"
fi
# The context meter follows /undo and /clear.
fixed=$(echo "$status" | sed -n 's/.*teller \([0-9]*\) tok.*/\1/p')
T send-keys -t nt "/undo" Enter
wait_for "removed the last exchange"
if cap | tail -n 1 | grep -q "ctx $fixed/256"; then
    ok "/undo: the context meter shows the fixed part ($fixed)"
else
    bad "/undo: the context meter shows the fixed part ($fixed)" "$(cap | tail -n 1)"
fi
ask "Lily"
T send-keys -t nt "/clear" Enter
wait_for "conversation cleared"
check "/clear: the context meter shows the fixed part" sh -c "tmux -u -L '$T_SOCK' capture-pane -p -t nt | tail -n 1 | grep -q 'ctx $fixed/256'"
T send-keys -t nt "/quit" Enter
wait_for "EXIT=" 50

# /load in a chat started otherwise: the persona, the context size and the theme come back.
START_TEXT="F1 shows the keys" COLS=220 start -m "'$MODEL'" --system "''"
T send-keys -t nt "/load $tmp/marks.yaml" Enter
wait_for "read 2 messages back" 100
T send-keys -t nt "/theme" Enter
if cap | tail -n 1 | grep -q "│ teller" && cap | tail -n 1 | grep -q "ctx [0-9]*/256" &&
   wait_for "theme light (" 30; then
    ok "/load brings back the persona, the context size and the theme"
else
    bad "/load brings back the persona, the context size and the theme" "$(cap)"
fi
check "... and the marks where they were" [ "$(answer_text)" = "$live" ]
T send-keys -t nt "/quit" Enter
wait_for "EXIT=" 50
# /save NAME: the autosave becomes the named file.
START_TEXT="F1 shows the keys" COLS=220 start -m "'$MODEL'" --system "''" -n 20
ls "$S" >"$tmp/before"
ask "Lily"
auto=$(ls "$S" | grep -vxF -f "$tmp/before")
T send-keys -t nt "/save mine" Enter
wait_for "saved to"
if [ -n "$auto" ] && [ -f "$S/mine.yaml" ] && [ ! -e "$S/$auto" ] && cap | grep -qF "(in place of $auto)"; then
    ok "/save NAME turns the autosave into the named file"
else
    bad "/save NAME turns the autosave into the named file" "$(ls "$S")
$(cap | tail -n 3)"
fi
T send-keys -t nt "/quit" Enter
wait_for "EXIT=" 50
check "quitting names the saved file" sh -c "tmux -u -L '$T_SOCK' capture-pane -p -J -t nt | grep -q 'continue it with: natter --resume mine$'"

# natter ends (and writes its readline history) before the folders go.
T kill-session -t nt 2>/dev/null
sleep 0.3
finish
