/* natter_train.h — the one public header of natter's trainer (libnattertrain.a), a library
 * beside the inference engine: it trains and fine-tunes models that the engine then runs.
 * It follows natter.h's rules (it never prints or exits; errors come back in an nt_err;
 * `*_init`/`*_new`/`*_load` results are owned by the caller and released with `*_free`).
 */
#ifndef NATTER_TRAIN_PUBLIC_H
#define NATTER_TRAIN_PUBLIC_H

#include "natter.h"

#ifdef __cplusplus
extern "C" {
#endif

/* `natter train`: trains a `llama`-architecture model (exactly what the model section runs)
 * from scratch or from an F32/F16/BF16 GGUF, on question/answer pairs formatted with a chat
 * template; the loss scores only the answer and its end-of-turn token. AdamW with linear
 * warm-up and cosine decay, clipping by global norm, data-parallel over threads (each thread
 * a fixed share of the batch; results depend on seed and thread count only). Checkpoints are
 * GGUF files the engine loads directly, with the optimizer state beside them in PATH.state. */

typedef struct nt_train_params {
    /* The architecture of a model trained from scratch (ignored with an initial model,
     * except n_ctx, which caps the training sequences there too). */
    int32_t n_vocab;        /* BPE vocabulary, the three ChatML control tokens included */
    int32_t n_embd, n_layer, n_head, n_head_kv, n_ff, n_ctx; /* n_head_kv 0: n_head */
    float norm_eps, rope_base;
    /* Optimisation. */
    int32_t steps;          /* total optimizer steps (a resumed run continues up to this) */
    int32_t batch;          /* sequences per step */
    int32_t warmup;         /* steps of linear warm-up from 0 to lr */
    float lr, lr_min;       /* peak rate; the cosine decay ends at lr_min */
    float weight_decay;     /* AdamW's decoupled decay (matrices only) */
    float beta1, beta2, adam_eps;
    float clip;             /* global gradient norm limit; 0 = no clipping */
    float init_std;         /* std of the random initial matrices */
    float dropout;          /* probability of zeroing each output of the attention and FFN
                               projections before the residual add (training only); 0 = off */
    float question_drop;    /* probability of leaving out each token of a question's text in a
                               training step (pairs from nt_train_data_add_pair); 0 = off */
    uint64_t seed;          /* initialisation and data order */
    int32_t n_threads;      /* 0 = online CPUs */
    int32_t save_every;     /* checkpoint every N steps; 0 = only at the end */
    bool f16;               /* write the GGUF's matrices as F16 (vectors stay F32) */
} nt_train_params;

/* dim 256, 4 layers, 4 heads (KV heads = heads), FFN 768, vocab 3072, context 256; 3000
 * steps of 16, lr 1e-3 → 1e-4, warm-up 100, weight decay 0.1, betas 0.9/0.95, clip 1, no
 * dropout, seed 1, all CPUs, a checkpoint every 500 steps, F32. */
nt_train_params nt_train_default_params(void);

/* A byte-level BPE vocabulary (GPT-2 style: bytes mapped to printable code points, words split
 * by the "gpt-2" pre-tokenizer, merges learnt by pair frequency), with the control tokens
 * <|endoftext|> (0, BOS and padding), <|im_start|> (1) and <|im_end|> (2, EOS). */
typedef struct nt_train_vocab nt_train_vocab;

/* Learns merges from texts[0..n) (lens[i] bytes each) until the vocabulary holds n_vocab
 * tokens or no pair occurs twice. *out is owned by the caller (nt_train_vocab_free). */
int nt_train_bpe(nt_train_vocab **out, const char *const *texts, const size_t *lens, size_t n,
              int32_t n_vocab, nt_err *err);
void nt_train_vocab_free(nt_train_vocab *v);
int32_t nt_train_vocab_size(const nt_train_vocab *v);
/* The trainer's own encoding of plain text (no special tokens), appended to out: the same
 * split and merges the engine's tokenizer applies to the GGUF written from v. */
int nt_train_vocab_encode(const nt_train_vocab *v, const char *text, size_t len, nt_tokens *out,
                       nt_err *err);

/* Training sequences: token ids with a mask of the positions the loss scores. */
typedef struct nt_train_data nt_train_data;

nt_train_data *nt_train_data_init(void); /* NULL on allocation failure */
void nt_train_data_free(nt_train_data *d);
/* Appends one question/answer pair: [system (if not NULL or empty), user] formatted with
 * family f and the assistant's opening (nt_chat_format with add_generation), then the answer and
 * the end of its turn. Scored: the answer's tokens and the first end-of-generation token after
 * it. A sequence longer than max_len tokens is cut to max_len (nt_train_data_truncated counts). */
int nt_train_data_add_pair(nt_train_data *d, const nt_tokenizer *t, enum nt_chat_family f,
                        const char *system, const char *user, const char *assistant,
                        int32_t max_len, nt_err *err);
/* The same with earlier turns before the question: [system, before[0..n_before), user], the
 * assistant's opening, then the answer. Only the last answer (and its end of turn) is scored,
 * and question_drop applies to the last question only: the model learns to answer the newest
 * question of a conversation, whatever came before. before's roles alternate user/assistant.
 * With earlier turns, a sequence longer than max_len is not cut but refused
 * (NT_ERR_CONTEXT_FULL, nothing added): the caller may add the question alone instead. */
int nt_train_data_add_turn(nt_train_data *d, const nt_tokenizer *t, enum nt_chat_family f,
                        const char *system, const nt_chat_msg *before, size_t n_before,
                        const char *user, const char *assistant, int32_t max_len, nt_err *err);
/* Appends a sequence as it is (mask[i] != 0: token i is scored). Copied. */
int nt_train_data_add(nt_train_data *d, const int32_t *tok, const uint8_t *mask, int32_t n,
                   nt_err *err);
size_t nt_train_data_count(const nt_train_data *d);
int64_t nt_train_data_tokens(const nt_train_data *d);  /* all tokens */
int64_t nt_train_data_scored(const nt_train_data *d);  /* scored tokens */
size_t nt_train_data_truncated(const nt_train_data *d);

/* A model being trained: parameters, Adam's moments, the tokenizer, thread workers. */
typedef struct nt_train_model nt_train_model;

/* A new model with the architecture of p, randomly initialised from p->seed, and the
 * tokenizer v (copied; a temporary vocabulary-only GGUF is written in $TMPDIR or /tmp and
 * removed at once). */
int nt_train_model_new(nt_train_model **out, const nt_train_params *p, const nt_train_vocab *v,
                    nt_err *err);
/* The weights, hyperparameters and tokenizer of a llama GGUF with F32, F16 or BF16 tensors
 * (no biases, no rope scaling). p gives threads, seed and the training context (0: the model's;
 * it may be longer than the model's, whose new positions the training then teaches: RoPE has
 * no table of positions to outgrow). */
int nt_train_model_load(nt_train_model **out, const char *path, const nt_train_params *p, nt_err *err);
void nt_train_model_free(nt_train_model *m);

const nt_tokenizer *nt_train_model_tokenizer(const nt_train_model *m); /* borrowed */
enum nt_chat_family nt_train_model_chat(const nt_train_model *m);      /* from its chat template */
int64_t nt_train_model_n_params(const nt_train_model *m);
int32_t nt_train_model_n_ctx(const nt_train_model *m);
int32_t nt_train_model_step(const nt_train_model *m);               /* optimizer steps taken */

/* Writes the GGUF at path (atomically) and the optimizer state at path.state (F32 weights,
 * moments, step: what nt_train_model_resume needs, whatever the GGUF's weight type). */
int nt_train_model_save(nt_train_model *m, const char *path, bool f16, nt_err *err);
/* Reads path.state back into a model of the same shape (normally loaded from path). */
int nt_train_model_resume(nt_train_model *m, const char *path, nt_err *err);

/* What nt_train_run reports after each step. */
typedef struct nt_train_progress {
    int32_t step, steps;  /* steps done (after this one), total */
    float loss;           /* mean NLL of this step's batch */
    float loss_avg;       /* exponential moving average of loss (0.9) */
    float lr, grad_norm;  /* rate used, norm before clipping */
    double tok_per_s;     /* tokens processed per second since the run started */
    double elapsed_s, eta_s;
    bool saved;           /* a checkpoint was written after this step */
} nt_train_progress;

/* Return false to stop after this step (a checkpoint is written first). */
typedef bool (*nt_train_progress_fn)(const nt_train_progress *p, void *user);

/* Runs steps from nt_train_model_step(m) to p->steps on d, writing checkpoints to out_path
 * (every p->save_every steps and at the end, also when no step was left to run; NULL: never). NT_ERR_CANCELLED when fn asked to
 * stop (the checkpoint is written). Learning-rate schedule, batch order and clipping come
 * from p; the data order depends only on p->seed and the step, so a resumed run continues the
 * same sequence of batches. */
int nt_train_run(nt_train_model *m, const nt_train_data *d, const nt_train_params *p, const char *out_path,
              nt_train_progress_fn fn, void *user, nt_err *err);

#ifdef __cplusplus
}
#endif

#endif
