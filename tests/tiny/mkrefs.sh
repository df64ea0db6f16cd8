#!/bin/sh
# Regenerates tests/tiny/refs.tsv: writes every tiny model with build/tests/mktiny and
# measures it with tests/tiny/ref.mjs (node-llama-cpp 3.22.1, an independent llama.cpp).
# Never run by `make test` (it needs node and the npm package); run it by hand after
# changing the generator, and commit the new refs.tsv with the change.
#   NODE_PATH=/path/to/node_modules sh tests/tiny/mkrefs.sh [KV_TYPE (f32|f16)] [NAME...]
set -e
KV=${1:-f32}
[ $# -gt 0 ] && shift
BUILD=${BUILD:-build}
PROMPT="The KV cache stores"
make -s "$BUILD/tests/mktiny"
names=${*:-$("$BUILD/tests/mktiny" --list)}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
{
    printf '# name\thash\tkv\tppl\tscored\ttext_tokens\tprompt\tprompt_ids\tgreedy_ids\n'
    for n in $names; do
        "$BUILD/tests/mktiny" "$n" "$tmp/$n.gguf" >/dev/null
        node tests/tiny/ref.mjs "$n" "$tmp/$n.gguf" tests/tiny/text.txt "$PROMPT" "$KV"
    done
}
