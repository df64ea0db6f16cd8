/* Tests for the chat screen's non-drawing logic: the sampling sliders (ranges, fine and coarse
 * steps, rounding, clamping, mouse positions on the track) and the text of the marks that show
 * a live parameter change inside an answer. No terminal is needed. */
#include "tui/ui.h"
#include "t.h"

#include <math.h>
#include <string.h>

static void test_sliders(void)
{
    const int US_TEMP = ui_slider_of(PARAM_TEMP), US_TOP_P = ui_slider_of(PARAM_TOP_P),
              US_TOP_K = ui_slider_of(PARAM_TOP_K), US_MIN_P = ui_slider_of(PARAM_MIN_P),
              US_REPEAT = ui_slider_of(PARAM_REPEAT_PENALTY),
              US_MAX_TOKENS = ui_slider_of(PARAM_MAX_TOKENS);
    T_EQ_INT(ui_slider_of(PARAM_SEED), -1); /* no slider */
    ui u;
    ui_init(&u);
    u.params = nt_sampler_default_params();
    u.max_tokens = -1;
    T_NEAR(ui_slider_get(&u, US_TEMP), 0.8, 1e-6);
    ui_slider_step(&u, US_TEMP, 1, false);
    T_NEAR(u.params.temperature, 0.85, 1e-6);
    ui_slider_step(&u, US_TEMP, 1, true);
    T_NEAR(u.params.temperature, 1.10, 1e-6);
    ui_slider_step(&u, US_TEMP, 10, true); /* clamped at the top of the range */
    T_NEAR(u.params.temperature, 2.0, 1e-6);
    ui_slider_step(&u, US_TEMP, -100, false);
    T_NEAR(u.params.temperature, 0.0, 1e-6);
    ui_slider_set(&u, US_TOP_P, 0.876); /* rounded to the fine step */
    T_NEAR(u.params.top_p, 0.88, 1e-6);
    ui_slider_set(&u, US_TOP_K, 41.6);
    T_EQ_INT(u.params.top_k, 42);
    ui_slider_set(&u, US_MIN_P, NAN); /* never NaN */
    T_NEAR(u.params.min_p, 0.0, 1e-6);
    ui_slider_set(&u, US_REPEAT, 0.1);
    T_NEAR(u.params.repeat_penalty, 0.5, 1e-6);
    /* Max tokens without a chat: 16 to 4096, "all" is the top. */
    T_NEAR(ui_slider_get(&u, US_MAX_TOKENS), 4096, 1e-6);
    ui_slider_step(&u, US_MAX_TOKENS, -1, true);
    T_EQ_INT(u.max_tokens, 4096 - 256);
    ui_slider_set(&u, US_MAX_TOKENS, 3);
    T_EQ_INT(u.max_tokens, 16);
    /* The mouse: a 21-cell track from screen column 10 maps to 0..2 for the temperature. */
    u.panel.track_x = 10;
    u.panel.track_w = 21;
    T_NEAR(ui_slider_value_at(&u, US_TEMP, 10), 0.0, 1e-9);
    T_NEAR(ui_slider_value_at(&u, US_TEMP, 20), 1.0, 1e-9);
    T_NEAR(ui_slider_value_at(&u, US_TEMP, 30), 2.0, 1e-9);
    T_NEAR(ui_slider_value_at(&u, US_TEMP, 99), 2.0, 1e-9); /* past the end: the end */
    T_NEAR(ui_slider_value_at(&u, US_TEMP, 0), 0.0, 1e-9);
    T_EQ_STR(ui_slider_name(US_TOP_K), "top-k");
    /* A value set outside the span (/set temp 5) stays; a step moves it within the range. */
    u.params.temperature = 5.0f;
    T_NEAR(ui_slider_get(&u, US_TEMP), 5.0, 1e-6);
    ui_slider_step(&u, US_TEMP, -1, false);
    T_NEAR(u.params.temperature, 4.95, 1e-6);
    u.params.temperature = 10.0f;
    ui_slider_step(&u, US_TEMP, 1, true); /* the range's end */
    T_NEAR(u.params.temperature, 10.0, 1e-6);
    ui_free(&u);
}

static void test_change_marks(void)
{
    nt_sampler_params a = nt_sampler_default_params(), b = a;
    char buf[128];
    b.temperature = 1.2f;
    view_describe_change(&a, &b, buf, sizeof buf);
    T_EQ_STR(buf, "temp=1.20");
    b.top_k = 5;
    b.top_p = 0.5f;
    view_describe_change(&a, &b, buf, sizeof buf);
    /* Parts are joined by a no-break space, so the wrapper keeps a mark on one line. */
    T_EQ_STR(buf, "temp=1.20\xc2\xa0top-k=5\xc2\xa0top-p=0.50"); /* the panel's order */
    view_describe_change(&a, &a, buf, sizeof buf);
    T_EQ_STR(buf, "params");
    char small[8];
    view_describe_change(&a, &b, small, sizeof small); /* truncated, still terminated */
    T_EQ_INT(strlen(small), 7);
}

int main(void)
{
    T_RUN(test_sliders);
    T_RUN(test_change_marks);
    return t_done();
}
