// ref.mjs — reference figures for a tiny model (tests/tiny/tiny.h) from an independent
// implementation: node-llama-cpp 3.22.1 (a recent llama.cpp), not natter. Not run by
// `make test`; its output is committed in tests/tiny/refs.tsv and test_arch checks natter
// against it.
//
//   npm install node-llama-cpp@3.22.1          (in a folder outside the repository)
//   build/tests/mktiny qwen3 /tmp/qwen3.gguf
//   NODE_PATH=/that/folder/node_modules node tests/tiny/ref.mjs qwen3 /tmp/qwen3.gguf \
//       tests/tiny/text.txt "PROMPT" [f32|f16]
//
// Prints one refs.tsv line: name, the file's FNV-1a 64 hash (as mktiny prints it), KV cache
// type, perplexity, tokens scored, tokens in the text, the prompt, its ids, 32 greedy ids. The perplexity is llama-perplexity's (and `natter perplexity`'s): the text
// tokenized without BOS, cut into chunks of TINY_CTX tokens (the first replaced by BOS when
// the vocabulary asks for one), each chunk evaluated from an empty cache, the second half's
// predictions scored (positions ctx/2 .. ctx-2 predict the next token). Log-probabilities
// come from the raw logits (log-sum-exp in double), greedy ids from their argmax: no
// sampler, no penalties. The KV cache type is a parameter: llama.cpp's default is F16,
// natter keeps F32.
import { createRequire } from "node:module";
import fs from "node:fs";

const require = createRequire(import.meta.url);
const { getLlama } = await import(require.resolve("node-llama-cpp", { paths: (process.env.NODE_PATH || "").split(":") }));

const TINY_CTX = 128, N_GREEDY = 32;
const [name, modelPath, textPath, prompt, kvArg] = process.argv.slice(2);
if (!name || !modelPath || !textPath || prompt === undefined) {
    console.error("usage: ref.mjs NAME MODEL.gguf TEXT PROMPT [f32|f16]");
    process.exit(2);
}
const kv = (kvArg || "f32").toUpperCase();

const llama = await getLlama({ gpu: false, build: "never", logLevel: "error" });
const model = await llama.loadModel({ modelPath, gpuLayers: 0 });
const ctx = await model.createContext({
    contextSize: 256, batchSize: 256, sequences: 1, threads: 2, flashAttention: false,
    experimentalKvCacheKeyType: kv, experimentalKvCacheValueType: kv,
});
const seq = ctx.getSequence();

// log p(tok) from a Map of every token's logit.
function logProb(logits, tok) {
    let max = -Infinity;
    for (const v of logits.values()) if (v > max) max = v;
    let sum = 0;
    for (const v of logits.values()) sum += Math.exp(v - max);
    return logits.get(tok) - max - Math.log(sum);
}
function argmax(logits) {
    let best = -1, bv = -Infinity;
    for (const [t, v] of logits) if (v > bv || (v === bv && t < best)) { bv = v; best = t; }
    return best;
}

function fnv1a64(path) {
    const buf = fs.readFileSync(path);
    let h = 0xcbf29ce484222325n;
    for (const b of buf) h = BigInt.asUintN(64, (h ^ BigInt(b)) * 0x100000001b3n);
    return h.toString(16).padStart(16, "0");
}

const bos = model.tokens.bos;
const addBos = model.fileInfo.metadata.tokenizer?.ggml?.add_bos_token === true && bos != null;
const text = fs.readFileSync(textPath, "utf8");
const toks = model.tokenize(text, false);
const nChunk = Math.floor(toks.length / TINY_CTX), first = TINY_CTX / 2;
let nll = 0, count = 0;
for (let c = 0; c < nChunk; c++) {
    const chunk = toks.slice(c * TINY_CTX, (c + 1) * TINY_CTX);
    const src = chunk.slice();
    if (addBos) chunk[0] = bos;
    await seq.clearHistory();
    const input = chunk.map((t, j) => (j >= first && j < TINY_CTX - 1) ? [t, { generateNext: { logits: true } }] : t);
    const out = await seq.controlledEvaluate(input);
    for (let j = first; j < TINY_CTX - 1; j++) {
        nll -= logProb(out[j].next.logits, src[j + 1]);
        count++;
    }
}
const ppl = Math.exp(nll / count);

await seq.clearHistory();
const promptIds = (addBos ? [bos] : []).concat(model.tokenize(prompt, false));
let out = await seq.controlledEvaluate(promptIds.map((t, j) => j === promptIds.length - 1 ? [t, { generateNext: { logits: true } }] : t));
let logits = out[promptIds.length - 1].next.logits;
const greedy = [];
for (let i = 0; i < N_GREEDY; i++) {
    const id = argmax(logits);
    greedy.push(id);
    if (i + 1 < N_GREEDY) {
        out = await seq.controlledEvaluate([[id, { generateNext: { logits: true } }]]);
        logits = out[0].next.logits;
    }
}
console.log([name, fnv1a64(modelPath), kv, ppl.toFixed(6), count, toks.length, prompt, promptIds.join(" "),
             greedy.join(" ")].join("\t"));
await llama.dispose();
