/* tui_ab.c — /ab: two answers to the last question, each written with its own parameter set
 * (a /set-style list, a named strategy, or a persona's sampling values), compared side by
 * side in the A/B view (view_ab.c).
 *
 * Both answers are alternatives of the question in the chat's tree (chat.h, branches), so
 * both are in the session and replayed. They are written one after the other from the same
 * cached prompt: the first reads the prompt, the second starts from the logits the worker
 * kept after it (worker.c), so the prompt is computed once and the only difference between
 * the two is the sampler. Both start with the same seed. */
#include "tui_int.h"

#include "term.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* One side: a named strategy ("greedy", "beam-4", ...), NAME=VALUE items
 * ("temp=0.2,top-k=5"), "sliders" (the panel's values) or a persona's sampling values (its
 * name or file), each over the sliders' values (the seed stays). NT_OK, or an error in err. */
static int tui_ab_side(tui *t, const char *spec, nt_sampler_params *out, nt_err *err)
{
    const nt_sampler_params *base = &t->u.params;
    const param_preset *pr;
    if (!strcasecmp(spec, "sliders")) {
        *out = *base;
        return NT_OK;
    }
    if (strchr(spec, '=')) {
        nt_err e = {0};
        if (param_apply_set(spec, base, out, &e) != NT_OK)
            return nt_err_set(err, NT_ERR_INVALID, "'%s': %s", spec, e.msg);
        return NT_OK;
    }
    if ((pr = param_preset_find(spec)) != NULL) return param_preset_apply(pr, base, out, err);
    ycfg_diag d = {0};
    persona *p = strcmp(spec, "default") ? persona_open(spec, &d) : persona_builtin();
    ycfg_diag_free(&d);
    if (!p)
        return nt_err_set(err, NT_ERR_INVALID, "'%s' is not NAME=VALUE, a strategy (greedy, "
                                               "beam-4, precise, balanced, creative, mirostat) or "
                                               "a persona", spec);
    /* The persona's own values over the defaults, as a new conversation with it would start. */
    *out = nt_sampler_default_params();
    int32_t max = t->u.max_tokens;
    persona_apply_sampling(p, out, &max);
    out->seed = base->seed;
    persona_free(p);
    return NT_OK;
}

/* Closes the view: the records it held go. */
static void tui_ab_close(tui *t)
{
    ui *u = &t->u;
    ui_answer_free(&u->ab.rec[0]);
    ui_answer_free(&u->ab.rec[1]);
    memset(&u->ab, 0, sizeof u->ab);
    u->ab.live = -1;
    u->ab.node[0] = u->ab.node[1] = UI_AB_NONE;
    u->status.ask[0] = '\0';
    u->probs.pick = -1;
}

/* Starts side s: its answer as a new alternative below the question. */
static int tui_ab_run(tui *t, int s)
{
    ui *u = &t->u;
    size_t before = chat_n_nodes(t->chat);
    int f = tui_start_answer_with(t, &t->ab_params[s]);
    if (!chat_busy(t->chat) || chat_n_nodes(t->chat) != before + 1) {
        /* it did not start (the message line says why) */
        char keep[sizeof u->msg.text];
        memcpy(keep, u->msg.text, sizeof keep);
        tui_ab_close(t);
        memcpy(u->msg.text, keep, sizeof keep);
        return f | UI_R_ALL;
    }
    u->ab.node[s] = before;
    u->ab.live = s;
    u->ab.side = s;
    return f | UI_R_HISTORY | UI_R_PROBS;
}

int tui_ab_start(tui *t, const char *args)
{
    ui *u = &t->u;
    char w[3][200];
    int n = sscanf(args, "%199s %199s %199s", w[0], w[1], w[2]);
    if (n < 1 || n > 2)
        return tui_message(t, TS_ERROR, "/ab: give one or two parameter sets: /ab temp=0.2 temp=1.2 "
                                        "(one: the sliders against it)");
    if (n == 1) {
        memmove(w[1], w[0], sizeof w[0]);
        strcpy(w[0], "sliders");
    }
    nt_err err = {0};
    for (int s = 0; s < 2; s++)
        if (tui_ab_side(t, w[s], &t->ab_params[s], &err) != NT_OK)
            return tui_message(t, TS_ERROR, "/ab: %c: %s", s ? 'B' : 'A', err.msg);
    size_t nt = chat_n_turns(t->chat);
    const chat_turn *last = nt ? chat_turn_at(t->chat, nt - 1) : NULL;
    if (!last) return tui_message(t, TS_NOTE, "/ab: there is no question to answer yet");
    /* The last answer stays as an alternative; both new answers go beside it. */
    if (last->role == NT_ROLE_ASSISTANT) tui_stash_from(t, nt - 1);
    if (last->role == NT_ROLE_ASSISTANT && chat_regen(t->chat) != NT_OK)
        return tui_message(t, TS_NOTE, "/ab: there is no question to answer");
    ui_truncate(u, chat_n_turns(t->chat));
    tui_ab_close(t);
    u->ab.shown = true;
    for (int s = 0; s < 2; s++) snprintf(u->ab.label[s], sizeof u->ab.label[s], "%s", w[s]);
    return tui_ab_run(t, 0);
}

int tui_ab_done(tui *t, enum gen_end end)
{
    ui *u = &t->u;
    size_t n = chat_n_turns(t->chat);
    int s = u->ab.live;
    if (s < 0 || n == 0) return 0;
    /* The side's record leaves the history's slot, which the next side or the kept one takes. */
    ui_answer *a = ui_answer_at(u, n - 1);
    if (a) {
        ui_answer_free(&u->ab.rec[s]);
        u->ab.rec[s] = *a;
        memset(a, 0, sizeof *a);
    }
    u->ab.live = -1;
    if (end == GEN_END_STOPPED) {
        /* Esc: no comparison; what was written stays as the answer shown. */
        tui_ab_close(t);
        ui_answer_rebuild(u, n - 1);
        return UI_R_ALL | tui_message(t, TS_NOTE, "/ab stopped: the answer written so far stays");
    }
    if (s == 0) {
        chat_regen(t->chat); /* A stays as an alternative; B goes beside it */
        ui_truncate(u, chat_n_turns(t->chat));
        return tui_ab_run(t, 1);
    }
    u->ab.choosing = true;
    u->ab.side = 0;
    snprintf(u->status.ask, sizeof u->status.ask, "Keep A or B? (a/b%s)",
             t->plain ? "" : "; Tab: the other side's probabilities");
    return UI_R_ALL;
}

int tui_ab_scroll(tui *t, int key)
{
    ui_ab_view *ab = &t->u.ab;
    int step = t->u.hist.h > 6 ? t->u.hist.h / 2 : 2; /* half a box: what was read stays in view */
    ab->scroll += key == CK_PGUP ? step : -step;
    if (ab->scroll > ab->scroll_max) ab->scroll = ab->scroll_max;
    if (ab->scroll < 0) ab->scroll = 0;
    return UI_R_HISTORY;
}

int tui_ab_key(tui *t, int key)
{
    ui *u = &t->u;
    if (key == CK_TAB) {
        u->ab.side ^= 1;
        u->probs.pick = -1;
        return UI_R_HISTORY | UI_R_PROBS |
               tui_message(t, TS_NOTE, "probabilities of %c (F4 shows them)", u->ab.side ? 'B' : 'A');
    }
    if (key == CK_F4) return tui_action(t, CMD_PROBS, "");
    if (key == CK_A_LEFT || key == CK_A_RIGHT)
        return tui_action(t, key == CK_A_LEFT ? CMD_TOKEN_PREV : CMD_TOKEN_NEXT, "");
    int keep = key == 'a' || key == 'A' ? 0 : key == 'b' || key == 'B' || key == CK_ESC ? 1 : -1;
    if (keep < 0) return tui_message(t, TS_NOTE, "a keeps A, b keeps B (the other stays as an alternative)");
    size_t n = chat_n_turns(t->chat);
    ui_answer rec = u->ab.rec[keep];
    memset(&u->ab.rec[keep], 0, sizeof rec);
    tui_stash_put(t, u->ab.node[!keep], &u->ab.rec[!keep]); /* for when it is shown again */
    char label[96];
    snprintf(label, sizeof label, "%s", u->ab.label[keep]);
    tui_ab_close(t);
    int f = UI_R_ALL;
    size_t k, count = chat_alternatives(t->chat, n - 1, &k);
    /* B is shown (written last); A was made just before it. */
    if (keep == 0 && k > 0) f |= tui_switch_branch(t, n - 1, k - 1);
    else f |= tui_switch_branch(t, n - 1, k); /* the same: records the choice, reads nothing new */
    ui_answer *a = ui_answer_at(u, n - 1);
    if (a) {
        ui_answer_free(a);
        *a = rec; /* its candidates, for the probabilities view */
    } else {
        ui_answer_free(&rec);
    }
    chat_alternatives(t->chat, n - 1, &k);
    char what[192];
    snprintf(what, sizeof what, "kept %c (%s): answer %zu of %zu here (Alt-Up/Alt-Down)",
             keep ? 'B' : 'A', label, k + 1, count);
    if (t->reread_note) { /* the switch's read-back ends with these words */
        free(t->reread_note);
        t->reread_note = strdup(what);
    }
    return f | tui_message(t, TS_NOTE, "%s", what);
}
