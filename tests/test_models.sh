#!/bin/sh
# Tests for finding the models a person already has (app/cmd/model_find.c, cmd_models.c):
# fake caches of every kind under a fake HOME (NATTER_MODELS, llama.cpp's cache, a Hugging
# Face snapshot with symlinks into blobs/, Ollama's manifests and blobs, LM Studio's
# folders), holding copies of natter's own model and tiny GGUF files written here; then
# `natter models` (table and --json), `-m NAME` resolution, ambiguity and missing names.
# Needs only the repository (models/natter-guide.gguf), no fixtures.
. "$(dirname "$0")/lib.sh"
GUIDE="$(pwd)/models/natter-guide.gguf"

# A GGUF v3 file with no tensors and one key, general.architecture = $2 (up to 127 bytes,
# which may hold control characters): a model of an architecture natter does not run.
# Integers are little-endian; printf's octal escapes write the bytes.
tiny_gguf() {
    n=$(printf '%s' "$2" | wc -c)
    { printf 'GGUF\003\000\000\000'
      printf '\000\000\000\000\000\000\000\000'          # tensors: 0
      printf '\001\000\000\000\000\000\000\000'          # keys: 1
      printf '\024\000\000\000\000\000\000\000general.architecture'
      printf '\010\000\000\000'                          # type: string
      printf "\\$(printf '%03o' "$n")\\000\\000\\000\\000\\000\\000\\000"
      printf '%s' "$2"; } >"$1"
}

# ---- the fake places ----------------------------------------------------------------------
H="$tmp/home"
mkdir -p "$H/nm1" "$H/nm2" "$H/llcache"
cp "$GUIDE" "$H/nm1/guide-a.gguf"
cp "$GUIDE" "$H/nm2/same.gguf"
tiny_gguf "$H/nm2/$(printf 'evil\033[31m').gguf" "mamba"
tiny_gguf "$H/nm2/ctrl.gguf" "$(printf 'x\033]0;pwned\007y')"
cp "$GUIDE" "$H/llcache/same.gguf"
cp "$GUIDE" "$H/llcache/Org_Tiny-GGUF_tiny-q8.gguf"

hf="$H/.cache/huggingface/hub/models--Org--Tiny-GGUF"
mkdir -p "$hf/blobs" "$hf/snapshots/abc123"
cp "$GUIDE" "$hf/blobs/0123456789abcdef"
ln -s ../../blobs/0123456789abcdef "$hf/snapshots/abc123/tiny-q8.gguf"

ol="$H/.ollama/models"
digest=5f8c5cbc7b0a2c1c2b5c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a
mkdir -p "$ol/blobs" "$ol/manifests/registry.ollama.ai/library/qwen3" \
         "$ol/manifests/registry.ollama.ai/someone/mini" "$ol/manifests/registry.ollama.ai/library/broken"
cp "$GUIDE" "$ol/blobs/sha256-$digest"
cat >"$ol/manifests/registry.ollama.ai/library/qwen3/0.6b" <<EOF
{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json",
 "config":{"mediaType":"application/vnd.docker.container.image.v1+json","digest":"sha256:00","size":1},
 "layers":[{"mediaType":"application/vnd.ollama.image.template","digest":"sha256:11","size":2},
           {"mediaType":"application/vnd.ollama.image.model","digest":"sha256:$digest","size":8}]}
EOF
cp "$ol/manifests/registry.ollama.ai/library/qwen3/0.6b" "$ol/manifests/registry.ollama.ai/someone/mini/latest"
printf '{"layers": [' >"$ol/manifests/registry.ollama.ai/library/broken/latest"

mkdir -p "$H/.lmstudio/models/pub/repo-GGUF" "$H/.lmstudio/models/pub/linked"
ln -s "$hf/blobs/0123456789abcdef" "$H/.lmstudio/models/pub/linked/hf.gguf"
cp "$GUIDE" "$H/.lmstudio/models/pub/repo-GGUF/lm.gguf"

# Only the fake places: every variable that points elsewhere is cleared or set.
run() {
    env -u HF_HUB_CACHE -u HF_HOME -u XDG_CACHE_HOME -u OLLAMA_MODELS HOME="$H" \
        NATTER_MODELS="$H/nm1:$H/nm2" LLAMA_CACHE="$H/llcache" "$NATTER" "$@"
}

# ---- natter models -------------------------------------------------------------------------
run models >"$tmp/list.out" 2>"$tmp/list.err"; rc=$?
check "models exits 0 ($rc): $(cat "$tmp/list.err")" [ "$rc" -eq 0 ]
check "models has a header" grep -Eq '^NAME +ARCH +PARAMS +TYPE +SIZE +CTX +WHERE +RUNS$' "$tmp/list.out"
check "NATTER_MODELS entry" grep -Eq '^guide-a\.gguf +llama +4\.2M +F16 +8\.10 MiB +256 +NATTER_MODELS +yes$' "$tmp/list.out"
check "llama.cpp entry" grep -Eq '^Org_Tiny-GGUF_tiny-q8\.gguf +llama .* llama\.cpp +yes$' "$tmp/list.out"
check "Hugging Face entry (through the symlink)" grep -Eq '^Org/Tiny-GGUF/tiny-q8\.gguf +llama +4\.2M .* huggingface +yes$' "$tmp/list.out"
check "Ollama entry" grep -Eq '^qwen3:0\.6b +llama +4\.2M +F16 +8\.10 MiB +256 +ollama +yes$' "$tmp/list.out"
check "Ollama entry of a namespace" grep -Eq '^someone/mini:latest ' "$tmp/list.out"
check "LM Studio entry" grep -Eq '^pub/repo-GGUF/lm\.gguf +llama .* lmstudio +yes$' "$tmp/list.out"
check "unsupported architecture: the loader's reason" \
    grep -Eq "^evil␛\[31m\.gguf +mamba +\? +\? .* NATTER_MODELS +no: architecture 'mamba' is not supported \(natter runs [a-z0-9, ]+\)$" "$tmp/list.out"
check "control characters in a file are shown, never sent" grep -q 'x␛]0;pwned␇y' "$tmp/list.out"
check "no escape byte reaches the output" sh -c "! grep -q \"\$(printf '\\033')\" '$tmp/list.out' '$tmp/list.err'"
check "two Ollama tags of one blob are both listed" [ "$(grep -c ' ollama ' "$tmp/list.out")" -eq 2 ]
check "a file reached from two places is listed once" sh -c "! grep -q 'pub/linked' '$tmp/list.out'"
check "a broken manifest is a warning naming it" grep -q "warning: .*library/broken/latest: " "$tmp/list.err"
check "the search order: NATTER_MODELS first, LM Studio last" \
    sh -c "grep -n . '$tmp/list.out' | sed -n '2p;\$p' | tr '\n' ' ' | grep -Eq '^2:guide-a.gguf .*lmstudio'"

run models --json >"$tmp/list.json" 2>/dev/null; rc=$?
check "models --json exits 0" [ "$rc" -eq 0 ]
check "json: name and where" grep -q '"name": "qwen3:0.6b"' "$tmp/list.json"
check "json: the path is the blob" grep -q "\"path\": \"$ol/blobs/sha256-$digest\"" "$tmp/list.json"
check "json: numbers" grep -q '"context_length": 256' "$tmp/list.json"
check "json: a refused model's reason" grep -q "\"reason\": \"architecture 'mamba' is not supported" "$tmp/list.json"
check "json: control characters escaped" grep -qi 'x\\u001b]0;pwned\\u0007y' "$tmp/list.json"
check "json: runs" grep -q '"runs": false' "$tmp/list.json"

run models --bogus >/dev/null 2>"$tmp/bogus.err"; rc=$?
check "models: unknown option exits 2 ($rc)" [ "$rc" -eq 2 ]

# Nothing anywhere: says where it looked.
env -u HF_HUB_CACHE -u HF_HOME -u XDG_CACHE_HOME -u OLLAMA_MODELS -u NATTER_MODELS -u LLAMA_CACHE \
    HOME="$tmp/empty" "$NATTER" models >"$tmp/none.out" 2>&1
check "no models: says so" grep -q "no models found" "$tmp/none.out"

# ---- -m NAME -------------------------------------------------------------------------------
ask() { run -m "$1" --temp 0 -n 3 -p "hi" >"$tmp/ask.out" 2>"$tmp/ask.err"; }
for name in qwen3:0.6b someone/mini someone/mini:latest Org/Tiny-GGUF Org/Tiny-GGUF/tiny-q8.gguf \
            tiny-q8 guide-a guide-a.gguf pub/repo-GGUF lm.gguf; do
    ask "$name"; rc=$?
    check "-m $name answers ($rc): $(cat "$tmp/ask.err")" [ "$rc" -eq 0 ] && [ -s "$tmp/ask.out" ]
done

ask same.gguf; rc=$?
check "-m ambiguous: exit 2 ($rc)" [ "$rc" -eq 2 ]
check "-m ambiguous: says so" grep -q "natter: -m: the model name 'same.gguf' is ambiguous; it could be:" "$tmp/ask.err"
check "-m ambiguous: lists NATTER_MODELS' one" grep -q "same.gguf (NATTER_MODELS: $H/nm2/same.gguf)" "$tmp/ask.err"
check "-m ambiguous: lists llama.cpp's one" grep -q "same.gguf (llama.cpp: $H/llcache/same.gguf)" "$tmp/ask.err"

ask nosuchmodel; rc=$?
check "-m missing name: exit 2 ($rc)" [ "$rc" -eq 2 ]
check "-m missing name: message" grep -q "natter: -m: no model file or model name 'nosuchmodel' (natter models lists the models found)" "$tmp/ask.err"

ask "$tmp/none.gguf"; rc=$?
check "-m missing file: exit 2 ($rc)" [ "$rc" -eq 2 ]
check "-m missing file: errno" grep -q "$tmp/none.gguf: No such file or directory" "$tmp/ask.err"

ask "$(printf 'evil\033[31m')"; rc=$?
check "-m an unsupported model: the loader's error" grep -q "architecture 'mamba' is not supported" "$tmp/ask.err"

# ---- a name in every subcommand that takes a model (model_find_arg) ------------------------
run info qwen3:0.6b >"$tmp/info.out" 2>&1; rc=$?
check "info NAME ($rc): $(head -3 "$tmp/info.out")" sh -c "[ $rc -eq 0 ] && grep -q '^file: *$ol/blobs/sha256-$digest\$' '$tmp/info.out'"
printf 'hello world' | run tokenize guide-a --ids >"$tmp/tok.out" 2>&1; rc=$?
check "tokenize NAME ($rc): $(cat "$tmp/tok.out")" sh -c "[ $rc -eq 0 ] && grep -Eq '^[0-9]+( [0-9]+)*\$' '$tmp/tok.out'"
run perplexity -m Org/Tiny-GGUF -f tests/tiny/text.txt -c 64 >"$tmp/ppl.out" 2>&1; rc=$?
check "perplexity -m NAME ($rc): $(tail -1 "$tmp/ppl.out")" sh -c "[ $rc -eq 0 ] && grep -q 'Final estimate: PPL = ' '$tmp/ppl.out'"
run bench -m guide-a --quick --threads 1 >"$tmp/bench.out" 2>&1; rc=$?
check "bench -m NAME ($rc): $(tail -1 "$tmp/bench.out")" sh -c "[ $rc -eq 0 ] && grep -q '^guide-a.gguf (F16' '$tmp/bench.out'"
run --check prompts/guide.yaml --model pub/repo-GGUF >"$tmp/chk.out" 2>&1; rc=$?
check "--check --model NAME ($rc): $(cat "$tmp/chk.out")" sh -c "[ $rc -eq 0 ] && grep -q 'ok' '$tmp/chk.out'"
run -m someone/mini --temp 0 --seed 1 -n 4 -p hi --save "$tmp/s.session" >/dev/null 2>"$tmp/save.err"
run replay --check -m qwen3:0.6b "$tmp/s.session" >"$tmp/rep.out" 2>&1; rc=$?
check "replay --check -m NAME ($rc): $(tail -2 "$tmp/rep.out")" [ "$rc" -eq 0 ]
printf 'examples:\n  - user: What is natter?\n    key: chat\n    assistant: A chat program.\n' >"$tmp/qa.yaml"
run train --eval guide-a --data "$tmp/qa.yaml" --min-train 0 --min-heldout 0 >"$tmp/ev.out" 2>&1; rc=$?
check "train --eval NAME ($rc): $(tail -2 "$tmp/ev.out")" sh -c "[ $rc -eq 0 ] && grep -q 'trained questions:' '$tmp/ev.out'"
# The same message, naming the command and its option, wherever the name is unknown.
for cmd in "info nosuchmodel" "tokenize nosuchmodel" "perplexity -m nosuchmodel -f tests/tiny/text.txt" \
           "bench -m nosuchmodel --quick" "replay -m nosuchmodel $tmp/s.session" \
           "serve -m nosuchmodel --port 1" "train --eval nosuchmodel --data $tmp/qa.yaml" \
           "train --init nosuchmodel --data $tmp/qa.yaml -o $tmp/o.gguf" \
           "--check prompts/guide.yaml --model nosuchmodel"; do
    run $cmd >"$tmp/cmd.out" 2>"$tmp/cmd.err"; rc=$?
    check "$cmd: exit 2 ($rc)" [ "$rc" -eq 2 ]
    check "$cmd: the message ($(cat "$tmp/cmd.err"))" \
        grep -Eq "^natter[ a-z-]*: (-m: |--model: |--eval: |--init: )?no model file or model name 'nosuchmodel' \(natter models lists the models found\)$" "$tmp/cmd.err"
done
run info same.gguf >/dev/null 2>"$tmp/amb.err"; rc=$?
check "info ambiguous NAME: exit 2 and the candidates ($rc)" \
    sh -c "[ $rc -eq 2 ] && grep -q \"^natter info: the model name 'same.gguf' is ambiguous\" '$tmp/amb.err'"

finish
