#!/usr/bin/env python3
"""mkseeds.py — writes the seed corpora of natter's fuzz targets into fuzz/corpus/NAME/.

Seeds are small valid inputs the fuzzer mutates from: GGUF files written here from the format's
definition (../shared/NOTES.md), texts, chat conversations, YAML files (the shipped personas and
themes, a session) and character cards. Run from the repository root: python3 fuzz/mkseeds.py
"""
import os
import struct

ROOT = "fuzz/corpus"


def put(name, fname, data):
    d = os.path.join(ROOT, name)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, fname), "wb") as f:
        f.write(data.encode() if isinstance(data, str) else data)


# ---- GGUF v3: header, key/values, tensor infos, aligned data --------------------------
def gstr(s):
    b = s.encode()
    return struct.pack("<Q", len(b)) + b


def kv(key, vtype, payload):
    return gstr(key) + struct.pack("<I", vtype) + payload


def kv_str(key, s):
    return kv(key, 8, gstr(s))


def kv_u32(key, v):
    return kv(key, 4, struct.pack("<I", v))


def kv_f32(key, v):
    return kv(key, 6, struct.pack("<f", v))


def kv_arr_str(key, items):
    return kv(key, 9, struct.pack("<IQ", 8, len(items)) + b"".join(gstr(s) for s in items))


def kv_arr_i32(key, items):
    return kv(key, 9, struct.pack("<IQ", 5, len(items)) + b"".join(struct.pack("<i", v) for v in items))


def gguf(kvs, tensors=()):
    """tensors: (name, type, dims, data bytes)"""
    out = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(kvs)) + b"".join(kvs)
    off, infos, blobs = 0, b"", b""
    for name, ttype, dims, data in tensors:
        infos += gstr(name) + struct.pack("<I", len(dims)) + b"".join(struct.pack("<q", d) for d in dims)
        infos += struct.pack("<IQ", ttype, off)
        pad = (-len(data)) % 32
        blobs += data + b"\0" * pad
        off += len(data) + pad
    out += infos
    out += b"\0" * ((-len(out)) % 32)
    return out + blobs


BYTES = [chr(c) if 33 <= c <= 126 else chr(256 + c) for c in range(256)]
bpe_vocab = [
    kv_str("general.architecture", "llama"),
    kv_str("tokenizer.ggml.model", "gpt2"),
    kv_str("tokenizer.ggml.pre", "llama-bpe"),
    kv_arr_str("tokenizer.ggml.tokens", ["a", "b", "ab", "<|im_start|>", "<|im_end|>", "Hello"]),
    kv_arr_i32("tokenizer.ggml.token_type", [1, 1, 1, 3, 3, 1]),
    kv_arr_str("tokenizer.ggml.merges", ["a b"]),
    kv_u32("tokenizer.ggml.eos_token_id", 4),
    kv_str("tokenizer.chat_template", "{{ '<|im_start|>' + message['role'] }}"),
]
put("gguf", "bpe-vocab.gguf", gguf(bpe_vocab))
spm_vocab = [
    kv_str("general.architecture", "llama"),
    kv_str("tokenizer.ggml.model", "llama"),
    kv_arr_str("tokenizer.ggml.tokens", ["<unk>", "<s>", "</s>"] + ["<0x%02X>" % b for b in range(256)] + ["\u2581a", "b"]),
    kv(
        "tokenizer.ggml.scores", 9,
        struct.pack("<IQ", 6, 261) + b"".join(struct.pack("<f", -float(i)) for i in range(261)),
    ),
    kv_arr_i32("tokenizer.ggml.token_type", [2, 3, 3] + [6] * 256 + [1, 1]),
    kv_u32("tokenizer.ggml.bos_token_id", 1),
    kv_u32("tokenizer.ggml.eos_token_id", 2),
]
put("gguf", "spm-vocab.gguf", gguf(spm_vocab))
put("gguf", "tensors.gguf", gguf(
    [kv_str("general.architecture", "llama"), kv_u32("llama.block_count", 1), kv_f32("x.f", 0.5)],
    [("t.f32", 0, [4, 2], struct.pack("<8f", *range(8))), ("t.f16", 1, [4], b"\0\x3c" * 4),
     ("t.q8_0", 8, [32], struct.pack("<e", 1.0) + bytes(range(32)))],
))

# ---- texts for the tokenizer (first byte: flags) ----------------------------------------
texts = [
    "Hello world, it's 12345 NASA's CamelCase\n\n  x",
    "日本語のテキスト、カタカナ。 한국어 \u00e9\u0301 \U0001F44D",
    "<|im_start|>user\nHi<|im_end|>\n",
    "a\xa0b\u3000c\r\n\t~$+|`",
]
for i, t in enumerate(texts):
    put("tokenizer", "text%d" % i, bytes([i]) + t.encode())
put("tokenizer", "badutf8", b"\x00abc\xff\xc3\x28\xe2\x82")

# ---- chat: template NUL messages (first byte of each: role) -----------------------------
tmpls = ["<|im_start|>", "<|start_header_id|><|end_header_id|>", "<start_of_turn>", "[INST] <<SYS>>",
         "[SYSTEM_PROMPT] [INST]", "<|im_start|><|im_sep|>", "<|start_of_role|>", "enable_thinking <|im_start|>"]
for i, t in enumerate(tmpls):
    msgs = ["\x00Be brief.", "\x01Hello <|im_end|>", "\x02<think>x</think>\n\nHi there", "\x01Who are you"]
    put("chat", "conv%d" % i, "\0".join([t] + msgs))

# ---- YAML: the shipped personas and themes, and a session --------------------------------
for d in ("prompts", "themes"):
    for f in sorted(os.listdir(d)):
        if f.endswith(".yaml"):
            with open(os.path.join(d, f), "rb") as fh:
                put("yaml", d + "-" + f, fh.read())
put("yaml", "session.yaml", """natter-session: 1
created: 2026-01-01T00:00:00Z
updated: 2026-01-01T00:00:00Z
model:
  file: m.gguf
  size: 10
  hash: fnv1a64:0000000000000001
template: plain
context: 256
message_count: 2
messages:
  - role: user
    text: "hi"
  - role: assistant
    text: " hello"
    seed: 5
    params: {temp: 0.8, top-k: 40, top-p: 0.95, min-p: 0.05, repeat-penalty: 1, repeat-last-n: 64, presence-penalty: 0, frequency-penalty: 0}
    end: eog
    tokens: [1, 2]
complete: true
""")

# ---- JSON: character cards ----------------------------------------------------------------
put("json", "card-v2.json", '{"spec": "chara_card_v2", "spec_version": "2.0", "data": {"name": "Ada", '
    '"description": "A patient teacher.", "personality": "calm", "scenario": "a classroom", '
    '"first_mes": "Hello {{user}}!", "mes_example": "<START>\\n{{user}}: Hi\\n{{char}}: Hello.", '
    '"alternate_greetings": ["Hi!"], "system_prompt": "", "tags": ["x"]}}')
put("json", "card-v1.json", '{"name": "Bob", "description": "d", "first_mes": "hey \\u00e9", "mes_example": ""}')
put("json", "values.json", '[1, -2.5e3, true, false, null, "a\\"b\\\\c", {"k": [[]]}]')

# ---- natter serve: request bodies (first byte: 'c' (even) chat completions, 'p' (odd) completions)
put("serve", "chat.json", 'c{"model": "natter-guide", "messages": [{"role": "system", "content": "Be brief."}, '
    '{"role": "user", "content": "Hi \\u00e9"}, {"role": "assistant", "content": null}, '
    '{"role": "user", "content": [{"type": "text", "text": "and"}, {"type": "text", "text": " more"}]}], '
    '"temperature": 0.7, "top_p": 0.9, "top_k": 40, "min_p": 0.05, "repeat_penalty": 1.1, "seed": 42, '
    '"max_tokens": 16, "stop": ["\\n\\n", "END"], "stream": true, "stream_options": {"include_usage": true}, '
    '"logprobs": true, "top_logprobs": 3, "n": 1}')
put("serve", "completion.json", 'p{"prompt": ["Once upon a time"], "max_tokens": 8, "logprobs": 2, '
    '"stop": "\\n", "presence_penalty": 0.5, "frequency_penalty": -0.5, "seed": 4294967296}')
put("serve", "bad.json", 'c{"messages": [{"role": "tool", "content": 1}], "temperature": "hot"}')
# ---- Server-Sent Events: the first byte picks the chunk size ------------------------------
put("sse", "openai.txt", '\x03data: {"choices":[{"delta":{"content":"Hi"}}]}\n\ndata: [DONE]\n\n')
put("sse", "mixed.txt", b'\x05: ping\r\nevent: error\r\ndata: {"error":"x"}\r\n\r\n\xef\xbb\xbfdata\r\rdata: a\ndata: b\n\n')
# ---- documents for the chunker: the first byte picks the kind (low 2 bits: text, Markdown,
# man, code) and the passage budget (16 + 16 * (byte >> 2) bytes) -------------------------
for kind, fname in ((0, "notes.txt"), (1, "kettle.md"), (2, "frob.1"), (3, "sub/parse.c")):
    with open(os.path.join("tests/data/docs", fname), "rb") as f:
        put("docs", os.path.basename(fname), bytes([kind | (4 << 2)]) + f.read())
