/* unet.c — loading, binding, arena planning and the forward pass of UNet2DConditionModel
 * (diffusers unets/unet_2d_condition.py + unet_2d_blocks.py, kolors-model.md §4), channels-last.
 * The Transformer2DModel lives in unet_blocks.c.
 *
 * Dimension letters: see unet.h. Activations are [N, H, W, C]; the inputs/outputs and the taps
 * are NCHW like the reference. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/checked.h"
#include "diffusion/nn.h"
#include "diffusion/unet_blocks.h"

typedef struct {
    int nres;
    kc_resnet res[KC_UNET_MAX_LAYERS + 1];
    int has_attn;
    kc_xformer attn[KC_UNET_MAX_LAYERS + 1];
    int has_down, has_up;
    kc_downsample down;
    kc_upsample up;
} ublock;

struct kc_unet {
    kc_unet_config cfg;
    kc_weights *ws;
    size_t packed_bytes; /* weights prepacked for the bf16 GEMM (0: none) */
    kc_layer conv_in, conv_out, te1, te2, ae1, ae2, hid;
    kc_norm norm_out;
    ublock down[KC_UNET_MAX_BLOCKS], up[KC_UNET_MAX_BLOCKS];
    kc_resnet mid_res[2];
    kc_xformer mid_attn;
    int64_t kv_units; /* K/V cache floats per (sample, token) */
};

const kc_unet_config *kc_unet_get_config(const kc_unet *u) { return &u->cfg; }
const kc_weights *kc_unet_weights(const kc_unet *u) { return u->ws; }

void kc_unet_free(kc_unet *u) {
    if (!u) return;
    for (int i = 0; i < KC_UNET_MAX_BLOCKS; i++)
        for (int j = 0; j <= KC_UNET_MAX_LAYERS; j++) {
            kc_xformer_free(&u->down[i].attn[j]);
            kc_xformer_free(&u->up[i].attn[j]);
        }
    kc_xformer_free(&u->mid_attn);
    kc_weights_free(u->ws);
    free(u);
}

/* Spatial size of every level of the down path: level i runs at hs[i] x ws[i]. */
static void level_sizes(const kc_unet_config *c, int64_t H, int64_t W, int64_t *hs, int64_t *ws) {
    hs[0] = H;
    ws[0] = W;
    for (int i = 0; i + 1 < c->nblocks; i++) {
        /* Downsample2D: 3x3 stride 2; padding 1 -> ceil(n/2); VAE-style right/bottom pad -> floor(n/2) */
        int64_t p = c->downsample_padding ? 2 : 1;
        hs[i + 1] = (hs[i] + p - 3) / 2 + 1;
        ws[i + 1] = (ws[i] + p - 3) / 2 + 1;
    }
}

static kc_status bind_all(kc_unet *u, kc_err *err) {
    const kc_unet_config *c = &u->cfg;
    const kc_weights *ws = u->ws;
    const int nb = c->nblocks;
    const int64_t te = c->temb_dim;
    char p[256];
    kc_status s;
    if ((s = kc_conv_bind(&u->conv_in, ws, "conv_in", c->block_out[0], c->in_channels, c->conv_in_k, err))) return s;
    if ((s = kc_linear_bind(&u->te1, ws, "time_embedding.linear_1", te, c->temb_in, 1, err))) return s;
    if ((s = kc_linear_bind(&u->te2, ws, "time_embedding.linear_2", te, te, 1, err))) return s;
    if (c->hid_dim && (s = kc_linear_bind(&u->hid, ws, "encoder_hid_proj", c->cross_dim, c->hid_dim, 1, err))) return s;
    if (c->add_text_time) {
        if ((s = kc_linear_bind(&u->ae1, ws, "add_embedding.linear_1", te, c->add_in_dim, 1, err))) return s;
        if ((s = kc_linear_bind(&u->ae2, ws, "add_embedding.linear_2", te, te, 1, err))) return s;
    }
    int64_t ch = c->block_out[0];
    for (int i = 0; i < nb; i++) {
        ublock *b = &u->down[i];
        const int64_t out = c->block_out[i];
        b->nres = (int)c->layers[i];
        b->has_attn = c->down_attn[i];
        for (int j = 0; j < b->nres; j++) {
            snprintf(p, sizeof p, "down_blocks.%d.resnets.%d", i, j);
            if ((s = kc_resnet_bind(&b->res[j], ws, p, j == 0 ? ch : out, out, te, c->groups, c->eps, err))) return s;
            if (b->has_attn) {
                snprintf(p, sizeof p, "down_blocks.%d.attentions.%d", i, j);
                if ((s = kc_xformer_bind(&b->attn[j], ws, p, out, c->heads[i], c->depth[i], c->cross_dim, c->groups,
                                         c->linear_proj, err)))
                    return s;
            }
        }
        b->has_down = i < nb - 1;
        if (b->has_down) {
            snprintf(p, sizeof p, "down_blocks.%d.downsamplers.0", i);
            if ((s = kc_downsample_bind(&b->down, ws, p, out, !c->downsample_padding, err))) return s;
        }
        ch = out;
    }
    const int64_t cm = c->block_out[nb - 1];
    if ((s = kc_resnet_bind(&u->mid_res[0], ws, "mid_block.resnets.0", cm, cm, te, c->groups, c->eps, err))) return s;
    if ((s = kc_resnet_bind(&u->mid_res[1], ws, "mid_block.resnets.1", cm, cm, te, c->groups, c->eps, err))) return s;
    if ((s = kc_xformer_bind(&u->mid_attn, ws, "mid_block.attentions.0", cm, c->heads[nb - 1], c->depth[nb - 1],
                             c->cross_dim, c->groups, c->linear_proj, err)))
        return s;
    int64_t prev = cm;
    for (int i = 0; i < nb; i++) {
        ublock *b = &u->up[i];
        const int lvl = nb - 1 - i;
        const int64_t out = c->block_out[lvl], in = c->block_out[lvl > 0 ? lvl - 1 : 0];
        b->nres = (int)c->layers[lvl] + 1;
        b->has_attn = c->up_attn[i];
        for (int j = 0; j < b->nres; j++) {
            const int64_t skip = j == b->nres - 1 ? in : out, rin = j == 0 ? prev : out;
            snprintf(p, sizeof p, "up_blocks.%d.resnets.%d", i, j);
            if ((s = kc_resnet_bind(&b->res[j], ws, p, rin + skip, out, te, c->groups, c->eps, err))) return s;
            if (b->has_attn) {
                snprintf(p, sizeof p, "up_blocks.%d.attentions.%d", i, j);
                if ((s = kc_xformer_bind(&b->attn[j], ws, p, out, c->heads[lvl], c->depth[lvl], c->cross_dim,
                                         c->groups, c->linear_proj, err)))
                    return s;
            }
        }
        b->has_up = i < nb - 1;
        if (b->has_up) {
            snprintf(p, sizeof p, "up_blocks.%d.upsamplers.0", i);
            if ((s = kc_upsample_bind(&b->up, ws, p, out, err))) return s;
        }
        prev = out;
    }
    /* K/V cache layout: down blocks, mid, up blocks, in forward order */
    u->kv_units = 0;
    for (int i = 0; i < nb; i++)
        for (int j = 0; u->down[i].has_attn && j < u->down[i].nres; j++) {
            u->down[i].attn[j].kv_off = u->kv_units;
            u->kv_units += 2 * u->down[i].attn[j].C * u->down[i].attn[j].depth;
        }
    u->mid_attn.kv_off = u->kv_units;
    u->kv_units += 2 * u->mid_attn.C * u->mid_attn.depth;
    for (int i = 0; i < nb; i++)
        for (int j = 0; u->up[i].has_attn && j < u->up[i].nres; j++) {
            u->up[i].attn[j].kv_off = u->kv_units;
            u->kv_units += 2 * u->up[i].attn[j].C * u->up[i].attn[j].depth;
        }
    if ((s = kc_norm_bind(&u->norm_out, ws, "conv_norm_out", c->block_out[0], err))) return s;
    return kc_conv_bind(&u->conv_out, ws, "conv_out", c->out_channels, c->block_out[0], c->conv_out_k, err);
}

/* Layers that only ever see the batch's few rows (time and added embeddings): their GEMMs read
 * the stored weight directly (ops' small-M path), so a packed copy would be memory for nothing. */
static const char *const few_row_layers[] = {"time_emb_proj", "time_embedding.", "add_embedding.", NULL};

kc_status kc_unet_create(const kc_unet_config *cfg, kc_weights *ws, const kc_exec *pack_ex, kc_unet **out, kc_err *err) {
    *out = NULL;
    kc_unet *u = calloc(1, sizeof *u);
    if (!u) {
        kc_weights_free(ws);
        return kc_fail(err, KC_ERR_NOMEM, "out of memory");
    }
    u->cfg = *cfg;
    u->ws = ws;
    kc_status s = KC_OK;
    if (pack_ex) {
        kc_expected_list exp = {0};
        s = kc_unet_expected(cfg, &exp, err);
        if (!s) s = kc_nn_prepack_expected(ws, pack_ex, &exp, few_row_layers, &u->packed_bytes, err);
        kc_expected_free(&exp);
    }
    if (!s) s = bind_all(u, err);
    if (s) {
        kc_err_prepend(err, "unet");
        kc_unet_free(u);
        return s;
    }
    *out = u;
    return KC_OK;
}

kc_status kc_unet_load(const char *unet_dir, const char *variant, const kc_exec *pack_ex, kc_unet **out,
                       int *used_variant, kc_err *err) {
    char path[4096];
    kc_unet_config cfg;
    *out = NULL;
    if ((size_t)snprintf(path, sizeof path, "%s/config.json", unet_dir) >= sizeof path)
        return kc_fail(err, KC_ERR_ARG, "unet folder path is too long");
    kc_status s = kc_unet_config_load(path, &cfg, err);
    if (s) return s;
    static const char *const bases[] = {"diffusion_pytorch_model"};
    kc_weights *ws = NULL;
    int used = 0;
    if ((s = kc_weights_open_dir(unet_dir, bases, 1, variant, &ws, &used, err))) return s;
    if (used_variant) *used_variant = used;
    return kc_unet_create(&cfg, ws, pack_ex, out, err);
}

size_t kc_unet_packed_bytes(const kc_unet *u) { return u->packed_bytes; }

/* ---- embeddings -------------------------------------------------------------------------- */

void kc_unet_sinusoid(float t, int64_t dim, int flip_sin_to_cos, double freq_shift, float *out) {
    /* diffusers get_timestep_embedding, in fp32 like the reference: exponent = -ln(10000)·i /
     * (half - shift), freq = exp(exponent), arg = t·freq; [sin | cos], swapped when flipped. */
    const int64_t half = dim / 2;
    const float lnp = (float)-log(10000.0), den = (float)((double)half - freq_shift);
    for (int64_t i = 0; i < half; i++) {
        float f = expf(lnp * (float)i / den), a = t * f;
        float sv = (float)sin((double)a), cv = (float)cos((double)a);
        out[i] = flip_sin_to_cos ? cv : sv;
        out[half + i] = flip_sin_to_cos ? sv : cv;
    }
    if (dim % 2) out[dim - 1] = 0.0f;
}

kc_status kc_unet_project_context(const kc_exec *ex, const kc_unet *u, const float *ehs, int64_t N, int64_t T,
                                  float *ctx, kc_unet_tap_fn tap, void *tap_user, kc_err *err) {
    const kc_unet_config *c = &u->cfg;
    if (N < 1 || T < 1) return kc_fail(err, KC_ERR_ARG, "unet: batch %lld and token count %lld must be >= 1", (long long)N, (long long)T);
    if (c->hid_dim) {
        kc_status s = kc_op_linear(ex, ehs, N * T, c->hid_dim, &u->hid.weight, kc_layer_bias(&u->hid), ctx, 0, err);
        if (s) return s;
    } else {
        memmove(ctx, ehs, (size_t)(N * T * c->cross_dim) * sizeof(float));
    }
    if (tap) tap("encoder_hid_proj", ctx, 3, (const int64_t[]){N, T, c->cross_dim}, tap_user);
    return KC_OK;
}

int64_t kc_unet_kv_floats(const kc_unet *u, int64_t N, int64_t T) { return N * T * u->kv_units; }

kc_status kc_unet_precompute_kv(const kc_exec *ex, const kc_unet *u, const float *ctx, int64_t N, int64_t T, float *kv,
                                kc_err *err) {
    kc_status s = KC_OK;
    for (int i = 0; i < u->cfg.nblocks && !s; i++)
        for (int j = 0; u->down[i].has_attn && j < u->down[i].nres && !s; j++)
            s = kc_xformer_kv(ex, &u->down[i].attn[j], ctx, N, T, kv, err);
    if (!s) s = kc_xformer_kv(ex, &u->mid_attn, ctx, N, T, kv, err);
    for (int i = 0; i < u->cfg.nblocks && !s; i++)
        for (int j = 0; u->up[i].has_attn && j < u->up[i].nres && !s; j++)
            s = kc_xformer_kv(ex, &u->up[i].attn[j], ctx, N, T, kv, err);
    return s;
}

/* ---- arena plan -------------------------------------------------------------------------- */

#define ALIGN_SLOP 64 /* kc_arena_floats aligns each block to 64 bytes */

/* Scratch bytes kc_op_conv2d may take for conv layer l with Wo output columns. ops.h does not
 * publish this, so it is the larger of the two schemes the op has used: a per-thread im2col row
 * [Wo, Cin·k·k] (reference ops) and a reordered copy of the weight in its dtype (the blocked
 * implicit-GEMM conv, which takes it from the arena when there is room and from the heap
 * otherwise). 1x1 unpadded convs are plain linears and take none. test_unet checks the arena's
 * high-water mark against this plan. */
static size_t conv_scratch(const kc_exec *ex, const kc_layer *l, int64_t Wo) {
    const kc_tensor *w = &l->weight;
    const int64_t KK = w->shape[1] * w->shape[2] * w->shape[3];
    if (w->shape[2] * w->shape[3] == 1) return 0;
    size_t im2col = (size_t)Wo * (size_t)KK * (size_t)ex->n_threads * sizeof(float);
    size_t wcopy = (size_t)(w->shape[0] * KK) * kc_dtype_size(w->dtype);
    return (im2col > wcopy ? im2col : wcopy) + 2 * ALIGN_SLOP;
}
static size_t fbytes(int64_t n) { return (size_t)n * sizeof(float) + ALIGN_SLOP; }
static size_t zmax(size_t a, size_t b) { return a > b ? a : b; }

static size_t resnet_scratch(const kc_exec *ex, const kc_resnet *r, int64_t N, int64_t H, int64_t W) {
    return fbytes(kc_resnet_scratch_floats(r, N, H * W)) + 3 * ALIGN_SLOP +
           zmax(conv_scratch(ex, &r->conv1, W), conv_scratch(ex, &r->conv2, W));
}

typedef struct {
    size_t persistent;           /* embeddings, skips, ping-pong and concat buffers, I/O copies */
    size_t scratch;              /* the largest per-layer need on top */
    int64_t act_n, cat_n, tap_n; /* floats of each ping-pong buffer, the concat buffer, the tap copy */
} plan;

static kc_status make_plan(const kc_unet *u, const kc_exec *ex, int64_t N, int64_t H, int64_t W, int64_t T,
                           int with_taps, plan *pl, kc_err *err) {
    const kc_unet_config *c = &u->cfg;
    const int nb = c->nblocks;
    int64_t hs[KC_UNET_MAX_BLOCKS], ws[KC_UNET_MAX_BLOCKS];
    /* Sizes come from the caller: bound them before any product. With N <= 2^12, H, W <= 2^14,
     * T <= 2^16 and channels <= 2^17 (config limit, concat included) every element count is
     * below 2^57 and every byte count below 2^63 — and far beyond anything runnable. */
    if (N < 1 || H < 1 || W < 1 || T < 1 || N > 4096 || H > (1 << 14) || W > (1 << 14) || T > (1 << 16))
        return kc_fail(err, KC_ERR_ARG, "unet: sizes N=%lld H=%lld W=%lld T=%lld out of range", (long long)N,
                       (long long)H, (long long)W, (long long)T);
    level_sizes(c, H, W, hs, ws);
    double total = 0;
    size_t emb = fbytes(N * (c->temb_in > c->add_in_dim ? c->temb_in : c->add_in_dim)) + 4 * fbytes(N * c->temb_dim);
    size_t skips = 0, scr = 0;
    int64_t act = 0, cat = 1, tapn = 0;
#define MAXI(a, b) ((a) = (a) > (b) ? (a) : (b))
    /* down path: every activation is a skip */
    skips += fbytes(N * H * W * c->block_out[0]);
    MAXI(tapn, N * H * W * c->block_out[0]);
    scr = zmax(scr, conv_scratch(ex, &u->conv_in, W));
    for (int i = 0; i < nb; i++) {
        const ublock *b = &u->down[i];
        const int64_t S = hs[i] * ws[i], C = c->block_out[i];
        for (int j = 0; j < b->nres; j++) {
            skips += fbytes(N * S * C);
            MAXI(tapn, N * S * C);
            scr = zmax(scr, resnet_scratch(ex, &b->res[j], N, hs[i], ws[i]));
            if (b->has_attn) scr = zmax(scr, kc_xformer_scratch_bytes(&b->attn[j], N, S, T));
        }
        if (b->has_down) {
            skips += fbytes(N * hs[i + 1] * ws[i + 1] * C);
            MAXI(tapn, N * hs[i + 1] * ws[i + 1] * C);
            scr = zmax(scr, conv_scratch(ex, &b->down.conv, ws[i + 1]));
        }
    }
    /* mid */
    const int64_t Sm = hs[nb - 1] * ws[nb - 1], cm = c->block_out[nb - 1];
    MAXI(act, N * Sm * cm);
    scr = zmax(scr, resnet_scratch(ex, &u->mid_res[0], N, hs[nb - 1], ws[nb - 1]));
    scr = zmax(scr, kc_xformer_scratch_bytes(&u->mid_attn, N, Sm, T));
    /* up path */
    for (int i = 0; i < nb; i++) {
        const ublock *b = &u->up[i];
        const int lvl = nb - 1 - i;
        const int64_t S = hs[lvl] * ws[lvl], C = c->block_out[lvl];
        for (int j = 0; j < b->nres; j++) {
            MAXI(cat, N * S * b->res[j].cin);
            MAXI(act, N * S * C);
            scr = zmax(scr, resnet_scratch(ex, &b->res[j], N, hs[lvl], ws[lvl]));
            if (b->has_attn) scr = zmax(scr, kc_xformer_scratch_bytes(&b->attn[j], N, S, T));
        }
        if (b->has_up) {
            const int64_t So = hs[lvl - 1] * ws[lvl - 1];
            MAXI(act, N * So * C);
            scr = zmax(scr, fbytes(N * So * C) + conv_scratch(ex, &b->up.conv, ws[lvl - 1]));
        }
    }
    MAXI(act, N * H * W * c->block_out[0]);
    MAXI(tapn, act);
    scr = zmax(scr, conv_scratch(ex, &u->conv_out, W));
#undef MAXI
    total = (double)emb + (double)skips + 2.0 * (double)fbytes(act) + (double)fbytes(cat) +
            (with_taps ? (double)fbytes(tapn) : 0.0) + (double)fbytes(N * H * W * c->in_channels) +
            (double)fbytes(N * H * W * c->out_channels);
    if (total + (double)scr > 1e15) return kc_fail(err, KC_ERR_ARG, "unet: activation memory for this size is absurd");
    pl->act_n = act;
    pl->cat_n = cat;
    pl->tap_n = tapn;
    pl->persistent = (size_t)total;
    pl->scratch = scr;
    return KC_OK;
}

kc_status kc_unet_arena_bytes(const kc_unet *u, const kc_exec *ex, int64_t N, int64_t H, int64_t W, int64_t T,
                              int with_taps, size_t *bytes, kc_err *err) {
    plan pl;
    kc_status s = make_plan(u, ex, N, H, W, T, with_taps, &pl, err);
    if (s) return s;
    *bytes = pl.persistent + pl.scratch + 4096;
    return KC_OK;
}

/* ---- forward ----------------------------------------------------------------------------- */

typedef struct {
    kc_unet_tap_fn fn;
    void *user;
    float *buf; /* NCHW copy */
} tapper;

static void tap_image(const tapper *tp, const char *name, const float *x, int64_t N, int64_t H, int64_t W, int64_t C) {
    if (!tp->fn) return;
    kc_nhwc_to_nchw(tp->buf, x, N, C, H, W);
    tp->fn(name, tp->buf, 4, (const int64_t[]){N, C, H, W}, tp->user);
}

#define TRY(x) do { if ((s = (x))) goto done; } while (0)
#define ALLOC(p, n) do { if (!((p) = kc_arena_floats(arena, (size_t)(n), err))) { s = KC_ERR_NOMEM; goto done; } } while (0)

kc_status kc_unet_forward(const kc_exec *ex, const kc_unet *u, const kc_unet_input *in, float *out, kc_arena *arena,
                          kc_unet_tap_fn tap, void *tap_user, kc_err *err) {
    const kc_unet_config *c = &u->cfg;
    const int nb = c->nblocks;
    const int64_t N = in->N, H = in->H, W = in->W, T = in->T, D = c->temb_dim;
    int64_t hs[KC_UNET_MAX_BLOCKS], ws[KC_UNET_MAX_BLOCKS];
    plan pl;
    kc_status s = make_plan(u, ex, N, H, W, T, tap != NULL, &pl, err);
    if (s) return s;
    if (!in->sample || !in->timestep || !in->ctx || (c->add_text_time && (!in->text_embeds || !in->time_ids)))
        return kc_fail(err, KC_ERR_ARG, "unet: missing input tensor");
    level_sizes(c, H, W, hs, ws);
    const size_t mark = kc_arena_mark(arena);
    tapper tp = {tap, tap_user, NULL};

    /* ---- global conditioning emb [N, D] (§4.3) ---- */
    float *sinb, *h1, *emb, *aug, *emb_silu;
    const int64_t sin_w = c->temb_in > c->add_in_dim ? c->temb_in : c->add_in_dim;
    ALLOC(sinb, N * sin_w);
    ALLOC(h1, N * D);
    ALLOC(emb, N * D);
    ALLOC(aug, N * D);
    ALLOC(emb_silu, N * D);
    for (int64_t n = 0; n < N; n++)
        kc_unet_sinusoid(in->timestep[n], c->temb_in, c->flip_sin_to_cos, c->freq_shift, sinb + n * c->temb_in);
    TRY(kc_op_linear(ex, sinb, N, c->temb_in, &u->te1.weight, kc_layer_bias(&u->te1), h1, 0, err));
    kc_op_silu(ex, h1, h1, N * D);
    TRY(kc_op_linear(ex, h1, N, D, &u->te2.weight, kc_layer_bias(&u->te2), emb, 0, err));
    if (tap) tap("time_embedding", emb, 2, (const int64_t[]){N, D}, tap_user);
    if (c->add_text_time) {
        /* add_in = [text_embeds (P) | sinusoid(time_ids[k], A) for k = 0..5]: pooled FIRST */
        const int64_t P = kc_unet_pooled_width(c), A = c->add_time_dim;
        for (int64_t n = 0; n < N; n++) {
            float *row = sinb + n * c->add_in_dim;
            memcpy(row, in->text_embeds + n * P, (size_t)P * sizeof(float));
            for (int k = 0; k < 6; k++)
                kc_unet_sinusoid(in->time_ids[n * 6 + k], A, c->flip_sin_to_cos, c->freq_shift, row + P + k * A);
        }
        TRY(kc_op_linear(ex, sinb, N, c->add_in_dim, &u->ae1.weight, kc_layer_bias(&u->ae1), h1, 0, err));
        kc_op_silu(ex, h1, h1, N * D);
        TRY(kc_op_linear(ex, h1, N, D, &u->ae2.weight, kc_layer_bias(&u->ae2), aug, 0, err));
        if (tap) tap("add_embedding", aug, 2, (const int64_t[]){N, D}, tap_user);
        kc_op_add(ex, emb, emb, aug, N * D);
    }
    kc_op_silu(ex, emb_silu, emb, N * D); /* every ResNet applies SiLU to emb before its projection */

    /* ---- buffers: the skip stack holds every down-path activation in place ---- */
    float *skip[1 + KC_UNET_MAX_BLOCKS * (KC_UNET_MAX_LAYERS + 1)];
    int64_t skH[1 + KC_UNET_MAX_BLOCKS * (KC_UNET_MAX_LAYERS + 1)], skW[1 + KC_UNET_MAX_BLOCKS * (KC_UNET_MAX_LAYERS + 1)];
    int64_t skC[1 + KC_UNET_MAX_BLOCKS * (KC_UNET_MAX_LAYERS + 1)];
    int nsk = 0;
    ALLOC(skip[0], N * H * W * c->block_out[0]);
    skH[0] = H; skW[0] = W; skC[0] = c->block_out[0];
    nsk = 1;
    for (int i = 0; i < nb; i++) {
        const ublock *b = &u->down[i];
        for (int j = 0; j < b->nres; j++) {
            ALLOC(skip[nsk], N * hs[i] * ws[i] * c->block_out[i]);
            skH[nsk] = hs[i]; skW[nsk] = ws[i]; skC[nsk] = c->block_out[i];
            nsk++;
        }
        if (b->has_down) {
            ALLOC(skip[nsk], N * hs[i + 1] * ws[i + 1] * c->block_out[i]);
            skH[nsk] = hs[i + 1]; skW[nsk] = ws[i + 1]; skC[nsk] = c->block_out[i];
            nsk++;
        }
    }
    float *bufA, *bufB, *cat, *xin, *yo;
    ALLOC(bufA, pl.act_n);
    ALLOC(bufB, pl.act_n);
    ALLOC(cat, pl.cat_n);
    if (tap) ALLOC(tp.buf, pl.tap_n);
    ALLOC(xin, N * H * W * c->in_channels);
    ALLOC(yo, N * H * W * c->out_channels);

    /* ---- conv_in and the down path ---- */
    kc_nchw_to_nhwc(xin, in->sample, N, c->in_channels, H, W);
    TRY(kc_conv_same(ex, &u->conv_in, xin, N, H, W, c->in_channels, skip[0], 0, arena, err));
    tap_image(&tp, "conv_in", skip[0], N, H, W, c->block_out[0]);
    int k = 1;
    const float *x = skip[0];
    for (int i = 0; i < nb; i++) {
        const ublock *b = &u->down[i];
        for (int j = 0; j < b->nres; j++) {
            TRY(kc_resnet_forward(ex, &b->res[j], x, N, hs[i], ws[i], emb_silu, skip[k], arena, err));
            if (b->has_attn) TRY(kc_xformer_forward(ex, &b->attn[j], skip[k], N, hs[i] * ws[i], in->ctx, in->kv, T, arena, err));
            x = skip[k++];
        }
        int64_t ho = hs[i], wo = ws[i];
        if (b->has_down) {
            TRY(kc_downsample_forward(ex, &b->down, x, N, hs[i], ws[i], skip[k], arena, err));
            x = skip[k++];
            ho = hs[i + 1];
            wo = ws[i + 1];
        }
        char name[32];
        snprintf(name, sizeof name, "down_block%d", i);
        tap_image(&tp, name, x, N, ho, wo, c->block_out[i]);
    }

    /* ---- mid block: resnet, transformer, resnet ---- */
    const int64_t hm = hs[nb - 1], wm = ws[nb - 1], cm = c->block_out[nb - 1];
    TRY(kc_resnet_forward(ex, &u->mid_res[0], x, N, hm, wm, emb_silu, bufA, arena, err));
    TRY(kc_xformer_forward(ex, &u->mid_attn, bufA, N, hm * wm, in->ctx, in->kv, T, arena, err));
    TRY(kc_resnet_forward(ex, &u->mid_res[1], bufA, N, hm, wm, emb_silu, bufB, arena, err));
    float *cur = bufB;
    int64_t ch = cm, h = hm, w = wm;
    tap_image(&tp, "mid_block", cur, N, h, w, ch);

    /* ---- up path: concat [current, skip] (current first), resnet, transformer; upsample to the
     * size of the next skip (§4.8) ---- */
    for (int i = 0; i < nb; i++) {
        const ublock *b = &u->up[i];
        const int lvl = nb - 1 - i;
        const int64_t C = c->block_out[lvl];
        for (int j = 0; j < b->nres; j++) {
            k--;
            if (k < 0 || skH[k] != h || skW[k] != w || ch + skC[k] != b->res[j].cin) {
                s = kc_fail(err, KC_ERR_INTERNAL, "unet: skip %d does not fit up block %d resnet %d", k, i, j);
                goto done;
            }
            kc_op_concat_channels(ex, cat, cur, ch, skip[k], skC[k], N, h * w);
            float *o = cur == bufA ? bufB : bufA;
            TRY(kc_resnet_forward(ex, &b->res[j], cat, N, h, w, emb_silu, o, arena, err));
            if (b->has_attn) TRY(kc_xformer_forward(ex, &b->attn[j], o, N, h * w, in->ctx, in->kv, T, arena, err));
            cur = o;
            ch = C;
        }
        if (b->has_up) {
            float *o = cur == bufA ? bufB : bufA;
            const int64_t ht = skH[k - 1], wt = skW[k - 1];
            TRY(kc_upsample_forward(ex, &b->up, cur, N, h, w, ht, wt, o, arena, err));
            cur = o;
            h = ht;
            w = wt;
        }
        char name[32];
        snprintf(name, sizeof name, "up_block%d", i);
        tap_image(&tp, name, cur, N, h, w, ch);
    }

    /* ---- conv_norm_out + SiLU + conv_out ---- */
    TRY(kc_op_group_norm(ex, cur, cur, N, H * W, ch, c->groups, c->eps, &u->norm_out.weight, &u->norm_out.bias, 1, err));
    TRY(kc_conv_same(ex, &u->conv_out, cur, N, H, W, ch, yo, 0, arena, err));
    kc_nhwc_to_nchw(out, yo, N, c->out_channels, H, W);
done:
    kc_arena_rewind(arena, mark);
    return s;
}
