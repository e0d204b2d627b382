/* api_bench.c — kolors_bench: times one component (U-Net forward, ChatGLM3 prefill, VAE decode or
 * encode) with random weights in memory (bench_models.c) or a model folder's weights, on random inputs,
 * and reports seconds, the analytic work (kc_*_flops: 2 x multiply-adds of matmuls, convolutions
 * and attention products), memory and what ran (ISA table, precision, weight dtype).
 *
 * Reduced runs: `layers` keeps the first L ChatGLM blocks or caps every U-Net transformer depth;
 * both models are dominated by these layers, whose throughput does not depend on how many run,
 * so the full model's time is projected as measured time x FLOP ratio (scaled_*). `width_div`
 * narrows channels (random weights only); that changes the GEMM shapes, so no projection is made.
 *
 * Timed parts (what PyTorch's forward does too, see bench/compare_torch.py): U-Net = context
 * projection + forward (the cross-attention K/V inside it, not precomputed); text encoder = every
 * layer on every row (last_hidden requested, so the last layer is not cut to the last row);
 * VAE decode = post_quant_conv + decoder; VAE encode = encoder + quant_conv (moments).
 *
 * Dimension letters: N batch, H/W latent size (image / 8), T tokens, E text width, P pooled width. */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/bench_internal.h"
#include "api/model_internal.h"
#include "core/sysinfo.h"
#include "kernels/kernels.h"

#define BENCH_MAX_SIDE 16384
#define BENCH_MAX_BATCH 64
#define BENCH_MAX_REPEAT 1000
#define BENCH_RANDOM_VOCAB 4096 /* embedding rows of the random ChatGLM (kc_bench_chatglm3_6b) */
#define BENCH_CHATGLM_LAYERS 28

void kolors_bench_params_default(kolors_bench_params *p) {
    memset(p, 0, sizeof *p);
    p->width = p->height = 1024;
    p->tokens = 256;
    p->repeat = 1;
    p->width_div = 1;
    p->vae_tiling = -1;
}

/* One timed unit of work. */
typedef kc_status (*run_fn)(void *ctx, kc_err *err);

static int cmp_double(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* warmup untimed runs, then repeat timed ones: median / min / max into r. */
static kc_status measure(run_fn fn, void *ctx, int warmup, int repeat, kolors_bench_result *r, kc_err *err) {
    double *t = malloc((size_t)repeat * sizeof *t);
    if (!t) return kc_fail(err, KC_ERR_NOMEM, "out of memory");
    kc_status s = KC_OK;
    for (int i = 0; i < warmup && !s; i++) s = fn(ctx, err);
    for (int i = 0; i < repeat && !s; i++) {
        const double t0 = kc_time_now();
        s = fn(ctx, err);
        t[i] = kc_time_now() - t0;
    }
    if (!s) {
        qsort(t, (size_t)repeat, sizeof *t, cmp_double);
        r->median_s = repeat % 2 ? t[repeat / 2] : 0.5 * (t[repeat / 2 - 1] + t[repeat / 2]);
        r->min_s = t[0];
        r->max_s = t[repeat - 1];
        r->repeats = repeat;
    }
    free(t);
    return s;
}

/* Output sanity figures of the last run. */
static void out_stats(const float *y, int64_t n, kolors_bench_result *r) {
    double sum = 0;
    int finite = 1;
    for (int64_t i = 0; i < n; i++) {
        finite &= isfinite(y[i]) != 0;
        sum += fabs(y[i]);
    }
    r->finite = finite;
    r->mean_abs_out = n ? sum / (double)n : 0;
}

/* Size and dominant dtype of a store's tensors. */
static void weights_stats(const kc_weights *ws, kolors_bench_result *r) {
    double by[16] = {0}, total = 0;
    for (int64_t i = 0; i < kc_weights_count(ws); i++) {
        const kc_tensor *t = &kc_weights_entry(ws, i)->t;
        double n = (double)kc_dtype_size(t->dtype);
        for (int d = 0; d < t->ndim; d++) n *= (double)t->shape[d];
        if ((unsigned)t->dtype < 16) by[t->dtype] += n;
        total += n;
    }
    int best = 0;
    for (int d = 1; d < 16; d++)
        if (by[d] > by[best]) best = d;
    snprintf(r->dtype, sizeof r->dtype, "%s", kc_dtype_name((kc_dtype)best));
    r->weights_mb = total / 1e6;
}

/* The component folder (unet/vae/text_encoder, by offset into kc_modeldir) of a model folder in
 * either layout, its config.json path, and its weights opened from the files named `bases`. */
static kc_status open_component(const char *root, size_t dir_offset, const char *const *bases, int nbases,
                                char dir[KC_PATH_MAX], char config[KC_PATH_MAX + 16], kc_weights **ws, kc_err *err) {
    kc_modeldir *md = malloc(sizeof *md); /* ~28 KB: not on the stack */
    if (!md) return kc_fail(err, KC_ERR_NOMEM, "out of memory");
    kc_status s = kc_modeldir_resolve(root, md, err);
    if (!s) {
        snprintf(dir, KC_PATH_MAX, "%s", (const char *)md + dir_offset);
        snprintf(config, KC_PATH_MAX + 16, "%s/config.json", dir);
        s = kc_weights_open_dir(dir, bases, nbases, NULL, ws, NULL, err);
    }
    free(md);
    return s;
}

static void set_scale(kolors_bench_result *r, double full_flops) {
    r->scale = full_flops / r->gflop / 1e9;
    r->scaled = r->scale > 1.0 + 1e-9;
    r->scaled_gflop = full_flops / 1e9;
    r->scaled_median_s = r->median_s * r->scale;
}

/* ---- U-Net --------------------------------------------------------------------------------- */

typedef struct {
    const kc_exec *ex;
    const kc_unet *u;
    kc_unet_input in;
    const float *ehs;
    float *ctx, *out;
    kc_arena *ar;
} unet_run;

static kc_status unet_once(void *p, kc_err *err) {
    unet_run *c = p;
    kc_status s = kc_unet_project_context(c->ex, c->u, c->ehs, c->in.N, c->in.T, c->ctx, NULL, NULL, err);
    return s ? s : kc_unet_forward(c->ex, c->u, &c->in, c->out, c->ar, NULL, NULL, err);
}

static kc_status bench_unet(const kolors_bench_params *p, const kc_exec *ex, kolors_bench_result *r, kc_err *err) {
    kc_unet_config full, cfg;
    kc_unet *u = NULL;
    kc_status s;
    double t0 = kc_time_now();
    if (p->model_dir) {
        static const char *const bases[] = {"diffusion_pytorch_model"};
        char dir[KC_PATH_MAX], path[KC_PATH_MAX + 16];
        kc_weights *ws = NULL;
        if ((s = open_component(p->model_dir, offsetof(kc_modeldir, unet_dir), bases, 1, dir, path, &ws, err))) return s;
        s = kc_unet_config_load(path, &full, err);
        cfg = full;
        if (!s) s = kc_bench_unet_reduce(&cfg, p->layers, 1, err);
        if (s) {
            kc_weights_free(ws);
            return s;
        }
        weights_stats(ws, r);
        if ((s = kc_unet_create(&cfg, ws, ex, &u, err))) return s;
        snprintf(r->weights, sizeof r->weights, "model");
    } else {
        kc_unet_config_kolors(&full);
        cfg = full;
        if ((s = kc_bench_unet_reduce(&cfg, p->layers, p->width_div, err))) return s;
        if (p->width_div > 1) full = cfg; /* no projection across widths */
        const kc_dtype dt = p->weights_bf16 ? KC_DTYPE_BF16 : KC_DTYPE_F16;
        double bytes = 0;
        if ((s = kc_bench_unet_random(&cfg, dt, 0, ex, &u, &bytes, err))) return s;
        r->weights_mb = bytes / 1e6;
        snprintf(r->weights, sizeof r->weights, "random");
        snprintf(r->dtype, sizeof r->dtype, "%s", kc_dtype_name(dt));
    }
    r->setup_s = kc_time_now() - t0;
    r->packed_mb = (double)kc_unet_packed_bytes(u) / 1e6;
    r->layers_run = (int)kc_bench_unet_transformer_blocks(&cfg);
    r->layers_total = (int)kc_bench_unet_transformer_blocks(&full);

    const int64_t N = p->batch ? p->batch : 2, H = p->height / 8, W = p->width / 8, T = p->tokens;
    const int64_t E = kc_unet_text_width(&cfg), P = kc_unet_pooled_width(&cfg), C = cfg.in_channels;
    snprintf(r->shape, sizeof r->shape, "%lldx%lldx%lldx%lld tokens %lld", (long long)N, (long long)C, (long long)H,
             (long long)W, (long long)T);
    size_t bytes = 0;
    kc_arena ar = {0};
    float *sample = malloc((size_t)(N * C * H * W) * sizeof(float));
    float *ehs = malloc((size_t)(N * T * E) * sizeof(float)), *ctx = malloc((size_t)(N * T * cfg.cross_dim) * sizeof(float));
    float *te = malloc((size_t)(N * P + 1) * sizeof(float)), *tid = malloc((size_t)(N * 6) * sizeof(float));
    float *ts = malloc((size_t)N * sizeof(float)), *out = malloc((size_t)(N * cfg.out_channels * H * W) * sizeof(float));
    if (!sample || !ehs || !ctx || !te || !tid || !ts || !out) s = kc_fail(err, KC_ERR_NOMEM, "out of memory for the U-Net inputs");
    if (!s) s = kc_unet_arena_bytes(u, ex, N, H, W, T, 0, &bytes, err);
    if (!s) s = kc_arena_init(&ar, "bench unet", bytes, err);
    if (!s) {
        kc_bench_rng rng = {0x2545F4914F6CDD1Dull};
        kc_bench_fill(&rng, sample, N * C * H * W, 1.0f);
        kc_bench_fill(&rng, ehs, N * T * E, 1.0f);
        kc_bench_fill(&rng, te, N * P, 1.0f);
        for (int64_t n = 0; n < N; n++) {
            ts[n] = 500.0f;
            const float id[6] = {(float)p->height, (float)p->width, 0, 0, (float)p->height, (float)p->width};
            memcpy(tid + 6 * n, id, sizeof id);
        }
        r->arena_mb = (double)bytes / 1e6;
        r->gflop = kc_unet_flops(&cfg, N, H, W, T) / 1e9;
        unet_run c = {ex, u, {N, H, W, T, sample, ts, ctx, te, tid, NULL}, ehs, ctx, out, &ar};
        s = measure(unet_once, &c, p->warmup, p->repeat, r, err);
        if (!s) {
            out_stats(out, N * cfg.out_channels * H * W, r);
            set_scale(r, kc_unet_flops(&full, N, H, W, T));
        }
    }
    kc_arena_free(&ar);
    free(sample); free(ehs); free(ctx); free(te); free(tid); free(ts); free(out);
    kc_unet_free(u);
    return s;
}

/* ---- text encoder ------------------------------------------------------------------------- */

typedef struct {
    const kc_exec *ex;
    const kc_chatglm *g;
    kc_chatglm_input in;
    kc_chatglm_output out;
    kc_arena *ar;
} text_run;

static kc_status text_once(void *p, kc_err *err) {
    text_run *c = p;
    return kc_chatglm_forward(c->ex, c->g, &c->in, &c->out, c->ar, err);
}

static kc_status bench_text(const kolors_bench_params *p, const kc_exec *ex, kolors_bench_result *r, kc_err *err) {
    kc_chatglm_config full, cfg;
    kc_chatglm g = {0};
    kc_weights *ws = NULL;
    kc_status s;
    double t0 = kc_time_now();
    if (p->model_dir) {
        static const char *const bases[] = {"model", "pytorch_model"};
        char dir[KC_PATH_MAX], path[KC_PATH_MAX + 16];
        if ((s = open_component(p->model_dir, offsetof(kc_modeldir, text_encoder_dir), bases, 2, dir, path, &ws, err)))
            return s;
        if ((s = kc_chatglm_config_load(path, &full, err))) {
            kc_weights_free(ws);
            return s;
        }
        cfg = full;
        if (p->layers && p->layers < cfg.layers) cfg.layers = p->layers;
        weights_stats(ws, r);
        if ((s = kc_chatglm_bind(&g, &cfg, ws, err))) {
            kc_weights_free(ws);
            return s;
        }
        snprintf(r->weights, sizeof r->weights, "model");
    } else {
        kc_bench_chatglm3_6b(&full, BENCH_CHATGLM_LAYERS, BENCH_RANDOM_VOCAB);
        cfg = full;
        if (p->layers && p->layers < cfg.layers) cfg.layers = p->layers;
        const kc_dtype dt = p->weights_bf16 ? KC_DTYPE_BF16 : KC_DTYPE_F16;
        double bytes = 0;
        if ((s = kc_bench_chatglm_random(&cfg, dt, &g, &ws, &bytes, err))) return s;
        r->weights_mb = bytes / 1e6;
        snprintf(r->weights, sizeof r->weights, "random");
        snprintf(r->dtype, sizeof r->dtype, "%s", kc_dtype_name(dt));
    }
    r->setup_s = kc_time_now() - t0;
    r->layers_run = (int)cfg.layers;
    r->layers_total = (int)full.layers;

    const int64_t N = p->batch ? p->batch : 2, T = p->tokens, Hd = cfg.hidden;
    snprintf(r->shape, sizeof r->shape, "%lld prompts x %lld tokens, hidden %lld", (long long)N, (long long)T, (long long)Hd);
    int32_t *ids = malloc(sizeof(int32_t) * (size_t)(2 * N * T));
    float *pe = malloc(sizeof(float) * (size_t)(N * T * Hd)), *pooled = malloc(sizeof(float) * (size_t)(N * Hd)),
          *last = malloc(sizeof(float) * (size_t)(N * T * Hd));
    kc_arena ar = {0};
    const size_t bytes = kc_chatglm_arena_bytes(&cfg, N, T);
    if (!ids || !pe || !pooled || !last) s = kc_fail(err, KC_ERR_NOMEM, "out of memory for the text encoder buffers");
    if (!s) s = kc_arena_init(&ar, "bench text encoder", bytes, err);
    if (!s) {
        /* Kolors' guided batch: a 60-token prompt and the empty one ([gMASK] sop), left-padded to T */
        int32_t *mask = ids + N * T;
        for (int64_t b = 0; b < N; b++) {
            const int64_t real = b % 2 == 0 ? (T < 60 ? T : 60) : (T < 2 ? T : 2);
            for (int64_t t = 0; t < T; t++) {
                const int in = t >= T - real;
                mask[b * T + t] = in;
                ids[b * T + t] = in ? (int32_t)((t * 7919 + b * 31) % cfg.vocab) : 0;
            }
        }
        r->arena_mb = (double)bytes / 1e6;
        r->gflop = kc_chatglm_flops(&cfg, N, T) / 1e9;
        text_run c = {ex, &g, {N, T, ids, mask, NULL}, {pe, pooled, last, NULL, NULL, NULL}, &ar};
        int warmup = p->warmup;
        if (warmup > 0) {
            /* As kolors_encode: the first forward packs the weights on the fly, a reused
             * encoder is prepacked before its second one. So the first warmup run is timed on
             * its own (first_s, the one-shot figure of `kolors generate`), then the weights are
             * prepacked (prepack_s) and the timed runs measure the reused encoder. With
             * --warmup 0 every timed run is a first run. */
            double tf = kc_time_now();
            s = text_once(&c, err);
            r->first_s = kc_time_now() - tf;
            warmup--;
            if (!s) {
                tf = kc_time_now();
                s = kc_chatglm_prepack(&g, ex, err);
                r->prepack_s = kc_time_now() - tf;
                r->packed_mb = (double)g.packed_bytes / 1e6;
            }
        }
        if (!s) s = measure(text_once, &c, warmup, p->repeat, r, err);
        if (!s) {
            out_stats(pooled, N * Hd, r);
            set_scale(r, kc_chatglm_flops(&full, N, T));
        }
    }
    kc_arena_free(&ar);
    free(ids); free(pe); free(pooled); free(last);
    kc_chatglm_free(&g);
    kc_weights_free(ws);
    return s;
}

/* ---- VAE decode / encode ----------------------------------------------------------------- */

typedef struct {
    const kc_exec *ex;
    const kc_vae *v;
    int encode;
    const float *in;    /* decode: latents [N, Z, h, w]; encode: image [N, Ci, H, W] */
    int64_t N, h, w, f; /* latent size and factor */
    const kc_vae_tiling *t;
    float *out;         /* decode: image [N, Co, H, W]; encode: moments [N, 2Z, h, w] */
    kc_arena *ar;
} vae_run;

static kc_status vae_once(void *p, kc_err *err) {
    vae_run *c = p;
    return c->encode ? kc_vae_encode(c->ex, c->v, c->in, c->N, c->h * c->f, c->w * c->f, c->t, c->out, c->ar, NULL, NULL, err)
                     : kc_vae_decode(c->ex, c->v, c->in, c->N, c->h, c->w, c->t, c->out, c->ar, NULL, NULL, err);
}

static kc_status bench_vae(const kolors_bench_params *p, const kc_exec *ex, kolors_bench_result *r, kc_err *err) {
    const int encode = p->workload == KOLORS_BENCH_VAE_ENCODE;
    kc_vae_config cfg;
    kc_vae *v = NULL;
    kc_status s;
    double t0 = kc_time_now();
    if (p->model_dir) {
        static const char *const bases[] = {"diffusion_pytorch_model"};
        char dir[KC_PATH_MAX], path[KC_PATH_MAX + 16];
        kc_weights *ws = NULL;
        if ((s = open_component(p->model_dir, offsetof(kc_modeldir, vae_dir), bases, 1, dir, path, &ws, err))) return s;
        if ((s = kc_vae_config_load(path, &cfg, err))) {
            kc_weights_free(ws);
            return s;
        }
        if ((s = kc_vae_create(&cfg, ws, ex, &v, err))) return s;
        weights_stats(kc_vae_weights(v), r);
        snprintf(r->weights, sizeof r->weights, "model");
    } else {
        kc_vae_config_sdxl(&cfg);
        if ((s = kc_bench_vae_reduce(&cfg, p->width_div, err))) return s;
        const kc_dtype dt = p->weights_bf16 ? KC_DTYPE_BF16 : KC_DTYPE_F16;
        double bytes = 0;
        if ((s = kc_bench_vae_random(&cfg, dt, ex, &v, &bytes, err))) return s;
        r->weights_mb = bytes / 1e6;
        snprintf(r->weights, sizeof r->weights, "random");
        snprintf(r->dtype, sizeof r->dtype, "%s", kc_dtype_name(dt));
    }
    r->setup_s = kc_time_now() - t0;
    r->packed_mb = (double)kc_vae_packed_bytes(v) / 1e6;
    const int64_t f = kc_vae_factor(&cfg), N = p->batch ? p->batch : 1, Z = cfg.latent_channels;
    const int64_t h = p->height / f, w = p->width / f, H = h * f, W = w * f;
    const int64_t Ci = cfg.in_channels, Co = cfg.out_channels;
    const int64_t n_lat = N * (encode ? 2 * Z : Z) * h * w, n_img = N * (encode ? Ci : Co) * H * W;
    kc_vae_tiling t;
    size_t bytes = 0;
    kc_arena ar = {0};
    float *lat = NULL, *img = NULL;
    if (p->height % f || p->width % f)
        s = kc_fail(err, KC_ERR_ARG, "image size %dx%d (HxW) is not a multiple of the VAE factor %lld", p->height, p->width,
                    (long long)f);
    if (!s) s = kc_vae_tiling_resolve(p->vae_tiling, p->vae_tile_size, h, w, &t, err);
    if (!s)
        s = encode ? kc_vae_encode_bytes(&cfg, ex, N, H, W, &t, 0, &bytes, err)
                   : kc_vae_decode_bytes(&cfg, ex, N, h, w, &t, 0, &bytes, err);
    if (encode)
        snprintf(r->shape, sizeof r->shape, "%lldx%lldx%lldx%lld -> %lldx%lldx%lldx%lld%s", (long long)N, (long long)Ci,
                 (long long)H, (long long)W, (long long)N, (long long)(2 * Z), (long long)h, (long long)w,
                 !s && t.enabled ? " tiled" : "");
    else
        snprintf(r->shape, sizeof r->shape, "%lldx%lldx%lldx%lld -> %lldx%lldx%lldx%lld%s", (long long)N, (long long)Z,
                 (long long)h, (long long)w, (long long)N, (long long)Co, (long long)H, (long long)W,
                 !s && t.enabled ? " tiled" : "");
    if (!s && (!(lat = malloc((size_t)n_lat * sizeof(float))) || !(img = malloc((size_t)n_img * sizeof(float)))))
        s = kc_fail(err, KC_ERR_NOMEM, "out of memory for the VAE buffers");
    if (!s) s = kc_arena_init(&ar, "bench vae", bytes, err);
    if (!s) {
        kc_bench_rng rng = {0x2545F4914F6CDD1Dull};
        if (encode) kc_bench_fill(&rng, img, n_img, 1.0f);       /* an image in [-1, 1] */
        else kc_bench_fill(&rng, lat, n_lat, 1.7f);              /* ~unit variance, like real latents / scaling factor */
        r->arena_mb = (double)bytes / 1e6;
        r->gflop = (encode ? kc_vae_encode_flops(&cfg, N, H, W) : kc_vae_decode_flops(&cfg, N, h, w)) / 1e9;
        vae_run c = {ex, v, encode, encode ? img : lat, N, h, w, f, &t, encode ? lat : img, &ar};
        s = measure(vae_once, &c, p->warmup, p->repeat, r, err);
        if (!s) {
            out_stats(encode ? lat : img, encode ? n_lat : n_img, r);
            set_scale(r, r->gflop * 1e9);
        }
    }
    kc_arena_free(&ar);
    free(lat);
    free(img);
    kc_vae_free(v);
    return s;
}

/* ---- entry point -------------------------------------------------------------------------- */

static kc_status check_params(const kolors_bench_params *p, kc_err *err) {
    if (p->workload < KOLORS_BENCH_UNET || p->workload > KOLORS_BENCH_VAE_ENCODE)
        return kc_fail(err, KC_ERR_ARG, "kolors_bench: unknown workload %d", p->workload);
    if (p->width < 8 || p->height < 8 || p->width % 8 || p->height % 8 || p->width > BENCH_MAX_SIDE || p->height > BENCH_MAX_SIDE)
        return kc_fail(err, KC_ERR_ARG, "kolors_bench: image size %dx%d (WxH) must be multiples of 8 in [8, %d]", p->width,
                       p->height, BENCH_MAX_SIDE);
    if (p->batch < 0 || p->batch > BENCH_MAX_BATCH)
        return kc_fail(err, KC_ERR_ARG, "kolors_bench: batch %d is not in [1, %d]", p->batch, BENCH_MAX_BATCH);
    if (p->tokens < 2 || p->tokens > KOLORS_MAX_LENGTH * 16)
        return kc_fail(err, KC_ERR_ARG, "kolors_bench: %d tokens is not in [2, %d]", p->tokens, KOLORS_MAX_LENGTH * 16);
    if (p->repeat < 1 || p->repeat > BENCH_MAX_REPEAT || p->warmup < 0 || p->warmup > BENCH_MAX_REPEAT)
        return kc_fail(err, KC_ERR_ARG, "kolors_bench: repeat %d / warmup %d out of range [1|0, %d]", p->repeat, p->warmup,
                       BENCH_MAX_REPEAT);
    if (p->n_threads < 0 || p->layers < 0 || p->width_div < 0)
        return kc_fail(err, KC_ERR_ARG, "kolors_bench: threads, layers and width divisor must not be negative");
    if (p->model_dir && p->width_div > 1)
        return kc_fail(err, KC_ERR_ARG, "kolors_bench: a width divisor needs random weights (a model folder's widths are fixed)");
    if (p->workload >= KOLORS_BENCH_VAE_DECODE && p->layers)
        return kc_fail(err, KC_ERR_ARG, "kolors_bench: the VAE has no layer count to reduce (use a smaller size or a width divisor)");
    if (p->vae_tiling < -1 || p->vae_tiling > 1 || p->vae_tile_size < 0)
        return kc_fail(err, KC_ERR_ARG, "kolors_bench: vae_tiling %d is not -1, 0 or 1, or tile size %d < 0", p->vae_tiling,
                       p->vae_tile_size);
    return KC_OK;
}

int kolors_bench(const kolors_bench_params *p, kolors_bench_result *r, kolors_error *error) {
    kc_err err = {0};
    if (!p || !r) return kc_api_err(error, &(kc_err){KC_ERR_ARG, "kolors_bench: NULL params or result"});
    memset(r, 0, sizeof *r);
    if (check_params(p, &err)) return kc_api_err(error, &err);
    static const char *const names[] = {"unet", "text-encoder", "vae-decode", "vae-encode"};
    r->workload = names[p->workload];
    kc_exec ex;
    kc_exec_init(&ex, p->n_threads, kc_api_precision(p->precision));
    if (p->isa && kc_kernels_select(p->isa, &ex.k, &err)) return kc_api_err(error, &err);
    snprintf(r->isa, sizeof r->isa, "%s", ex.k->name);
    snprintf(r->precision, sizeof r->precision, "%s", ex.precision == KC_PREC_FP32 ? "fp32" : "bf16");
    r->threads = ex.n_threads;
    r->warmup = p->warmup;
    r->width_div = p->width_div > 1 ? p->width_div : 1;
    kc_peak_rss_reset(); /* peak of this benchmark when the kernel allows it */
    kc_status s = p->workload == KOLORS_BENCH_UNET   ? bench_unet(p, &ex, r, &err)
                  : p->workload == KOLORS_BENCH_TEXT_ENCODER ? bench_text(p, &ex, r, &err)
                                                       : bench_vae(p, &ex, r, &err);
    if (s) {
        kc_err_prepend(&err, "kolors_bench %s", r->workload);
        return kc_api_err(error, &err);
    }
    r->gflops = r->gflop / r->median_s;
    r->peak_rss_mb = (double)kc_peak_rss_bytes() / 1e6;
    return 0;
}
