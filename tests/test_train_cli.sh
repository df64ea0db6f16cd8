#!/bin/sh
# Tests for `natter train` (app/cmd/cmd_train.c) end to end: a tiny model trained from scratch on a
# three-example YAML file must answer its trained questions (--eval passes), a stopped run
# resumes, bad data is reported as file:line:col, and usage errors exit 2. Tiny dims and a few
# hundred steps: a few seconds in all.
. "$(dirname "$0")/lib.sh"

cat >"$tmp/qa.yaml" <<'YAML'
# persona-like keys at the top are ignored
name: tiny
examples:
  - user: How do I quit natter?
    also: [How can I exit?]
    heldout: [How do I stop natter?]
    key: Ctrl-D
    assistant: Press Ctrl-D, or type /quit.
  - user: What is natter?
    also: [Tell me what natter is.]
    key: terminal chat
    assistant: natter is a terminal chat for local models.
  - user: Which files does natter run?
    key: GGUF
    assistant: GGUF model files.
YAML

TINY="--dim 32 --layers 2 --heads 2 --ff 64 --vocab 320 --ctx 48 --batch 5 --lr 1e-2 --lr-min 1e-3 --warmup 10 --weight-decay 0 --threads 2 --seed 5"

# --- from scratch, then --eval ------------------------------------------------------------
"$NATTER" train --data "$tmp/qa.yaml" -o "$tmp/m.gguf" $TINY --steps 150 --save-every 0 >"$tmp/train.out" 2>"$tmp/train.err"
rc=$?
check "train exit status ($rc): $(tail -n 2 "$tmp/train.err")" [ "$rc" -eq 0 ]
check "train writes the model and its state" [ -s "$tmp/m.gguf" -a -s "$tmp/m.gguf.state" ]
check "train prints the size of the run" grep -q "parameters, vocabulary" "$tmp/train.err"
check "train prints a progress line with loss and tok/s" grep -q "step 150/150  loss .* tok/s .* left" "$tmp/train.err"
check "train prints nothing on stdout" [ ! -s "$tmp/train.out" ]
"$NATTER" train --eval "$tmp/m.gguf" --data "$tmp/qa.yaml" --min-heldout 0 >"$tmp/eval.out" 2>&1
rc=$?
check "eval passes on trained questions ($rc): $(cat "$tmp/eval.out")" [ "$rc" -eq 0 ]
check "eval reports trained 5/5" grep -q "trained questions:  5/5 " "$tmp/eval.out"
check "eval reports the held-out count" grep -q "held-out questions: ./1 " "$tmp/eval.out"
# The chat itself answers with the trained text.
ans=$("$NATTER" -m "$tmp/m.gguf" --temp 0 -p "How do I quit natter?" 2>/dev/null)
check "the one-shot chat answers '$ans'" [ "$ans" = "Press Ctrl-D, or type /quit." ]
# --every 2 scores every other question (questions 1 and 3 of qa.yaml: 3 trained phrasings).
"$NATTER" train --eval "$tmp/m.gguf" --data "$tmp/qa.yaml" --min-heldout 0 --min-train 0 --every 2 >"$tmp/eval3.out" 2>&1
check "eval --every 2 scores 3 trained phrasings: $(cat "$tmp/eval3.out")" grep -q "trained questions:  ./3 " "$tmp/eval3.out"
# --after-turn asks each question after another exchange, which must fit the context.
"$NATTER" train --eval "$tmp/m.gguf" --data "$tmp/qa.yaml" --after-turn >"$tmp/eval4.out" 2>&1
rc=$?
check "eval --after-turn on a 48-token model: exit 1 ($rc)" [ "$rc" -eq 1 ]
check "eval --after-turn on a 48-token model says so" grep -q "qa.yaml:.*: the question does not fit in the context" "$tmp/eval4.out"
# An impossible threshold fails with status 1.
"$NATTER" train --eval "$tmp/m.gguf" --data "$tmp/qa.yaml" --min-heldout 100 --min-train 100 >"$tmp/eval2.out" 2>&1
rc=$?
if grep -q "held-out questions: 1/1" "$tmp/eval2.out"; then ok; else
    check "eval below threshold exits 1 ($rc)" [ "$rc" -eq 1 ]
    check "eval below threshold says FAIL" grep -q "^FAIL" "$tmp/eval2.out"
fi

# --- --casual: each phrasing's lower-case form without its final '?' or '.' is trained too,
# once, and not when it equals a phrasing already there ("hi" stays one pair; "Hello!" and
# "hello" add nothing beyond "Hello"'s casual form) --------------------------------------------
cat >"$tmp/casual.yaml" <<'YAML'
examples:
  - user: "Hello"
    also: ["hi", "Hello!", "How are you?"]
    assistant: "Hi, I am fine."
    key: "fine"
YAML
"$NATTER" train --data "$tmp/casual.yaml" -o "$tmp/c0.gguf" $TINY --vocab 270 --steps 0 2>"$tmp/c0.err"
"$NATTER" train --data "$tmp/casual.yaml" -o "$tmp/c1.gguf" $TINY --vocab 270 --steps 0 --casual 2>"$tmp/c1.err"
check "without --casual: 4 pairs ($(grep pairs "$tmp/c0.err"))" grep -q "; 4 pairs" "$tmp/c0.err"
check "--casual adds 'hello' and 'how are you' only ($(grep pairs "$tmp/c1.err"))" grep -q "; 6 pairs" "$tmp/c1.err"
"$NATTER" train --data "$tmp/qa.yaml" -o "$tmp/c2.gguf" $TINY --steps 0 --casual 2>"$tmp/c2.err"
check "--casual doubles qa.yaml's 5 phrasings ($(grep pairs "$tmp/c2.err"))" grep -q "; 10 pairs" "$tmp/c2.err"

# --- --history: sequences put another question and its answer first (same pairs, more
# tokens, the same scored tokens); --history 0 changes nothing ----------------------------------
toks() { sed -nE 's/.* pairs, ([0-9]+) tokens \(([0-9]+) scored\).*/\1 \2/p' "$1"; }
"$NATTER" train --data "$tmp/qa.yaml" -o "$tmp/h0.gguf" $TINY --ctx 96 --steps 0 --history 0 2>"$tmp/h0.err"
"$NATTER" train --data "$tmp/qa.yaml" -o "$tmp/h1.gguf" $TINY --ctx 96 --steps 0 --history 1 2>"$tmp/h1.err"
set -- $(toks "$tmp/h0.err"); t0=${1:-0}; s0=${2:-0}
set -- $(toks "$tmp/h1.err"); t1=${1:-0}; s1=${2:-0}
check "--history 1 keeps 5 pairs ($(grep pairs "$tmp/h1.err"))" grep -q "; 5 pairs" "$tmp/h1.err"
check "--history 1 adds an earlier exchange to every sequence ($t0 -> $t1 tokens)" [ "$t1" -gt $((t0 + 5 * 8)) ]
check "--history scores only the last answers ($s0, $s1)" [ "$s0" -gt 0 -a "$s0" -eq "$s1" ]
# In a 48-token context most exchanges do not fit: those questions are trained alone, never cut
# short (the same sequences as --history 0, so the same scored tokens).
"$NATTER" train --data "$tmp/qa.yaml" -o "$tmp/h2.gguf" $TINY --steps 0 2>"$tmp/h2.err"
"$NATTER" train --data "$tmp/qa.yaml" -o "$tmp/h3.gguf" $TINY --steps 0 --history 1 2>"$tmp/h3.err"
check "--history in a small context falls back to lone questions: $(grep pairs "$tmp/h3.err")" \
    [ "$(toks "$tmp/h2.err")" = "$(toks "$tmp/h3.err")" ]
# What --history is for: a model trained on lone questions answers nothing right after an
# earlier exchange (its positions past the lone sequences' length were never trained), while
# one trained with --history 1 answers all four (two questions, so the earlier exchange asked
# by --after-turn is the one it was trained after).
cat >"$tmp/qa2.yaml" <<'YAML'
examples:
  - user: How do I quit natter?
    also: [How can I exit?]
    key: Ctrl-D
    assistant: Press Ctrl-D, or type /quit.
  - user: What is natter?
    also: [Tell me what natter is.]
    key: terminal chat
    assistant: natter is a terminal chat for local models.
YAML
H2="--dim 64 --layers 2 --heads 2 --ff 128 --vocab 300 --ctx 200 --batch 4 --lr 1e-2 --lr-min 1e-3 --warmup 10 --weight-decay 0 --threads 2 --seed 5 --steps 300 --save-every 0"
for h in 0 1; do
    "$NATTER" train --data "$tmp/qa2.yaml" -o "$tmp/hist$h.gguf" $H2 --history $h 2>/dev/null
    "$NATTER" train --eval "$tmp/hist$h.gguf" --data "$tmp/qa2.yaml" --after-turn --min-heldout 0 >"$tmp/hist$h.out" 2>&1
done
check "trained alone: --after-turn 0/4 ($(head -n 1 "$tmp/hist0.out"))" grep -q "trained questions:  0/4 " "$tmp/hist0.out"
check "trained with --history 1: --after-turn 4/4 ($(head -n 1 "$tmp/hist1.out"))" grep -q "trained questions:  4/4 " "$tmp/hist1.out"

# --- fine-tuning: --init starts from a model and keeps its tokenizer ---------------------------
printf 'examples:\n  - user: Sky colour?\n    key: blue\n    assistant: Blue.\n' >"$tmp/more.yaml"
"$NATTER" train --init "$tmp/m.gguf" --data "$tmp/more.yaml" --data "$tmp/qa.yaml" -o "$tmp/tuned.gguf" \
    --steps 120 --batch 6 --lr 5e-3 --lr-min 5e-4 --warmup 10 --threads 2 --save-every 0 >/dev/null 2>"$tmp/tune.err"
rc=$?
check "--init exit status ($rc): $(tail -n 1 "$tmp/tune.err")" [ "$rc" -eq 0 ]
"$NATTER" info "$tmp/m.gguf" | grep "^tokenizer" >"$tmp/tok.a"
"$NATTER" info "$tmp/tuned.gguf" | grep "^tokenizer" >"$tmp/tok.b"
check "--init keeps the tokenizer" cmp -s "$tmp/tok.a" "$tmp/tok.b"
"$NATTER" train --eval "$tmp/tuned.gguf" --data "$tmp/more.yaml" >"$tmp/tune.eval" 2>&1
check "the fine-tuned model learnt the new answer: $(head -n 1 "$tmp/tune.eval")" grep -q "trained questions:  1/1 " "$tmp/tune.eval"

# --- resume: 60 steps, then on to 100, equals 100 straight -----------------------------------
"$NATTER" train --data "$tmp/qa.yaml" -o "$tmp/a.gguf" $TINY --steps 100 --save-every 0 2>/dev/null
"$NATTER" train --data "$tmp/qa.yaml" -o "$tmp/b.gguf" $TINY --steps 60 --save-every 0 2>/dev/null
# (the schedule depends on --steps, so the first part must be run with the final --steps:
# a Ctrl-C stop is what --resume is for; here the state of a 60-step run continues to 100)
"$NATTER" train --resume --data "$tmp/qa.yaml" -o "$tmp/b.gguf" $TINY --steps 100 --save-every 0 2>"$tmp/resume.err"
rc=$?
check "resume exit status ($rc): $(tail -n 1 "$tmp/resume.err")" [ "$rc" -eq 0 ]
check "resume starts at step 60" grep -q "steps 60 to 100" "$tmp/resume.err"
check "resumed model loads" "$NATTER" info "$tmp/b.gguf" >/dev/null
"$NATTER" train --resume --data "$tmp/qa.yaml" -o "$tmp/none.gguf" $TINY --steps 10 >/dev/null 2>"$tmp/noresume.err"
rc=$?
check "resume without a checkpoint fails ($rc)" [ "$rc" -eq 1 ]

# --- regularisers run, and refuse values out of range ---------------------------------------
"$NATTER" train --data "$tmp/qa.yaml" -o "$tmp/r.gguf" $TINY --steps 20 --save-every 0 --dropout 0.1 --question-drop 0.3 >/dev/null 2>"$tmp/reg.err"
rc=$?
check "--dropout and --question-drop train ($rc): $(tail -n 1 "$tmp/reg.err")" [ "$rc" -eq 0 ]
"$NATTER" train --data "$tmp/qa.yaml" -o "$tmp/r.gguf" --question-drop 1.5 >/dev/null 2>&1
rc=$?
check "--question-drop 1.5 exits 2 ($rc)" [ "$rc" -eq 2 ]

# --- bad data and usage ------------------------------------------------------------------------
printf 'examples:\n  - user: hi\n    asistant: hello\n' >"$tmp/bad.yaml"
"$NATTER" train --data "$tmp/bad.yaml" -o "$tmp/x.gguf" >/dev/null 2>"$tmp/bad.err"
rc=$?
check "bad data exits 1 ($rc)" [ "$rc" -eq 1 ]
check "bad data names file:line:col and suggests: $(head -n 1 "$tmp/bad.err")" \
    grep -q "bad.yaml:3:5: unknown key 'asistant' (did you mean 'assistant'?)" "$tmp/bad.err"
"$NATTER" train --data "$tmp/qa.yaml" >/dev/null 2>&1
rc=$?
check "missing -o exits 2 ($rc)" [ "$rc" -eq 2 ]
"$NATTER" train --data "$tmp/qa.yaml" -o "$tmp/x.gguf" --dim abc >/dev/null 2>&1
rc=$?
check "bad number exits 2 ($rc)" [ "$rc" -eq 2 ]
"$NATTER" train --help | grep -q "natter train --data" && ok || bad "train --help"

finish
