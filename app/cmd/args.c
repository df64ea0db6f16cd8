/* The subcommands' option loop: getopt_long with natter's messages (see args.h). */
#include "args.h"
#include "util/num.h"
#include "util/text.h"
#include "util/yamlcfg.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

args args_start(const char *prog, int argc, char **argv, const char *shortopts,
                const struct option *longopts)
{
    args a = {.prog = prog, .argc = argc, .argv = argv, .longopts = longopts, .err = stderr,
              .li = -1, .first = argc};
    /* The leading ':' makes a missing value ':' rather than '?', so the two read differently;
     * getopt wants a '+' before it. */
    bool stop = shortopts[0] == '+';
    snprintf(a.shortopts, sizeof a.shortopts, "%s:%s", stop ? "+" : "", shortopts + stop);
    /* glibc: 0 (not 1) also resets the state left by an earlier loop over another argv. */
    optind = 0;
    opterr = 0;
    return a;
}

/* The long name of the option whose val is c, else "-c". */
static void args_set_name(args *a, int c)
{
    for (const struct option *o = a->longopts; o && o->name; o++)
        if (!o->flag && o->val == c) {
            snprintf(a->name, sizeof a->name, "--%s", o->name);
            return;
        }
    snprintf(a->name, sizeof a->name, "-%c", c);
}

/* True when the long option named n[0..len) (or a unique prefix of one) takes no value: the
 * "--json=1" error, told apart from a short option's that follows a "--model=x". */
static bool args_takes_no_value(const args *a, const char *n, size_t len)
{
    for (const struct option *o = a->longopts; o && o->name; o++)
        if (!strncmp(o->name, n, len) && o->has_arg == no_argument && o->val == optopt)
            return true;
    return false;
}

/* "PROG: unknown option 'x' (see PROG --help)", with what was typed escaped: a control
 * character in an argument never reaches the terminal as it is. A long option close to one
 * of the known names (a typo: ycfg_suggest) gets "did you mean '--NAME'?" before the hint. */
static void args_unknown(const args *a, const char *opt, size_t n)
{
    fprintf(a->err, "%s: unknown option '", a->prog);
    text_fput_escaped(a->err, opt, n, false);
    const char *best = NULL;
    if (n > 2 && n < 64 && !strncmp(opt, "--", 2)) {
        char word[64];
        snprintf(word, sizeof word, "%.*s", (int)(n - 2), opt + 2);
        const char *cands[256];
        size_t nc = 0;
        for (const struct option *o = a->longopts; o && o->name && nc < 256; o++) cands[nc++] = o->name;
        best = ycfg_suggest(word, cands, nc);
    }
    if (best) fprintf(a->err, "' (did you mean '--%s'? see %s --help)\n", best, a->prog);
    else fprintf(a->err, "' (see %s --help)\n", a->prog);
}

int args_next(args *a)
{
    a->li = -1;
    int c = getopt_long(a->argc, a->argv, a->shortopts, a->longopts, &a->li);
    a->value = optarg;
    if (c == -1) {
        a->first = optind;
        return -1;
    }
    /* After an error, argv[optind - 1] is the long option at fault (getopt moved past it); a
     * short one may sit inside a group ("-qx") and is named by optopt instead. */
    const char *at = optind > 0 && optind <= a->argc ? a->argv[optind - 1] : "";
    bool is_long = !strncmp(at, "--", 2) && at[2];
    if (c == ':') {
        /* Named by its whole long name even when typed shorter ("--thr"). */
        args_set_name(a, optopt);
        fprintf(a->err, "%s: %s needs a value\n", a->prog, a->name);
        return '?';
    }
    if (c == '?') {
        const char *eq = is_long ? strchr(at, '=') : NULL;
        int len = eq ? (int)(eq - at) : (int)strlen(at);
        if (is_long && optopt && eq && args_takes_no_value(a, at + 2, (size_t)(eq - at - 2))) {
            args_set_name(a, optopt);
            fprintf(a->err, "%s: %s takes no value\n", a->prog, a->name);
        } else if (is_long && !optopt)
            args_unknown(a, at, (size_t)len);
        else
            args_unknown(a, (char[]){'-', (char)optopt}, 2);
        return '?';
    }
    if (a->li >= 0) snprintf(a->name, sizeof a->name, "--%s", a->longopts[a->li].name);
    else args_set_name(a, c);
    return c;
}

int args_operands(const args *a, int max)
{
    if (a->argc - a->first <= max) return 0;
    const char *x = a->argv[a->first + max];
    fprintf(a->err, "%s: unexpected argument '", a->prog);
    text_fput_escaped(a->err, x, strlen(x), false);
    fprintf(a->err, "' (see %s --help)\n", a->prog);
    return -1;
}

int args_report(const args *a, const char *msg)
{
    fprintf(a->err, "%s: %s: ", a->prog, a->name);
    text_fput_escaped(a->err, msg, strlen(msg), false); /* it quotes the value typed */
    fputc('\n', a->err);
    return -1;
}

int args_int(args *a, long lo, long hi, int32_t *out)
{
    nt_err e = {0};
    long x;
    if (num_long(a->value ? a->value : "", lo, hi, &x, &e) != NT_OK) return args_report(a, e.msg);
    *out = (int32_t)x;
    return 0;
}

int args_kv_type(args *a, int32_t *out)
{
    const int t = nt_kv_type_parse(a->value);
    if (t < 0) {
        char msg[160];
        snprintf(msg, sizeof msg, "'%.60s' is not f32, f16 or q8_0", a->value ? a->value : "");
        return args_report(a, msg);
    }
    *out = t;
    return 0;
}

int args_double(args *a, double lo, double hi, double *out)
{
    nt_err e = {0};
    if (num_double(a->value ? a->value : "", lo, hi, out, &e) != NT_OK) return args_report(a, e.msg);
    return 0;
}

int args_u64(args *a, uint64_t hi, uint64_t *out)
{
    nt_err e = {0};
    if (num_u64(a->value ? a->value : "", hi, out, &e) != NT_OK) return args_report(a, e.msg);
    return 0;
}
