/* fuzz_yaml.c — the YAML loaders on hostile files: a persona, a theme and a session from the
 * same bytes. Each must load or fail with diagnostics, never crash or hang. */
#include "fuzz.h"
#include "natter.h"
#include "conv/persona.h"
#include "conv/session.h"
#include "tui/theme.h"
#include "util/yamlcfg.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_file(data, size, ".yaml");
    if (!path) return 0;
    ycfg_diag d = {0};
    persona *p = persona_load(path, "fuzz", &d);
    persona_free(p);
    ycfg_diag_free(&d);
    theme *t = theme_load(path, "fuzz", &d);
    theme_free(t);
    ycfg_diag_free(&d);
    session *s = NULL;
    (void)session_parse(&s, "fuzz", (const char *)data, size, &d);
    if (s) {
        size_t len;
        char *y = session_to_yaml(s, &len);
        free(y);
    }
    session_free(s);
    ycfg_diag_free(&d);
    return 0;
}
