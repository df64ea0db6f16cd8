/* request.c — reads an OpenAI-style request body into a serve_req (see request.h). Every
 * message names the field, the way OpenAI's own errors do, so a client's author sees at once
 * what to change. */
#include "request.h"

#include "util/json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void serve_req_free(serve_req *r)
{
    if (!r) return;
    free(r->model);
    for (size_t i = 0; i < r->n_msgs; i++) free(r->msgs[i].content);
    free(r->msgs);
    free(r->prompt);
    for (size_t i = 0; i < r->n_stop; i++) free(r->stop[i]);
    memset(r, 0, sizeof *r);
}

/* A string field: NULL when absent or null; NT_ERR_INVALID for another type. */
static int req_string(const json_t *o, const char *key, const char **out, nt_err *err)
{
    const json_t *v = json_object_get(o, key);
    *out = NULL;
    if (!v || json_is_null(v)) return NT_OK;
    if (!json_is_string(v))
        return nt_err_set(err, NT_ERR_INVALID, "'%s' must be a string, not %s", key, json_type_name(v));
    *out = json_string_value(v);
    return NT_OK;
}

static int req_bool(const json_t *o, const char *key, bool *out, nt_err *err)
{
    const json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v)) return NT_OK;
    if (!json_is_boolean(v))
        return nt_err_set(err, NT_ERR_INVALID, "'%s' must be true or false, not %s", key, json_type_name(v));
    *out = json_is_true(v);
    return NT_OK;
}

/* A whole number in [lo, hi], left as it is when absent or null. */
static int req_int(const json_t *o, const char *key, int lo, int hi, int *out, nt_err *err)
{
    const json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v)) return NT_OK;
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
        return nt_err_set(err, NT_ERR_INVALID, "'%s' must be a whole number from %d to %d", key, lo, hi);
    *out = (int)json_integer_value(v);
    return NT_OK;
}

/* A message's content: a string, or an array of text parts joined; "" for null. */
static int req_content(const json_t *c, size_t i, char **out, nt_err *err)
{
    *out = NULL;
    if (!c || json_is_null(c)) {
        *out = strdup("");
    } else if (json_is_string(c)) {
        *out = strdup(json_string_value(c));
    } else if (json_is_array(c)) {
        size_t total = 1;
        for (size_t k = 0; k < json_array_size(c); k++) {
            const json_t *p = json_array_get(c, k);
            const char *type = json_string_value(json_object_get(p, "type"));
            const char *text = json_string_value(json_object_get(p, "text"));
            if (!type || strcmp(type, "text") || !text)
                return nt_err_set(err, NT_ERR_INVALID,
                                  "'messages[%zu].content[%zu]': only text parts ({\"type\": \"text\", \"text\": ...}) are supported",
                                  i, k);
            total += strlen(text);
        }
        *out = malloc(total);
        if (*out) {
            **out = 0;
            for (size_t k = 0; k < json_array_size(c); k++)
                strcat(*out, json_string_value(json_object_get(json_array_get(c, k), "text")));
        }
    } else {
        return nt_err_set(err, NT_ERR_INVALID, "'messages[%zu].content' must be a string or an array of text parts, not %s",
                          i, json_type_name(c));
    }
    return *out ? NT_OK : nt_err_set(err, NT_ERR_NOMEM, "out of memory");
}

static int req_messages(const json_t *o, serve_req *r, nt_err *err)
{
    const json_t *m = json_object_get(o, "messages");
    if (!json_is_array(m) || json_array_size(m) == 0)
        return nt_err_set(err, NT_ERR_INVALID, "'messages' must be a non-empty array of {role, content}");
    size_t n = json_array_size(m);
    if (n > SERVE_MAX_MESSAGES)
        return nt_err_set(err, NT_ERR_INVALID, "'messages' holds %zu messages; at most %d are taken", n,
                          SERVE_MAX_MESSAGES);
    r->msgs = calloc(n, sizeof *r->msgs);
    if (!r->msgs) return nt_err_set(err, NT_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        const json_t *msg = json_array_get(m, i);
        if (!json_is_object(msg))
            return nt_err_set(err, NT_ERR_INVALID, "'messages[%zu]' must be an object, not %s", i,
                              json_type_name(msg));
        const char *role = json_string_value(json_object_get(msg, "role"));
        enum nt_chat_role rl;
        if (!role)
            return nt_err_set(err, NT_ERR_INVALID, "'messages[%zu].role' must be a string", i);
        if (!strcmp(role, "system") || !strcmp(role, "developer")) rl = NT_ROLE_SYSTEM;
        else if (!strcmp(role, "user")) rl = NT_ROLE_USER;
        else if (!strcmp(role, "assistant")) rl = NT_ROLE_ASSISTANT;
        else
            return nt_err_set(err, NT_ERR_INVALID,
                              "'messages[%zu].role': '%.40s' is not system, developer, user or assistant", i, role);
        if (rl == NT_ROLE_SYSTEM && i > 0)
            return nt_err_set(err, NT_ERR_INVALID, "'messages[%zu]': a system message may only come first", i);
        const json_t *content = json_object_get(msg, "content");
        if ((!content || json_is_null(content)) && rl != NT_ROLE_ASSISTANT)
            return nt_err_set(err, NT_ERR_INVALID, "'messages[%zu].content' is missing", i);
        int rc = req_content(content, i, &r->msgs[i].content, err);
        r->msgs[i].role = rl;
        r->n_msgs = i + 1;
        if (rc) return rc;
    }
    if (r->msgs[n - 1].role == NT_ROLE_ASSISTANT)
        return nt_err_set(err, NT_ERR_INVALID, "the last message is the assistant's: there is nothing to answer");
    return NT_OK;
}

static int req_prompt(const json_t *o, serve_req *r, nt_err *err)
{
    const json_t *p = json_object_get(o, "prompt");
    if (json_is_array(p) && json_array_size(p) == 1) p = json_array_get(p, 0);
    if (!json_is_string(p))
        return nt_err_set(err, NT_ERR_INVALID, "'prompt' must be a string (or an array of one string)");
    r->prompt_len = json_string_length(p);
    r->prompt = malloc(r->prompt_len + 1);
    if (!r->prompt) return nt_err_set(err, NT_ERR_NOMEM, "out of memory");
    memcpy(r->prompt, json_string_value(p), r->prompt_len + 1);
    return NT_OK;
}

static int req_stop_one(serve_req *r, const json_t *s, nt_err *err)
{
    if (!json_is_string(s))
        return nt_err_set(err, NT_ERR_INVALID, "'stop' must be a string or an array of strings");
    size_t n = json_string_length(s);
    if (n == 0 || n >= GEN_STOP_LEN || memchr(json_string_value(s), 0, n))
        return nt_err_set(err, NT_ERR_INVALID, "'stop': each stop string is 1 to %d bytes (no NUL)",
                          GEN_STOP_LEN - 1);
    if (r->n_stop >= SERVE_MAX_STOP)
        return nt_err_set(err, NT_ERR_INVALID, "'stop': at most %d stop strings", SERVE_MAX_STOP);
    r->stop[r->n_stop] = strdup(json_string_value(s));
    if (!r->stop[r->n_stop]) return nt_err_set(err, NT_ERR_NOMEM, "out of memory");
    r->n_stop++;
    return NT_OK;
}

static int req_stop(const json_t *o, serve_req *r, nt_err *err)
{
    const json_t *s = json_object_get(o, "stop");
    if (!s || json_is_null(s)) return NT_OK;
    if (!json_is_array(s)) return req_stop_one(r, s, err);
    for (size_t i = 0; i < json_array_size(s); i++) {
        int rc = req_stop_one(r, json_array_get(s, i), err);
        if (rc) return rc;
    }
    return NT_OK;
}

/* Every sampling parameter of the table under its persona spelling: a number, read by the
 * table's own rule (param_parse) so a value means here what it means on the command line. */
static int req_params(const json_t *o, serve_req *r, nt_err *err)
{
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)o, key, v) {
        bool other = false;
        const char *name = !strcmp(key, "max_completion_tokens") ? "max_tokens" : key;
        const param_def *d = param_lookup(name, PARAM_FORM_YAML, &other);
        if (!d || other || json_is_null(v)) continue;
        char text[64];
        if (json_is_integer(v))
            snprintf(text, sizeof text, "%lld", (long long)json_integer_value(v));
        else if (json_is_real(v))
            snprintf(text, sizeof text, "%.15g", json_real_value(v)); /* the decimal the client wrote */
        else
            return nt_err_set(err, NT_ERR_INVALID, "'%s' must be a number, not %s", key, json_type_name(v));
        nt_err pe = {0};
        if (param_parse(d, text, &r->params, &pe) != NT_OK)
            return nt_err_set(err, NT_ERR_INVALID, "'%s': %s", key, pe.msg);
        r->params_given |= 1u << d->id;
    }
    return NT_OK;
}

int serve_req_parse(enum serve_kind kind, const char *body, size_t n, const param_values *defaults,
                    serve_req *out, nt_err *err)
{
    memset(out, 0, sizeof *out);
    out->kind = kind;
    out->params = *defaults;
    json_t *j = NULL;
    json_error je;
    int rc = json_parse(body, n, &j, &je);
    if (rc != NT_OK) {
        rc = nt_err_set(err, rc == NT_ERR_NOMEM ? NT_ERR_NOMEM : NT_ERR_INVALID,
                        "the body is not valid JSON: %s", je.msg);
        goto fail;
    }
    if (!json_is_object(j)) {
        rc = nt_err_set(err, NT_ERR_INVALID, "the body must be a JSON object, not %s", json_type_name(j));
        goto fail;
    }
    const char *model;
    int n_choices = 1, top = 0;
    const json_t *so = json_object_get(j, "stream_options");
    if ((rc = req_string(j, "model", &model, err)) || (rc = req_bool(j, "stream", &out->stream, err)) ||
        (rc = req_bool(so, "include_usage", &out->include_usage, err)) ||
        (rc = req_int(j, "n", 1, 1, &n_choices, err)) || (rc = req_stop(j, out, err)) ||
        (rc = req_params(j, out, err)))
        goto fail;
    if (model && !(out->model = strdup(model))) {
        rc = nt_err_set(err, NT_ERR_NOMEM, "out of memory");
        goto fail;
    }
    if (kind == SERVE_CHAT) {
        if ((rc = req_messages(j, out, err)) || (rc = req_bool(j, "logprobs", &out->logprobs, err)) ||
            (rc = req_int(j, "top_logprobs", 0, SERVE_MAX_TOP, &top, err)))
            goto fail;
        if (top > 0 && !out->logprobs) {
            rc = nt_err_set(err, NT_ERR_INVALID, "'top_logprobs' needs 'logprobs': true");
            goto fail;
        }
    } else {
        const json_t *lp = json_object_get(j, "logprobs");
        top = -1;
        if ((rc = req_prompt(j, out, err)) || (rc = req_int(j, "logprobs", 0, SERVE_MAX_TOP, &top, err)))
            goto fail;
        out->logprobs = lp && !json_is_null(lp);
        if (top < 0) top = 0;
    }
    out->top_logprobs = top;
    json_decref(j);
    return NT_OK;
fail:
    json_decref(j);
    serve_req_free(out);
    return rc;
}
