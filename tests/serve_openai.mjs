// tests/serve_openai.mjs — the official `openai` npm client against `natter serve` (run by
// tests/test_serve_npm.sh with the client's folder in NODE_PATH-style import below). Prints
// one "ok NAME" or "FAIL NAME: why" line per check; the shell test counts them.
// Usage: node tests/serve_openai.mjs OPENAI_MODULE_PATH BASE_URL API_KEY
const [, , modPath, baseURL, apiKey] = process.argv;
const { default: OpenAI } = await import(modPath);
const client = new OpenAI({ baseURL, apiKey, maxRetries: 0, timeout: 60000 });
let failed = 0;
function check(name, cond, why) {
    if (cond) console.log(`ok   ${name}`);
    else { failed++; console.log(`FAIL ${name}: ${why}`); }
}
async function step(name, fn) {
    try { await fn(); } catch (e) { failed++; console.log(`FAIL ${name}: ${e.constructor.name}: ${e.message}`); }
}
const messages = [{ role: "system", content: "You are natter's guide." }, { role: "user", content: "What is natter?" }];
let whole = "";
await step("models.list", async () => {
    const ids = [];
    for await (const m of client.models.list()) ids.push(m.id);
    check("models.list: the one model", ids.length === 1 && ids[0] === "natter-guide", JSON.stringify(ids));
});
await step("chat.completions.create", async () => {
    const r = await client.chat.completions.create({ model: "natter-guide", messages, seed: 11, max_tokens: 20, temperature: 0.7 });
    whole = r.choices[0].message.content;
    check("chat: an assistant message", r.choices[0].message.role === "assistant" && whole.length > 0, JSON.stringify(r.choices[0]));
    check("chat: usage", r.usage.prompt_tokens > 0 && r.usage.total_tokens === r.usage.prompt_tokens + r.usage.completion_tokens, JSON.stringify(r.usage));
    check("chat: finish_reason", ["stop", "length"].includes(r.choices[0].finish_reason), r.choices[0].finish_reason);
});
await step("chat stream", async () => {
    const stream = await client.chat.completions.create({ model: "natter-guide", messages, seed: 11, max_tokens: 20, temperature: 0.7, stream: true, stream_options: { include_usage: true } });
    let text = "", finish = null, usage = null, n = 0;
    for await (const chunk of stream) {
        n++;
        if (chunk.usage) usage = chunk.usage;
        for (const c of chunk.choices) {
            text += c.delta?.content ?? "";
            if (c.finish_reason) finish = c.finish_reason;
        }
    }
    check("chat stream: the same text as the whole answer", text === whole, JSON.stringify([text, whole]));
    check("chat stream: a finish_reason and usage", finish !== null && usage && usage.completion_tokens > 0, JSON.stringify([finish, usage, n]));
});
await step("chat logprobs", async () => {
    const r = await client.chat.completions.create({ model: "natter-guide", messages, max_tokens: 5, temperature: 0, logprobs: true, top_logprobs: 2 });
    const c = r.choices[0].logprobs?.content ?? [];
    check("chat logprobs: a token list with 2 alternatives each", c.length > 0 && c.every(t => t.top_logprobs.length === 2 && t.logprob <= 0), JSON.stringify(c).slice(0, 300));
});
await step("completions.create", async () => {
    const r = await client.completions.create({ model: "natter-guide", prompt: "natter is", max_tokens: 8, seed: 3 });
    const s = await client.completions.create({ model: "natter-guide", prompt: "natter is", max_tokens: 8, seed: 3, stream: true });
    let text = "";
    for await (const chunk of s) text += chunk.choices[0]?.text ?? "";
    check("completions: text, streamed the same", r.choices[0].text.length > 0 && text === r.choices[0].text, JSON.stringify([r.choices[0].text, text]));
});
await step("errors", async () => {
    try {
        await client.chat.completions.create({ model: "gpt-9", messages });
        check("errors: an unknown model is refused", false, "no error");
    } catch (e) {
        check("errors: an unknown model is a NotFoundError with the server's message", e instanceof OpenAI.NotFoundError && /not served here/.test(e.message), `${e.constructor.name}: ${e.message}`);
    }
    const bad = new OpenAI({ baseURL, apiKey: "wrong", maxRetries: 0 });
    try {
        await bad.models.list();
        check("errors: a wrong key is refused", false, "no error");
    } catch (e) {
        check("errors: a wrong key is an AuthenticationError", e instanceof OpenAI.AuthenticationError, `${e.constructor.name}: ${e.message}`);
    }
});
console.log(`done ${failed}`);
