#!/bin/sh
# Tests for natter train's open-book data (app/cmd/cmd_train.c, --persona): each training
# question comes with the passages the real retrieval (app/docs/) finds for it in the persona's
# documents, placed by the chat's own rule; with --absent the passages holding the key phrase
# are left out and the answer becomes "The documents do not say."; the same seed gives the
# same data. Also --write-facts (the corpus as a Markdown document whose comments are search
# terms only), --eval with retrieval in the loop, the guide persona's own documents, and the
# reading drill of make model-openbook (models/openbook/drill.py), and the notice that takes
# the passages' place for a question about what the documents do not have.
# Tiny dims: seconds.
. "$(dirname "$0")/lib.sh"
export XDG_CACHE_HOME="$tmp/cache"

mkdir -p "$tmp/docs"
cat >"$tmp/docs/manual.md" <<'MD'
# The gadget

## Turning it off

Hold the red button for three seconds to switch the gadget off.

## Charging

The gadget charges from any USB-C cable in about two
hours.

## Colours

<!-- paint | hue | what shades can I buy -->

The gadget comes in teal and orange.
MD
cat >"$tmp/book.yaml" <<'YAML'
name: book
system: ""
context_instruction: ""
memory: 1
documents:
  - docs
YAML
cat >"$tmp/qa.yaml" <<'YAML'
examples:
  - user: How do I switch the gadget off?
    also: [how to turn the gadget off]
    key: red button
    assistant: Hold the red button for three seconds.
  - user: How long does charging the gadget take?
    key: two hours
    assistant: About two hours with a USB-C cable.
  - user: Which shades can I buy?
    key: teal
    assistant: Teal and orange.
  - heldout: [Is there an eval-only question?]
    key: do not say
    assistant: The documents do not say.
YAML
TINY="--dim 16 --layers 1 --heads 2 --ff 32 --vocab 300 --ctx 512 --seed 3 --threads 1"

# --- passages present (--absent 0) ---------------------------------------------------------
"$NATTER" train --data "$tmp/qa.yaml" --persona "$tmp/book.yaml" --dump $TINY --absent 0 >"$tmp/d0.out" 2>"$tmp/d0.err"
rc=$?
check "--dump exit status ($rc): $(tail -n 2 "$tmp/d0.err")" [ "$rc" -eq 0 ]
check "--dump lists the 4 trained phrasings (the eval-only one is not trained)" \
    [ "$(grep -c '^--- ' "$tmp/d0.out")" -eq 4 ]
check "every sequence has its passage and its answer" [ "$(grep -c '^--- .* answered$' "$tmp/d0.out")" -eq 4 ]
check "the passage is in the system message, with its file and lines" \
    grep -q '^=== Passage 1: .*docs/manual.md:3-5 (Turning it off) ===$' "$tmp/d0.out"
check "the passage's text is there" grep -q '^Hold the red button for three seconds to switch the gadget off.$' "$tmp/d0.out"
check "the answer follows the question" grep -A1 -x '\[assistant\]' "$tmp/d0.out" | grep -qx 'Hold the red button for three seconds.'
check "the summary counts 4 right passages" \
    grep -q 'the right passage placed in 4, left out on purpose in 0 (those answer "The documents do not say."), not found in 0' "$tmp/d0.out"
# A question about what the documents do not have: the notice a chat places, not passages.
printf 'examples:\n  - user: Does the gadget have a calendar?\n    key: do not say\n    assistant: The documents do not say.\n' >"$tmp/qa-cal.yaml"
"$NATTER" train --data "$tmp/qa-cal.yaml" --persona "$tmp/book.yaml" --dump $TINY --absent 0 >"$tmp/dc.out" 2>&1
check "a question about what the documents lack gets the no-passage notice" \
    grep -qx '=== No passage: the documents do not mention calendar ===' "$tmp/dc.out"
check "... and no passage" sh -c "! grep -q '^=== Passage' '$tmp/dc.out'"
# A question whose key phrase no passage holds is not trained (its passages might say it in
# other words): counted, left out.
{ cat "$tmp/qa.yaml"; printf '  - user: What is the warranty of the gadget?\n    key: two years\n    assistant: Two years.\n'; } >"$tmp/qa2.yaml"
"$NATTER" train --data "$tmp/qa2.yaml" --persona "$tmp/book.yaml" --dump $TINY --absent 0 >"$tmp/d2.out" 2>&1
check "a question no passage answers is counted as not found" grep -q 'not found in 1 (not trained)' "$tmp/d2.out"
check "... and not trained" sh -c "! grep -q 'warranty' '$tmp/d2.out' && [ \$(grep -c '^--- ' '$tmp/d2.out') -eq 4 ]"
# A comment's words are searched, not shown: "Which shades can I buy?" finds the Colours
# section through "what shades can I buy", and the comment is in no passage.
check "a Markdown comment finds its passage" grep -q '(Colours) ===$' "$tmp/d0.out"
check "a Markdown comment is not shown" sh -c "! grep -q 'what shades' '$tmp/d0.out'"

# --- passages absent (--absent 1): each question again without its right passage ------------
"$NATTER" train --data "$tmp/qa.yaml" --persona "$tmp/book.yaml" --dump $TINY --absent 1 >"$tmp/d1.out" 2>"$tmp/d1.err"
check "--absent 1: each phrasing twice" [ "$(grep -c '^--- ' "$tmp/d1.out")" -eq 8 ]
check "--absent 1: once answered, once 'The documents do not say.'" \
    [ "$(grep -c '^--- .* answered$' "$tmp/d1.out")" -eq 4 -a "$(grep -cx 'The documents do not say.' "$tmp/d1.out")" -eq 4 ]
check "--absent 1: the twin follows its sequence" awk '
    /^--- / { n++; if (n % 2 == 1 && $NF != "answered") exit 1; if (n % 2 == 0 && $NF != "absent") exit 1 }
    END { exit n != 8 }' "$tmp/d1.out"
# (Other questions' passages may be placed: only the question's own is left out.)
check "--absent 1: no absent sequence holds the passage with its own key phrase" awk '
    function done() { if (absent && q && bad) failed = 1 }
    /^--- / { done(); absent = $NF == "absent"; q = 0; bad = 0 }
    /^(How do I switch the gadget off\?|how to turn the gadget off)$/ { q = 1 }
    /red button/ { bad = 1 }
    END { done(); exit failed }' "$tmp/d1.out"
check "--absent 1: other passages still are (the Colours question has no other)" \
    [ "$(grep -A1 -x '\[system\]' "$tmp/d1.out" | grep -c '^=== Passage 1: .*docs/manual.md')" -ge 6 ]
check "--absent 1: the summary says so" grep -q 'the right passage placed in 4, left out on purpose in 4' "$tmp/d1.out"

# --- deterministic with a seed ---------------------------------------------------------------
"$NATTER" train --data "$tmp/qa.yaml" --persona "$tmp/book.yaml" --dump $TINY --absent 0.5 --history 0.5 >"$tmp/h1.out" 2>&1
"$NATTER" train --data "$tmp/qa.yaml" --persona "$tmp/book.yaml" --dump $TINY --absent 0.5 --history 0.5 >"$tmp/h2.out" 2>&1
check "same seed, same data" cmp -s "$tmp/h1.out" "$tmp/h2.out"
same=1
for s in 4 5 6 7 8; do
    "$NATTER" train --data "$tmp/qa.yaml" --persona "$tmp/book.yaml" --dump $TINY --absent 0.5 --history 0.5 \
        --seed $s >"$tmp/h3.out" 2>&1
    cmp -s "$tmp/h1.out" "$tmp/h3.out" || same=0
done
check "other seeds choose other absent passages and earlier exchanges" [ "$same" -eq 0 ]

# --- two personas: each sequence takes one's prompt shape ----------------------------------
sed 's/^system: ""/system: "Read the manual."/; s/^name: book/name: book2/' "$tmp/book.yaml" >"$tmp/book2.yaml"
"$NATTER" train --data "$tmp/qa.yaml" --persona "$tmp/book.yaml" --persona "$tmp/book2.yaml" --dump $TINY \
    --absent 0 --casual >"$tmp/p2.out" 2>&1
n2=$(grep -cx 'Read the manual.' "$tmp/p2.out"); nall=$(grep -c '^--- ' "$tmp/p2.out")
check "two personas: some sequences take each ($n2 of $nall with the second's system prompt)" \
    [ "$n2" -gt 0 -a "$n2" -lt "$nall" ]
"$NATTER" train --eval "$tmp/none.gguf" --data "$tmp/qa.yaml" --persona "$tmp/book.yaml" --persona "$tmp/book2.yaml" \
    >"$tmp/p3.out" 2>&1
rc=$?
check "--eval with two personas: exit 2 ($rc), saying so" sh -c "[ $rc -eq 2 ] && grep -q 'one --persona at a time' '$tmp/p3.out'"

# --- usage ---------------------------------------------------------------------------------
"$NATTER" train --data "$tmp/qa.yaml" --docs "$tmp/docs" --dump $TINY >"$tmp/u.out" 2>&1
rc=$?
check "--docs without --persona: exit 2 ($rc)" [ "$rc" -eq 2 ]
check "--docs without --persona says why" grep -q -- '--docs needs --persona' "$tmp/u.out"
printf 'name: nodocs\nsystem: ""\n' >"$tmp/nodocs.yaml"
"$NATTER" train --data "$tmp/qa.yaml" --persona "$tmp/nodocs.yaml" --dump $TINY >"$tmp/u2.out" 2>&1
rc=$?
check "a persona without documents: exit 1 ($rc)" [ "$rc" -eq 1 ]
check "a persona without documents says so" grep -q 'has no documents: give --docs PATH' "$tmp/u2.out"
printf 'examples:\n  - assistant: "x"\n' >"$tmp/bad.yaml"
"$NATTER" train --data "$tmp/bad.yaml" --dump $TINY >"$tmp/u3.out" 2>&1
check "an example with neither user nor heldout is an error with its place" \
    grep -q "bad.yaml:2:.*needs 'user'" "$tmp/u3.out"

# --- --write-facts ---------------------------------------------------------------------------
"$NATTER" train --data "$tmp/qa.yaml" --write-facts "$tmp/facts.md" 2>"$tmp/f.err"
check "--write-facts writes the answered questions: $(cat "$tmp/f.err")" grep -q 'wrote .*facts.md (3 questions)' "$tmp/f.err"
check "a question is a heading" grep -qx '## How do I switch the gadget off?' "$tmp/facts.md"
check "its other phrasings are a comment" grep -qx '<!-- how to turn the gadget off -->' "$tmp/facts.md"
check "its answer follows" grep -qx 'Hold the red button for three seconds.' "$tmp/facts.md"
check "an eval-only question is not written" sh -c "! grep -q 'eval-only' '$tmp/facts.md'"

# --- --eval with retrieval -----------------------------------------------------------------
"$NATTER" train --data "$tmp/qa.yaml" --persona "$tmp/book.yaml" -o "$tmp/m.gguf" \
    --dim 32 --layers 2 --heads 2 --ff 64 --vocab 320 --ctx 512 --batch 4 --lr 1e-2 --lr-min 1e-3 \
    --warmup 5 --weight-decay 0 --threads 2 --seed 5 --steps 20 --save-every 0 >/dev/null 2>"$tmp/t.err"
rc=$?
check "an open-book run trains ($rc): $(tail -n 1 "$tmp/t.err")" [ "$rc" -eq 0 ]
"$NATTER" train --eval "$tmp/m.gguf" --data "$tmp/qa.yaml" --persona "$tmp/book.yaml" --min-train 0 \
    --min-heldout 0 >"$tmp/e.out" 2>&1
rc=$?
check "--eval --persona runs ($rc): $(tail -n 3 "$tmp/e.out")" [ "$rc" -eq 0 ]
check "--eval --persona counts the questions whose passage was placed" \
    grep -q 'open book (.*book.yaml): a placed passage held the key phrase for 4 of 5 questions' "$tmp/e.out"
check "--eval scores the eval-only question as held-out" grep -q 'held-out questions: ./1 ' "$tmp/e.out"

# --- the reading drill (models/openbook/drill.py, make model-openbook): the same files every
# run, and retrieval over its made-up document places the passage whose sentence is each
# answer ------------------------------------------------------------------------------------
if command -v python3 >/dev/null 2>&1; then
    python3 models/openbook/drill.py "$tmp/drill" && python3 models/openbook/drill.py "$tmp/drill2"
    rc=$?
    [ -s "$tmp/drill/drill.md" ] || rc="$rc, no drill.md"
    check "drill.py writes its files ($rc)" [ "$rc" = 0 ]
    same=0
    for f in drill.md drill.yaml drill-eval.yaml repeat.yaml; do cmp -s "$tmp/drill/$f" "$tmp/drill2/$f" && same=$((same + 1)); done
    check "drill.py writes the same four files each run ($same)" [ "$same" -eq 4 ]
    cat >"$tmp/drill.yaml" <<'YAML'
name: drill
system: ""
context_instruction: ""
memory: 1
YAML
    head -n 34 "$tmp/drill/drill.yaml" >"$tmp/drill-qa.yaml"
    "$NATTER" train --data "$tmp/drill-qa.yaml" --persona "$tmp/drill.yaml" --docs "$tmp/drill/drill.md" \
        --dump $TINY --absent 0 >"$tmp/dr.out" 2>&1
    rc=$?
    check "--dump over the drill document ($rc): $(tail -n 1 "$tmp/dr.out")" [ "$rc" -eq 0 ]
    check "the drill's right passage is placed for each of its 10 questions" \
        grep -q 'the right passage placed in 10, left out on purpose in 0' "$tmp/dr.out"
    # Each answer is its passage's sentence word for word: the first one is in the dump twice
    # (in the passage, then as the answer).
    first=$(sed -n 's/^    assistant: "\(.*\)"$/\1/p' "$tmp/drill-qa.yaml" | head -n 1)
    n=0
    [ -n "$first" ] && n=$(grep -cF "$first" "$tmp/dr.out")
    check "a drill answer is its passage's own sentence ($n lines hold it)" [ "$n" -ge 2 ]
else
    skip "python3 is not installed (make model-openbook's generators)" 5
fi

# --- an index of schema 1 (before search terms) is emptied and filled again ---------------
if command -v sqlite3 >/dev/null 2>&1; then
    sqlite3 "$tmp/old.sqlite" "CREATE TABLE files(id INTEGER PRIMARY KEY, path TEXT NOT NULL UNIQUE,
        size INTEGER NOT NULL, mtime INTEGER NOT NULL, hash TEXT NOT NULL, kind TEXT NOT NULL);
        CREATE TABLE chunks(id INTEGER PRIMARY KEY, file_id INTEGER NOT NULL, line_a INTEGER NOT NULL,
        line_b INTEGER NOT NULL);
        CREATE VIRTUAL TABLE fts USING fts5(title, text, tokenize = 'porter unicode61 remove_diacritics 2');
        INSERT INTO files VALUES(1, '$tmp/docs/manual.md', 1, 1, 'x', 'markdown');
        INSERT INTO chunks VALUES(1, 1, 1, 1); INSERT INTO fts(rowid, title, text) VALUES(1, 'old', 'old');
        PRAGMA user_version = 1;"
    "$NATTER" train --data "$tmp/qa.yaml" --persona "$tmp/book.yaml" --index "$tmp/old.sqlite" --dump $TINY \
        --absent 0 >"$tmp/o.out" 2>&1
    rc=$?
    check "a schema-1 index is upgraded ($rc): $(tail -n 1 "$tmp/o.out")" [ "$rc" -eq 0 ]
    check "the upgraded index finds the passages anew" grep -q 'the right passage placed in 4,' "$tmp/o.out"
    check "the upgraded index is schema 2" [ "$(sqlite3 "$tmp/old.sqlite" 'PRAGMA user_version')" = 2 ]
else
    skip "sqlite3 (the command) is not installed" 3
fi
finish
