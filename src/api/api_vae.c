/* api_vae.c — the VAE behind kolors.h: lazy loading (weights variant from the model params),
 * tiling policy from kolors_params (vae_tiling, vae_tile_size, vae_tile_stats), argument
 * validation, and kolors_vae_decode / kolors_vae_encode. The public API fixes 4 latent and 3 image channels
 * (kolors.h gives no query), so a VAE configured otherwise is refused at load with a clear error. */
#include <math.h>
#include <stdlib.h>

#include "api/model_internal.h"
#include "core/sysinfo.h"
#include "diffusion/vae.h"

#define KC_VAE_MAX_BATCH 1024

kc_status kc_api_vae(kolors_model *m, struct kc_vae **out, kc_err *err) {
    if (!m->vae) {
        double t0 = kc_time_now();
        int used = 0;
        struct kc_vae *v = NULL;
        kc_status s = kc_vae_load(m->dir.vae_dir, m->params.variant, &m->ex, &v, &used, err);
        if (s) {
            kc_err_prepend(err, "loading the vae");
            return s;
        }
        const kc_vae_config *c = kc_vae_get_config(v);
        if (c->latent_channels != 4 || c->in_channels != 3 || c->out_channels != 3) {
            kc_fail(err, KC_ERR_UNSUPPORTED,
                    "%s/config.json: latent_channels %lld, in_channels %lld, out_channels %lld; kolors.h's VAE calls "
                    "take 4 latent and 3 image channels",
                    m->dir.vae_dir, (long long)c->latent_channels, (long long)c->in_channels,
                    (long long)c->out_channels);
            kc_vae_free(v);
            return KC_ERR_UNSUPPORTED;
        }
        const kc_weights *ws = kc_vae_weights(v);
        kc_log(&m->log, KC_LOG_INFO,
               "vae: %d blocks, channels %lld..%lld, %lld tensors from %d file(s)%s%s, mapped in %.2f s", c->nblocks,
               (long long)c->block_out[0], (long long)c->block_out[c->nblocks - 1], (long long)kc_weights_count(ws),
               kc_weights_nfiles(ws), used ? " (variant)" : "",
               kc_vae_uses_old_attn_names(ws) ? ", old attention names" : "", kc_time_now() - t0);
        m->vae = v;
    }
    *out = m->vae;
    return KC_OK;
}

void kc_api_vae_free(kolors_model *m) {
    kc_vae_free(m->vae);
    m->vae = NULL;
}

/* Adapts the model's public tap callback (same signature) to the VAE's. */
static void tap_adapter(const char *name, const float *data, int ndim, const int64_t *shape, void *user) {
    kolors_model *m = user;
    m->tap(name, data, ndim, shape, m->tap_user);
}

typedef enum { DECODE, ENCODE } direction;

/* Loads the VAE and checks batch and sizes; *h, *w receive the latent size. */
static kc_status check_args(kolors_model *m, direction d, int64_t n, int64_t H_or_h, int64_t W_or_w,
                            struct kc_vae **vp, int64_t *hp, int64_t *wp, kc_err *err) {
    kc_status s = kc_api_vae(m, vp, err);
    if (s) return s;
    const int64_t f = kc_vae_factor(kc_vae_get_config(*vp));
    const char *fn = d == DECODE ? "kolors_vae_decode" : "kolors_vae_encode";
    if (n < 1 || n > KC_VAE_MAX_BATCH)
        return kc_fail(err, KC_ERR_ARG, "%s: batch %lld is not in [1, %d]", fn, (long long)n, KC_VAE_MAX_BATCH);
    if (d == ENCODE && (H_or_h % f || W_or_w % f || H_or_h < f || W_or_w < f))
        return kc_fail(err, KC_ERR_ARG, "%s: image size %lldx%lld (HxW) must be positive multiples of %lld", fn,
                       (long long)H_or_h, (long long)W_or_w, (long long)f);
    const int64_t h = d == DECODE ? H_or_h : H_or_h / f, w = d == DECODE ? W_or_w : W_or_w / f;
    if (h < 1 || w < 1 || h * f > KC_VAE_MAX_SIDE || w * f > KC_VAE_MAX_SIDE)
        return kc_fail(err, KC_ERR_ARG, "%s: %s size %lldx%lld (HxW) gives an image of %lldx%lld, not in [%lld, %d] per side",
                       fn, d == DECODE ? "latent" : "image", (long long)H_or_h, (long long)W_or_w, (long long)(h * f),
                       (long long)(w * f), (long long)f, KC_VAE_MAX_SIDE);
    *hp = h;
    *wp = w;
    return KC_OK;
}

/* Resolves tiling, sizes the arena and runs; out = image (decode) or moments (encode). */
static kc_status run(kolors_model *m, direction d, const float *in, int64_t n, int64_t H_or_h, int64_t W_or_w,
                     float *out, kc_err *err) {
    struct kc_vae *v;
    int64_t h, w;
    kc_status s = check_args(m, d, n, H_or_h, W_or_w, &v, &h, &w, err);
    if (s) return s;
    const kc_vae_config *c = kc_vae_get_config(v);
    const int64_t f = kc_vae_factor(c);
    const char *fn = d == DECODE ? "kolors_vae_decode" : "kolors_vae_encode";
    /* NaN/Inf in, NaN out, silently: refuse it at the boundary instead, naming the element. */
    const int64_t n_in = d == DECODE ? n * c->latent_channels * h * w : n * c->in_channels * (h * f) * (w * f);
    if ((s = kc_api_check_finite(in, n_in, d == DECODE ? "latents" : "image", fn, err))) return s;
    kc_vae_tiling t;
    if ((s = kc_vae_tiling_resolve(m->params.vae_tiling, m->params.vae_tile_size, h, w, &t, err))) return s;
    static const int stats_mode[3] = {KC_VAE_STATS_ESTIMATE, KC_VAE_STATS_EXACT, KC_VAE_STATS_TILE};
    if (m->params.vae_tile_stats < 0 || m->params.vae_tile_stats > 2)
        return kc_fail(err, KC_ERR_ARG, "%s: vae_tile_stats %d is not 0 (estimate), 1 (exact) or 2 (per tile)", fn,
                       m->params.vae_tile_stats);
    t.stats = stats_mode[m->params.vae_tile_stats];
    size_t bytes = 0;
    const int taps = m->tap != NULL;
    s = d == DECODE ? kc_vae_decode_bytes(c, &m->ex, n, h, w, &t, taps, &bytes, err)
                    : kc_vae_encode_bytes(c, &m->ex, n, h * f, w * f, &t, taps, &bytes, err);
    if (s) return s;
    kc_arena ar = {0};
    if ((s = kc_arena_init(&ar, "vae", bytes, err))) {
        kc_err_prepend(err, "%s: %.2f GB of activations for %lldx%lld%s", fn, (double)bytes / 1e9, (long long)(h * f),
                       (long long)(w * f), t.enabled ? " (tiled)" : " (untiled; vae_tiling=1 needs less)");
        return s;
    }
    double t0 = kc_time_now();
    kc_vae_tap_fn tf = taps ? tap_adapter : NULL;
    s = d == DECODE ? kc_vae_decode(&m->ex, v, in, n, h, w, &t, out, &ar, tf, m, err)
                    : kc_vae_encode(&m->ex, v, in, n, h * f, w * f, &t, out, &ar, tf, m, err);
    if (!s)
        kc_log(&m->log, KC_LOG_DEBUG, "vae %s %lldx%lldx%lld: %.3f s, %s, arena %.1f MB (high-water %.1f MB)",
               d == DECODE ? "decode" : "encode", (long long)n, (long long)(h * f), (long long)(w * f),
               kc_time_now() - t0, t.enabled ? "tiled" : "untiled", (double)bytes / 1e6, (double)ar.high_water / 1e6);
    kc_arena_free(&ar);
    return s;
}

int kolors_vae_decode(kolors_model *m, const float *latents, int n, int h, int w, float *image, kolors_error *error) {
    kc_err err = {0};
    if (!m || !latents || !image)
        return kc_api_err(error, &(kc_err){KC_ERR_ARG, "kolors_vae_decode: NULL model, latents or image"});
    return run(m, DECODE, latents, n, h, w, image, &err) ? kc_api_err(error, &err) : 0;
}

int kolors_vae_encode(kolors_model *m, const float *image, int n, int H, int W, float *mean, float *logvar,
                      kolors_error *error) {
    kc_err err = {0};
    if (!m || !image || !mean || !logvar)
        return kc_api_err(error, &(kc_err){KC_ERR_ARG, "kolors_vae_encode: NULL model, image, mean or logvar"});
    struct kc_vae *v;
    int64_t h, w;
    if (check_args(m, ENCODE, n, H, W, &v, &h, &w, &err)) return kc_api_err(error, &err);
    /* moments [n, 2Z, h, w] -> mean = first Z channels, logvar = the rest clamped to [-30, 20]
     * (DiagonalGaussianDistribution). Z = 4 (checked at load). */
    const int64_t Z = 4, S = h * w;
    float *mom = malloc((size_t)(n * 2 * Z * S) * sizeof *mom);
    if (!mom) return kc_api_err(error, &(kc_err){KC_ERR_NOMEM, "kolors_vae_encode: out of memory"});
    if (run(m, ENCODE, image, n, H, W, mom, &err)) {
        free(mom);
        return kc_api_err(error, &err);
    }
    for (int64_t b = 0; b < n; b++)
        for (int64_t i = 0; i < Z * S; i++) {
            mean[b * Z * S + i] = mom[b * 2 * Z * S + i];
            float lv = mom[b * 2 * Z * S + Z * S + i];
            logvar[b * Z * S + i] = lv < -30.0f ? -30.0f : lv > 20.0f ? 20.0f : lv;
        }
    free(mom);
    return 0;
}
