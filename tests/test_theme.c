/* Tests for app/tui/theme.c: every shipped theme validates, the built-in default equals
 * themes/dark.yaml, exact error messages, colour mapping to 256 / 16 / 8 colours and
 * monochrome (no ncurses needed: theme_resolve returns plain numbers), and that the screen
 * draws with every element (term_style_elem, the styles' table in app/tui/term.c). */
#include "tui/term.h"
#include "tui/theme.h"
#include "util/datadir.h"
#include "t.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Writes text to a temporary file and loads it as a theme named "t.yaml" in messages. */
static theme *load_text(const char *text, char **errs)
{
    char path[600];
    snprintf(path, sizeof path, "%s/t.yaml", t_tmpdir());
    FILE *f = fopen(path, "w");
    if (!f) return NULL;
    fputs(text, f);
    fclose(f);
    ycfg_diag d = {0};
    theme *t = theme_load(path, "t.yaml", &d);
    *errs = ycfg_diag_join(&d);
    ycfg_diag_free(&d);
    return t;
}

#define EXPECT_ERR(text, msg) do { char *e_; theme *t_ = load_text(text, &e_); \
    T_CHECK(t_ == NULL); T_EQ_STR(e_, msg); free(e_); theme_free(t_); } while (0)

static void test_shipped(void)
{
    const char *names[] = {"dark", "light", "solarized-dark", "high-contrast"};
    for (int i = 0; i < 4; i++) {
        char path[64];
        snprintf(path, sizeof path, "themes/%s.yaml", names[i]);
        ycfg_diag d = {0};
        theme *t = theme_load(path, NULL, &d);
        if (d.n) printf("%s\n", d.v[0]);
        T_CHECK(t != NULL);
        T_EQ_INT(d.n, 0);
        if (t) T_EQ_STR(t->name, names[i]);
        if (t) T_CHECK(t->description[0] != 0);
        /* Each shipped theme styles every element itself (none falls back to dark's). */
        size_t len;
        char *text = t_read_file(path, &len);
        for (int e = 0; text && e < THEME_COUNT; e++) {
            char key[40];
            snprintf(key, sizeof key, "\n  %s:", theme_elem_name(e));
            if (!strstr(text, key)) t_fail(__FILE__, __LINE__, "%s has no style for '%s'", path, theme_elem_name(e));
        }
        free(text);
        theme_free(t);
        ycfg_diag_free(&d);
    }
}

static void test_builtin_is_dark(void)
{
    ycfg_diag d = {0};
    theme *f = theme_load("themes/dark.yaml", NULL, &d);
    theme *b = theme_builtin();
    T_ASSERT(f && b);
    for (int e = 0; e < THEME_COUNT; e++) {
        const theme_style *x = theme_get(f, e), *y = theme_get(b, e);
        if (x->fg != y->fg || x->bg != y->bg || x->attrs != y->attrs || x->fg8 != y->fg8 ||
            x->bg8 != y->bg8 || x->mono != y->mono)
            t_fail(__FILE__, __LINE__, "style '%s' differs between dark.yaml and the built-in",
                   theme_elem_name(e));
    }
    T_EQ_STR(f->description, b->description);
    theme_free(f);
    theme_free(b);
    ycfg_diag_free(&d);
}

static void test_open_and_list(void)
{
    ycfg_diag d = {0};
    theme *t = theme_open("solarized-dark", &d);
    T_ASSERT(t != NULL);
    T_EQ_STR(t->path, "themes/solarized-dark.yaml");
    theme_free(t);
    setenv("XDG_CONFIG_HOME", "/nonexistent", 1);
    t = theme_open_or_default("no-such-theme", &d);
    T_ASSERT(t != NULL);
    T_EQ_STR(t->path, "(built-in)");
    T_EQ_INT(d.n, 1);
    char want[4200];
    snprintf(want, sizeof want, "theme 'no-such-theme' not found (looked in themes, "
             "/nonexistent/natter/themes, %s/themes)", datadir());
    T_EQ_STR(d.v[0], want);
    theme_free(t);
    unsetenv("XDG_CONFIG_HOME");
    ycfg_diag_free(&d);
    theme_entry *v;
    int n = theme_list(&v);
    int seen = 0;
    for (int i = 0; i < n; i++)
        if (!strcmp(v[i].base, "high-contrast") && v[i].ok &&
            !strcmp(v[i].description, "Bright colours on black, for low vision and glare"))
            seen++;
    T_EQ_INT(seen, 1);
    theme_entries_free(v, n);
}

static void test_errors(void)
{
    EXPECT_ERR("name: x\nstyles:\n  user: {fg: bleu}\n",
               "t.yaml:3:14: unknown colour 'bleu' (did you mean 'blue'?)\n"
               "  user: {fg: bleu}\n"
               "             ^");
    EXPECT_ERR("styles:\n  user: {fg: chartreuse}\n",
               "t.yaml:2:14: unknown colour 'chartreuse' (use a name like bright-blue, 0-255 or #rrggbb)\n"
               "  user: {fg: chartreuse}\n"
               "             ^");
    EXPECT_ERR("styles:\n  user:\n    fg: #ff0000\n",
               "t.yaml:3:8: 'fg' has no value (a #rrggbb colour must be quoted: \"#ffaf00\")\n"
               "    fg: #ff0000\n"
               "       ^");
    EXPECT_ERR("styles:\n  user: {fg: \"#ff00\"}\n",
               "t.yaml:2:14: '#ff00' is not a #rrggbb colour\n"
               "  user: {fg: \"#ff00\"}\n"
               "             ^");
    EXPECT_ERR("styles:\n  user: {fg: 300}\n",
               "t.yaml:2:14: colour number 300 is out of range (0 to 255)\n"
               "  user: {fg: 300}\n"
               "             ^");
    EXPECT_ERR("styles:\n  user: {fg: red, fg8: bright-red}\n",
               "t.yaml:2:24: 'fg8' must be one of the 8 basic colours or default, not 'bright-red'\n"
               "  user: {fg: red, fg8: bright-red}\n"
               "                       ^");
    EXPECT_ERR("styles:\n  user: {attrs: [bold, blod]}\n",
               "t.yaml:2:24: unknown attribute 'blod' (did you mean 'bold'?)\n"
               "  user: {attrs: [bold, blod]}\n"
               "                       ^");
    EXPECT_ERR("styles:\n  user: {attrs: bold}\n",
               "t.yaml:2:17: 'attrs' must be a list such as [bold, underline], not a string\n"
               "  user: {attrs: bold}\n"
               "                ^");
    EXPECT_ERR("styles:\n  asistant: {fg: red}\n",
               "t.yaml:2:3: unknown key 'asistant' (did you mean 'assistant'?)\n"
               "  asistant: {fg: red}\n"
               "  ^");
    EXPECT_ERR("styles:\n  user: {fg: red, colour: blue}\n",
               "t.yaml:2:19: unknown key 'colour'\n"
               "  user: {fg: red, colour: blue}\n"
               "                  ^");
    EXPECT_ERR("styles:\n  user: red\n",
               "t.yaml:2:9: style 'user' must be a mapping (key: value lines), not a string\n"
               "  user: red\n"
               "        ^");
    EXPECT_ERR("name: x\n",
               "t.yaml:1:1: missing required key 'styles' in the theme\n"
               "name: x\n"
               "^");
    EXPECT_ERR("",
               "t.yaml:1:1: the file is empty (a theme needs at least 'styles')\n"
               "\n"
               "^");
    EXPECT_ERR("styles:\n  user: {fg: red}\n  user: {fg: blue}\n",
               "t.yaml:3:3: duplicate key 'user' (first given on line 2)\n"
               "  user: {fg: blue}\n"
               "  ^");
}

static void test_parse_color(void)
{
    theme_color c;
    T_EQ_INT(theme_parse_color("default", &c), 0);
    T_EQ_INT(c, THEME_DEFAULT);
    T_EQ_INT(theme_parse_color("bright-cyan", &c), 0);
    T_EQ_INT(c, 14);
    T_EQ_INT(theme_parse_color("#FFaf00", &c), 0);
    T_EQ_INT(c, THEME_RGB(255, 175, 0));
    T_EQ_INT(theme_parse_color("255", &c), 0);
    T_EQ_INT(c, 255);
    T_EQ_INT(theme_parse_color("256", &c), -1);
    T_EQ_INT(theme_parse_color("#ggg000", &c), -1);
    T_EQ_INT(theme_parse_color("bright-default", &c), -1);
}

static void test_nearest(void)
{
    /* Exact cube and grey entries map to themselves. */
    T_EQ_INT(theme_nearest256(255, 175, 0), 214);
    T_EQ_INT(theme_nearest256(135, 215, 255), 117);
    T_EQ_INT(theme_nearest256(128, 128, 128), 244);
    T_EQ_INT(theme_nearest256(0, 0, 0), 16); /* never the user-configurable 0..15 */
    T_EQ_INT(theme_nearest256(255, 255, 255), 231);
    /* Off-grid: solarized base03 #002b36 is nearest to grey 234 (28,28,28): distance
     * 28²+15²+26² = 1685, against 1725 for 235 and 3530 for cube 17 (0,0,95). */
    T_EQ_INT(theme_nearest256(0x00, 0x2b, 0x36), 234);
    /* #d33682 (solarized magenta): cube 168 = (215,95,135): 4²+41²+5² = 1722. */
    T_EQ_INT(theme_nearest256(0xd3, 0x36, 0x82), 168);
    /* The 16-colour palette: orange is nearest xterm's yellow (205,205,0): 50²+30² = 3400. */
    T_EQ_INT(theme_nearest16(255, 175, 0), 3);
    T_EQ_INT(theme_nearest16(128, 128, 128), 8);
    T_EQ_INT(theme_nearest16(0, 0, 0), 0);
    uint8_t rgb[3];
    theme_palette_rgb(214, rgb);
    T_EQ_INT(rgb[0], 255);
    T_EQ_INT(rgb[1], 175);
    T_EQ_INT(rgb[2], 0);
    theme_palette_rgb(232, rgb);
    T_EQ_INT(rgb[0], 8);
    theme_palette_rgb(12, rgb);
    T_EQ_INT(rgb[2], 255);
}

static void test_resolve(void)
{
    theme *t = theme_builtin();
    T_ASSERT(t != NULL);
    short fg, bg;
    unsigned a;
    /* label_user: 117 bold, fg8 cyan. */
    const theme_style *u = theme_get(t, THEME_LABEL_USER);
    theme_resolve(u, 256, &fg, &bg, &a);
    T_EQ_INT(fg, 117);
    T_EQ_INT(bg, -1);
    T_EQ_INT(a, THEME_ATTR_BOLD);
    theme_resolve(u, 16, &fg, &bg, &a);
    T_EQ_INT(fg, 7); /* (135,215,255) is nearest xterm's white (229,229,229) */
    theme_resolve(u, 8, &fg, &bg, &a);
    T_EQ_INT(fg, 6); /* the explicit fg8 */
    T_EQ_INT(bg, -1);
    theme_resolve(u, 0, &fg, &bg, &a);
    T_EQ_INT(fg, -1);
    T_EQ_INT(bg, -1);
    T_EQ_INT(a, THEME_ATTR_BOLD | THEME_ATTR_UNDERLINE);
    /* dim: grey 244 → bright black on 16 colours → white + dim on 8 colours. */
    const theme_style *dm = theme_get(t, THEME_DIM);
    theme_resolve(dm, 16, &fg, &bg, &a);
    T_EQ_INT(fg, 8);
    theme_resolve(dm, 8, &fg, &bg, &a);
    T_EQ_INT(fg, 7);
    T_EQ_INT(a, THEME_ATTR_DIM);
    theme_resolve(dm, 2, &fg, &bg, &a);
    T_EQ_INT(a, THEME_ATTR_DIM);
    /* status, selection, knob and marks stay visible in monochrome. */
    theme_resolve(theme_get(t, THEME_STATUS), 0, &fg, &bg, &a);
    T_EQ_INT(a, THEME_ATTR_REVERSE);
    theme_resolve(theme_get(t, THEME_SELECTION), 0, &fg, &bg, &a);
    T_EQ_INT(a, THEME_ATTR_REVERSE);
    theme_resolve(theme_get(t, THEME_SLIDER_KNOB), 0, &fg, &bg, &a);
    T_EQ_INT(a, THEME_ATTR_BOLD | THEME_ATTR_REVERSE);
    theme_resolve(theme_get(t, THEME_MARK), 0, &fg, &bg, &a);
    T_EQ_INT(a, THEME_ATTR_BOLD | THEME_ATTR_UNDERLINE);
    theme_resolve(theme_get(t, THEME_STATUS), 8, &fg, &bg, &a);
    T_EQ_INT(fg, 0);
    T_EQ_INT(bg, 7);
    theme_resolve(theme_get(t, THEME_ERROR), 0, &fg, &bg, &a);
    T_EQ_INT(a, THEME_ATTR_BOLD | THEME_ATTR_REVERSE);
    theme_resolve(theme_get(t, THEME_EMPHASIS), 256, &fg, &bg, &a);
    T_EQ_INT(fg, -1);
    T_EQ_INT(a, THEME_ATTR_ITALIC);
    theme_free(t);

    /* RGB and bright colours without fallbacks. */
    theme_style s = {THEME_RGB(255, 175, 0), THEME_RGB(0, 0x2b, 0x36), 0, THEME_UNSET, THEME_UNSET, 0};
    theme_resolve(&s, 256, &fg, &bg, &a);
    T_EQ_INT(fg, 214);
    T_EQ_INT(bg, 234);
    theme_resolve(&s, 8, &fg, &bg, &a);
    T_EQ_INT(fg, 3);
    T_EQ_INT(bg, 0);
    T_EQ_INT(a, 0);
    s.fg = 9; /* bright red on 8 colours: red + bold */
    theme_resolve(&s, 8, &fg, &bg, &a);
    T_EQ_INT(fg, 1);
    T_EQ_INT(a, THEME_ATTR_BOLD);
    theme_resolve(&s, 16, &fg, &bg, &a);
    T_EQ_INT(fg, 9);
    T_EQ_INT(a, 0);
    /* Equal colours after mapping: the text falls back to the default colour. */
    theme_style same = {21, 4, 0, THEME_UNSET, THEME_UNSET, 0}; /* 21 = (0,0,255) */
    theme_resolve(&same, 8, &fg, &bg, &a);
    T_EQ_INT(bg, 4);
    T_EQ_INT(fg, -1);
}

static void test_high_contrast_mono(void)
{
    ycfg_diag d = {0};
    theme *t = theme_load("themes/high-contrast.yaml", NULL, &d);
    T_ASSERT(t != NULL);
    short fg, bg;
    unsigned a;
    theme_resolve(theme_get(t, THEME_ERROR), 0, &fg, &bg, &a);
    T_EQ_INT(a, THEME_ATTR_REVERSE | THEME_ATTR_BOLD);
    theme_resolve(theme_get(t, THEME_TEXT), 256, &fg, &bg, &a);
    T_EQ_INT(fg, 15);
    T_EQ_INT(bg, 0);
    theme_free(t);
    ycfg_diag_free(&d);
}

/* Every element a theme can set is drawn with: some screen style takes its colours (text's is
 * TS_BACKGROUND, the blank cells of every window). A style missing from term.c's table would
 * map to element 0 (text), so any other style mapping to text is a failure. */
static void test_every_element_drawn(void)
{
    int used[THEME_COUNT] = {0};
    for (int s = 0; s < TS_COUNT_; s++) {
        int e = term_style_elem(s);
        T_ASSERT(e >= 0 && e < THEME_COUNT);
        if (e == THEME_TEXT && s != TS_BACKGROUND)
            t_fail(__FILE__, __LINE__, "screen style %d has no theme element", s);
        used[e]++;
    }
    for (int e = 0; e < THEME_COUNT; e++)
        if (!used[e])
            t_fail(__FILE__, __LINE__, "theme element '%s' is never drawn", theme_elem_name(e));
    T_EQ_INT(term_style_elem(TS_BORDER), THEME_BORDER);
    T_EQ_INT(term_style_elem(TS_WARNING), THEME_WARNING);
    T_EQ_INT(term_style_elem(TS_INPUT), THEME_INPUT);
    T_EQ_INT(term_style_elem(TS_PROBS), THEME_PROBS);
    T_EQ_INT(term_style_elem(TS_BACKGROUND), THEME_TEXT);
    /* The three kinds of message are three styles. */
    T_CHECK(term_style_elem(TS_NOTE) == THEME_NOTE && term_style_elem(TS_ERROR) == THEME_ERROR);
    /* The highlight bit does not change the element. */
    T_EQ_INT(term_style_elem(TS_INPUT | TERM_HIGHLIGHT_BIT), THEME_INPUT);
}

/* border, warning, input and probs in the built-in theme (= dark.yaml) at each colour depth. */
static void test_resolve_new_elements(void)
{
    theme *t = theme_builtin();
    T_ASSERT(t != NULL);
    short fg, bg;
    unsigned a;
    /* border: grey 240 → bright black on 16 → the explicit blue on 8; dim in monochrome. */
    const theme_style *s = theme_get(t, THEME_BORDER);
    theme_resolve(s, 256, &fg, &bg, &a);
    T_EQ_INT(fg, 240);
    T_EQ_INT(bg, -1);
    T_EQ_INT(a, 0);
    theme_resolve(s, 16, &fg, &bg, &a);
    T_EQ_INT(fg, 8);
    theme_resolve(s, 8, &fg, &bg, &a);
    T_EQ_INT(fg, 4);
    T_EQ_INT(a, 0);
    theme_resolve(s, 0, &fg, &bg, &a);
    T_EQ_INT(fg, -1);
    T_EQ_INT(a, THEME_ATTR_DIM);
    /* warning: orange 214 bold → xterm's yellow (255,175,0 is 3400 from 205,205,0) bold. */
    s = theme_get(t, THEME_WARNING);
    theme_resolve(s, 256, &fg, &bg, &a);
    T_EQ_INT(fg, 214);
    T_EQ_INT(a, THEME_ATTR_BOLD);
    theme_resolve(s, 16, &fg, &bg, &a);
    T_EQ_INT(fg, 3);
    T_EQ_INT(a, THEME_ATTR_BOLD);
    theme_resolve(s, 8, &fg, &bg, &a);
    T_EQ_INT(fg, 3);
    T_EQ_INT(a, THEME_ATTR_BOLD);
    theme_resolve(s, 0, &fg, &bg, &a);
    T_EQ_INT(a, THEME_ATTR_BOLD | THEME_ATTR_UNDERLINE);
    /* input: the terminal's own colours, no attributes, at every depth. */
    s = theme_get(t, THEME_INPUT);
    int depths[] = {256, 16, 8, 0};
    for (int i = 0; i < 4; i++) {
        theme_resolve(s, depths[i], &fg, &bg, &a);
        T_EQ_INT(fg, -1);
        T_EQ_INT(bg, -1);
        T_EQ_INT(a, 0);
    }
    /* probs: 68 (95,135,215) → bright blue (92,92,255) on 16, the explicit blue on 8; bold
     * bars in monochrome. */
    s = theme_get(t, THEME_PROBS);
    theme_resolve(s, 256, &fg, &bg, &a);
    T_EQ_INT(fg, 68);
    T_EQ_INT(a, 0);
    theme_resolve(s, 16, &fg, &bg, &a);
    T_EQ_INT(fg, 12);
    theme_resolve(s, 8, &fg, &bg, &a);
    T_EQ_INT(fg, 4);
    theme_resolve(s, 0, &fg, &bg, &a);
    T_EQ_INT(a, THEME_ATTR_BOLD);
    theme_free(t);
}

/* In every shipped theme and at every colour depth, a note, a warning and an error in the
 * message line look different from each other (colours or attributes). */
static void test_messages_distinct(void)
{
    const char *names[] = {"dark", "light", "solarized-dark", "high-contrast"};
    const int depths[] = {256, 16, 8, 0};
    const int kinds[] = {THEME_NOTE, THEME_WARNING, THEME_ERROR};
    for (int i = 0; i < 4; i++) {
        char path[64];
        snprintf(path, sizeof path, "themes/%s.yaml", names[i]);
        ycfg_diag d = {0};
        theme *t = theme_load(path, NULL, &d);
        ycfg_diag_free(&d);
        T_CHECK(t != NULL);
        if (!t) continue;
        for (int k = 0; k < 4; k++) {
            short fg[3], bg[3];
            unsigned a[3];
            for (int m = 0; m < 3; m++)
                theme_resolve(theme_get(t, kinds[m]), depths[k], &fg[m], &bg[m], &a[m]);
            for (int m = 0; m < 3; m++)
                for (int n = m + 1; n < 3; n++)
                    if (fg[m] == fg[n] && bg[m] == bg[n] && a[m] == a[n])
                        t_fail(__FILE__, __LINE__, "%s with %d colours: '%s' looks like '%s'",
                               path, depths[k], theme_elem_name(kinds[m]), theme_elem_name(kinds[n]));
        }
        theme_free(t);
    }
}

/* A user's theme file sets the four elements like any other: what it says is what resolves,
 * and without a mono list the element's monochrome default is added. */
static void test_user_sets_new_elements(void)
{
    char *e;
    theme *t = load_text("styles:\n"
                         "  border: {fg: 196}\n"
                         "  warning: {fg: 46, attrs: [underline], fg8: green}\n"
                         "  input: {fg: 201, bg: \"#000000\", mono: [reverse]}\n"
                         "  probs: {fg: bright-yellow}\n", &e);
    T_ASSERT(t != NULL);
    free(e);
    short fg, bg;
    unsigned a;
    theme_resolve(theme_get(t, THEME_BORDER), 256, &fg, &bg, &a);
    T_EQ_INT(fg, 196);
    theme_resolve(theme_get(t, THEME_BORDER), 0, &fg, &bg, &a);
    T_EQ_INT(a, THEME_ATTR_DIM);
    theme_resolve(theme_get(t, THEME_WARNING), 256, &fg, &bg, &a);
    T_EQ_INT(fg, 46);
    T_EQ_INT(a, THEME_ATTR_UNDERLINE);
    theme_resolve(theme_get(t, THEME_WARNING), 8, &fg, &bg, &a);
    T_EQ_INT(fg, 2);
    theme_resolve(theme_get(t, THEME_WARNING), 0, &fg, &bg, &a);
    T_EQ_INT(a, THEME_ATTR_UNDERLINE | THEME_ATTR_BOLD);
    theme_resolve(theme_get(t, THEME_INPUT), 256, &fg, &bg, &a);
    T_EQ_INT(fg, 201);
    T_EQ_INT(bg, 16); /* black in the cube, never the user-configurable 0 */
    theme_resolve(theme_get(t, THEME_INPUT), 0, &fg, &bg, &a);
    T_EQ_INT(a, THEME_ATTR_REVERSE); /* an explicit mono list replaces the default */
    theme_resolve(theme_get(t, THEME_PROBS), 8, &fg, &bg, &a);
    T_EQ_INT(fg, 3); /* bright yellow folds to yellow + bold */
    T_EQ_INT(a, THEME_ATTR_BOLD);
    /* Elements the file leaves out keep the built-in style. */
    theme_resolve(theme_get(t, THEME_NOTE), 256, &fg, &bg, &a);
    T_EQ_INT(fg, 221);
    theme_free(t);
}

int main(void)
{
    T_RUN(test_shipped);
    T_RUN(test_builtin_is_dark);
    T_RUN(test_open_and_list);
    T_RUN(test_errors);
    T_RUN(test_parse_color);
    T_RUN(test_nearest);
    T_RUN(test_resolve);
    T_RUN(test_high_contrast_mono);
    T_RUN(test_every_element_drawn);
    T_RUN(test_resolve_new_elements);
    T_RUN(test_messages_distinct);
    T_RUN(test_user_sets_new_elements);
    return t_done();
}
