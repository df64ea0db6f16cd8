/* train.h — internals of natter's trainer (trainer/train.c, engine/nt_train_bpe.c,
 * engine/nt_train_data.c). The public API is the "trainer" section of natter.h.
 *
 * The trained model is exactly the `llama` architecture that forward.c runs: token embedding,
 * per block RMSNorm → rotary attention (adjacent-pair rope, causal, grouped-query allowed) →
 * residual, RMSNorm → SwiGLU → residual, final RMSNorm and an output matrix (the embedding
 * itself when tied). Every parameter lives in one float array (w), with gradients, Adam's
 * moments and the tensor table laid out the same way, so the optimizer, clipping, saving and
 * resuming are single loops over n_params floats.
 *
 * Shapes are written [rows][columns], columns contiguous, as in model.h: a matrix (out, in)
 * has GGUF ne = {in, out} and computes y = W · x. */
#ifndef NATTER_TRAIN_H
#define NATTER_TRAIN_H

#include "natter_train.h"
#include "pool.h"

#define TRAIN_LAYER_TENSORS 9 /* attn_norm, q, k, v, o, ffn_norm, gate, up, down */

/* The hyperparameters of the architecture. */
typedef struct train_cfg {
    int32_t n_vocab, n_embd, n_layer, n_head, n_head_kv, head_dim, n_ff, n_ctx;
    int32_t q_dim, kv_dim; /* n_head × head_dim, n_head_kv × head_dim */
    float norm_eps, rope_base;
    bool tied;             /* no output.weight: the embedding is the output matrix */
} train_cfg;

/* One tensor's place in the parameter array. */
typedef struct train_tensor {
    char name[48];     /* GGUF name, e.g. "blk.0.attn_q.weight" */
    size_t off, n;     /* floats [off, off + n) of the parameter array */
    int64_t ne[2];     /* GGUF dims (ne[0] contiguous); ne[1] = 1 for vectors */
    uint32_t n_dims;
    bool decay;        /* weight decay applies (matrices, not norm weights) */
} train_tensor;

/* Index of a layer tensor in the table: 1 + layer × TRAIN_LAYER_TENSORS + kind. */
enum train_kind {
    TRAIN_ATTN_NORM, TRAIN_WQ, TRAIN_WK, TRAIN_WV, TRAIN_WO,
    TRAIN_FFN_NORM, TRAIN_GATE, TRAIN_UP, TRAIN_DOWN
};

/* Sequences are packed: a slot runs several whole sequences at once, back to back (up to
 * pack_len tokens), so each matrix product sees many rows; attention and rope positions stay
 * within each sequence. P = pack_len rows below. */
#define TRAIN_PACK_MIN 1024 /* tokens per pack, unless the context is longer */

/* The activations the backward pass needs, per layer, for one pack. */
typedef struct train_acts {
    float *xin;   /* (P, n_embd) residual stream entering the block */
    float *xn1;   /* (P, n_embd) attention RMSNorm output */
    float *r1;    /* (P) its 1/rms */
    float *q;     /* (P, q_dim) queries after rope */
    float *k;     /* (P, kv_dim) keys after rope */
    float *v;     /* (P, kv_dim) values */
    float *p;     /* per head, per sequence i: (len_i, len_i) attention probabilities, 0 above
                     the diagonal; head h's blocks start at h × Σ len_i² (≤ P × n_ctx each) */
    float *att;   /* (P, q_dim) attention output, heads side by side */
    float *x1;    /* (P, n_embd) residual after attention */
    float *xn2;   /* (P, n_embd) FFN RMSNorm output */
    float *r2;    /* (P) its 1/rms */
    float *g, *u; /* (P, n_ff) gate and up projections */
    float *h;     /* (P, n_ff) silu(g) * u */
} train_acts;

/* Everything one worker needs for its share of a batch: its own gradient accumulator and
 * activation memory, so workers never write to shared memory. Slot k always takes the batch's
 * sequences k, k + n_slots, ... and the slots' gradients are summed in slot order: the result
 * depends on the number of slots (= threads), never on scheduling. */
typedef struct train_slot {
    float *grad;        /* (n_params) */
    train_acts *acts;   /* (n_layer) */
    int32_t *tok;       /* (P) the pack's tokens */
    uint8_t *mask;      /* (P) scored flags */
    int32_t *pos;       /* (P) position of each token within its sequence */
    int32_t *seg;       /* (P + 1) start of each sequence in the pack, then the end */
    uint64_t *salt;     /* (P) dropout key of each token: its sequence's data index and position */
    bool drop;          /* dropout applies to this pack */
    int32_t n_seg, n_tok;
    float *xf;          /* (P, n_embd) final residual */
    float *xnf;         /* (P, n_embd) final RMSNorm output */
    float *rf;          /* (P) */
    float *xsel;        /* (P, n_embd) rows of xnf whose next token is scored */
    float *logits;      /* (P, n_vocab) logits of those rows; their gradient in place */
    float *dx, *dxn, *dx2; /* (P, n_embd) backward scratch */
    float *dq, *datt;   /* (P, q_dim) */
    float *dk, *dv;     /* (P, kv_dim) */
    float *dg, *du;     /* (P, n_ff) */
    float *dp;          /* (n_ctx, n_ctx) */
    int32_t *rows;      /* (P) positions whose next token is scored */
    double loss;        /* summed NLL of the slot's sequences in the current batch */
    int64_t n_scored;
    int32_t n_tokens;
} train_slot;

struct nt_train_model {
    train_cfg c;
    size_t n_params;
    float *w;             /* (n_params) the parameters */
    float *m, *v;         /* (n_params) Adam's first and second moments */
    float *grad;          /* (n_params) the batch's gradient (slot sums) */
    train_tensor *tensors; /* token_embd, 9 per layer, output_norm, [output] */
    int n_tensors;
    int32_t step;         /* optimizer steps taken */
    uint64_t seed;        /* of the initialisation and the data order */

    nt_gguf *src;            /* where the tokenizer metadata comes from (read-only mapping) */
    nt_tokenizer *tok;
    char *name;           /* general.name to write (malloc'd) */
    float *rope;          /* (n_ctx, head_dim) cos, sin per rotated pair and position */

    pool *pool;
    train_slot *slots;
    int n_slots;
    int32_t pack_len;     /* tokens per pack (P) */
    float dropout;        /* of the run in progress (nt_train_params.dropout) */
    float question_drop;  /* of the run in progress (nt_train_params.question_drop) */
};

/* train.c: for tests — the parameter array's tensor i, its gradient after nt_train_batch_grad. */
float *nt_train_tensor_data(nt_train_model *m, int i);
/* Loss (mean NLL over the scored tokens) of sequences idx[0..n) of d, and, when grads is true,
 * its gradient in m->grad. */
int nt_train_batch_grad(nt_train_model *m, const nt_train_data *d, const size_t *idx, size_t n,
                     bool grads, double *loss, nt_err *err);
/* Logits of every position of one sequence (n × n_vocab), by the trainer's own forward. */
int nt_train_logits(nt_train_model *m, const int32_t *tok, int32_t n, float *logits, nt_err *err);

/* nt_train_data.c: the sequences. */
typedef struct train_seq {
    int32_t *tok;   /* (n) token ids */
    uint8_t *mask;  /* (n) 1: a target the loss scores; 0: context; 2: context that is the
                       question's own text (training may leave it out: question_drop) */
    int32_t n;
} train_seq;

struct nt_train_data {
    train_seq *v;
    size_t n, cap;
    int64_t n_tokens, n_scored;
    size_t n_truncated;
};

/* nt_train_bpe.c: the vocabulary being written into a GGUF. */
struct nt_train_vocab {
    char **tokens;      /* (n) pieces in GPT-2's byte-level alphabet (malloc'd) */
    int32_t *types;     /* (n) llama.cpp token types: 1 normal, 3 control */
    char **merges;      /* (n_merges) "left right" (malloc'd) */
    int32_t *m_left, *m_right, *m_result; /* (n_merges) ids of each merge's parts and result */
    int32_t n, n_merges;
    int32_t bos, eos, pad;
};

/* Adds the tokenizer.* keys of v (with the ChatML template) to w. */
int nt_train_vocab_to_gguf(const nt_train_vocab *v, nt_gguf_writer *w);

#endif
