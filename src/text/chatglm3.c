/* chatglm3.c — see chatglm3.h. Mirrors ChatGLMModel / GLMBlock / SelfAttention / MLP /
 * RotaryEmbedding of kolors/models/modeling_chatglm.py (kolors-model.md §3).
 *
 * Dimension letters: N batch, T tokens, M = N*T rows, H hidden, NH heads, NKV kv groups, D head
 * dim, QKV = NH*D + 2*NKV*D, F ffn_hidden_size, V vocabulary rows. */
#include "text/chatglm3.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/checked.h"
#include "io/json.h"

#define ROPE_BASE 10000.0f /* fixed in the reference's RotaryEmbedding.forward_impl */

/* ---- config ---------------------------------------------------------------------------- */

/* A boolean key that must hold `want` (absent = the ChatGLMConfig default `dflt`). */
static kc_status require_bool(const cJSON *root, const char *key, int dflt, int want, const char *why,
                              const char *what, kc_err *err) {
    int v;
    kc_status s = kc_json_bool(root, key, 0, dflt, what, &v, err);
    if (s) return s;
    if (v != want)
        return kc_fail(err, KC_ERR_UNSUPPORTED, "%s: \"%s\": %s is not supported (%s)", what, key,
                       v ? "true" : "false", why);
    return KC_OK;
}

kc_status kc_chatglm_config_parse(const cJSON *root, const char *what, kc_chatglm_config *c, kc_err *err) {
    kc_status s;
    memset(c, 0, sizeof *c);
    const char *str = NULL;
    if ((s = kc_json_str(root, "model_type", 0, NULL, what, &str, err))) return s;
    if (str && strcmp(str, "chatglm") != 0)
        return kc_fail(err, KC_ERR_UNSUPPORTED, "%s: \"model_type\": \"%s\" is not a ChatGLM text encoder", what, str);

    /* Sizes: required (a missing size is more likely a wrong file than a wish for defaults). */
    if ((s = kc_json_int(root, "hidden_size", 1, 0, 2, 1 << 16, what, &c->hidden, err))) return s;
    if ((s = kc_json_int(root, "num_layers", 1, 0, 1, 1024, what, &c->layers, err))) return s;
    if ((s = kc_json_int(root, "num_attention_heads", 1, 0, 1, 1024, what, &c->heads, err))) return s;
    if ((s = kc_json_int(root, "ffn_hidden_size", 1, 0, 1, 1 << 20, what, &c->ffn, err))) return s;
    if ((s = kc_json_int(root, "padded_vocab_size", 1, 0, 1, 1 << 24, what, &c->vocab, err))) return s;
    /* kv_channels: the reference falls back to hidden_size / num_attention_heads. */
    if (kc_json_is_null(root, "kv_channels")) {
        if (c->hidden % c->heads)
            return kc_fail(err, KC_ERR_FORMAT, "%s: \"kv_channels\" is absent and hidden_size %lld is not divisible by "
                           "num_attention_heads %lld", what, (long long)c->hidden, (long long)c->heads);
        c->head_dim = c->hidden / c->heads;
    } else if ((s = kc_json_int(root, "kv_channels", 1, 0, 2, 1024, what, &c->head_dim, err))) {
        return s;
    }
    if (c->head_dim % 4)
        return kc_fail(err, KC_ERR_UNSUPPORTED, "%s: \"kv_channels\": %lld is not a multiple of 4 (RoPE rotates "
                       "interleaved pairs on half of each head)", what, (long long)c->head_dim);
    /* Defaults below are ChatGLMConfig's (configuration_chatglm.py). */
    if ((s = kc_json_bool(root, "multi_query_attention", 0, 0, what, &c->multi_query, err))) return s;
    if (c->multi_query) {
        if ((s = kc_json_int(root, "multi_query_group_num", 0, 1, 1, 1024, what, &c->kv_groups, err))) return s;
        if (c->heads % c->kv_groups)
            return kc_fail(err, KC_ERR_FORMAT, "%s: \"multi_query_group_num\": %lld does not divide num_attention_heads "
                           "%lld", what, (long long)c->kv_groups, (long long)c->heads);
    } else {
        c->kv_groups = c->heads;
    }
    if ((s = kc_json_int(root, "seq_length", 0, 2048, 1, (int64_t)1 << 30, what, &c->seq_length, err))) return s;
    double eps;
    if ((s = kc_json_num(root, "layernorm_epsilon", 0, 1e-5, what, &eps, err))) return s;
    if (!(eps > 0.0 && eps < 1.0))
        return kc_fail(err, KC_ERR_FORMAT, "%s: \"layernorm_epsilon\": %g is not in (0, 1)", what, eps);
    c->eps = (float)eps;
    if ((s = kc_json_bool(root, "add_qkv_bias", 0, 0, what, &c->qkv_bias, err))) return s;
    if ((s = kc_json_bool(root, "post_layer_norm", 0, 1, what, &c->post_layer_norm, err))) return s;

    /* Values that change the computation in ways not implemented here. */
    if ((s = require_bool(root, "rmsnorm", 1, 1, "only RMSNorm is implemented, not LayerNorm", what, err))) return s;
    if ((s = require_bool(root, "original_rope", 1, 1, "only ChatGLM2/3 interleaved RoPE is implemented", what, err)))
        return s;
    if ((s = require_bool(root, "add_bias_linear", 0, 0, "only the fused QKV projection may have a bias", what, err)))
        return s;
    if ((s = require_bool(root, "apply_residual_connection_post_layernorm", 0, 0,
                          "the residual must be the un-normalised input", what, err)))
        return s;
    int64_t qbits;
    if ((s = kc_json_int(root, "quantization_bit", 0, 0, 0, 64, what, &qbits, err))) return s;
    if (qbits) return kc_fail(err, KC_ERR_UNSUPPORTED, "%s: \"quantization_bit\": %lld (quantized ChatGLM weights) is "
                              "not supported", what, (long long)qbits);
    if (!kc_json_is_null(root, "pre_seq_len"))
        return kc_fail(err, KC_ERR_UNSUPPORTED, "%s: \"pre_seq_len\" is set: P-tuning prefix encoders are not supported",
                       what);
    double rope_ratio;
    if ((s = kc_json_num(root, "rope_ratio", 0, 1.0, what, &rope_ratio, err))) return s;
    if (rope_ratio != 1.0)
        return kc_fail(err, KC_ERR_UNSUPPORTED, "%s: \"rope_ratio\": %g is not supported (the Kolors ChatGLM uses base "
                       "10000 unscaled)", what, rope_ratio);

    /* Read for validation only: these change how the fp16 reference avoids overflow, not the
     * mathematics; we compute in fp32 throughout (kolors-model.md §3.4, §3.8). */
    int unused;
    if ((s = kc_json_bool(root, "apply_query_key_layer_scaling", 0, 1, what, &unused, err))) return s;
    if ((s = kc_json_bool(root, "attention_softmax_in_fp32", 0, 1, what, &unused, err))) return s;
    if ((s = kc_json_bool(root, "fp32_residual_connection", 0, 0, what, &unused, err))) return s;
    /* torch_dtype: the reference builds every layer in it, but our arithmetic is fp32 whatever
     * it says; weights are read in their stored dtype. */
    if ((s = kc_json_str(root, "torch_dtype", 0, "", what, &str, err))) return s;
    snprintf(c->torch_dtype, sizeof c->torch_dtype, "%s", str ? str : "");
    return KC_OK;
}

kc_status kc_chatglm_config_load(const char *path, kc_chatglm_config *c, kc_err *err) {
    cJSON *root = NULL;
    kc_status s = kc_json_load(path, &root, err);
    if (s) return s;
    s = kc_chatglm_config_parse(root, path, c, err);
    cJSON_Delete(root);
    return s;
}

int64_t kc_chatglm_qkv_width(const kc_chatglm_config *c) { return (c->heads + 2 * c->kv_groups) * c->head_dim; }

/* ---- expected tensors ------------------------------------------------------------------ */

kc_status kc_chatglm_expected(const kc_chatglm_config *c, const char *prefix, kc_expected_list *out, kc_err *err) {
    const char *p = prefix ? prefix : "";
    const int64_t H = c->hidden, QKV = kc_chatglm_qkv_width(c);
    kc_status s;
#define ADD1(n0, ...)                                                               \
    do {                                                                            \
        int64_t sh_[1] = {n0};                                                      \
        if ((s = kc_expected_add(out, 1, sh_, err, __VA_ARGS__))) return s;         \
    } while (0)
#define ADD2(n0, n1, ...)                                                           \
    do {                                                                            \
        int64_t sh_[2] = {n0, n1};                                                  \
        if ((s = kc_expected_add(out, 2, sh_, err, __VA_ARGS__))) return s;         \
    } while (0)
    ADD2(c->vocab, H, "%sembedding.word_embeddings.weight", p);
    ADD1(c->head_dim / 4, "%srotary_pos_emb.inv_freq", p); /* RotaryEmbedding(D/2) keeps D/4 freqs */
    for (int64_t l = 0; l < c->layers; l++) {
        const char *L = "encoder.layers";
        ADD1(H, "%s%s.%lld.input_layernorm.weight", p, L, (long long)l);
        ADD2(QKV, H, "%s%s.%lld.self_attention.query_key_value.weight", p, L, (long long)l);
        if (c->qkv_bias) ADD1(QKV, "%s%s.%lld.self_attention.query_key_value.bias", p, L, (long long)l);
        ADD2(H, c->heads * c->head_dim, "%s%s.%lld.self_attention.dense.weight", p, L, (long long)l);
        ADD1(H, "%s%s.%lld.post_attention_layernorm.weight", p, L, (long long)l);
        ADD2(2 * c->ffn, H, "%s%s.%lld.mlp.dense_h_to_4h.weight", p, L, (long long)l);
        ADD2(H, c->ffn, "%s%s.%lld.mlp.dense_4h_to_h.weight", p, L, (long long)l);
    }
    if (c->post_layer_norm) ADD1(H, "%sencoder.final_layernorm.weight", p);
    ADD2(c->vocab, H, "%soutput_layer.weight", p);
#undef ADD1
#undef ADD2
    return KC_OK;
}

/* ---- binding --------------------------------------------------------------------------- */

kc_status kc_chatglm_bind(kc_chatglm *g, const kc_chatglm_config *cfg, kc_weights *ws, kc_err *err) {
    memset(g, 0, sizeof *g);
    g->cfg = *cfg;
    g->ws = ws;
    /* The official shards say "transformer.embedding..."; a bare ChatGLMModel state dict (some
     * single-file conversions) drops the prefix (kolors-model.md §1.7.1). */
    g->prefix = kc_weights_find(ws, "transformer.embedding.word_embeddings.weight") ? "transformer." : "";
    const char *p = g->prefix;
    const int64_t H = cfg->hidden, QKV = kc_chatglm_qkv_width(cfg), HD = cfg->heads * cfg->head_dim;
    kc_status s;
    int64_t emb[2] = {cfg->vocab, H};
    if ((s = kc_weights_bindf(ws, &g->embedding, err, 2, emb, "%sembedding.word_embeddings.weight", p))) goto fail;
    g->layer = calloc((size_t)cfg->layers, sizeof *g->layer);
    if (!g->layer) { s = kc_fail(err, KC_ERR_NOMEM, "out of memory binding the text encoder"); goto fail; }
    for (int64_t l = 0; l < cfg->layers; l++) {
        kc_chatglm_layer *y = &g->layer[l];
        const long long li = (long long)l;
        int64_t vh[1] = {H}, qkv[2] = {QKV, H}, qb[1] = {QKV}, dn[2] = {H, HD}, up[2] = {2 * cfg->ffn, H},
                down[2] = {H, cfg->ffn};
        if ((s = kc_weights_bindf(ws, &y->input_norm, err, 1, vh, "%sencoder.layers.%lld.input_layernorm.weight", p, li)) ||
            (s = kc_weights_bindf(ws, &y->qkv_w, err, 2, qkv, "%sencoder.layers.%lld.self_attention.query_key_value.weight", p, li)) ||
            (cfg->qkv_bias &&
             (s = kc_weights_bindf(ws, &y->qkv_b, err, 1, qb, "%sencoder.layers.%lld.self_attention.query_key_value.bias", p, li))) ||
            (s = kc_weights_bindf(ws, &y->dense, err, 2, dn, "%sencoder.layers.%lld.self_attention.dense.weight", p, li)) ||
            (s = kc_weights_bindf(ws, &y->post_norm, err, 1, vh, "%sencoder.layers.%lld.post_attention_layernorm.weight", p, li)) ||
            (s = kc_weights_bindf(ws, &y->h_to_4h, err, 2, up, "%sencoder.layers.%lld.mlp.dense_h_to_4h.weight", p, li)) ||
            (s = kc_weights_bindf(ws, &y->h4_to_h, err, 2, down, "%sencoder.layers.%lld.mlp.dense_4h_to_h.weight", p, li)))
            goto fail;
    }
    if (cfg->post_layer_norm) {
        int64_t vh[1] = {H};
        if ((s = kc_weights_bindf(ws, &g->final_norm, err, 1, vh, "%sencoder.final_layernorm.weight", p))) goto fail;
    }
    return KC_OK;
fail:
    kc_err_prepend(err, "text encoder");
    free(g->layer);
    g->layer = NULL;
    return s;
}

kc_status kc_chatglm_open(const char *dir, kc_chatglm **out, kc_err *err) {
    *out = NULL;
    char path[4200];
    snprintf(path, sizeof path, "%s/config.json", dir);
    kc_chatglm_config cfg;
    kc_status s = kc_chatglm_config_load(path, &cfg, err);
    if (s) return s;
    static const char *const bases[] = {"model", "pytorch_model"};
    kc_weights *ws = NULL;
    if ((s = kc_weights_open_dir(dir, bases, 2, NULL, &ws, NULL, err))) return s;
    kc_chatglm *g = malloc(sizeof *g);
    if (!g) {
        kc_weights_free(ws);
        return kc_fail(err, KC_ERR_NOMEM, "out of memory");
    }
    if ((s = kc_chatglm_bind(g, &cfg, ws, err))) {
        free(g);
        kc_weights_free(ws);
        return s;
    }
    g->owns_ws = 1;
    *out = g;
    return KC_OK;
}

kc_status kc_chatglm_prepack(kc_chatglm *g, const kc_exec *ex, kc_err *err) {
    if (g->packs) return KC_OK;
    const int64_t L = g->cfg.layers;
    if (!(g->packs = calloc((size_t)(4 * L), sizeof *g->packs)))
        return kc_fail(err, KC_ERR_NOMEM, "text encoder: out of memory for the packed weight list");
    for (int64_t l = 0; l < L; l++) {
        kc_chatglm_layer *ly = &g->layer[l];
        kc_tensor *w[4] = {&ly->qkv_w, &ly->dense, &ly->h_to_4h, &ly->h4_to_h};
        for (int i = 0; i < 4; i++) {
            void *own = NULL;
            size_t b = 0;
            kc_status s = kc_op_prepack(ex, w[i], &own, &b, err);
            if (s) {
                kc_err_prepend(err, "text encoder layer %lld", (long long)l);
                return s;
            }
            if (!own) continue;
            g->packs[g->npacks++] = own;
            g->packed_bytes += b;
            kc_weights_release(g->ws, w[i]);
        }
    }
    return KC_OK;
}

void kc_chatglm_free(kc_chatglm *g) {
    if (!g) return;
    free(g->layer);
    g->layer = NULL;
    for (int i = 0; i < g->npacks; i++) kc_op_prepack_free(g->packs[i]);
    free(g->packs);
    g->packs = NULL;
    g->npacks = 0;
    g->packed_bytes = 0;
    if (g->owns_ws) {
        kc_weights_free(g->ws);
        free(g);
    }
}

/* ---- forward --------------------------------------------------------------------------- */

#define ALIGN_SLACK 64

/* Floats of the scratch region that follows x and h (max over the full and the last-row layer). */
static int ok_scratch_floats(const kc_chatglm_config *c, int64_t N, int64_t T, int64_t *out) {
    const int64_t H = c->hidden, QKV = kc_chatglm_qkv_width(c), HD = c->heads * c->head_dim, F = c->ffn,
                  KVW = 2 * c->kv_groups * c->head_dim;
    int64_t M, a, b, t;
    if (!kc_i64_mul(N, T, &M)) return 0;
    /* full layer: qkv [M,QKV] + o [M,HD], later u [M,2F] + a [M,F] in the same space */
    if (!kc_i64_mul(M, QKV + HD, &a) || !kc_i64_mul(M, 3 * F, &b)) return 0;
    int64_t full = a > b ? a : b;
    /* last-row layer: kv [M,KVW] + q, o [N,HD] + xl, hl [N,H] + u [N,2F] + a [N,F] */
    if (!kc_i64_mul(M, KVW, &a) || !kc_i64_mul(N, 2 * HD + 2 * H + 3 * F, &b) || !kc_i64_add(a, b, &t)) return 0;
    *out = full > t ? full : t;
    return 1;
}

size_t kc_chatglm_arena_bytes(const kc_chatglm_config *c, int64_t N, int64_t T) {
    int64_t M, xh, scratch, tot;
    if (N < 1 || T < 1 || !kc_i64_mul(N, T, &M) || !kc_i64_mul(M, 2 * c->hidden, &xh) ||
        !ok_scratch_floats(c, N, T, &scratch) || !kc_i64_add(xh, scratch, &tot))
        return 0;
    size_t floats = (size_t)tot, ints = (size_t)M + 2 * (size_t)N, bytes;
    /* + int32 positions [M], pads [N] and last-row positions [N]; + alignment slack for each of the ~12 allocations */
    if (!kc_size_mul(floats, sizeof(float), &bytes) || !kc_size_add(bytes, ints * sizeof(int32_t), &bytes) ||
        !kc_size_add(bytes, 16 * ALIGN_SLACK, &bytes))
        return 0;
    return bytes;
}

double kc_chatglm_flops(const kc_chatglm_config *c, int64_t N, int64_t T) {
    const double H = (double)c->hidden, QKV = (double)kc_chatglm_qkv_width(c), HD = (double)(c->heads * c->head_dim),
                 F = (double)c->ffn, D = (double)c->head_dim;
    const double per_token = 2.0 * (H * QKV + HD * H + H * 2.0 * F + F * H);
    /* scores and weighted sum over the full T x T square per head (the usual convention; the
     * causal mask skips about half of it) */
    const double attn = 2.0 * 2.0 * D * (double)c->heads * (double)T * (double)T;
    return (double)N * (double)c->layers * (per_token * (double)T + attn);
}


static void tap_hidden(const kc_chatglm_output *out, int64_t i, const float *x, int64_t N, int64_t T, int64_t H) {
    if (!out->tap) return;
    char name[160];
    snprintf(name, sizeof name, "%shidden_states.%lld", out->tap_prefix ? out->tap_prefix : "", (long long)i);
    int64_t shape[3] = {N, T, H};
    out->tap(name, x, 3, shape, out->tap_user);
}

/* Second half of a GLM block on R rows: x += dense_4h_to_h(SwiGLU(dense_h_to_4h(RMSNorm(x)))).
 * h [R,H], u [R,2F] and act [R,F] are scratch. */
static kc_status mlp_residual(const kc_exec *ex, const kc_chatglm_config *c, const kc_chatglm_layer *y, float *x,
                              float *h, int64_t R, float *u, float *act, kc_err *err) {
    kc_status s;
    if ((s = kc_op_rms_norm(ex, x, h, R, c->hidden, c->eps, &y->post_norm, err))) return s;
    if ((s = kc_op_linear(ex, h, R, c->hidden, &y->h_to_4h, NULL, u, 0, err))) return s;
    kc_op_swiglu(ex, act, u, R, c->ffn); /* first half gated by SiLU (§1.7.1 row layout) */
    return kc_op_linear(ex, act, R, c->ffn, &y->h4_to_h, NULL, x, 1, err);
}

/* One GLM block on all M rows (kolors-model.md §3.4): x [M,H] updated in place. */
static kc_status block_full(const kc_exec *ex, const kc_chatglm *g, const kc_chatglm_layer *y, float *x, float *h,
                            int64_t N, int64_t T, const int32_t *pos, const int32_t *pad, kc_arena *ar, kc_err *err) {
    const kc_chatglm_config *c = &g->cfg;
    const int64_t M = N * T, H = c->hidden, D = c->head_dim, NH = c->heads, NKV = c->kv_groups, HD = NH * D,
                  QKV = kc_chatglm_qkv_width(c), F = c->ffn;
    size_t mark = kc_arena_mark(ar);
    kc_status s;
    float *qkv = kc_arena_floats(ar, (size_t)(M * QKV), err), *o = kc_arena_floats(ar, (size_t)(M * HD), err);
    if (!qkv || !o) return KC_ERR_NOMEM;
    if ((s = kc_op_rms_norm(ex, x, h, M, H, c->eps, &y->input_norm, err))) return s;
    if ((s = kc_op_linear(ex, h, M, H, &y->qkv_w, y->qkv_b.data ? &y->qkv_b : NULL, qkv, 0, err))) return s;
    /* RoPE on Q (NH heads) and K (NKV groups), before the groups are shared (§3.3) */
    if ((s = kc_op_rope_interleaved(ex, qkv, M, QKV, NH, D, D / 2, pos, ROPE_BASE, err))) return s;
    if ((s = kc_op_rope_interleaved(ex, qkv + HD, M, QKV, NKV, D, D / 2, pos, ROPE_BASE, err))) return s;
    kc_attn_args a = {
        .q = qkv, .k = qkv + HD, .v = qkv + HD + NKV * D, .o = o,
        .N = N, .Tq = T, .Tk = T, .NH = NH, .NKV = NKV, .D = D,
        .q_bs = T * QKV, .q_ts = QKV, .k_bs = T * QKV, .k_ts = QKV, .v_bs = T * QKV, .v_ts = QKV,
        .o_bs = T * HD, .o_ts = HD,
        /* apply_query_key_layer_scaling divides by sqrt(D)·layer and multiplies by layer again:
         * mathematically 1/sqrt(D), differing only in rounding (§3.4) */
        .scale = (float)(1.0 / sqrt((double)D)),
        .causal = 1, .pad = pad,
    };
    if ((s = kc_op_attention(ex, &a, err))) return s;
    if ((s = kc_op_linear(ex, o, M, HD, &y->dense, NULL, x, 1, err))) return s;
    kc_arena_rewind(ar, mark);
    float *u = kc_arena_floats(ar, (size_t)(M * 2 * F), err), *act = kc_arena_floats(ar, (size_t)(M * F), err);
    if (!u || !act) return KC_ERR_NOMEM;
    if ((s = mlp_residual(ex, c, y, x, h, M, u, act, err))) return s;
    kc_arena_rewind(ar, mark);
    return KC_OK;
}

/* The last block for row T-1 of each prompt only (§3.7 shortcut): K/V from all rows, Q, the
 * attention and the MLP for one row. pooled [N,H] receives the block's output rows. */
static kc_status block_last_row(const kc_exec *ex, const kc_chatglm *g, const kc_chatglm_layer *y, const float *x,
                                float *h, int64_t N, int64_t T, const int32_t *pos, const int32_t *pad,
                                float *pooled, kc_arena *ar, kc_err *err) {
    const kc_chatglm_config *c = &g->cfg;
    const int64_t M = N * T, H = c->hidden, D = c->head_dim, NH = c->heads, NKV = c->kv_groups, HD = NH * D,
                  KVW = 2 * NKV * D, F = c->ffn;
    size_t mark = kc_arena_mark(ar);
    kc_status s;
    float *kv = kc_arena_floats(ar, (size_t)(M * KVW), err), *q = kc_arena_floats(ar, (size_t)(N * HD), err),
          *o = kc_arena_floats(ar, (size_t)(N * HD), err), *hl = kc_arena_floats(ar, (size_t)(N * H), err),
          *u = kc_arena_floats(ar, (size_t)(N * 2 * F), err), *act = kc_arena_floats(ar, (size_t)(N * F), err);
    int32_t *lpos = kc_arena_alloc(ar, (size_t)N * sizeof(int32_t), 64, err);
    if (!kv || !q || !o || !hl || !u || !act || !lpos) return KC_ERR_NOMEM;
    const kc_tensor wq = kc_op_rows_view(&y->qkv_w, 0, HD), wkv = kc_op_rows_view(&y->qkv_w, HD, KVW);
    kc_tensor bq, bkv;
    if (y->qkv_b.data) { bq = kc_op_rows_view(&y->qkv_b, 0, HD); bkv = kc_op_rows_view(&y->qkv_b, HD, KVW); }
    if ((s = kc_op_rms_norm(ex, x, h, M, H, c->eps, &y->input_norm, err))) return s;
    if ((s = kc_op_linear(ex, h, M, H, &wkv, y->qkv_b.data ? &bkv : NULL, kv, 0, err))) return s;
    if ((s = kc_op_rope_interleaved(ex, kv, M, KVW, NKV, D, D / 2, pos, ROPE_BASE, err))) return s;
    for (int64_t b = 0; b < N; b++) {
        memcpy(hl + b * H, h + (b * T + T - 1) * H, (size_t)H * sizeof(float));
        lpos[b] = pos[b * T + T - 1];
    }
    if ((s = kc_op_linear(ex, hl, N, H, &wq, y->qkv_b.data ? &bq : NULL, q, 0, err))) return s;
    if ((s = kc_op_rope_interleaved(ex, q, N, HD, NH, D, D / 2, lpos, ROPE_BASE, err))) return s;
    for (int64_t b = 0; b < N; b++) {
        /* Row T-1 is a real token unless the whole row is padding; a real row sees the real keys
         * [P, T), a padding row sees every key (§3.5). */
        const int64_t P = pad[b], j0 = P < T ? P : 0;
        const float *kb = kv + (b * T + j0) * KVW;
        kc_attn_args a = {
            .q = q + b * HD, .k = kb, .v = kb + NKV * D, .o = o + b * HD,
            .N = 1, .Tq = 1, .Tk = T - j0, .NH = NH, .NKV = NKV, .D = D,
            .q_bs = HD, .q_ts = HD, .k_bs = T * KVW, .k_ts = KVW, .v_bs = T * KVW, .v_ts = KVW,
            .o_bs = HD, .o_ts = HD, .scale = (float)(1.0 / sqrt((double)D)), .causal = 0, .pad = NULL,
        };
        if ((s = kc_op_attention(ex, &a, err))) return s;
        memcpy(pooled + b * H, x + (b * T + T - 1) * H, (size_t)H * sizeof(float));
    }
    if ((s = kc_op_linear(ex, o, N, HD, &y->dense, NULL, pooled, 1, err))) return s;
    if ((s = mlp_residual(ex, c, y, pooled, hl, N, u, act, err))) return s;
    kc_arena_rewind(ar, mark);
    return KC_OK;
}

/* Validates the inputs and derives pad counts and positions. */
static kc_status prepare_inputs(const kc_chatglm *g, const kc_chatglm_input *in, int32_t *pos, int32_t *pad,
                                 kc_err *err) {
    const kc_chatglm_config *c = &g->cfg;
    const int64_t N = in->N, T = in->T;
    for (int64_t b = 0; b < N; b++) {
        int64_t P = 0;
        if (in->attention_mask) {
            const int32_t *mk = in->attention_mask + b * T;
            while (P < T && mk[P] == 0) P++;
            for (int64_t t = P; t < T; t++)
                if (mk[t] != 1)
                    return kc_fail(err, KC_ERR_UNSUPPORTED, "text encoder: attention_mask row %lld is not left padding "
                                   "(value %d at position %lld after the first token); only 0...0 1...1 masks are "
                                   "supported", (long long)b, (int)mk[t], (long long)t);
        }
        pad[b] = (int32_t)P;
        for (int64_t t = 0; t < T; t++) {
            const int64_t m = b * T + t;
            const int32_t id = in->input_ids[m];
            if (id < 0 || id >= c->vocab)
                return kc_fail(err, KC_ERR_ARG, "text encoder: input id %d at [%lld, %lld] is outside the %lld-row "
                               "embedding table", (int)id, (long long)b, (long long)t, (long long)c->vocab);
            int64_t p = in->position_ids ? in->position_ids[m] : (t < P ? 0 : t - P);
            if (p < 0 || p >= c->seq_length)
                return kc_fail(err, KC_ERR_ARG, "text encoder: position %lld at [%lld, %lld] is outside [0, %lld) "
                               "(seq_length)", (long long)p, (long long)b, (long long)t, (long long)c->seq_length);
            pos[m] = (int32_t)p;
        }
    }
    return KC_OK;
}

kc_status kc_chatglm_forward(const kc_exec *ex, const kc_chatglm *g, const kc_chatglm_input *in,
                             const kc_chatglm_output *out, kc_arena *arena, kc_err *err) {
    const kc_chatglm_config *c = &g->cfg;
    const int64_t N = in->N, T = in->T, H = c->hidden, L = c->layers;
    if (N < 1 || T < 1 || !kc_chatglm_arena_bytes(c, N, T))
        return kc_fail(err, KC_ERR_ARG, "text encoder: batch %lld x %lld tokens is not a valid size", (long long)N,
                       (long long)T);
    if (!g->layer) return kc_fail(err, KC_ERR_INTERNAL, "text encoder: weights are not bound");
    const int64_t M = N * T;
    size_t mark = kc_arena_mark(arena);
    kc_status s;
    int32_t *pos = kc_arena_alloc(arena, (size_t)M * sizeof(int32_t), 64, err);
    int32_t *pad = kc_arena_alloc(arena, (size_t)N * sizeof(int32_t), 64, err);
    float *x = kc_arena_floats(arena, (size_t)(M * H), err), *h = kc_arena_floats(arena, (size_t)(M * H), err);
    if (!pos || !pad || !x || !h) { s = KC_ERR_NOMEM; goto done; }
    if ((s = prepare_inputs(g, in, pos, pad, err))) goto done;

    /* Embedding: plain row lookup, converted from the stored dtype (§3.2). */
    const size_t es = kc_dtype_size(g->embedding.dtype);
    for (int64_t m = 0; m < M; m++)
        kc_convert_to_f32(x + m * H, (const unsigned char *)g->embedding.data + (size_t)in->input_ids[m] * (size_t)H * es,
                          g->embedding.dtype, (size_t)H);
    tap_hidden(out, 0, x, N, T, H);
    if (out->prompt_embeds && L == 1) memcpy(out->prompt_embeds, x, (size_t)(M * H) * sizeof(float));

    /* Kolors needs only row T-1 of the last layer; compute it all when someone looks at it. */
    const int full_last = out->tap || out->last_hidden;
    for (int64_t l = 0; l < L; l++) {
        if (l == L - 1 && !full_last) {
            if (out->pooled && (s = block_last_row(ex, g, &g->layer[l], x, h, N, T, pos, pad, out->pooled, arena, err)))
                goto done;
            break;
        }
        if ((s = block_full(ex, g, &g->layer[l], x, h, N, T, pos, pad, arena, err))) goto done;
        tap_hidden(out, l + 1, x, N, T, H);
        if (out->prompt_embeds && l == L - 2) memcpy(out->prompt_embeds, x, (size_t)(M * H) * sizeof(float));
    }
    if (full_last) {
        if (out->pooled)
            for (int64_t b = 0; b < N; b++)
                memcpy(out->pooled + b * H, x + (b * T + T - 1) * H, (size_t)H * sizeof(float));
        if (out->last_hidden) {
            if (c->post_layer_norm) {
                if ((s = kc_op_rms_norm(ex, x, out->last_hidden, M, H, c->eps, &g->final_norm, err))) goto done;
            } else {
                memcpy(out->last_hidden, x, (size_t)(M * H) * sizeof(float));
            }
        }
    }
done:
    kc_arena_rewind(arena, mark);
    if (s) kc_err_prepend(err, "text encoder forward");
    return s;
}
