#!/bin/sh
# Tests for natter's command line (app/main.c, app/cmd/cli.c, app/cmd/cmd_*.c): one-shot answers
# against the stories260K greedy reference, stdin prompts, option errors, `info`, `tokenize
# --ids` against llama.cpp's vocabulary tests, corrupt files, `perplexity` against
# llama-perplexity's number, pipe mode and a tiny `bench --quick`. Fixtures live in
# ../shared/fixtures (or $NATTER_FIXTURES); tests that need them skip when they are absent.
. "$(dirname "$0")/lib.sh"

# --- one-shot, raw, greedy: the prompt and the answer are the start of the reference ----------
if have_stories; then
    prompt=$(cat "$FIX/models/stories260K.once.prompt.txt")
    "$NATTER" -m "$STORIES" --raw --temp 0 --ctx 512 -n 200 -p "$prompt" >"$tmp/once.out" 2>"$tmp/once.err"
    rc=$?
    check "one-shot exit status ($rc): $(cat "$tmp/once.err")" [ "$rc" -eq 0 ]
    # The answer ends with one newline that natter adds; the reference continues instead.
    printf '%s' "$prompt" >"$tmp/once.full"
    head -c -1 "$tmp/once.out" >>"$tmp/once.full"
    n=$(wc -c <"$tmp/once.full")
    head -c "$n" "$FIX/models/stories260K.once.greedy.txt" >"$tmp/once.ref"
    check "one-shot --raw --temp 0 reproduces stories260K.once.greedy.txt" cmp -s "$tmp/once.full" "$tmp/once.ref"
    check "one-shot answer is long enough ($n bytes)" [ "$n" -gt 400 ]

    # -p - reads the prompt from stdin (a trailing newline is not part of the question).
    printf '%s\n' "$prompt" | "$NATTER" -m "$STORIES" --raw --temp 0 --ctx 512 -n 200 -p - >"$tmp/stdin.out" 2>/dev/null
    check "-p - reads stdin" cmp -s "$tmp/stdin.out" "$tmp/once.out"

    # --verbose: the seed and a timing line on stderr; stdout unchanged.
    "$NATTER" -m "$STORIES" --raw --temp 0 --ctx 512 -n 200 --seed 7 --verbose -p "$prompt" >"$tmp/v.out" 2>"$tmp/v.err"
    check "--verbose keeps stdout" cmp -s "$tmp/v.out" "$tmp/once.out"
    check "--verbose prints the seed" grep -q "seed 7" "$tmp/v.err"
    check "--verbose prints the speed" grep -Eq "prompt 5 tokens, [0-9.]+ tokens/s; generated 200 tokens, [0-9.]+ tokens/s" "$tmp/v.err"

    # Pipe mode: no -p, stdin is not a terminal: answer the piped question and exit.
    echo "Once upon a time" | "$NATTER" -m "$STORIES" --temp 0 --ctx 512 -n 20 >"$tmp/pipe.out" 2>"$tmp/pipe.err"
    rc=$?
    check "pipe mode exits 0 ($rc): $(cat "$tmp/pipe.err")" [ "$rc" -eq 0 ]
    check "pipe mode answers" [ "$(wc -c <"$tmp/pipe.out")" -gt 5 ]

    # -p QUESTION with piped text: the text is the question's document (the system message
    # holds it under the documents' instruction), not ignored; --raw puts it before the question.
    q="What does Lily have?"
    printf 'Lily has a red ball.\n' | "$NATTER" -m "$STORIES" --temp 0 --ctx 512 -n 10 -p "$q" --save "$tmp/doc.yaml" >"$tmp/doc.out" 2>"$tmp/doc.err"
    check "piped text with -p: exit 0 ($(tail -1 "$tmp/doc.err"))" [ $? -eq 0 ]
    check "piped text with -p: the document in the system message" \
        sh -c "sed -n '/^system:/,/^message_count:/p' '$tmp/doc.yaml' | tr '\n' '|' | grep -qF '=== Document 1: standard input ===|  Lily has a red ball.|  === End of document 1 ==='"
    "$NATTER" -m "$STORIES" --temp 0 --ctx 512 -n 10 -p "$q" </dev/null >"$tmp/nodoc.out" 2>/dev/null
    check "... which changes the answer" sh -c "! cmp -s '$tmp/doc.out' '$tmp/nodoc.out'"
    printf 'Lily has a red ball.' | "$NATTER" -m "$STORIES" --raw --temp 0 --ctx 512 -n 10 -p "$q" >"$tmp/rawdoc.out" 2>/dev/null
    "$NATTER" -m "$STORIES" --raw --temp 0 --ctx 512 -n 10 -p "Lily has a red ball.

$q" </dev/null >"$tmp/rawdoc.ref" 2>/dev/null
    check "--raw: the piped text, a blank line, the question" cmp -s "$tmp/rawdoc.out" "$tmp/rawdoc.ref"

    # --show-prompt: the prompt as the model reads it, instead of the answer: its token count is
    # the one the answer reads (--verbose), its parts add up to it, the text is the template's.
    "$NATTER" -m "$STORIES" --ctx 512 -p "Once upon a time" --show-prompt >"$tmp/sp.out" 2>/dev/null
    check "--show-prompt: exit 0" [ $? -eq 0 ]
    nsp=$(sed -n 's/^the prompt: \([0-9]*\) tokens of the context.s 512 (plain template):$/\1/p' "$tmp/sp.out")
    "$NATTER" -m "$STORIES" --ctx 512 -n 1 -v -p "Once upon a time" >/dev/null 2>"$tmp/sp.err"
    nv=$(sed -n 's/^natter: prompt \([0-9]*\) tokens.*/\1/p' "$tmp/sp.err")
    check "--show-prompt counts the tokens the answer reads ($nsp, $nv)" sh -c "[ -n '$nsp' ] && [ '$nsp' = '$nv' ]"
    sum=$(awk '/^the prompt:/ { on = 1; next } on { s += $NF } END { print s }' "$tmp/sp.out")
    check "--show-prompt: the parts add up ($sum)" [ "$sum" = "$nsp" ]
    check "--show-prompt: the templated text, BOS marked" \
        sh -c "grep -qxF '⟨<s>⟩User: Once upon a time' '$tmp/sp.out' && grep -qxF 'Assistant:' '$tmp/sp.out' && grep -qE '^  question 1 +[0-9]+$' '$tmp/sp.out'"
    "$NATTER" -m "$STORIES" --ctx 512 -p "Once upon a time" --show-prompt=ids >"$tmp/spi.out" 2>/dev/null
    check "--show-prompt=ids: one line per token" [ "$(grep -cE '^ +[0-9]+ +[0-9]+  ' "$tmp/spi.out")" = "$nsp" ]
    check "--show-prompt=ids: BOS first, marked" grep -qE '^ +0 +1  ⟨<s>⟩$' "$tmp/spi.out"

    # Same seed, same sampled answer.
    "$NATTER" -m "$STORIES" --raw --seed 42 --ctx 512 -n 40 -p "$prompt" >"$tmp/s1" 2>/dev/null
    "$NATTER" -m "$STORIES" --raw --seed 42 --ctx 512 -n 40 -p "$prompt" >"$tmp/s2" 2>/dev/null
    check "a seed reproduces the answer" cmp -s "$tmp/s1" "$tmp/s2"
else
    skip "one-shot tests: $STORIES absent"
fi

# --- option errors: one clear line on stderr, exit status 2 ---------------------------------
expect_error() { # expect_error MESSAGE ARGS...
    msg=$1; shift
    "$NATTER" "$@" >"$tmp/err.out" 2>"$tmp/err.err" </dev/null
    rc=$?
    if [ "$rc" -eq 2 ] && [ "$(cat "$tmp/err.err")" = "$msg" ]; then ok; else
        bad "natter $*: exit $rc, stderr: $(cat "$tmp/err.err") (expected: $msg)"; fi
}
expect_error "natter: --temp: '7x' is not a number" -m x.gguf --temp 7x -p hi
expect_error "natter: --top-p: '1.5' is out of range (0 to 1)" -m x.gguf --top-p 1.5 -p hi
expect_error "natter: --top-k: 'ten' is not a whole number" -m x.gguf --top-k ten -p hi
expect_error "natter: -n: '-5' is out of range (0 to 16777216)" -m x.gguf -n -5 -p hi
expect_error "natter: --seed: '-1' is not a whole number" --seed=-1
expect_error "natter: unknown option '--tempreature' (did you mean '--temperature'? see natter --help)" --tempreature 1
expect_error "natter: unknown option '--tmep' (did you mean '--temp'? see natter --help)" --tmep 1
expect_error "natter: unknown option '--persnoa' (did you mean '--persona'? see natter --help)" --persnoa x
expect_error "natter: unknown option '--zzzzzz' (see natter --help)" --zzzzzz
expect_error "natter: --ctx needs a value" --ctx
expect_error "natter: --raw takes no value" --raw=1
# The subcommands' options (getopt_long, app/cmd/args.c): the same kinds of message.
expect_error "natter bench: --threads: 'x' is not a whole number" bench --threads x
expect_error "natter bench: --threads: '65' is out of range (0 to 64)" bench --thr=65
expect_error "natter: --kv-type: 'q4_0' is not f32, f16 or q8_0" -m x.gguf --kv-type q4_0 -p hi
expect_error "natter perplexity: --kv-type: 'f8' is not f32, f16 or q8_0" perplexity -m x -f y --kv-type f8
expect_error "natter bench: --kv-type: 'f64' is not f32, f16 or q8_0" bench --kv-type f64
expect_error "natter bench: --depth: '-1' is out of range (0 to 65536)" bench --depth -1
expect_error "natter serve: --kv-type: 'Q8' is not f32, f16 or q8_0" serve --kv-type Q8
expect_error "natter tokenize: unknown option '--idz' (did you mean '--ids'? see natter tokenize --help)" tokenize --idz x
expect_error "natter tokenize: --ids takes no value" tokenize x --ids=1
expect_error "natter perplexity: --ctx: '2' is out of range (4 to 1048576)" perplexity -m x -f y -c 2
expect_error "natter export: --format needs a value" export a.yaml --format
expect_error "natter replay: --temp: 'abc' is not a number" replay x.yaml --temp=abc
expect_error "natter replay: unexpected argument 'y.yaml' (see natter replay --help)" replay x.yaml --check y.yaml
expect_error "natter train: --seed: '-1' is not a whole number" train --seed -1
expect_error "natter import-card: one card at a time ('b.json' is extra)" import-card a.json b.json
expect_error "natter info: unknown option '-x' (see natter info --help)" info -x m.gguf
# What was typed is echoed escaped: a control character in an argument never reaches the terminal.
expect_error 'natter tokenize: unknown option '"'"'--x\x1b[31m'"'"' (see natter tokenize --help)' \
    tokenize "--x$(printf '\033')[31m" x

# No model given and no default model (a copy of natter away from its checkout, and nothing
# installed): say how to give one, exit 2.
if [ -e /usr/local/share/natter/models/natter-guide.gguf ]; then
    skip "no default model: natter is installed in /usr/local/share/natter"
else
    mkdir -p "$tmp/bin" && cp "$NATTER" "$tmp/bin/natter"
    (cd "$tmp" && "$tmp/bin/natter" -p hi >/dev/null 2>"$tmp/nomodel.err"); rc=$?
    check "no model: exit 2 ($rc)" [ "$rc" -eq 2 ]
    check "no model: mentions -m" grep -q -- "-m MODEL.gguf" "$tmp/nomodel.err"
fi

# A built checkout's natter started from another folder finds its default model, personas and
# themes next to it (build/natter → ../models, ../prompts, ../themes).
(cd "$tmp" && "$NATTER" --temp 0 -n 8 -p "How do I quit natter?" >"$tmp/elsewhere.out" 2>"$tmp/elsewhere.err"); rc=$?
check "started elsewhere: the default model answers ($rc): $(cat "$tmp/elsewhere.err")" [ "$rc" -eq 0 ] && [ -s "$tmp/elsewhere.out" ]
(cd "$tmp" && "$NATTER" --list-personas --list-themes >"$tmp/elsewhere.list" 2>&1)
check "started elsewhere: the shipped personas" grep -q "^ *guide" "$tmp/elsewhere.list"
check "started elsewhere: the shipped themes" grep -q "solarized-dark" "$tmp/elsewhere.list"

# A context longer than the model was trained for is a warning, not silent gibberish.
GUIDE="$(pwd)/models/natter-guide.gguf"
"$NATTER" -m "$GUIDE" --ctx 2048 --temp 0 -n 4 -p hi >/dev/null 2>"$tmp/ctx.err"; rc=$?
check "--ctx above the trained context: still answers ($rc)" [ "$rc" -eq 0 ]
check "--ctx above the trained context: warning" grep -qF "natter: warning: the context (2048 tokens) is longer than the 256 the model was trained for: past that its answers are likely gibberish" "$tmp/ctx.err"
"$NATTER" -m "$GUIDE" --ctx 256 --temp 0 -n 4 -p hi >/dev/null 2>"$tmp/ctx2.err"
check "--ctx at the trained context: no warning" sh -c "! grep -q warning '$tmp/ctx2.err'"

"$NATTER" --help >"$tmp/help.out" 2>&1; rc=$?
check "--help exits 0" [ "$rc" -eq 0 ]
check "--help lists the options" grep -q -- "--repeat-penalty" "$tmp/help.out"
# it fits an 80-column terminal (characters, not bytes: top-nσ), and --template names every
# family the engine knows, the newest included
check "--help: no line wider than 79 columns" sh -c "LC_ALL=C.UTF-8 awk 'length > 79 { bad = 1 } END { exit bad }' '$tmp/help.out'"
check "--help: --template lists every family" sh -c "sed -n '/--template NAME/,/--ctx N/p' '$tmp/help.out' | tr -s ' \\n' '\\n\\n' | grep -cxE 'plain|chatml|mistral-v7-tekken|deepseek3|granite' | grep -qx 5"
check "--version" sh -c "'$NATTER' --version | grep -Eq '^natter [0-9]+\\.[0-9]+'"

# A missing model file: one message naming it, exit non-zero.
"$NATTER" -m "$tmp/none.gguf" -p hi >/dev/null 2>"$tmp/miss.err"; rc=$?
check "missing model exits non-zero" [ "$rc" -ne 0 ]
check "missing model message" grep -q "none.gguf" "$tmp/miss.err"

# --- info ---------------------------------------------------------------------------------
if have_stories; then
    "$NATTER" info "$STORIES" >"$tmp/info.out" 2>&1; rc=$?
    check "info exits 0" [ "$rc" -eq 0 ]
    for line in "architecture: llama" "layers: 5" "heads: 8" "KV heads: 4" "embedding size: 64" \
                "FFN size: 172" "context length: 128" "gguf version: 3" "tensors: 48" \
                "F32 48 tensors, 1.12 MiB" "tokenizer: llama (pre: none), vocabulary 512" \
                'BOS: 1 "<s>"' 'EOS: 2 "</s>"' "EOT: none" "file size: 1185376 (1.13 MiB)" \
                "chat template: plain (no template in the file)"; do
        check "info line '$line'" sh -c "sed -E 's/ +/ /g; s/^ //' '$tmp/info.out' | grep -qxF '$line'"
    done
    # A truncated copy: the reader's message, non-zero exit.
    head -c 5000 "$STORIES" >"$tmp/corrupt.gguf"
    "$NATTER" info "$tmp/corrupt.gguf" >/dev/null 2>"$tmp/corrupt.err"; rc=$?
    check "info on a corrupt file exits non-zero" [ "$rc" -ne 0 ]
    check "info on a corrupt file: message ($(cat "$tmp/corrupt.err"))" grep -q "^natter info: .*corrupt.gguf: " "$tmp/corrupt.err"
else
    skip "info tests: $STORIES absent"
fi
# A vocabulary-only file: what is there (no tensors, the tokenizer and its specials).
VG="$FIX/vocab/ggml-vocab-gpt-2.gguf"
if [ -f "$VG" ]; then
    "$NATTER" info "$VG" >"$tmp/vinfo.out" 2>&1; rc=$?
    check "info on a vocabulary-only file exits 0 ($rc)" [ "$rc" -eq 0 ]
    for line in "tensors: 0" "tokenizer: gpt2 (pre: gpt-2), vocabulary 50257" \
                'EOS: 50256 "<|endoftext|>"' "architecture: gpt2"; do
        check "vocab info line '$line'" sh -c "sed -E 's/ +/ /g; s/^ //' '$tmp/vinfo.out' | grep -qxF '$line'"
    done
else
    skip "info on a vocabulary-only file: $VG absent"
fi
printf 'not a gguf file at all' >"$tmp/text.gguf"
"$NATTER" info "$tmp/text.gguf" >/dev/null 2>"$tmp/text.err"; rc=$?
check "info on a text file exits non-zero" [ "$rc" -ne 0 ]
check "info on a text file says why" grep -q "not a GGUF file" "$tmp/text.err"

# --- tokenize --ids against llama.cpp's vocabulary tests (vocab-only files) -------------------
# vocab_case FILE N: the Nth test string of FILE.inp and its expected ids from FILE.out.
vocab_case() {
    v="$FIX/vocab/$1"
    if [ ! -f "$v" ]; then skip "tokenize: $v absent"; return; fi
    awk -v n="$2" 'BEGIN { RS = "\n__ggml_vocab_test__\n" } NR == n { printf "%s", $0 }' "$v.inp" >"$tmp/case.txt"
    want=$(sed -n "${2}p" "$v.out" | sed 's/^ //')
    got=$("$NATTER" tokenize "$v" --ids <"$tmp/case.txt")
    if [ "$got" = "$want" ]; then ok; else bad "tokenize --ids $1 case $2: got '$got', want '$want'"; fi
}
vocab_case ggml-vocab-llama-spm.gguf 1
vocab_case ggml-vocab-llama-spm.gguf 2
vocab_case ggml-vocab-gpt-2.gguf 1
vocab_case ggml-vocab-gpt-2.gguf 2
if have_stories; then
    printf 'Hi\n' | "$NATTER" tokenize "$STORIES" >"$tmp/tok.out"
    printf '320\t\342\226\201H\n417\ti\n13\t<0x0A>\n' >"$tmp/tok.want"
    check "tokenize lists id and piece per token" cmp -s "$tmp/tok.out" "$tmp/tok.want"
fi

# --- perplexity: llama-perplexity's 10055.0506 within 0.1% ----------------------------------
TL="$FIX/quant/tiny-llama.f32.gguf"
if [ -f "$TL" ]; then
    "$NATTER" perplexity -m "$TL" -f "$FIX/quant/gpl3-head.txt" --ctx 128 >"$tmp/ppl.out" 2>"$tmp/ppl.err"; rc=$?
    check "perplexity exits 0 ($rc): $(tail -n 1 "$tmp/ppl.err")" [ "$rc" -eq 0 ]
    ppl=$(sed -n 's/^Final estimate: PPL = \([0-9.]*\) +\/- .*/\1/p' "$tmp/ppl.out")
    check "perplexity $ppl is 10055.0506 within 0.1%" awk -v p="$ppl" 'BEGIN { d = p - 10055.0506; if (d < 0) d = -d; exit !(p != "" && d <= 10.0551) }'
    check "perplexity counts 29 chunks" grep -q "^chunks: 29," "$tmp/ppl.out"
else
    skip "perplexity: $TL absent"
fi
"$NATTER" perplexity -m x.gguf >/dev/null 2>&1; rc=$?
check "perplexity without -f is a usage error" [ "$rc" -eq 2 ]

# --- bench --quick: a tiny generated model, JSON lines (no timing is asserted) -------------
XDG_CACHE_HOME="$tmp/cache" "$NATTER" bench --quick --json --threads 1 >"$tmp/bench.out" 2>"$tmp/bench.err"; rc=$?
check "bench --quick exits 0 ($rc): $(tail -n 2 "$tmp/bench.err")" [ "$rc" -eq 0 ]
check "bench says which kernel set it runs" grep -qE '^\{"test":"machine","kernels":"(scalar|avx2|avx512)"' "$tmp/bench.out"
check "bench reports the bandwidth" grep -q '"test":"memory_read_bandwidth"' "$tmp/bench.out"
check "bench reports the STREAM triad" grep -q '"test":"memory_triad_bandwidth","threads":1,"gb_per_s":[0-9]' "$tmp/bench.out"
check "bench reports tg64 with a fraction" grep -q '"test":"tg64".*"fraction_of_limit":' "$tmp/bench.out"
check "bench --json: every line one object with its test's name" \
    sh -c "[ -s '$tmp/bench.out' ] && ! grep -qv '^{\"test\":\"[a-z0-9_]*\",.*[0-9\"]}\$' '$tmp/bench.out'"
check "bench caches its model" [ -f "$tmp/cache/natter/bench/quick-shape.v1.q8_0.gguf" ]
check "bench runs its Q8_0, F16 and Q4_K models, dense and MoE" [ "$(grep -c '"test":"pp128"' "$tmp/bench.out")" -eq 6 ]
# int8 products are not bounded by the f32 FMA peak: no fraction of it for quantized weights
check "bench: no FMA-peak fraction for Q8_0 and Q4_K prompts" \
    sh -c "! grep -E '\"test\":\"pp128\".*\"type\":\"Q(8_0|4_K)\".*fraction_of_fma_peak' '$tmp/bench.out'"
# The FMA peak is measured with AVX-512, or with AVX2 where there is none: float prompts then
# say which fraction of it they reach.
if grep -qw avx2 /proc/cpuinfo 2>/dev/null && grep -qw fma /proc/cpuinfo; then
    check "bench measures the f32 FMA peak (AVX-512 or AVX2)" \
        grep -q '"test":"f32_fma_peak","threads":1,"gflop_per_s":[1-9]' "$tmp/bench.out"
    # (any positive number: on a shared machine the peak's own run can be the slower one)
    check "bench: F16 prompts give their fraction of the FMA peak" \
        grep -qE '"test":"pp128".*"type":"F16".*"fraction_of_fma_peak":[0-9]+\.[0-9]' "$tmp/bench.out"
fi
# A mixture of experts reads only the experts a token picks: 2 of 8 here, so much less than
# its file per token (a dense model reads nearly all of its file).
moe_file=$(wc -c <"$tmp/cache/natter/bench/quick-moe-shape.v1.q8_0.gguf" 2>/dev/null || echo 0)
moe_bpt=$(sed -n 's/.*"test":"tg64","model":"quick-moe-shape.v1.q8_0.gguf".*"bytes_per_token":\([0-9.]*\).*/\1/p' "$tmp/bench.out")
check "bench: the MoE's bytes per token ($moe_bpt) count the used experts only (file $moe_file)" \
    awk -v b="${moe_bpt:-0}" -v f="$moe_file" 'BEGIN { exit !(b > 0 && b < 0.6 * f) }'
check "bench says the cache type and depth (f16, 0 by default)" \
    grep -q '"test":"tg64".*"kv_type":"f16","depth":0,' "$tmp/bench.out"
check "bench --threads 1: a fixed number of threads" \
    [ "$(grep -c '"threads":1,"threads_auto":false,' "$tmp/bench.out")" -eq 12 ]
XDG_CACHE_HOME="$tmp/cache" "$NATTER" bench --quick --json --threads 1 --depth 100 --kv-type q8_0 >"$tmp/bench2.out" 2>"$tmp/bench2.err"; rc=$?
check "bench --depth 100 --kv-type q8_0 exits 0 ($rc): $(tail -n 2 "$tmp/bench2.err")" [ "$rc" -eq 0 ]
check "bench --depth: every run says its cache type and depth" \
    [ "$(grep -c '"kv_type":"q8_0","depth":100,' "$tmp/bench2.out")" -eq 12 ]
check "bench --depth: each generation also gives its speed from an empty cache and the ratio" \
    [ "$(grep -c '"test":"tg64".*"empty_cache_tokens_per_s":[0-9.]*,"speed_vs_empty_cache":[0-9.]*}' "$tmp/bench2.out")" -eq 6 ]
check "bench without --depth: no empty-cache comparison" \
    sh -c "! grep -q empty_cache '$tmp/bench.out'"
XDG_CACHE_HOME="$tmp/cache" "$NATTER" bench --quick --json -m "$tmp/cache/natter/bench/quick-shape.v1.q4_k.gguf" >"$tmp/bench3.out" 2>"$tmp/bench3.err"; rc=$?
check "bench without --threads exits 0 ($rc): $(tail -n 2 "$tmp/bench3.err")" [ "$rc" -eq 0 ]
check "bench without --threads: the chat's default (natter's choice)" \
    [ "$(grep -c '"threads_auto":true,' "$tmp/bench3.out")" -eq 2 ]
# --type: formats natter cannot quantize to are written as random blocks and run
XDG_CACHE_HOME="$tmp/cache" "$NATTER" bench --quick --json --threads 1 --type iq4_xs,Q2_K >"$tmp/bench4.out" 2>"$tmp/bench4.err"; rc=$?
check "bench --type iq4_xs,Q2_K exits 0 ($rc): $(tail -n 2 "$tmp/bench4.err")" [ "$rc" -eq 0 ]
check "bench --type: two types, dense and MoE" [ "$(grep -c '"test":"pp128"' "$tmp/bench4.out")" -eq 4 ]
"$NATTER" info "$tmp/cache/natter/bench/quick-shape.v1.iq4_xs.gguf" >"$tmp/info4.out" 2>&1
check "bench --type iq4_xs: the file's matrices are IQ4_XS" grep -qE '^  IQ4_XS +[0-9]+ tensors' "$tmp/info4.out"
types="(F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_NL, IQ4_XS, MXFP4)"
expect_error "natter bench: --type: 'q9_9' is not a type the bench can write $types" bench --type q8_0,q9_9
expect_error "natter bench: --type: '' is not a type the bench can write $types" bench --type q8_0,
expect_error "natter bench: --type: 'IQ2_XXS' is not a type the bench can write $types" bench --type IQ2_XXS

finish
