/* promptview.h — the prompt as the model sees it, as text for people: /prompt in the chat
 * screen and --show-prompt in the one-shot mode. The exact templated text (decoded from the
 * token ids the model reads, control tokens shown between ⟨ and ⟩), the tokens each part
 * takes (system prompt, documents, examples, greeting, each question and answer, the
 * assistant's opening), and on request every token's id with its piece. No terminal code: the
 * caller shows the text (sanitised, as everything a model or a file wrote). The text (or the
 * ids) comes first and the parts' token counts last, so a view that shows the end of a long
 * prompt shows the counts. */
#ifndef NATTER_APP_PROMPTVIEW_H
#define NATTER_APP_PROMPTVIEW_H

#include "natter.h"
#include "chat.h"

#include <stdbool.h>

/* The view of the prompt chat_prepare would build now (chat_prompt_parts). instruction: the
 * persona's context instruction, which opens the documents in the system prompt (NULL: no
 * documents to count apart). ids: list every token as "id ⟨piece⟩" instead of the text.
 * malloc'd (caller frees); NULL with err set on failure. */
char *promptview_text(chat *c, const nt_tokenizer *tok, const char *instruction, bool ids,
                      nt_err *err);

#endif
