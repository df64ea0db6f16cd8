/* args.h — what every subcommand's option loop shares (natter info, tokenize, perplexity,
 * bench, train, replay, export, import-card, --check): getopt_long underneath (options and
 * file names in any order, --opt=value, -n64, unique prefixes of long names, -- ends the
 * options), its errors in natter's words, and option values read as numbers (util/num.h).
 * Every message goes to stderr (or a.err, when the caller sets it) as "PROG: ..." (PROG:
 * "natter bench"; the chat's own command line uses it too, as "natter"):
 *     natter bench: unknown option '--thread' (see natter bench --help)
 *     natter bench: --threads needs a value
 *     natter bench: --json takes no value
 *     natter bench: --threads: 'x' is not a whole number
 *     natter bench: --threads: '99' is out of range (0 to 64)
 *
 * Use:
 *     static const struct option opts[] = {{"threads", required_argument, NULL, 't'}, ...};
 *     args a = args_start("natter bench", argc, argv, "t:h", opts);
 *     for (int c; (c = args_next(&a)) != -1;)
 *         switch (c) {
 *         case 't': if (args_int(&a, 0, 64, &n)) return 2; break;
 *         case '?': return 2;           // args_next printed the error
 *         }
 *     // the operands are argv[a.first .. argc)
 */
#ifndef NATTER_ARGS_H
#define NATTER_ARGS_H

#include <getopt.h>
#include <stdint.h>
#include <stdio.h>

typedef struct args {
    const char *prog;              /* "natter bench": the messages' prefix */
    int argc;
    char **argv;                   /* argv[0] is the subcommand's name; getopt reorders argv */
    char shortopts[72];            /* ':' and the caller's short options */
    const struct option *longopts; /* ends with a zero entry; borrowed */
    FILE *err;                     /* where the messages go: stderr unless the caller says */
    const char *value;             /* the current option's value (optarg) or NULL */
    int li;                        /* the current option's index in longopts when it was typed
                                      long (unique prefixes included), else -1 */
    char name[48];                 /* the current option as the messages name it: "--threads",
                                      the long name typed (an alias is named as typed) */
    int first;                     /* after the loop: the first operand's index */
} args;

/* Starts a fresh getopt_long loop over argv (whatever ran before). shortopts: getopt's string
 * ("t:h"; a leading '+' stops the options at the first operand, as the chat's command line
 * wants); every short option should also have a long one, whose name the messages use. */
args args_start(const char *prog, int argc, char **argv, const char *shortopts,
                const struct option *longopts);
/* The next option's val, '?' after printing a usage error, or -1 at the end of the options
 * (a.first is then set). */
int args_next(args *a);
/* After the loop: at most max operands. 0, or -1 after printing "PROG: unexpected argument
 * 'x'" for the first one too many. */
int args_operands(const args *a, int max);
/* The current option's value as a whole number in [lo, hi], or a number in [lo, hi]. 0, or -1
 * after printing "PROG: --opt: 'x' is not a whole number" (or out of range). */
int args_int(args *a, long lo, long hi, int32_t *out);
int args_double(args *a, double lo, double hi, double *out);
int args_u64(args *a, uint64_t hi, uint64_t *out);
/* The current option's value as a KV cache type (f32, f16, q8_0: nt_kv_type_parse) into
 * *out (enum nt_type). 0, or -1 after printing "PROG: --kv-type: 'x' is not f32, f16 or q8_0". */
int args_kv_type(args *a, int32_t *out);
/* "PROG: --opt: MSG" for the current option, MSG escaped (it often quotes what was typed);
 * returns -1. For values the caller reads itself. */
int args_report(const args *a, const char *msg);

#endif
