/* cmd_serve.c — `natter serve -m MODEL [--host ADDR] [--port N] [--api-key-env NAME] ...`:
 * loads one model and serves it over the OpenAI protocol (app/serve/serve.h) until Ctrl-C or
 * SIGTERM. The first signal stops taking requests, answers the waiting ones 503 and lets the
 * running one finish; a second cancels it. Then the process exits 0. */
#include "natter.h"
#include "args.h"
#include "cmds.h"
#include "model_find.h"
#include "conv/params.h"
#include "serve/serve.h"
#include "util/text.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <poll.h>
#include <time.h>
#include <unistd.h>

#define SERVE_DEFAULT_MODEL "models/natter-guide.gguf"

static int serve_sig_pipe[2] = {-1, -1};

static void serve_on_signal(int sig)
{
    char c = (char)sig;
    ssize_t n = write(serve_sig_pipe[1], &c, 1); /* async-signal-safe; a full pipe is fine */
    (void)n;
}

static void serve_usage(FILE *f)
{
    fprintf(f,
            "usage: natter serve [-m MODEL] [--host ADDR] [--port N] [--api-key-env NAME]\n"
            "                    [--queue N] [--max-body BYTES] [--timeout SEC] [--ctx N]\n"
            "                    [--threads N] [--name ID] [--quiet] [--SAMPLING-PARAMETER X ...]\n"
            "An OpenAI-compatible HTTP server over the local engine: POST /v1/chat/completions,\n"
            "POST /v1/completions, GET /v1/models, GET /health.\n"
            "  -m, --model MODEL      the model (a file or a name `natter models` lists; default %s)\n"
            "      --host ADDR        the address to bind (default 127.0.0.1: this machine only)\n"
            "      --port N           the port (default 8080; 0: a free one, printed at start)\n"
            "      --api-key-env NAME read the API key from the environment variable NAME; requests\n"
            "                         then need 'Authorization: Bearer KEY' (401 otherwise)\n"
            "      --queue N          requests that may wait behind the running one (default 8; 503 beyond)\n"
            "      --max-body BYTES   the largest request body (default 1048576; 413 beyond)\n"
            "      --timeout SEC      close a connection idle this long (default 30)\n"
            "      --ctx N            the KV cache length (default: the model's, at most 4096)\n"
            "      --threads N        compute threads (default: every CPU)\n"
            "      --kv-type TYPE     the KV cache's type: f32, f16 or q8_0 (default f16)\n"
            "      --name ID          the model's name in /v1/models and requests (default: the file's)\n"
            "      --quiet            no request log on stderr\n"
            "Sampling options (--temp, --top-k, --seed, --max-tokens, ...: see natter --help) set the\n"
            "defaults a request's own fields override.\n",
            SERVE_DEFAULT_MODEL);
}

/* The model's name for clients: a name `-m` resolved stays as given; a file gives its base
 * name without .gguf. */
static void serve_model_id(const char *arg, char *out, size_t cap)
{
    struct stat st;
    if (stat(arg, &st) != 0) {
        snprintf(out, cap, "%s", arg);
        return;
    }
    const char *b = strrchr(arg, '/');
    b = b ? b + 1 : arg;
    size_t n = strlen(b);
    if (n > 5 && !strcmp(b + n - 5, ".gguf")) n -= 5;
    snprintf(out, cap, "%.*s", (int)n, b);
}

int cmd_serve(int argc, char **argv)
{
    enum { O_HOST = 1000, O_PORT, O_KEY, O_QUEUE, O_BODY, O_TIMEOUT, O_CTX, O_THREADS, O_NAME,
           O_QUIET, O_KV, O_PARAM };
    struct option opts[17 + PARAM_COUNT] = {
        {"model", required_argument, NULL, 'm'},
        {"host", required_argument, NULL, O_HOST},
        {"port", required_argument, NULL, O_PORT},
        {"api-key-env", required_argument, NULL, O_KEY},
        {"queue", required_argument, NULL, O_QUEUE},
        {"max-body", required_argument, NULL, O_BODY},
        {"timeout", required_argument, NULL, O_TIMEOUT},
        {"ctx", required_argument, NULL, O_CTX},
        {"threads", required_argument, NULL, O_THREADS},
        {"kv-type", required_argument, NULL, O_KV},
        {"name", required_argument, NULL, O_NAME},
        {"quiet", no_argument, NULL, O_QUIET},
        {"help", no_argument, NULL, 'h'},
    };
    size_t no = 13;
    for (int i = 0; i < PARAM_COUNT; i++) /* the sampling parameters, from their one table */
        opts[no++] = (struct option){param_defs[i].name, required_argument, NULL, O_PARAM + i};
    opts[no] = (struct option){0};

    const char *model_arg = SERVE_DEFAULT_MODEL, *key_env = NULL, *name = NULL;
    serve_opts so = {.host = "127.0.0.1", .port = 8080, .queue_max = 8, .max_body = 1 << 20, .timeout = 30};
    so.defaults.sp = nt_sampler_default_params();
    int32_t n_ctx = 0, n_threads = 0, kv_type = NT_KV_TYPE_DEFAULT, v;
    args a = args_start("natter serve", argc, argv, "m:h", opts);
    for (int c; (c = args_next(&a)) != -1;) {
        switch (c) {
        case 'm': model_arg = a.value; break;
        case O_HOST: so.host = a.value; break;
        case O_PORT:
            if (args_int(&a, 0, 65535, &v)) return 2;
            so.port = v;
            break;
        case O_KEY: key_env = a.value; break;
        case O_QUEUE:
            if (args_int(&a, 0, 4096, &v)) return 2;
            so.queue_max = v;
            break;
        case O_BODY:
            if (args_int(&a, 1024, 1 << 30, &v)) return 2;
            so.max_body = (size_t)v;
            break;
        case O_TIMEOUT:
            if (args_int(&a, 1, 86400, &v)) return 2;
            so.timeout = v;
            break;
        case O_CTX:
            if (args_int(&a, 16, 1 << 20, &n_ctx)) return 2;
            break;
        case O_THREADS:
            if (args_int(&a, 0, 512, &n_threads)) return 2;
            break;
        case O_KV:
            if (args_kv_type(&a, &kv_type)) return 2;
            break;
        case O_NAME: name = a.value; break;
        case O_QUIET: so.quiet = true; break;
        case 'h': serve_usage(stdout); return 0;
        default:
            if (c >= O_PARAM && c < O_PARAM + PARAM_COUNT) {
                nt_err pe = {0};
                if (param_parse(&param_defs[c - O_PARAM], a.value, &so.defaults, &pe) != NT_OK) {
                    args_report(&a, pe.msg);
                    return 2;
                }
                break;
            }
            return 2;
        }
    }
    if (args_operands(&a, 0)) return 2;
    if (key_env) {
        so.api_key = getenv(key_env);
        if (!so.api_key || !*so.api_key) {
            text_printf(stderr, "natter serve: --api-key-env %s: that environment variable is not set or empty\n", key_env);
            return 2;
        }
    }
    char id[256];
    char *path = model_find_arg("natter serve", "-m", model_arg);
    if (!path) return 2;
    serve_model_id(model_arg, id, sizeof id);
    so.model_id = name ? name : id;
    so.version = NATTER_VERSION;

    int status = 1;
    nt_model *m = NULL;
    serve *s = NULL;
    nt_err e = {0};
    if (!(m = cmd_load_model("natter serve", path, n_ctx, n_threads, kv_type))) goto out;
    /* Ctrl-C and SIGTERM become bytes in a pipe the loop below reads: a handler works in
     * whichever thread the signal lands (the BLAS library's threads, started before main, do
     * not block signals, so waiting for them with sigwait would not be enough). */
    if (pipe(serve_sig_pipe) != 0) {
        fprintf(stderr, "natter serve: cannot create a pipe: %s\n", strerror(errno));
        goto out;
    }
    struct sigaction sa = {.sa_handler = serve_on_signal, .sa_flags = SA_RESTART};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL); /* a shell starts background jobs with SIGINT ignored */
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (serve_start(&s, m, &so, &e) != NT_OK) {
        text_printf(stderr, "natter serve: %s\n", e.msg);
        goto out;
    }
    text_printf(stderr, "natter serve: %s on http://%s%s%s:%d/v1 (context %d, queue %d%s); Ctrl-C stops\n",
            so.model_id, strchr(so.host, ':') ? "[" : "", so.host, strchr(so.host, ':') ? "]" : "",
            serve_port(s), nt_model_get_info(m)->n_ctx, so.queue_max, so.api_key ? ", API key required" : "");
    char sig;
    while (read(serve_sig_pipe[0], &sig, 1) < 0 && errno == EINTR) {}
    fprintf(stderr, "natter serve: stopping: waiting requests get 503; the running one finishes (a second Ctrl-C cancels it)\n");
    serve_shutdown(s);
    bool cancelled = false;
    while (!serve_idle(s)) {
        struct pollfd pf = {.fd = serve_sig_pipe[0], .events = POLLIN};
        if (poll(&pf, 1, 100) > 0 && read(serve_sig_pipe[0], &sig, 1) == 1 && !cancelled) {
            fprintf(stderr, "natter serve: cancelling the running request\n");
            serve_cancel(s);
            cancelled = true;
        }
    }
    status = 0;
out:
    serve_free(s);
    nt_model_free(m);
    free(path);
    return status;
}
