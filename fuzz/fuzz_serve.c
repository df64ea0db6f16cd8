/* fuzz_serve.c — `natter serve`'s request bodies: the OpenAI-style JSON read into a serve_req
 * (app/serve/request.c), then, for a chat, its messages through every chat template. The
 * first byte chooses the endpoint (even: chat completions, odd: completions). */
#include "fuzz.h"
#include "natter.h"
#include "serve/request.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    enum serve_kind kind = data[0] & 1 ? SERVE_COMPLETION : SERVE_CHAT;
    param_values defaults = {.sp = nt_sampler_default_params()};
    serve_req r;
    nt_err e = {0};
    if (serve_req_parse(kind, (const char *)data + 1, size - 1, &defaults, &r, &e) != NT_OK) {
        /* A refusal always says why. */
        if (!e.msg[0]) __builtin_trap();
        return 0;
    }
    if (r.kind == SERVE_CHAT && r.n_msgs <= 64) {
        nt_chat_msg msgs[64];
        for (size_t i = 0; i < r.n_msgs; i++) msgs[i] = (nt_chat_msg){r.msgs[i].role, r.msgs[i].content};
        for (int f = 0; f < NT_CHAT_FAMILY_COUNT_; f++) {
            nt_chat_prompt p = {0};
            nt_err fe = {0};
            nt_chat_format((enum nt_chat_family)f, msgs, r.n_msgs, true, &p, &fe);
            nt_chat_prompt_free(&p);
        }
    }
    if (r.top_logprobs < 0 || r.top_logprobs > SERVE_MAX_TOP || r.n_stop > SERVE_MAX_STOP) __builtin_trap();
    serve_req_free(&r);
    return 0;
}
