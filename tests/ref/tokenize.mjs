// tokenize.mjs — makes tokenizer conformance references with an independent tokenizer:
// llama.cpp as shipped by node-llama-cpp (npm install node-llama-cpp@3.22.1, outside this
// repository). Usage: node tokenize.mjs VOCAB.gguf TESTS.inp > EXPECTED.out
// TESTS.inp holds strings separated by "\n__ggml_vocab_test__\n" (llama.cpp's format); each output
// line is the ids of one string, space-led, tokenized without BOS/EOS and without parsing special
// tokens, as in llama.cpp's own .out files. The test that reads the output is tests/test_tokenizer.c.
import {readFileSync} from "node:fs";
import {getLlama} from "node-llama-cpp";

const [, , vocab, inp] = process.argv;
if (!vocab || !inp) {
    console.error("usage: node tokenize.mjs VOCAB.gguf TESTS.inp");
    process.exit(2);
}
const llama = await getLlama({gpu: false, build: "never", logLevel: "error"});
const model = await llama.loadModel({modelPath: vocab, vocabOnly: true});
const tests = readFileSync(inp, "utf8").split("\n__ggml_vocab_test__\n");
tests.pop(); // what follows the last separator is not a test
for (const t of tests) {
    const ids = model.tokenize(t, false);
    process.stdout.write(Array.from(ids, (id) => " " + id).join("") + "\n");
}
await model.dispose();
await llama.dispose();
