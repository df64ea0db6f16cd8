#!/bin/sh
# tests/test_persona_cli.sh — personas on the command line (app/main.c, app/cmd/cli.c,
# app/cmd/cmd_persona.c): --list-personas, --list-themes, --check (errors with file:line:col, the
# fixed part's tokens with --model), import-card, and the one-shot mode with --persona and
# --context.
#
# The one-shot oracle: the stories260K model formats chats with the plain template, which has
# no control tokens, so a persona's prompt can be written out by hand as plain text and fed
# with --raw. Greedy answers must then agree: the persona's answer is a prefix of the raw one
# (the template stops at "\nUser:", raw mode does not). That checks the system prompt, the
# documents, the example turns and the greeting, in that order, before the question.
# Skips the model tests cleanly when the fixture is absent.
. "$(dirname "$0")/lib.sh"
case "$STORIES" in /*) ;; *) STORIES="$(pwd)/$STORIES" ;; esac
export XDG_CONFIG_HOME="$tmp/config" XDG_STATE_HOME="$tmp/state"

if [ ! -x "$NATTER" ]; then
    skip "$NATTER is not built"
    finish
fi

# --- listings: the repository's prompts/ and themes/, and the user's config folder -----------
mkdir -p "$tmp/config/natter/prompts"
printf 'name: mine\ndescription: my own persona\nsystem: Hi.\n' >"$tmp/config/natter/prompts/mine.yaml"
"$NATTER" --list-personas >"$tmp/lp" 2>&1
check "--list-personas exits 0" [ $? -eq 0 ]
check "--list-personas shows docqa with its description" grep -q "^docqa  *Answers questions from documents" "$tmp/lp"
check "--list-personas shows the user's persona and its file" grep -q "^mine  *my own persona  *$tmp/config/natter/prompts/mine.yaml" "$tmp/lp"
"$NATTER" --list-themes >"$tmp/lt" 2>&1
check "--list-themes exits 0" [ $? -eq 0 ]
check "--list-themes shows dark and light" sh -c "grep -q '^dark ' '$tmp/lt' && grep -q '^light ' '$tmp/lt'"

# --- --check: valid files, a typo with file:line:col and a suggestion, themes ----------------
"$NATTER" --check prompts/docqa.yaml themes/light.yaml >"$tmp/c1" 2>&1
check "--check valid files exits 0" [ $? -eq 0 ]
check "--check says ok for a persona" grep -q "^prompts/docqa.yaml: ok (persona 'docqa'" "$tmp/c1"
check "--check says ok for a theme" grep -q "^themes/light.yaml: ok (theme 'light')" "$tmp/c1"
printf 'name: bad\nsystem: x\nsampling:\n  tempreature: 0.7\n' >"$tmp/bad.yaml"
"$NATTER" --check "$tmp/bad.yaml" prompts/docqa.yaml >"$tmp/c2" 2>&1
rc=$?
check "--check with a bad file exits 1 ($rc)" [ "$rc" -eq 1 ]
check "--check names file:line:col and suggests the key" \
    grep -qF "$tmp/bad.yaml:4:3: unknown key 'tempreature' (did you mean 'temperature'?)" "$tmp/c2"
check "--check counts the files with errors" grep -q "^1 of 2 files with errors" "$tmp/c2"

# --- import-card ------------------------------------------------------------------------------
cat >"$tmp/card.json" <<'EOF'
{"spec": "chara_card_v2", "spec_version": "2.0",
 "data": {"name": "Captain Tom", "description": "A friendly ship captain.",
          "personality": "cheerful", "scenario": "On a boat.",
          "first_mes": "Ahoy, {{user}}!", "mes_example": "<START>\n{{user}}: Where are we?\n{{char}}: At sea!",
          "system_prompt": "", "post_history_instructions": "", "creator_notes": "",
          "tags": [], "creator": "", "character_version": "1", "alternate_greetings": [],
          "extensions": {}}}
EOF
"$NATTER" import-card "$tmp/card.json" -o "$tmp/tom.yaml" >"$tmp/ic" 2>&1
check "import-card exits 0: $(cat "$tmp/ic")" [ $? -eq 0 ]
check "import-card says what it wrote" grep -q "^wrote $tmp/tom.yaml (persona 'Captain Tom': 1 example pair, greeting)" "$tmp/ic"
"$NATTER" --check "$tmp/tom.yaml" >/dev/null 2>&1
check "the imported persona passes --check" [ $? -eq 0 ]
"$NATTER" import-card "$tmp/card.json" -o "$tmp/tom.yaml" >"$tmp/ic2" 2>&1
check "import-card keeps an existing file" [ $? -eq 1 ]
"$NATTER" import-card "$tmp/card.json" -o "$tmp/tom.yaml" --force >/dev/null 2>&1
check "import-card --force replaces it" [ $? -eq 0 ]
# Without -o: the user's persona folder, never the current one; alternate greetings kept.
sed 's/"alternate_greetings": \[\]/"alternate_greetings": ["Land ho, {{user}}!", "", "Welcome aboard."]/' \
    "$tmp/card.json" >"$tmp/card2.json"
mkdir -p "$tmp/cwd"
(cd "$tmp/cwd" && "$NATTER" import-card "$tmp/card2.json") >"$tmp/ic4" 2>&1
check "import-card without -o exits 0: $(cat "$tmp/ic4")" [ $? -eq 0 ]
check "import-card without -o writes into \$XDG_CONFIG_HOME/natter/prompts" \
    grep -q "^wrote $tmp/config/natter/prompts/captain-tom.yaml (persona 'Captain Tom': 1 example pair, greeting, 2 alternate greetings)" "$tmp/ic4"
check "... and says how to use it" grep -q "^use it with: natter --persona captain-tom$" "$tmp/ic4"
check "... and nothing into the current folder" [ -z "$(ls -A "$tmp/cwd")" ]
check "... the alternate greetings are kept (empty ones left out)" \
    sh -c "grep -A2 '^alternate_greetings:' '$tmp/config/natter/prompts/captain-tom.yaml' | tr '\n' '|' | grep -qF 'alternate_greetings:|- Land ho, {{user}}!|- Welcome aboard.|'"
# --check takes a persona's name as --persona does, and a theme's.
"$NATTER" --check captain-tom light >"$tmp/c3" 2>&1
check "--check NAME finds the user's persona ($(head -1 "$tmp/c3"))" \
    grep -q "^$tmp/config/natter/prompts/captain-tom.yaml: ok (persona 'Captain Tom'" "$tmp/c3"
check "--check NAME finds a theme" grep -q "themes/light.yaml: ok (theme 'light')" "$tmp/c3"
"$NATTER" --check no-such-name >"$tmp/c4" 2>&1
check "--check of an unknown name: exit 1" [ $? -eq 1 ]
check "--check of an unknown name says where it looked" \
    grep -q "^persona or theme 'no-such-name' not found (looked in prompts, $tmp/config/natter/prompts, " "$tmp/c4"
printf '{"spec": "nope"}' >"$tmp/notcard.json"
"$NATTER" import-card "$tmp/notcard.json" -o "$tmp/x.yaml" >"$tmp/ic3" 2>&1
check "import-card refuses a file that is not a card" sh -c "[ $? -eq 1 ] && [ ! -e '$tmp/x.yaml' ]"

if [ ! -f "$STORIES" ]; then
    skip "one-shot persona tests: $STORIES is absent"
    finish
fi

# --- the fixed part's tokens ------------------------------------------------------------------
printf 'name: s\nsystem: Tell a story.\n' >"$tmp/s.yaml"
printf 'name: s2\nsystem: Tell a story.\nexamples:\n  - user: Who is Tim?\n    assistant: Tim is a boy.\n' >"$tmp/s2.yaml"
n1=$("$NATTER" --check "$tmp/s.yaml" --model "$STORIES" | sed -n 's/.*fixed part \([0-9]*\) tokens in plain format.*/\1/p')
n2=$("$NATTER" --check --model "$STORIES" "$tmp/s2.yaml" | sed -n 's/.*fixed part \([0-9]*\) tokens in plain format.*/\1/p')
# "System: Tell a story.\n\n" is BOS + 8 tokens in this vocabulary; the example adds its turns.
check "--check --model counts the fixed part ($n1, $n2 with an example)" \
    sh -c "[ -n '$n1' ] && [ -n '$n2' ] && [ '$n1' -gt 2 ] && [ '$n2' -gt '$n1' ]"

# A fixed part the model's context cannot hold: said, with by how much (stories260K: 128).
{ printf 'name: big\nsystem: "'; for k in $(seq 1 40); do printf 'Tell a long story. '; done; printf '"\n'; } >"$tmp/big.yaml"
"$NATTER" --check "$tmp/big.yaml" --model "$STORIES" >"$tmp/c5" 2>&1
check "--check --model of a persona too big for the context: exit 1" [ $? -eq 1 ]
nb=$(sed -n 's/.*fixed part \([0-9]*\) tokens in plain format.*/\1/p' "$tmp/c5")
check "... says so and by how much ($(tail -2 "$tmp/c5" | head -1))" \
    grep -qF "$tmp/big.yaml: the fixed part does not fit $STORIES's context of 128 tokens: $((nb - 127)) tokens too many" "$tmp/c5"

# --- one-shot: system prompt, examples, greeting and documents before the question -----------
q="Tom saw a dog."
nl='
'
cat >"$tmp/full.yaml" <<'EOF'
name: full
system: Tell a happy story.
greeting: Hello, {{user}}!
context_instruction: Use the document.
examples:
  - user: Who is Tim?
    assistant: Tim is a boy.
sampling:
  temperature: 0
EOF
printf 'Lily has a red ball.' >"$tmp/doc.txt"
"$NATTER" -m "$STORIES" --ctx 512 -n 40 --persona "$tmp/full.yaml" --context "$tmp/doc.txt" -p "$q" >"$tmp/p.out" 2>"$tmp/p.err"
check "one-shot --persona --context exits 0: $(cat "$tmp/p.err")" [ $? -eq 0 ]
sys="Tell a happy story.${nl}${nl}Use the document.${nl}${nl}=== Document 1: doc.txt ===${nl}Lily has a red ball.${nl}=== End of document 1 ==="
raw="System: ${sys}${nl}${nl}User: Who is Tim?${nl}Assistant: Tim is a boy.${nl}Assistant: Hello, User!${nl}User: ${q}${nl}Assistant:"
"$NATTER" -m "$STORIES" --ctx 512 -n 40 --raw --temp 0 -p "$raw" >"$tmp/r.out" 2>/dev/null
p_out=$(cat "$tmp/p.out"); r_out=$(cat "$tmp/r.out")
case "$r_out" in
"$p_out"*) [ -n "$p_out" ] && ok || bad "the persona's answer is empty" ;;
*) bad "one-shot --persona answers as the hand-written prompt (system, document, example, greeting, question)" \
       "persona: $p_out${nl}raw:     $r_out" ;;
esac
# Without the document the answer is another one (the context reaches the model).
"$NATTER" -m "$STORIES" --ctx 512 -n 40 --persona "$tmp/full.yaml" -p "$q" >"$tmp/p2.out" 2>/dev/null
raw2="System: Tell a happy story.${nl}${nl}User: Who is Tim?${nl}Assistant: Tim is a boy.${nl}Assistant: Hello, User!${nl}User: ${q}${nl}Assistant:"
"$NATTER" -m "$STORIES" --ctx 512 -n 40 --raw --temp 0 -p "$raw2" >"$tmp/r2.out" 2>/dev/null
p2=$(cat "$tmp/p2.out"); r2=$(cat "$tmp/r2.out")
case "$r2" in
"$p2"*) [ -n "$p2" ] && ok || bad "the persona's answer (no document) is empty" ;;
*) bad "one-shot --persona without --context answers as the hand-written prompt" "persona: $p2${nl}raw:     $r2" ;;
esac

# --- sampling: the persona's values, and the command line's over them -------------------------
printf 'name: hot\nsystem: Tell a story.\nsampling:\n  temperature: 1.5\n  top_k: 5\n' >"$tmp/hot.yaml"
"$NATTER" -m "$STORIES" -n 30 --persona "$tmp/hot.yaml" --seed 11 -p "$q" >"$tmp/h1" 2>/dev/null
"$NATTER" -m "$STORIES" -n 30 --system "Tell a story." --temp 1.5 --top-k 5 --seed 11 -p "$q" >"$tmp/h2" 2>/dev/null
check "the persona's sampling values are used" cmp -s "$tmp/h1" "$tmp/h2"
"$NATTER" -m "$STORIES" -n 30 --persona "$tmp/hot.yaml" --temp 0 --seed 11 -p "$q" >"$tmp/h3" 2>/dev/null
"$NATTER" -m "$STORIES" -n 30 --system "Tell a story." --temp 0 --top-k 5 -p "$q" >"$tmp/h4" 2>/dev/null
check "options on the command line win over the persona's" cmp -s "$tmp/h3" "$tmp/h4"
check "... and the two differ (the test can fail)" sh -c "! cmp -s '$tmp/h1' '$tmp/h3'"

# --- stop strings and the template override ---------------------------------------------------
printf 'name: st\nsystem: Tell a story.\nsampling:\n  temperature: 0\n' >"$tmp/st0.yaml"
"$NATTER" -m "$STORIES" -n 60 --persona "$tmp/st0.yaml" -p "$q" >"$tmp/s0" 2>/dev/null
full=$(cat "$tmp/s0")
# A stop string taken from the middle of the free answer: the stopped answer is the text
# before it.
word=$(echo "$full" | tr -s ' \n' '\n\n' | sed -n '6p')
if [ -n "$word" ]; then
    printf 'name: st\nsystem: Tell a story.\nsampling:\n  temperature: 0\nstop: [" %s"]\n' "$word" >"$tmp/st1.yaml"
    "$NATTER" -m "$STORIES" -n 60 --persona "$tmp/st1.yaml" -p "$q" >"$tmp/s1" 2>/dev/null
    stopped=$(cat "$tmp/s1")
    want=${full%%" $word"*}
    check "a persona's stop string ends the answer before it ('$word')" [ "$stopped" = "$want" ]
    check "... which is shorter than the free answer" [ "${#stopped}" -lt "${#full}" ]
else
    bad "the free answer has six words" "$full"
fi
printf 'name: cm\nsystem: x\ntemplate: chatml\n' >"$tmp/cm.yaml"
"$NATTER" -m "$STORIES" -n 5 --verbose --persona "$tmp/cm.yaml" -p "$q" >/dev/null 2>"$tmp/cm.err"
check "a persona's template override is used" grep -q "template chatml" "$tmp/cm.err"
"$NATTER" -m "$STORIES" -n 5 --verbose --persona "$tmp/cm.yaml" --template plain -p "$q" >/dev/null 2>"$tmp/cm2.err"
check "--template wins over the persona's" grep -q "template plain" "$tmp/cm2.err"

# --- the persona's preferred model when no -m --------------------------------------------------
printf 'name: pm\nsystem: Tell a story.\nmodel: %s\nsampling:\n  temperature: 0\n' "$STORIES" >"$tmp/pm.yaml"
"$NATTER" -n 20 --persona "$tmp/pm.yaml" -p "$q" >"$tmp/pm1" 2>"$tmp/pm.err"
check "no -m: the persona's model is used ($(cat "$tmp/pm.err"))" [ $? -eq 0 ]
"$NATTER" -m "$STORIES" -n 20 --persona "$tmp/pm.yaml" -p "$q" >"$tmp/pm2" 2>/dev/null
check "... and answers as with -m" cmp -s "$tmp/pm1" "$tmp/pm2"

# --- errors -------------------------------------------------------------------------------------
"$NATTER" -m "$STORIES" --persona "$tmp/bad.yaml" -p "$q" >/dev/null 2>"$tmp/e1"
rc=$?
check "one-shot with a bad persona exits 1 ($rc)" [ "$rc" -eq 1 ]
check "... with file:line:col on stderr" grep -qF "$tmp/bad.yaml:4:3: unknown key 'tempreature'" "$tmp/e1"
"$NATTER" -m "$STORIES" --persona no-such-persona -p "$q" >/dev/null 2>"$tmp/e2"
check "an unknown persona is an error" sh -c "[ $? -eq 1 ] && grep -q \"persona 'no-such-persona' not found\" '$tmp/e2'"
"$NATTER" -m "$STORIES" --context "$tmp/nothere.txt" -p "$q" >/dev/null 2>"$tmp/e3"
check "a missing --context file exits 2" sh -c "[ $? -eq 2 ] && grep -q 'nothere.txt' '$tmp/e3'"
# Without --persona a one-shot answer sends no system prompt: the same as --raw of the plain
# template's question.
"$NATTER" -m "$STORIES" -n 20 --temp 0 -p "$q" >"$tmp/n1" 2>/dev/null
"$NATTER" -m "$STORIES" -n 20 --temp 0 --raw -p "User: ${q}${nl}Assistant:" >"$tmp/n2" 2>/dev/null
n1=$(cat "$tmp/n1"); n2=$(cat "$tmp/n2")
case "$n2" in
"$n1"*) ok ;;
*) bad "without --persona the one-shot mode sends no system prompt" "plain: $n1${nl}raw:   $n2" ;;
esac

finish
