#!/bin/sh
# tests/test_docs.sh — document retrieval through the real binary with natter's own default
# model (models/natter-guide.gguf) and the corpus in tests/data/docs: --docs answers with its
# sources on stderr, the index lands in $XDG_CACHE_HOME/natter/index, bad paths and binary
# files are said, a --context file too long for the context is searched instead, a saved
# session keeps the passages and replays identically after the files changed; in the chat
# screen (tmux): the indexing finishes in the background, sources under the answer, /sources,
# /docs list|add|drop. Skips cleanly without the model (or tmux for the screen part).

. "$(dirname "$0")/lib.sh"
MODEL=models/natter-guide.gguf
if [ ! -f "$MODEL" ] || [ ! -x "$NATTER" ]; then
    skip "test_docs: $MODEL or $NATTER is missing"
    finish
fi
export XDG_CACHE_HOME="$tmp/cache" XDG_STATE_HOME="$tmp/state" HOME="$tmp/home"
mkdir -p "$HOME"

# ---- the one-shot mode
"$NATTER" -m "$MODEL" --persona docqa --docs tests/data/docs --seed 1 \
    -p "How do I descale the kettle with vinegar?" >"$tmp/out" 2>"$tmp/err"
check "--docs: exit 0 ($(cat "$tmp/err"))" [ $? -eq 0 ]
check "--docs: an answer on stdout" [ -s "$tmp/out" ]
check "--docs: the sources on stderr, best first" \
    grep -q '^  \[1\] tests/data/docs/kettle.md:19-23 (score [0-9.]*)$' "$tmp/err"
check "--docs: stdout holds the answer alone" sh -c "! grep -q 'sources' '$tmp/out'"
check "the index is in \$XDG_CACHE_HOME/natter/index" [ -s "$tmp/cache/natter/index/docs.sqlite" ]

"$NATTER" -m "$MODEL" --docs tests/data/docs/nope.md -p "hi" >/dev/null 2>"$tmp/err"
rc=$?
check "--docs with a missing path: exit 1" [ $rc -eq 1 ]
check "--docs with a missing path: said so" \
    grep -q "^natter: --docs: tests/data/docs/nope.md: No such file or directory$" "$tmp/err"

mkdir -p "$tmp/d"
cp tests/data/docs/notes.txt "$tmp/d/"
printf 'GIF89a\000\001\002' >"$tmp/d/pic.gif"
"$NATTER" -m "$MODEL" --docs "$tmp/d" -p "When are the roses pruned?" >/dev/null 2>"$tmp/err"
check "a binary file in a folder is skipped with a note" \
    grep -q "pic.gif: skipped: binary file (not UTF-8 text)" "$tmp/err"
check "...and the text beside it answers" grep -q "notes.txt:1-" "$tmp/err"

# ---- a persona's documents: (relative to its folder; a missing one is an error at its place)
mkdir -p "$tmp/p/manuals"
cp tests/data/docs/kettle.md "$tmp/p/manuals/"
printf 'name: kettle\nsystem: Answer from the documents.\ndocuments:\n  - manuals\n' >"$tmp/p/kettle.yaml"
"$NATTER" -m "$MODEL" --persona "$tmp/p/kettle.yaml" -p "How long is the warranty?" >/dev/null 2>"$tmp/err"
check "a persona's documents: answered from ($(cat "$tmp/err"))" grep -q 'p/manuals/kettle.md:25-27' "$tmp/err"
printf 'name: kettle\nsystem: x\ndocuments: [manuals, nothere]\n' >"$tmp/p/bad.yaml"
"$NATTER" --check "$tmp/p/bad.yaml" >"$tmp/out" 2>&1
check "a persona's missing document: file:line:col" \
    grep -q "bad.yaml:3:22: cannot find document '.*p/nothere': No such file or directory" "$tmp/out"

# ---- --context too long for the 256-token context: searched instead
"$NATTER" -m "$MODEL" --persona docqa --context README.md -p "What does /regen do?" \
    >"$tmp/out" 2>"$tmp/err"
check "--context too long: exit 0 ($(head -3 "$tmp/err"))" [ $? -eq 0 ]
check "--context too long: the note says it is searched instead" \
    grep -q "^natter: --context README.md: [0-9]* tokens with the persona, the context holds 256; answering from passages found in it instead$" "$tmp/err"
check "--context too long: sources from it" grep -q '^  \[1\] README.md:' "$tmp/err"

# ---- sessions keep the passages; replay is exact after the files changed
cp -r tests/data/docs "$tmp/corpus"
"$NATTER" -m "$MODEL" --persona docqa --docs "$tmp/corpus" --seed 3 --save "$tmp/s.yaml" \
    -p "How long is the warranty?" >/dev/null 2>"$tmp/err"
check "--save with --docs: exit 0" [ $? -eq 0 ]
check "the session records the sources" grep -q "^  sources:$" "$tmp/s.yaml"
check "...with their lines and text" grep -q "lines: 25-27" "$tmp/s.yaml"
echo "# The kettle manual was rewritten" >"$tmp/corpus/kettle.md"
"$NATTER" replay "$tmp/s.yaml" --check >"$tmp/rep" 2>&1
check "replay --check after the files changed: identical ($(tail -2 "$tmp/rep"))" \
    grep -q "all identical" "$tmp/rep"
"$NATTER" export "$tmp/s.yaml" >"$tmp/md" 2>&1
check "export names the sources" grep -q '^Sources: `.*kettle.md:25-27`' "$tmp/md"

# ---- the chat screen
if ! command -v tmux >/dev/null 2>&1; then
    skip "the chat screen: tmux is not installed" 6
    finish
fi
T new-session -d -s nt -x 110 -y 34 \
    "env HOME='$HOME' XDG_STATE_HOME='$XDG_STATE_HOME' XDG_CACHE_HOME='$XDG_CACHE_HOME' \
     XDG_CONFIG_HOME='$tmp/config' INPUTRC=/dev/null LANG=C.UTF-8 LC_ALL=C.UTF-8 \
     '$NATTER' -m '$MODEL' --persona docqa --seed 5 --docs tests/data/docs 2>'$tmp/stderr'; \
     echo \"EXIT=\$?\"; sleep 600"
T set-option -t nt status off >/dev/null
if wait_for "documents ready: 4 files" 150; then ok "--docs: indexed in the background, then ready"
else bad "--docs in the chat: ready" "$(cap)"; fi
T send-keys -t nt "How do I descale the kettle?" Enter
if wait_for "sources: tests/data/docs/kettle.md:19-23" 150; then ok "sources under the answer"
else bad "sources under the answer" "$(cap)"; fi
T send-keys -t nt "/sources" Enter
if wait_for "[1] tests/data/docs/kettle.md:19-23  score" 50 && wait_for "white vinegar" 50; then
    ok "/sources shows the passages with their scores"
else bad "/sources" "$(cap)"; fi
T send-keys -t nt "/docs list" Enter
if wait_for "tests/data/docs  (4 files, 13 passages)" 50; then ok "/docs list"; else bad "/docs list" "$(cap)"; fi
T send-keys -t nt "/docs add nowhere/x" Enter
if wait_for "/docs add: nowhere/x: No such file or directory" 50; then ok "/docs add: a missing path"
else bad "/docs add: a missing path" "$(cap)"; fi
T send-keys -t nt "/docs drop tests/data/docs" Enter
if wait_for "tests/data/docs dropped" 50; then ok "/docs drop"; else bad "/docs drop" "$(cap)"; fi
T send-keys -t nt "/quit" Enter
wait_for "EXIT=0" 50 || bad "/quit" "$(cap)"
finish
