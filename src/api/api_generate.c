/* api_generate.c — kolors_generate(): the text-to-image / image-to-image pipeline of
 * src/pipeline run over this model's components. The backend callbacks below connect the loop to
 * the text encoder (public kolors_encode, released before denoising), the U-Net (internal API, so
 * text-context projection and the cross-attention K/V are computed once per image instead of once
 * per step, and the activation arena is sized once; released before the VAE decode) and the VAE. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/model_internal.h"
#include "core/arena.h"
#include "diffusion/unet.h"
#include "diffusion/vae.h"
#include "pipeline/pipeline.h"

void kolors_gen_params_default(kolors_gen_params *g) {
    memset(g, 0, sizeof *g);
    g->width = g->height = 1024;
    g->steps = 50;
    g->cfg_scale = 5.0f;
    g->sampler = "euler";
    g->scheduler = "default";
    g->strength = 0.8f;
}

typedef struct {
    kolors_model *m;
    const kolors_gen_params *g;
    int hidden;          /* text encoder width (E = P) */
    struct kc_unet *unet;
    float *ctx;          /* [B, T, X] projected text states, once per image */
    float *kv;           /* cross-attention K/V of every block, once per image (NULL = in the forward) */
    int64_t B, T;
    kc_arena arena;      /* U-Net activations, sized once per image */
} gen_state;

static kc_status from_public(const kolors_error *e, kc_err *err) {
    return kc_fail(err, (kc_status)e->code, "%s", e->message);
}

/* The embeddings of the last prompts encoded: a batch (-b N) or another seed for the same prompts
 * skips the text encoder entirely (12 GB of weights and a 6 B-parameter forward at full size). */
struct kc_gen_cache {
    int n;
    char *prompts[2];
    float *embeds, *pooled;
    size_t embeds_n, pooled_n;
};

void kc_api_generate_free(kolors_model *m) {
    struct kc_gen_cache *c = m->gen;
    if (!c) return;
    for (int i = 0; i < 2; i++) free(c->prompts[i]);
    free(c->embeds);
    free(c->pooled);
    free(c);
    m->gen = NULL;
}

static int cache_hit(const struct kc_gen_cache *c, int n, const char *const *prompts) {
    if (!c || c->n != n) return 0;
    for (int i = 0; i < n; i++)
        if (strcmp(c->prompts[i], prompts[i])) return 0;
    return 1;
}

/* Keeps a copy of what was just encoded (best effort: without memory, no cache). */
static void cache_store(kolors_model *m, int n, const char *const *prompts, const float *embeds, size_t embeds_n,
                        const float *pooled, size_t pooled_n) {
    kc_api_generate_free(m);
    if (n < 1 || n > (int)(sizeof m->gen->prompts / sizeof m->gen->prompts[0])) return; /* cond + uncond at most */
    struct kc_gen_cache *c = calloc(1, sizeof *c);
    if (!c) return;
    c->n = n;
    c->embeds = malloc(embeds_n * sizeof(float));
    c->pooled = malloc(pooled_n * sizeof(float));
    int ok = c->embeds && c->pooled;
    for (int i = 0; i < n && ok; i++) ok = (c->prompts[i] = strdup(prompts[i])) != NULL;
    m->gen = c;
    if (!ok) {
        kc_api_generate_free(m);
        return;
    }
    memcpy(c->embeds, embeds, embeds_n * sizeof(float));
    memcpy(c->pooled, pooled, pooled_n * sizeof(float));
    c->embeds_n = embeds_n;
    c->pooled_n = pooled_n;
}

static kc_status be_encode(void *user, int n, const char *const *prompts, float *embeds, float *pooled, kc_err *err) {
    gen_state *st = user;
    size_t embeds_n = (size_t)n * KOLORS_MAX_LENGTH * (size_t)st->hidden, pooled_n = (size_t)n * (size_t)st->hidden;
    if (cache_hit(st->m->gen, n, prompts) && st->m->gen->embeds_n == embeds_n) {
        memcpy(embeds, st->m->gen->embeds, embeds_n * sizeof(float));
        memcpy(pooled, st->m->gen->pooled, pooled_n * sizeof(float));
        kc_log(&st->m->log, KC_LOG_INFO, "prompt embeddings reused from the previous image (text encoder not run)");
        return KC_OK;
    }
    kolors_error e = {0};
    if (kolors_encode(st->m, n, prompts, embeds, pooled, &e)) return from_public(&e, err);
    cache_store(st->m, n, prompts, embeds, embeds_n, pooled, pooled_n);
    return KC_OK;
}

static void be_release_text(void *user) { kolors_model_release_text_encoder(((gen_state *)user)->m); }

static kc_status be_unet_begin(void *user, int64_t B, int64_t h, int64_t w, const float *embeds, kc_err *err) {
    gen_state *st = user;
    kc_status s = kc_api_unet(st->m, &st->unet, err);
    if (s) return s;
    const kc_unet_config *c = kc_unet_get_config(st->unet);
    st->B = B;
    st->T = KOLORS_MAX_LENGTH;
    size_t n = (size_t)(B * st->T * c->cross_dim);
    st->ctx = malloc(n * sizeof(float));
    if (!st->ctx) return kc_fail(err, KC_ERR_NOMEM, "out of memory for the U-Net text context");
    if ((s = kc_unet_project_context(&st->m->ex, st->unet, embeds, B, st->T, st->ctx, NULL, NULL, err))) return s;
    /* The text-only cross-attention K/V: computed here once instead of at every step (bit-identical).
     * When the extra memory is not there, the forward computes them itself. */
    int64_t nkv = kc_unet_kv_floats(st->unet, B, st->T);
    st->kv = nkv > 0 ? malloc((size_t)nkv * sizeof(float)) : NULL;
    if (st->kv && (s = kc_unet_precompute_kv(&st->m->ex, st->unet, st->ctx, B, st->T, st->kv, err))) return s;
    if (!st->kv) kc_log(&st->m->log, KC_LOG_DEBUG, "no memory to cache the cross-attention K/V; computing them per step");
    size_t bytes = 0;
    if ((s = kc_unet_arena_bytes(st->unet, &st->m->ex, B, h, w, st->T, 0, &bytes, err))) return s;
    return kc_arena_init(&st->arena, "unet", bytes, err);
}

static kc_status be_unet(void *user, const kc_pipe_unet_call *c, float *noise_pred, kc_err *err) {
    gen_state *st = user;
    kc_unet_input in = {.N = c->B, .H = c->h, .W = c->w, .T = st->T, .sample = c->sample, .timestep = c->timestep,
                        .ctx = st->ctx, .text_embeds = c->text_embeds, .time_ids = c->time_ids, .kv = st->kv};
    return kc_unet_forward(&st->m->ex, st->unet, &in, noise_pred, &st->arena, NULL, NULL, err);
}

static void be_unet_end(void *user) {
    gen_state *st = user;
    free(st->ctx);
    free(st->kv);
    st->ctx = NULL;
    st->kv = NULL;
    kc_arena_free(&st->arena);
}

static void be_release_unet(void *user) {
    gen_state *st = user;
    kc_api_unet_free(st->m);
    st->unet = NULL;
}

static kc_status be_vae_decode(void *user, const float *z, int64_t h, int64_t w, float *image, kc_err *err) {
    gen_state *st = user;
    kolors_error e = {0};
    if (kolors_vae_decode(st->m, z, 1, (int)h, (int)w, image, &e)) return from_public(&e, err);
    return KC_OK;
}

static kc_status be_vae_encode(void *user, const float *image, int64_t H, int64_t W, float *mean, float *logvar,
                               kc_err *err) {
    gen_state *st = user;
    kolors_error e = {0};
    if (kolors_vae_encode(st->m, image, 1, (int)H, (int)W, mean, logvar, &e)) return from_public(&e, err);
    return KC_OK;
}

static void be_tap(void *user, const char *name, const float *data, int ndim, const int64_t *shape) {
    gen_state *st = user;
    if (st->m->tap) st->m->tap(name, data, ndim, shape, st->m->tap_user);
}

static int be_progress(void *user, int step, int n_steps, double elapsed) {
    gen_state *st = user;
    return st->g->progress ? st->g->progress(step, n_steps, elapsed, st->g->progress_user) : 0;
}

int kolors_generate(kolors_model *m, const kolors_gen_params *g, kolors_image *out, kolors_error *error) {
    kc_err err = {0};
    kc_status s;
    if (out) memset(out, 0, sizeof *out);
    if (!m || !g || !out) return kc_api_err(error, &(kc_err){KC_ERR_ARG, "kolors_generate: NULL argument"});
    char sched_path[KC_PATH_MAX + 32];
    snprintf(sched_path, sizeof sched_path, "%s", m->dir.scheduler_config);
    kc_pipe_params p = {
        .prompt = g->prompt, .negative_prompt = g->negative_prompt, .width = g->width, .height = g->height,
        .steps = g->steps, .cfg_scale = g->cfg_scale, .seed = g->seed, .sampler = g->sampler,
        .scheduler = g->scheduler, .strength = g->strength, .init_noise = g->init_noise,
        .scheduler_config = sched_path, .scaling_factor = 0.13025f,
    };
    if (g->init_image) {
        if (g->init_image->channels != 3 || !g->init_image->data)
            return kc_api_err(error, &(kc_err){KC_ERR_ARG, "init image must be 8-bit RGB (3 channels)"});
        p.init_rgb = g->init_image->data;
        p.init_w = g->init_image->width;
        p.init_h = g->init_image->height;
    }
    /* Everything about the request is checked before any file is read or any weight touched. */
    if ((s = kc_pipe_validate(&p, &err))) return kc_api_err(error, &err);

    /* Component compatibility (configs only): the text width the U-Net expects must be the
     * encoder's, or the run would fail after the expensive encode. */
    char vae_cfg_path[KC_PATH_MAX + 32];
    snprintf(vae_cfg_path, sizeof vae_cfg_path, "%s/config.json", m->dir.vae_dir);
    kc_vae_config vcfg;
    if ((s = kc_vae_config_load(vae_cfg_path, &vcfg, &err))) return kc_api_err(error, &err);
    p.scaling_factor = (float)vcfg.scaling_factor;
    int hidden = 0;
    kolors_error pe = {0};
    if (kolors_text_hidden_size(m, &hidden, &pe)) {
        if (error) *error = pe;
        return pe.code;
    }
    /* The U-Net's config only: its weights are loaded after the text encoder is released. */
    char unet_cfg_path[KC_PATH_MAX + 32];
    snprintf(unet_cfg_path, sizeof unet_cfg_path, "%s/config.json", m->dir.unet_dir);
    kc_unet_config ucfg;
    if ((s = kc_unet_config_load(unet_cfg_path, &ucfg, &err))) return kc_api_err(error, &err);
    const kc_unet_config *uc = &ucfg;
    if (uc->in_channels != 4 || uc->out_channels != 4) {
        kc_fail(&err, KC_ERR_UNSUPPORTED, "%s: the U-Net takes %lld and predicts %lld latent channels; generate runs "
                "the 4-channel text-to-image U-Net (inpainting models with 9 input channels are not supported)",
                unet_cfg_path, (long long)uc->in_channels, (long long)uc->out_channels);
        return kc_api_err(error, &err);
    }
    if (kc_unet_text_width(uc) != hidden || kc_unet_pooled_width(uc) != hidden) {
        kc_fail(&err, KC_ERR_SHAPE, "the U-Net expects text states of width %lld and pooled embeddings of width %lld, "
                "but the text encoder's hidden size is %d (unet/config.json encoder_hid_dim, "
                "projection_class_embeddings_input_dim)", (long long)kc_unet_text_width(uc),
                (long long)kc_unet_pooled_width(uc), hidden);
        return kc_api_err(error, &err);
    }

    /* The VAE (small, mapped only) now rather than after the whole denoising: a missing or broken
     * VAE file is reported before any work. */
    struct kc_vae *vae = NULL;
    if ((s = kc_api_vae(m, &vae, &err))) return kc_api_err(error, &err);

    gen_state st = {.m = m, .g = g, .hidden = hidden};
    kc_pipe_backend be = {
        .user = &st, .tokens = KOLORS_MAX_LENGTH, .text_width = hidden, .pooled_width = hidden,
        .encode = be_encode, .release_text = be_release_text, .unet_begin = be_unet_begin, .unet = be_unet,
        .unet_end = be_unet_end, .release_unet = be_release_unet, .vae_decode = be_vae_decode, .vae_encode = be_vae_encode,
        .tap = m->tap ? be_tap : NULL, .progress = be_progress, .log = &m->log,
    };
    size_t bytes = (size_t)g->width * (size_t)g->height * 3;
    uint8_t *rgb = malloc(bytes);
    if (!rgb) return kc_api_err(error, &(kc_err){KC_ERR_NOMEM, "out of memory for the output image"});
    kc_log(&m->log, KC_LOG_INFO, "generate %dx%d, %d steps, %s/%s, cfg %g, seed %llu%s", g->width, g->height,
           g->steps, p.sampler ? p.sampler : "euler", p.scheduler ? p.scheduler : "default", (double)g->cfg_scale,
           (unsigned long long)g->seed, g->init_image ? ", image-to-image" : "");
    if ((s = kc_pipe_run(&be, &p, rgb, g->final_latents, &err))) {
        free(rgb);
        return kc_api_err(error, &err);
    }
    out->width = g->width;
    out->height = g->height;
    out->channels = 3;
    out->data = rgb;
    return 0;
}
