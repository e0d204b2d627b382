/* unet_blocks.c — Transformer2DModel + BasicTransformerBlock (diffusers
 * transformers/transformer_2d.py, attention.py BasicTransformerBlock, attention_processor.py
 * AttnProcessor2_0, activations.py GEGLU), channels-last: the [N, H, W, C] activation already is
 * the [N, S, C] token sequence, so there is no reshape.
 *
 * Dimension letters: N batch, S = H*W tokens, C channels, T text tokens, X cross width,
 * NH heads, D = C / NH head dim. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diffusion/unet_blocks.h"

#define GN_EPS 1e-6f /* Transformer2DModel's GroupNorm eps is hard-coded in diffusers */
#define LN_EPS 1e-5f /* BasicTransformerBlock LayerNorm eps (norm_eps default) */
#define SLOP 64      /* alignment slack per arena block */

kc_status kc_xformer_bind(kc_xformer *a, const kc_weights *ws, const char *prefix, int64_t C, int64_t heads,
                          int64_t depth, int64_t cross_dim, int64_t groups, int linear_proj, kc_err *err) {
    char p[512];
    kc_status s;
    memset(a, 0, sizeof *a);
    a->C = C;
    a->heads = heads;
    a->depth = depth;
    a->groups = groups;
    a->cross_dim = cross_dim;
    snprintf(p, sizeof p, "%s.norm", prefix);
    if ((s = kc_norm_bind(&a->norm, ws, p, C, err))) return s;
    snprintf(p, sizeof p, "%s.proj_in", prefix);
    if (linear_proj) s = kc_linear_bind(&a->proj_in, ws, p, C, C, 1, err);
    else s = kc_conv_bind(&a->proj_in, ws, p, C, C, 1, err);
    if (s) return s;
    snprintf(p, sizeof p, "%s.proj_out", prefix);
    if (linear_proj) s = kc_linear_bind(&a->proj_out, ws, p, C, C, 1, err);
    else s = kc_conv_bind(&a->proj_out, ws, p, C, C, 1, err);
    if (s) return s;
    a->blocks = calloc((size_t)depth, sizeof *a->blocks);
    if (!a->blocks) return kc_fail(err, KC_ERR_NOMEM, "out of memory");
    for (int64_t k = 0; k < depth; k++) {
        kc_tblock *b = &a->blocks[k];
        char bp[400];
        snprintf(bp, sizeof bp, "%s.transformer_blocks.%lld", prefix, (long long)k);
#define BIND(call) do { if ((s = (call))) return s; } while (0)
        snprintf(p, sizeof p, "%s.norm1", bp); BIND(kc_norm_bind(&b->norm1, ws, p, C, err));
        snprintf(p, sizeof p, "%s.norm2", bp); BIND(kc_norm_bind(&b->norm2, ws, p, C, err));
        snprintf(p, sizeof p, "%s.norm3", bp); BIND(kc_norm_bind(&b->norm3, ws, p, C, err));
        snprintf(p, sizeof p, "%s.attn1.to_q", bp); BIND(kc_linear_bind(&b->q1, ws, p, C, C, 0, err));
        snprintf(p, sizeof p, "%s.attn1.to_k", bp); BIND(kc_linear_bind(&b->k1, ws, p, C, C, 0, err));
        snprintf(p, sizeof p, "%s.attn1.to_v", bp); BIND(kc_linear_bind(&b->v1, ws, p, C, C, 0, err));
        snprintf(p, sizeof p, "%s.attn1.to_out.0", bp); BIND(kc_linear_bind(&b->o1, ws, p, C, C, 1, err));
        snprintf(p, sizeof p, "%s.attn2.to_q", bp); BIND(kc_linear_bind(&b->q2, ws, p, C, C, 0, err));
        snprintf(p, sizeof p, "%s.attn2.to_k", bp); BIND(kc_linear_bind(&b->k2, ws, p, C, cross_dim, 0, err));
        snprintf(p, sizeof p, "%s.attn2.to_v", bp); BIND(kc_linear_bind(&b->v2, ws, p, C, cross_dim, 0, err));
        snprintf(p, sizeof p, "%s.attn2.to_out.0", bp); BIND(kc_linear_bind(&b->o2, ws, p, C, C, 1, err));
        snprintf(p, sizeof p, "%s.ff.net.0.proj", bp); BIND(kc_linear_bind(&b->ff0, ws, p, 8 * C, C, 1, err));
        snprintf(p, sizeof p, "%s.ff.net.2", bp); BIND(kc_linear_bind(&b->ff2, ws, p, C, 4 * C, 1, err));
#undef BIND
    }
    return KC_OK;
}

void kc_xformer_free(kc_xformer *a) {
    free(a->blocks);
    a->blocks = NULL;
}

size_t kc_xformer_scratch_bytes(const kc_xformer *a, int64_t N, int64_t S, int64_t T) {
    const size_t M = (size_t)(N * S), C = (size_t)a->C, f = sizeof(float);
    const size_t kv = (size_t)(N * (S > T ? S : T)) * C;
    const size_t attn = (2 * M * C + 2 * kv) * f + 4 * SLOP, ff = 12 * M * C * f + 2 * SLOP;
    return 2 * (M * C * f + SLOP) + (attn > ff ? attn : ff);
}

/* o [N, Tq, C] = softmax(q kᵀ / sqrt(D)) v per head; q [N, Tq, C], k/v [N, Tk, C]. */
static kc_status attend(const kc_exec *ex, const kc_xformer *a, const float *q, const float *k, const float *v,
                        float *o, int64_t N, int64_t Tq, int64_t Tk, kc_err *err) {
    const int64_t C = a->C, D = C / a->heads;
    kc_attn_args args = {
        .q = q, .k = k, .v = v, .o = o, .N = N, .Tq = Tq, .Tk = Tk, .NH = a->heads, .NKV = a->heads, .D = D,
        .q_bs = Tq * C, .q_ts = C, .k_bs = Tk * C, .k_ts = C, .v_bs = Tk * C, .v_ts = C, .o_bs = Tq * C, .o_ts = C,
        .scale = (float)(1.0 / sqrt((double)D)), .causal = 0, .pad = NULL,
    };
    return kc_op_attention(ex, &args, err);
}

#define TRY(x) do { if ((s = (x))) goto done; } while (0)
#define ALLOC(p, n) do { if (!((p) = kc_arena_floats(arena, (size_t)(n), err))) { s = KC_ERR_NOMEM; goto done; } } while (0)

kc_status kc_xformer_kv(const kc_exec *ex, const kc_xformer *a, const float *ctx, int64_t N, int64_t T, float *kv,
                        kc_err *err) {
    const int64_t C = a->C, X = a->cross_dim;
    for (int64_t bi = 0; bi < a->depth; bi++) {
        float *k = kv + N * T * (a->kv_off + 2 * C * bi), *v = k + N * T * C;
        kc_status s = kc_op_linear(ex, ctx, N * T, X, &a->blocks[bi].k2.weight, NULL, k, 0, err);
        if (!s) s = kc_op_linear(ex, ctx, N * T, X, &a->blocks[bi].v2.weight, NULL, v, 0, err);
        if (s) return s;
    }
    return KC_OK;
}

kc_status kc_xformer_forward(const kc_exec *ex, const kc_xformer *a, float *x, int64_t N, int64_t S, const float *ctx,
                             const float *kv, int64_t T, kc_arena *arena, kc_err *err) {
    const int64_t C = a->C, M = N * S, X = a->cross_dim;
    const size_t mark = kc_arena_mark(arena);
    kc_status s = KC_OK;
    float *t, *ln;
    ALLOC(t, M * C);  /* the token stream */
    ALLOC(ln, M * C); /* normalised tokens */
    TRY(kc_op_group_norm(ex, x, ln, N, S, C, a->groups, GN_EPS, &a->norm.weight, &a->norm.bias, 0, err));
    TRY(kc_op_linear(ex, ln, M, C, &a->proj_in.weight, kc_layer_bias(&a->proj_in), t, 0, err));
    for (int64_t bi = 0; bi < a->depth; bi++) {
        const kc_tblock *b = &a->blocks[bi];
        const size_t m2 = kc_arena_mark(arena);
        float *q, *k, *v, *o, *p, *g;
        const int64_t kvn = N * (S > T ? S : T) * C;
        ALLOC(q, M * C);
        ALLOC(k, kvn);
        ALLOC(v, kvn);
        ALLOC(o, M * C);
        /* t += Attn1(LN1(t)): self-attention over the S tokens */
        TRY(kc_op_layer_norm(ex, t, ln, M, C, LN_EPS, &b->norm1.weight, &b->norm1.bias, err));
        TRY(kc_op_linear(ex, ln, M, C, &b->q1.weight, NULL, q, 0, err));
        TRY(kc_op_linear(ex, ln, M, C, &b->k1.weight, NULL, k, 0, err));
        TRY(kc_op_linear(ex, ln, M, C, &b->v1.weight, NULL, v, 0, err));
        TRY(attend(ex, a, q, k, v, o, N, S, S, err));
        TRY(kc_op_linear(ex, o, M, C, &b->o1.weight, kc_layer_bias(&b->o1), t, 1, err));
        /* t += Attn2(LN2(t), ctx): cross-attention to all T text tokens, no mask */
        TRY(kc_op_layer_norm(ex, t, ln, M, C, LN_EPS, &b->norm2.weight, &b->norm2.bias, err));
        TRY(kc_op_linear(ex, ln, M, C, &b->q2.weight, NULL, q, 0, err));
        if (kv) {
            const float *kc = kv + N * T * (a->kv_off + 2 * C * bi);
            TRY(attend(ex, a, q, kc, kc + N * T * C, o, N, S, T, err));
        } else {
            TRY(kc_op_linear(ex, ctx, N * T, X, &b->k2.weight, NULL, k, 0, err));
            TRY(kc_op_linear(ex, ctx, N * T, X, &b->v2.weight, NULL, v, 0, err));
            TRY(attend(ex, a, q, k, v, o, N, S, T, err));
        }
        TRY(kc_op_linear(ex, o, M, C, &b->o2.weight, kc_layer_bias(&b->o2), t, 1, err));
        kc_arena_rewind(arena, m2);
        /* t += FF(LN3(t)): GEGLU C -> [value 4C | gate 4C] -> 4C -> C */
        ALLOC(p, M * 8 * C);
        ALLOC(g, M * 4 * C);
        TRY(kc_op_layer_norm(ex, t, ln, M, C, LN_EPS, &b->norm3.weight, &b->norm3.bias, err));
        TRY(kc_op_linear(ex, ln, M, C, &b->ff0.weight, kc_layer_bias(&b->ff0), p, 0, err));
        kc_op_geglu(ex, g, p, M, 4 * C);
        TRY(kc_op_linear(ex, g, M, 4 * C, &b->ff2.weight, kc_layer_bias(&b->ff2), t, 1, err));
        kc_arena_rewind(arena, m2);
    }
    /* x += proj_out(t): the residual is the block input itself */
    TRY(kc_op_linear(ex, t, M, C, &a->proj_out.weight, kc_layer_bias(&a->proj_out), x, 1, err));
done:
    kc_arena_rewind(arena, mark);
    return s;
}
