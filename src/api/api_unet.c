/* api_unet.c — the U-Net behind kolors.h: lazy loading (weights variant from the model params)
 * and kolors_unet_forward with its argument validation. */
#include <math.h>
#include <stdlib.h>

#include "api/model_internal.h"
#include "core/sysinfo.h"
#include "diffusion/unet.h"

#define KC_UNET_MAX_BATCH 1024
#define KC_UNET_MAX_SIDE 4096   /* latent pixels per side (32768 image pixels): beyond any real use */
#define KC_UNET_MAX_TOKENS 4096 /* the tokenizer's own limit */

kc_status kc_api_unet(kolors_model *m, struct kc_unet **out, kc_err *err) {
    if (!m->unet) {
        double t0 = kc_time_now();
        int used = 0;
        kc_status s = kc_unet_load(m->dir.unet_dir, m->params.variant, &m->ex, &m->unet, &used, err);
        if (s) {
            kc_err_prepend(err, "loading the unet");
            return s;
        }
        const kc_unet_config *c = kc_unet_get_config(m->unet);
        const kc_weights *ws = kc_unet_weights(m->unet);
        kc_log(&m->log, KC_LOG_INFO,
               "unet: %d blocks, channels %lld..%lld, in %lld / out %lld, cross %lld, %lld tensors from %d file(s)%s, "
               "mapped%s in %.2f s",
               c->nblocks, (long long)c->block_out[0], (long long)c->block_out[c->nblocks - 1],
               (long long)c->in_channels, (long long)c->out_channels, (long long)c->cross_dim,
               (long long)kc_weights_count(ws), kc_weights_nfiles(ws), used ? " (variant)" : "",
               kc_unet_packed_bytes(m->unet) ? ", GEMM weights prepacked as bf16" : "", kc_time_now() - t0);
    }
    *out = m->unet;
    return KC_OK;
}

void kc_api_unet_free(kolors_model *m) {
    kc_unet_free(m->unet);
    m->unet = NULL;
}

static kc_status check_inputs(const kc_unet_config *c, const kolors_unet_inputs *in, kc_err *err) {
    if (!in->sample || !in->timestep || !in->encoder_hidden_states || (c->add_text_time && (!in->text_embeds || !in->time_ids)))
        return kc_fail(err, KC_ERR_ARG, "kolors_unet_forward: an input pointer is NULL");
    if (in->n < 1 || in->n > KC_UNET_MAX_BATCH)
        return kc_fail(err, KC_ERR_ARG, "kolors_unet_forward: batch %d is not in [1, %d]", in->n, KC_UNET_MAX_BATCH);
    if (in->c != c->in_channels)
        return kc_fail(err, KC_ERR_SHAPE, "kolors_unet_forward: sample has %d channels; this U-Net takes %lld%s", in->c,
                       (long long)c->in_channels,
                       c->in_channels == 9 ? " (inpainting: latent 4 | mask 1 | masked-image latent 4)" : "");
    if (c->out_channels != 4) /* callers size noise_pred as the 4-channel latent (kolors.h gives no query) */
        return kc_fail(err, KC_ERR_UNSUPPORTED, "kolors_unet_forward: this U-Net predicts %lld channels; only 4 is supported",
                       (long long)c->out_channels);
    if (in->h < 1 || in->w < 1 || in->h > KC_UNET_MAX_SIDE || in->w > KC_UNET_MAX_SIDE)
        return kc_fail(err, KC_ERR_ARG, "kolors_unet_forward: latent size %dx%d is not in [1, %d] per side", in->h,
                       in->w, KC_UNET_MAX_SIDE);
    if (in->tokens < 1 || in->tokens > KC_UNET_MAX_TOKENS)
        return kc_fail(err, KC_ERR_ARG, "kolors_unet_forward: %d text tokens is not in [1, %d]", in->tokens,
                       KC_UNET_MAX_TOKENS);
    if (in->hidden != kc_unet_text_width(c))
        return kc_fail(err, KC_ERR_SHAPE, "kolors_unet_forward: encoder_hidden_states are %d wide; this U-Net takes %lld",
                       in->hidden, (long long)kc_unet_text_width(c));
    /* kolors_unet_inputs carries one width for both text tensors (Kolors: 4096 each). */
    if (c->add_text_time && kc_unet_pooled_width(c) != in->hidden)
        return kc_fail(err, KC_ERR_UNSUPPORTED,
                       "kolors_unet_forward: this U-Net wants text_embeds %lld wide but encoder_hidden_states %d wide; "
                       "the API passes one width for both",
                       (long long)kc_unet_pooled_width(c), in->hidden);
    for (int i = 0; i < in->n; i++)
        if (!isfinite(in->timestep[i]))
            return kc_fail(err, KC_ERR_ARG, "kolors_unet_forward: timestep[%d] is not finite", i);
    return KC_OK;
}

int kolors_unet_forward(kolors_model *m, const kolors_unet_inputs *in, float *noise_pred, kolors_error *error) {
    kc_err err = {0};
    if (!m || !in || !noise_pred)
        return kc_api_err(error, &(kc_err){KC_ERR_ARG, "kolors_unet_forward: NULL model, inputs or output"});
    struct kc_unet *u;
    if (kc_api_unet(m, &u, &err)) return kc_api_err(error, &err);
    const kc_unet_config *c = kc_unet_get_config(u);
    if (check_inputs(c, in, &err)) return kc_api_err(error, &err);
    const int64_t N = in->n, T = in->tokens;
    size_t bytes = 0;
    if (kc_unet_arena_bytes(u, &m->ex, N, in->h, in->w, T, m->tap != NULL, &bytes, &err)) return kc_api_err(error, &err);
    kc_arena ar = {0};
    float *ctx = malloc((size_t)(N * T * c->cross_dim) * sizeof(float));
    if (!ctx) return kc_api_err(error, &(kc_err){KC_ERR_NOMEM, "out of memory (text context)"});
    if (kc_arena_init(&ar, "unet", bytes, &err)) {
        free(ctx);
        return kc_api_err(error, &err);
    }
    double t0 = kc_time_now();
    kc_status s = kc_unet_project_context(&m->ex, u, in->encoder_hidden_states, N, T, ctx, m->tap, m->tap_user, &err);
    if (!s) {
        kc_unet_input ui = {N, in->h, in->w, T, in->sample, in->timestep, ctx, in->text_embeds, in->time_ids, NULL};
        s = kc_unet_forward(&m->ex, u, &ui, noise_pred, &ar, m->tap, m->tap_user, &err);
    }
    if (!s)
        kc_log(&m->log, KC_LOG_DEBUG, "unet forward %lldx%dx%d: %.3f s, arena %.1f MB (high-water %.1f MB)",
               (long long)N, in->h, in->w, kc_time_now() - t0, (double)bytes / 1e6, (double)ar.high_water / 1e6);
    kc_arena_free(&ar);
    free(ctx);
    return s ? kc_api_err(error, &err) : 0;
}
