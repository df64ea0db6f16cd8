/* t_models.h — model files made from the fixtures, shared by the test programs that need a
 * variant of a real model. Each returns a path inside t_tmpdir() (static storage, valid for
 * the program's life), or NULL when the fixture is absent or the copy failed. */
#ifndef NATTER_TEST_T_MODELS_H
#define NATTER_TEST_T_MODELS_H

/* A copy of stories260K whose byte tokens 3 and 4 (<0x00>, <0x01>, never used in
 * text) are replaced by ChatML's control tokens, with a ChatML template: a small real model
 * whose chat markup is made of control tokens, like SmolLM's or Qwen's. NULL on failure. */
const char *t_chatml_stories(void);

#endif
