/* theme.c — loading, validating and resolving colour themes (see theme.h). The built-in
 * default is a designated-initializer table (identical to themes/dark.yaml, which a test
 * checks), so natter still has colours when no theme file can be read. */
#include "theme.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const elem_names[THEME_COUNT] = {
#define THEME_X_NAME(e, key, doc) [THEME_##e] = key,
    THEME_ELEMS(THEME_X_NAME)
#undef THEME_X_NAME
};

static const char *const elem_docs[THEME_COUNT] = {
#define THEME_X_DOC(e, key, doc) [THEME_##e] = doc,
    THEME_ELEMS(THEME_X_DOC)
#undef THEME_X_DOC
};

const char *theme_elem_name(enum theme_elem e)
{
    return (unsigned)e < THEME_COUNT ? elem_names[e] : NULL;
}

const char *theme_elem_doc(enum theme_elem e)
{
    return (unsigned)e < THEME_COUNT ? elem_docs[e] : NULL;
}

int theme_elem_from_name(const char *name)
{
    for (int i = 0; i < THEME_COUNT; i++)
        if (!strcmp(elem_names[i], name)) return i;
    return -1;
}

/* Attributes added on a monochrome terminal when a theme says nothing: the elements that
 * would otherwise vanish without colour (knob, status bar, selection) get reverse video; the
 * three kinds of message stay apart (note bold, warning bold and underlined, error bold and
 * reversed); borders recede (dim) and the probability bars stand out (bold). */
static const unsigned mono_extra[THEME_COUNT] = {
    [THEME_USER] = THEME_ATTR_BOLD,
    [THEME_SYSTEM] = THEME_ATTR_DIM,
    [THEME_LABEL_USER] = THEME_ATTR_BOLD | THEME_ATTR_UNDERLINE,
    [THEME_LABEL_ASSISTANT] = THEME_ATTR_BOLD,
    [THEME_LABEL_SYSTEM] = THEME_ATTR_BOLD,
    [THEME_BORDER] = THEME_ATTR_DIM,
    [THEME_TITLE] = THEME_ATTR_BOLD,
    [THEME_SLIDER_FILL] = THEME_ATTR_BOLD,
    [THEME_SLIDER_KNOB] = THEME_ATTR_REVERSE,
    [THEME_STATUS] = THEME_ATTR_REVERSE,
    [THEME_STATUS_BUSY] = THEME_ATTR_REVERSE | THEME_ATTR_BOLD,
    [THEME_CODE] = THEME_ATTR_BOLD,
    [THEME_INLINE_CODE] = THEME_ATTR_BOLD,
    [THEME_SELECTION] = THEME_ATTR_REVERSE,
    [THEME_ERROR] = THEME_ATTR_BOLD | THEME_ATTR_REVERSE,
    [THEME_WARNING] = THEME_ATTR_BOLD | THEME_ATTR_UNDERLINE,
    [THEME_NOTE] = THEME_ATTR_BOLD,
    [THEME_END] = THEME_ATTR_BOLD,
    [THEME_MARK] = THEME_ATTR_BOLD | THEME_ATTR_UNDERLINE,
    [THEME_DIM] = THEME_ATTR_DIM,
    [THEME_MORE] = THEME_ATTR_REVERSE,
    [THEME_PROMPT] = THEME_ATTR_BOLD,
    [THEME_PROBS] = THEME_ATTR_BOLD,
};

#define S(f, b, a, f8, b8) {(f), (b), (a), (f8), (b8), 0}
#define D THEME_DEFAULT
#define U THEME_UNSET
#define BOLD THEME_ATTR_BOLD
static const theme_style dark[THEME_COUNT] = {
    [THEME_TEXT] = S(D, D, 0, U, U),
    [THEME_USER] = S(117, D, 0, 6, U),
    [THEME_ASSISTANT] = S(D, D, 0, U, U),
    [THEME_SYSTEM] = S(180, D, 0, 3, U),
    [THEME_LABEL_USER] = S(117, D, BOLD, 6, U),
    [THEME_LABEL_ASSISTANT] = S(114, D, BOLD, 2, U),
    [THEME_LABEL_SYSTEM] = S(180, D, BOLD, 3, U),
    [THEME_BORDER] = S(240, D, 0, 4, U),
    [THEME_TITLE] = S(252, D, BOLD, 7, U),
    [THEME_SLIDER_TRACK] = S(239, D, 0, 4, U),
    [THEME_SLIDER_FILL] = S(114, D, 0, 2, U),
    [THEME_SLIDER_KNOB] = S(214, D, BOLD, 3, U),
    [THEME_STATUS] = S(252, 236, 0, 0, 7),
    [THEME_STATUS_BUSY] = S(235, 114, 0, 0, 2),
    [THEME_CODE] = S(150, 235, 0, 2, U),
    [THEME_INLINE_CODE] = S(150, D, 0, 2, U),
    [THEME_STRONG] = S(D, D, BOLD, U, U),
    [THEME_EMPHASIS] = S(D, D, THEME_ATTR_ITALIC, U, U),
    [THEME_HEADING] = S(D, D, BOLD | THEME_ATTR_UNDERLINE, U, U),
    [THEME_SELECTION] = S(D, 24, 0, U, 4),
    [THEME_ERROR] = S(203, D, BOLD, 1, U),
    [THEME_WARNING] = S(214, D, BOLD, 3, U),
    [THEME_NOTE] = S(221, D, 0, 3, U),
    [THEME_END] = S(203, D, 0, 1, U),
    [THEME_MARK] = S(213, D, BOLD, 5, U),
    [THEME_DIM] = S(244, D, 0, U, U),
    [THEME_MORE] = S(235, 221, 0, 0, 3),
    [THEME_PROMPT] = S(114, D, BOLD, 2, U),
    [THEME_INPUT] = S(D, D, 0, U, U),
    [THEME_PROBS] = S(68, D, 0, 4, U),
};
#undef BOLD
#undef S
#undef D
#undef U

void theme_free(theme *t)
{
    if (!t) return;
    free(t->name);
    free(t->description);
    free(t->path);
    free(t);
}

static theme *theme_new(const char *name, const char *desc, const char *path)
{
    theme *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    t->name = strdup(name);
    t->description = strdup(desc);
    t->path = strdup(path);
    if (!t->name || !t->description || !t->path) {
        theme_free(t);
        return NULL;
    }
    for (int i = 0; i < THEME_COUNT; i++) {
        t->style[i] = dark[i];
        t->style[i].mono = dark[i].attrs | mono_extra[i];
    }
    return t;
}

theme *theme_builtin(void)
{
    return theme_new("dark", "Light text on a dark terminal (the default)", "(built-in)");
}

const theme_style *theme_get(const theme *t, enum theme_elem e)
{
    static theme_style plain = {THEME_DEFAULT, THEME_DEFAULT, 0, THEME_UNSET, THEME_UNSET, 0};
    if (!t || (unsigned)e >= THEME_COUNT) return &plain;
    return &t->style[e];
}

/* ======================================================================= colours ===== */

/* xterm's default 16 colours. */
static const uint8_t pal16[16][3] = {
    {0, 0, 0},       {205, 0, 0},     {0, 205, 0},     {205, 205, 0},
    {0, 0, 238},     {205, 0, 205},   {0, 205, 205},   {229, 229, 229},
    {127, 127, 127}, {255, 0, 0},     {0, 255, 0},     {255, 255, 0},
    {92, 92, 255},   {255, 0, 255},   {0, 255, 255},   {255, 255, 255},
};

void theme_palette_rgb(int i, uint8_t rgb[3])
{
    static const uint8_t level[6] = {0, 95, 135, 175, 215, 255};
    if (i < 0 || i > 255) i = 0;
    if (i < 16) {
        memcpy(rgb, pal16[i], 3);
    } else if (i < 232) {
        int c = i - 16;
        rgb[0] = level[c / 36];
        rgb[1] = level[(c / 6) % 6];
        rgb[2] = level[c % 6];
    } else {
        rgb[0] = rgb[1] = rgb[2] = (uint8_t)(8 + 10 * (i - 232));
    }
}

static long dist2(const uint8_t a[3], uint8_t r, uint8_t g, uint8_t b)
{
    long dr = (long)a[0] - r, dg = (long)a[1] - g, db = (long)a[2] - b;
    return dr * dr + dg * dg + db * db;
}

/* Brute force over the palette: 240 distances are nothing next to a terminal redraw, and it
 * is exactly the nearest entry (no cube-rounding corner cases). Ties go to the lower index. */
static int nearest(int lo, int hi, uint8_t r, uint8_t g, uint8_t b)
{
    int best = lo;
    long bd = LONG_MAX;
    for (int i = lo; i <= hi; i++) {
        uint8_t rgb[3];
        theme_palette_rgb(i, rgb);
        long d = dist2(rgb, r, g, b);
        if (d < bd) {
            bd = d;
            best = i;
        }
    }
    return best;
}

int theme_nearest256(uint8_t r, uint8_t g, uint8_t b) { return nearest(16, 255, r, g, b); }
int theme_nearest16(uint8_t r, uint8_t g, uint8_t b) { return nearest(0, 15, r, g, b); }

static const char *const basic_names[8] = {"black", "red",     "green", "yellow",
                                           "blue",  "magenta", "cyan",  "white"};

int theme_parse_color(const char *s, theme_color *out)
{
    if (!s || !*s) return -1;
    if (!strcmp(s, "default")) {
        *out = THEME_DEFAULT;
        return 0;
    }
    if (s[0] == '#') {
        if (strlen(s) != 7 || strspn(s + 1, "0123456789abcdefABCDEF") != 6) return -1;
        unsigned long v = strtoul(s + 1, NULL, 16);
        *out = THEME_RGB((int)(v >> 16) & 255, (int)(v >> 8) & 255, (int)v & 255);
        return 0;
    }
    if (strspn(s, "0123456789") == strlen(s)) {
        if (strlen(s) > 3) return -1;
        long v = strtol(s, NULL, 10);
        if (v > 255) return -1;
        *out = (theme_color)v;
        return 0;
    }
    const char *base = s;
    int bright = 0;
    if (!strncmp(s, "bright-", 7)) {
        base = s + 7;
        bright = 8;
    }
    for (int i = 0; i < 8; i++) {
        if (!strcmp(base, basic_names[i])) {
            *out = i + bright;
            return 0;
        }
    }
    return -1;
}

/* One colour on a terminal with n colours; *bright is set when an 8-colour terminal had to
 * fold a bright colour into its base one, *grey when that colour was bright black. */
static short map_color(theme_color c, int n, bool *bright, bool *grey)
{
    *bright = *grey = false;
    if (c < 0) return -1;
    if (n >= 256) {
        if (THEME_IS_RGB(c)) return (short)theme_nearest256((c >> 16) & 255, (c >> 8) & 255, c & 255);
        return (short)c;
    }
    int i16;
    if (THEME_IS_RGB(c)) {
        i16 = theme_nearest16((c >> 16) & 255, (c >> 8) & 255, c & 255);
    } else if (c < 16) {
        i16 = c;
    } else {
        uint8_t rgb[3];
        theme_palette_rgb(c, rgb);
        i16 = theme_nearest16(rgb[0], rgb[1], rgb[2]);
    }
    if (n >= 16) return (short)i16;
    if (i16 == 8) {
        *grey = true;
        return 7;
    }
    if (i16 > 8) {
        *bright = true;
        return (short)(i16 - 8);
    }
    return (short)i16;
}

int theme_resolve(const theme_style *s, int ncolors, short *fg, short *bg, unsigned *attrs)
{
    if (ncolors < 8) {
        *fg = *bg = -1;
        *attrs = s->mono;
        return 0;
    }
    unsigned a = s->attrs;
    bool bright, grey;
    if (ncolors < 16 && s->fg8 != THEME_UNSET) {
        *fg = (short)s->fg8;
    } else {
        *fg = map_color(s->fg, ncolors, &bright, &grey);
        if (bright) a |= THEME_ATTR_BOLD; /* the classic way to get a bright foreground */
        if (grey) a |= THEME_ATTR_DIM;
    }
    if (ncolors < 16 && s->bg8 != THEME_UNSET)
        *bg = (short)s->bg8;
    else
        *bg = map_color(s->bg, ncolors, &bright, &grey);
    if (*fg >= 0 && *fg == *bg) *fg = -1;
    *attrs = a;
    return 0;
}

/* ====================================================================== loading ===== */

enum { SET_MONO = 1 };

typedef struct style_tmp {
    theme_style s;
    unsigned set;
} style_tmp;

static int h_color(ycfg *c, yaml_node_t *v, void *obj, const ycfg_key *k)
{
    theme_color *out = (theme_color *)((char *)obj + k->offset);
    if (ycfg_is_null(v))
        return ycfg_error(c, v, "'%s' has no value (a #rrggbb colour must be quoted: \"#ffaf00\")",
                          k->name);
    if (v->type != YAML_SCALAR_NODE)
        return ycfg_error(c, v, "'%s' must be a colour, not %s", k->name, ycfg_kind(v));
    const char *s = (const char *)v->data.scalar.value;
    theme_color col;
    if (theme_parse_color(s, &col) == 0) {
        if (k->max == 8 && col != THEME_DEFAULT && (col < 0 || col > 7))
            return ycfg_error(c, v, "'%s' must be one of the 8 basic colours or default, not '%s'",
                              k->name, s);
        *out = col;
        return NT_OK;
    }
    if (s[0] == '#')
        return ycfg_error(c, v, "'%s' is not a #rrggbb colour", s);
    if (strspn(s, "0123456789") == strlen(s))
        return ycfg_error(c, v, "colour number %s is out of range (0 to 255)", s);
    static const char *const cands[] = {
        "black", "red", "green", "yellow", "blue", "magenta", "cyan", "white",
        "bright-black", "bright-red", "bright-green", "bright-yellow", "bright-blue",
        "bright-magenta", "bright-cyan", "bright-white", "default",
    };
    const char *sug = ycfg_suggest(s, cands, sizeof cands / sizeof *cands);
    if (sug) return ycfg_error(c, v, "unknown colour '%s' (did you mean '%s'?)", s, sug);
    return ycfg_error(c, v, "unknown colour '%s' (use a name like bright-blue, 0-255 or #rrggbb)", s);
}

static const char *const attr_names[] = {"bold", "underline", "reverse", "dim", "italic"};

static int h_attrs(ycfg *c, yaml_node_t *v, void *obj, const ycfg_key *k)
{
    unsigned *out = (unsigned *)((char *)obj + k->offset);
    if (v->type != YAML_SEQUENCE_NODE)
        return ycfg_error(c, v, "'%s' must be a list such as [bold, underline], not %s", k->name,
                          ycfg_kind(v));
    unsigned a = 0;
    int rc = NT_OK;
    for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++) {
        yaml_node_t *n = ycfg_node(c, *it);
        if (!n) continue;
        if (n->type != YAML_SCALAR_NODE || ycfg_is_null(n)) {
            rc = ycfg_error(c, n, "each item of '%s' must be an attribute name, not %s", k->name,
                            ycfg_kind(n));
            continue;
        }
        const char *s = (const char *)n->data.scalar.value;
        size_t i = 0, na = sizeof attr_names / sizeof *attr_names;
        while (i < na && strcmp(attr_names[i], s)) i++;
        if (i < na) {
            a |= 1u << i;
            continue;
        }
        const char *sug = ycfg_suggest(s, attr_names, na);
        if (sug)
            rc = ycfg_error(c, n, "unknown attribute '%s' (did you mean '%s'?)", s, sug);
        else
            rc = ycfg_error(c, n, "unknown attribute '%s' (bold, underline, reverse, dim, italic)", s);
    }
    if (rc == NT_OK) *out = a;
    return rc;
}

static const ycfg_key style_keys[] = {
    {"fg", h_color, offsetof(theme_style, fg), 0, 255, false, 0},
    {"bg", h_color, offsetof(theme_style, bg), 0, 255, false, 0},
    {"attrs", h_attrs, offsetof(theme_style, attrs), 0, 0, false, 0},
    {"fg8", h_color, offsetof(theme_style, fg8), 0, 8, false, 0},
    {"bg8", h_color, offsetof(theme_style, bg8), 0, 8, false, 0},
    {"mono", h_attrs, offsetof(theme_style, mono), 0, 0, false, SET_MONO},
    {NULL, NULL, 0, 0, 0, false, 0},
};

static int h_style(ycfg *c, yaml_node_t *v, void *obj, const ycfg_key *k)
{
    theme *t = obj;
    size_t e = (k->offset - offsetof(theme, style)) / sizeof(theme_style);
    /* A style given in the file replaces the default entirely, so what you read is what
     * you get: absent fields are the terminal's defaults. */
    style_tmp st = {{THEME_DEFAULT, THEME_DEFAULT, 0, THEME_UNSET, THEME_UNSET, 0}, 0};
    char what[64];
    snprintf(what, sizeof what, "style '%s'", k->name);
    int rc = ycfg_map(c, v, style_keys, &st, offsetof(style_tmp, set), what);
    if (rc != NT_OK) return rc;
    if (!(st.set & SET_MONO)) st.s.mono = st.s.attrs | mono_extra[e];
    t->style[e] = st.s;
    return NT_OK;
}

static const ycfg_key style_table[] = {
#define THEME_X_KEY(e, key, doc) \
    {key, h_style, offsetof(theme, style) + THEME_##e * sizeof(theme_style), 0, 0, false, 0},
    THEME_ELEMS(THEME_X_KEY)
#undef THEME_X_KEY
    {NULL, NULL, 0, 0, 0, false, 0},
};

static int h_styles(ycfg *c, yaml_node_t *v, void *obj, const ycfg_key *k)
{
    return ycfg_map(c, v, style_table, obj, YCFG_NO_SET, "'styles'");
}

static const ycfg_key theme_keys[] = {
    {"name", ycfg_h_str, offsetof(theme, name), 0, 0, false, 0},
    {"description", ycfg_h_str, offsetof(theme, description), 0, 0, false, 0},
    {"styles", h_styles, 0, 0, 0, true, 0},
    {NULL, NULL, 0, 0, 0, false, 0},
};

/* "themes/solarized-dark.yaml" → "solarized-dark" (malloc'd). */
static char *base_name(const char *path)
{
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    size_t n = strlen(b);
    if (n > 5 && !strcmp(b + n - 5, ".yaml")) n -= 5;
    return strndup(b, n);
}

theme *theme_load(const char *path, const char *name, ycfg_diag *diag)
{
    ycfg c;
    theme *t = NULL;
    char *base = base_name(path);
    int rc = ycfg_load(&c, path, name, diag);
    if (rc != NT_OK || !base) goto fail;
    t = theme_new(base, "", path);
    if (!t) goto fail;
    yaml_node_t *root = ycfg_root(&c);
    if (!root) {
        ycfg_error_at(&c, 1, 1, "the file is empty (a theme needs at least 'styles')");
        goto fail;
    }
    if (ycfg_map(&c, root, theme_keys, t, YCFG_NO_SET, "the theme") != NT_OK) goto fail;
    free(base);
    ycfg_free(&c);
    return t;
fail:
    theme_free(t);
    free(base);
    ycfg_free(&c);
    return NULL;
}

theme *theme_open(const char *name, ycfg_diag *diag)
{
    char *path = ycfg_find_or_report("themes", "theme", name, diag);
    if (!path) return NULL;
    theme *t = theme_load(path, NULL, diag);
    free(path);
    return t;
}

theme *theme_open_or_default(const char *name, ycfg_diag *diag)
{
    theme *t = name && *name ? theme_open(name, diag) : NULL;
    return t ? t : theme_builtin();
}

/* ycfg_describe_fn for themes. */
static bool theme_describe(const char *path, ycfg_diag *diag, char **name, char **description)
{
    theme *t = theme_load(path, NULL, diag);
    if (!t) return false;
    *name = t->name;
    *description = t->description;
    t->name = t->description = NULL;
    theme_free(t);
    return true;
}

int theme_list(theme_entry **out) { return ycfg_list_entries("themes", theme_describe, out); }

void theme_entries_free(theme_entry *v, int n) { ycfg_entries_free(v, n); }
