/* fuzz_json.c — the JSON parser and the character-card import built on it. */
#include "fuzz.h"
#include "natter.h"
#include "conv/persona.h"
#include "util/json.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *j = NULL;
    json_error je;
    if (json_parse((const char *)data, size, &j, &je) != NT_OK) return 0;
    persona *p = NULL;
    int dropped = 0;
    nt_err e = {0};
    if (persona_from_card(j, &p, &dropped, &e) == NT_OK) {
        char *y = persona_to_yaml(p, "# fuzz\n");
        free(y);
        persona_free(p);
    }
    json_decref(j);
    return 0;
}
