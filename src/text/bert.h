/* bert.h — a BERT encoder forward (transformers' BertModel, last_hidden_state), llama2.c style:
 * a config from config.json, weights as pointers into the mmapped model.safetensors (F32 in
 * place; F16/BF16 or unaligned tensors converted once), a run state planned for a maximum
 * length, and one forward function.
 *
 *   x = LayerNorm(word[ids] + position[0..T) + token_type[0])
 *   per layer: a = LayerNorm(x + Wo attention(Wq x, Wk x, Wv x) + bo)
 *              x = LayerNorm(a + W2 gelu_erf(W1 a + b1) + b2)
 * Tensor names are Hugging Face's, with or without the "bert." prefix. */
#ifndef XATTN_TEXT_BERT_H
#define XATTN_TEXT_BERT_H

#include <stddef.h>
#include <stdint.h>

#include "xattn_io.h"
#include "xattn.h"

typedef struct bert_config {
    int vocab_size;        /* 30522 */
    int hidden_size;       /* D = 384 */
    int n_layers;          /* num_hidden_layers, 6 */
    int n_heads;           /* num_attention_heads, 12 (head size D / heads = 32) */
    int intermediate_size; /* 1536 */
    int max_position;      /* max_position_embeddings, 512 */
    int type_vocab_size;   /* 2 */
    float layer_norm_eps;  /* 1e-12 */
} bert_config;

/* Reads and checks config.json: model_type "bert", hidden_act "gelu" (exact erf),
 * position_embedding_type "absolute", sizes > 0 with hidden_size % heads == 0. */
xattn_status bert_config_read(const char *path, bert_config *c, xattn_error *err);

typedef struct bert_layer_weights {
    const float *q_w, *q_b;       /* attention.self.query  weight [D, D], bias [D] */
    const float *k_w, *k_b;       /* attention.self.key    [D, D], [D] */
    const float *v_w, *v_b;       /* attention.self.value  [D, D], [D] */
    const float *ao_w, *ao_b;     /* attention.output.dense [D, D], [D] */
    const float *ln1_g, *ln1_b;   /* attention.output.LayerNorm weight [D], bias [D] */
    const float *i_w, *i_b;       /* intermediate.dense [I, D], [I] */
    const float *o_w, *o_b;       /* output.dense [D, I], [D] */
    const float *ln2_g, *ln2_b;   /* output.LayerNorm [D], [D] */
} bert_layer_weights;

typedef struct bert_weights {
    const float *word;            /* embeddings.word_embeddings.weight [vocab, D] */
    const float *position;        /* embeddings.position_embeddings.weight [max_position, D] */
    const float *token_type;      /* embeddings.token_type_embeddings.weight [type_vocab, D] */
    const float *emb_ln_g, *emb_ln_b; /* embeddings.LayerNorm weight [D], bias [D] */
    bert_layer_weights *layers;   /* [n_layers] */
    xattn_st_file *file;                /* the mmapped model.safetensors */
    float **owned;                /* converted tensors (F16/BF16/unaligned) */
    size_t n_owned;
} bert_weights;

/* Maps the safetensors file and points every tensor into it, checking each shape against the
 * config: a missing tensor or a disagreeing shape is refused naming the tensor. */
xattn_status bert_weights_load(const char *path, const bert_config *c, bert_weights *w,
                               xattn_error *err);
void bert_weights_free(bert_weights *w);

typedef struct bert_state {
    size_t max_tokens;
    size_t threads;                   /* omp_get_max_threads() when planned (attention scratch) */
    float *x, *q, *k, *v, *ctx, *tmp; /* [max_tokens, D] each */
    float *inter;                     /* [max_tokens, I] */
    float *probs;                     /* attention scratch */
} bert_state;

/* Plans the buffers for up to max_tokens (<= max_position) tokens and the current OpenMP
 * thread count: replan when either grows. */
xattn_status bert_state_new(const bert_config *c, size_t max_tokens, bert_state *s,
                            xattn_error *err);
void bert_state_free(bert_state *s);

/* out[T, D] = last_hidden_state of ids[T] (no padding; T <= s->max_tokens, every id < vocab). */
void bert_forward(float *out, bert_state *s, const bert_config *c, const bert_weights *w,
                  const int32_t *ids, size_t T);

/* x[i] = x * (1 + erf(x / sqrt 2)) / 2, in place. */
void gelu_erf_inplace(float *x, size_t n);

#endif
