/* chatglm3.h — the ChatGLM3-6B-Base text encoder as Kolors uses it (kolors-model.md §3):
 * config parsing, the expected tensor list, weight binding and the forward pass.
 *
 * Mirrors ChatGLMModel of the Kolors repo (kolors/models/modeling_chatglm.py). Activations are
 * fp32 [N, T, H] row-major (the reference is [T, N, H]; results are identical), weights stay in
 * their stored dtype (F32/F16/BF16) and are read through the ops.
 *
 * Dimension letters: N batch (prompts), T tokens (256 for Kolors), H hidden, L layers, NH query
 * heads, NKV key/value groups, D head dim (kv_channels), F ffn_hidden_size, V vocabulary rows. */
#ifndef KC_TEXT_CHATGLM3_H
#define KC_TEXT_CHATGLM3_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "core/arena.h"
#include "core/status.h"
#include "core/tensor.h"
#include "io/arch.h"
#include "io/weights.h"
#include "ops/ops.h"

typedef struct {
    int64_t hidden;      /* H   hidden_size */
    int64_t layers;      /* L   num_layers */
    int64_t heads;       /* NH  num_attention_heads */
    int64_t head_dim;    /* D   kv_channels (default H / NH) */
    int64_t kv_groups;   /* NKV multi_query_group_num, or NH when multi_query_attention is false */
    int64_t ffn;         /* F   ffn_hidden_size (dense_h_to_4h has 2F outputs) */
    int64_t vocab;       /* V   padded_vocab_size */
    int64_t seq_length;  /* positions must be < this */
    float eps;           /* layernorm_epsilon */
    int multi_query;     /* multi_query_attention */
    int qkv_bias;        /* add_qkv_bias */
    int post_layer_norm; /* final_layernorm exists */
    char torch_dtype[16];/* informational only: our arithmetic is fp32 whatever it says */
} kc_chatglm_config;

/* Reads every key the forward depends on and refuses (KC_ERR_UNSUPPORTED, naming the key) the
 * values this implementation does not cover. `what` names the source for messages. */
kc_status kc_chatglm_config_parse(const cJSON *root, const char *what, kc_chatglm_config *c, kc_err *err);
kc_status kc_chatglm_config_load(const char *path, kc_chatglm_config *c, kc_err *err);

/* Width of the fused query_key_value projection: NH*D + 2*NKV*D. */
int64_t kc_chatglm_qkv_width(const kc_chatglm_config *c);

/* Appends every tensor a checkpoint of this config holds (state-dict order, as the real
 * shards' index lists them), each name prefixed with `prefix` ("transformer." for the official
 * checkpoints, "" for a bare ChatGLMModel state dict). Includes the unused rotary inv_freq,
 * final_layernorm and output_layer, because the checkpoint carries them. */
kc_status kc_chatglm_expected(const kc_chatglm_config *c, const char *prefix, kc_expected_list *out, kc_err *err);

typedef struct {
    kc_tensor input_norm;  /* [H] */
    kc_tensor qkv_w;       /* [NH*D + 2*NKV*D, H]: rows Q (head-major) | K (group-major) | V */
    kc_tensor qkv_b;       /* [NH*D + 2*NKV*D] or .data NULL */
    kc_tensor dense;       /* [H, NH*D] */
    kc_tensor post_norm;   /* [H] */
    kc_tensor h_to_4h;     /* [2F, H]: rows gate | value */
    kc_tensor h4_to_h;     /* [H, F] */
} kc_chatglm_layer;

typedef struct kc_chatglm {
    kc_chatglm_config cfg;
    kc_weights *ws;            /* owned (kc_chatglm_open) or borrowed (kc_chatglm_bind) */
    int owns_ws;
    const char *prefix;        /* "transformer." or "" — whichever the checkpoint uses */
    kc_tensor embedding;       /* [V, H] */
    kc_tensor final_norm;      /* [H]; .data NULL when post_layer_norm is false */
    kc_chatglm_layer *layer;   /* [L] */
    void **packs;              /* prepacked GEMM weights (kc_chatglm_prepack), npacks of them */
    int npacks;
    size_t packed_bytes;
} kc_chatglm;

/* Binds the weights of `cfg` from ws (names with or without the "transformer." prefix; dtype
 * and shape checked). output_layer is never bound: Kolors does not use the LM head. ws must
 * outlive g; kc_chatglm_free does not free it. */
kc_status kc_chatglm_bind(kc_chatglm *g, const kc_chatglm_config *cfg, kc_weights *ws, kc_err *err);
/* Reads <dir>/config.json and maps the weights of a text_encoder folder in either layout
 * (model.safetensors, sharded safetensors, or pytorch_model.bin.index.json + .bin shards). */
kc_status kc_chatglm_open(const char *dir, kc_chatglm **out, kc_err *err);
/* Prepacks the four GEMM weights of every layer for ex's bf16 GEMM (kc_op_prepack: converted
 * and laid out once instead of on every forward) and releases the file pages behind them, so
 * memory stays the size of the stored weights. Nothing happens when ex runs fp32, its table has
 * no bf16 GEMM, or g is already packed. It costs about one conversion pass over the weights,
 * what one forward spends packing them on the fly: worth it only for a second forward and
 * later (kolors_encode calls it before its second prompt batch). */
kc_status kc_chatglm_prepack(kc_chatglm *g, const kc_exec *ex, kc_err *err);
/* Unbinds (and unmaps, when owned) the weights; frees g when it came from kc_chatglm_open. */
void kc_chatglm_free(kc_chatglm *g);

typedef void (*kc_chatglm_tap_fn)(const char *name, const float *data, int ndim, const int64_t *shape, void *user);

typedef struct {
    int64_t N, T;
    const int32_t *input_ids;      /* [N, T] */
    const int32_t *attention_mask; /* [N, T]: 0 on left padding, 1 on tokens; NULL = no padding */
    const int32_t *position_ids;   /* [N, T]; NULL = 0 on padding, 0..n-1 on the tokens */
} kc_chatglm_input;

typedef struct {
    float *prompt_embeds;    /* [N, T, H] output of layer L-1 (hidden_states[-2]), or NULL */
    float *pooled;           /* [N, H] output of layer L at position T-1 (hidden_states[-1][-1]), or NULL */
    float *last_hidden;      /* [N, T, H] final_layernorm(output of layer L), or NULL */
    kc_chatglm_tap_fn tap;   /* NULL = no taps; else "<tap_prefix>hidden_states.<i>" [N, T, H], i = 0..L */
    void *tap_user;
    const char *tap_prefix;  /* NULL = "" */
} kc_chatglm_output;

/* Bytes of activation arena kc_chatglm_forward needs for N prompts of T tokens (0 on overflow). */
size_t kc_chatglm_arena_bytes(const kc_chatglm_config *c, int64_t N, int64_t T);

/* The forward pass (kolors-model.md §3.2-§3.7). Masks: real tokens attend causally to real
 * tokens only; a padding row attends to every position (ChatGLM's exact rule, §3.5). Padding
 * must be on the left (zeros then ones in each mask row). When neither taps nor last_hidden are
 * requested, the last layer is computed for position T-1 only (its K/V still for all rows). */
kc_status kc_chatglm_forward(const kc_exec *ex, const kc_chatglm *g, const kc_chatglm_input *in,
                             const kc_chatglm_output *out, kc_arena *arena, kc_err *err);

/* FLOPs of one forward for N prompts of T tokens (2 per multiply-add; matmuls and attention). */
double kc_chatglm_flops(const kc_chatglm_config *c, int64_t N, int64_t T);

#endif
