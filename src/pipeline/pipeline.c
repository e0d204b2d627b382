/* pipeline.c — see pipeline.h. Mirrors diffusers 0.30 KolorsPipeline.__call__ and
 * KolorsImg2ImgPipeline.__call__ (prepare_latents, the denoising loop, the VAE decode and
 * image_processor.postprocess), with the generator draws in the same order. */
#include "pipeline/pipeline.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/checked.h"
#include "core/sysinfo.h"
#include "core/tensor.h"
#include "sched/schedule.h"

static int finite_f(float x) { return isfinite(x); }

int kc_pipe_img2img_steps(int steps, float strength) {
    /* Shortest decimal that round-trips the float: the value the user wrote (0.6, 0.29, ...). */
    char buf[32];
    double d = strength;
    for (int prec = 1; prec <= 9; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, (double)strength);
        if ((float)strtod(buf, NULL) == strength) {
            d = strtod(buf, NULL);
            break;
        }
    }
    return steps - kc_sched_img2img_start(steps, d);
}

/* Sampler and spacing names -> kind and Karras flag (the sampler names of kolors.h). */
static kc_status sampler_kind(const kc_pipe_params *p, const kc_sched_config *cfg, kc_sampler_kind *kind, int *karras,
                              kc_err *err) {
    const char *name = p->sampler ? p->sampler : "euler";
    const char *spacing = p->scheduler ? p->scheduler : "default";
    kc_status s = kc_sampler_kind_from_name(name, cfg, kind, err);
    if (s) return s;
    if (!strcmp(spacing, "karras")) *karras = 1;
    else if (!strcmp(spacing, "default")) *karras = 0;
    else return kc_fail(err, KC_ERR_ARG, "scheduler '%s' is not one of default, karras", spacing);
    if (*karras && !kc_sampler_kind_supports_karras(*kind))
        return kc_fail(err, KC_ERR_ARG, "sampler '%s' does not take Karras sigmas (use euler, dpm++2m or unipc with "
                       "--scheduler karras)", name);
    return KC_OK;
}

void kc_pipe_to_uint8(const float *decoded, int64_t H, int64_t W, uint8_t *rgb) {
    int64_t hw = H * W;
    for (int64_t c = 0; c < 3; c++)
        for (int64_t i = 0; i < hw; i++) {
            float v = decoded[c * hw + i] / 2.0f + 0.5f;
            v = v < 0.0f ? 0.0f : v > 1.0f ? 1.0f : v; /* NaN stays NaN: caught below */
            float r = nearbyintf(v * 255.0f);        /* round half to even, as numpy */
            rgb[i * 3 + c] = (uint8_t)(r >= 0.0f && r <= 255.0f ? r : 0.0f);
        }
}

void kc_pipe_from_uint8(const uint8_t *rgb, int64_t H, int64_t W, float *image) {
    int64_t hw = H * W;
    for (int64_t c = 0; c < 3; c++)
        for (int64_t i = 0; i < hw; i++) image[c * hw + i] = ((float)rgb[i * 3 + c] / 255.0f) * 2.0f - 1.0f;
}

kc_status kc_pipe_validate(const kc_pipe_params *p, kc_err *err) {
    if (!p->prompt) return kc_fail(err, KC_ERR_ARG, "prompt is NULL (pass \"\" for an empty prompt)");
    if (p->width % 8 || p->height % 8 || p->width <= 0 || p->height <= 0)
        return kc_fail(err, KC_ERR_ARG, "image size %dx%d: width and height must be positive multiples of 8 "
                       "(the VAE works on 8x8 pixel blocks)", p->width, p->height);
    if (p->width < KC_PIPE_MIN_SIDE || p->height < KC_PIPE_MIN_SIDE || p->width > KC_PIPE_MAX_SIDE ||
        p->height > KC_PIPE_MAX_SIDE)
        return kc_fail(err, KC_ERR_ARG, "image size %dx%d is outside %d..%d pixels per side (Kolors is trained at 1024x1024)",
                       p->width, p->height, KC_PIPE_MIN_SIDE, KC_PIPE_MAX_SIDE);
    if (p->steps < 1 || p->steps > KC_PIPE_MAX_STEPS)
        return kc_fail(err, KC_ERR_ARG, "steps = %d is outside 1..%d", p->steps, KC_PIPE_MAX_STEPS);
    if (!finite_f(p->cfg_scale) || p->cfg_scale < 0.0f || p->cfg_scale > KC_PIPE_MAX_CFG)
        return kc_fail(err, KC_ERR_ARG, "cfg scale %g is outside 0..%g (1 or less turns guidance off; 5 is the default)",
                       (double)p->cfg_scale, (double)KC_PIPE_MAX_CFG);
    kc_sched_config kolors_cfg;
    kc_sched_config_kolors(&kolors_cfg);
    kc_sampler_kind kind;
    int karras;
    kc_status s = sampler_kind(p, &kolors_cfg, &kind, &karras, err);
    if (s) return s;
    if (!finite_f(p->scaling_factor) || p->scaling_factor <= 0.0f)
        return kc_fail(err, KC_ERR_FORMAT, "VAE scaling_factor %g is not a positive number", (double)p->scaling_factor);
    if (p->init_rgb) {
        if (p->init_noise)
            return kc_fail(err, KC_ERR_ARG, "init_noise applies to text-to-image only; image-to-image draws its noise "
                           "from the seed");
        if (p->init_w < 1 || p->init_h < 1 || p->init_w > KC_PIPE_MAX_INIT_SIDE || p->init_h > KC_PIPE_MAX_INIT_SIDE)
            return kc_fail(err, KC_ERR_ARG, "init image size %dx%d is outside 1..%d pixels per side", p->init_w,
                           p->init_h, KC_PIPE_MAX_INIT_SIDE);
        if (!finite_f(p->strength) || p->strength <= 0.0f || p->strength > 1.0f)
            return kc_fail(err, KC_ERR_ARG, "strength %g is outside (0, 1]", (double)p->strength);
        int run = kc_pipe_img2img_steps(p->steps, p->strength);
        if (run < 1)
            return kc_fail(err, KC_ERR_ARG, "strength %g with %d steps runs int(%d * %g) = 0 denoising steps; raise "
                           "the strength or the steps", (double)p->strength, p->steps, p->steps, (double)p->strength);
    }
    return KC_OK;
}

/* ---- run ---- */

typedef struct {
    const kc_pipe_backend *be;
    double t_stage;
} stage_clock;

/* Whether anyone listens to INFO messages: the per-stage peak RSS is measured only then, because
 * measuring it resets the process-wide peak counter (VmHWM), which a host program may be using. */
static int stats_wanted(const kc_pipe_backend *be) {
    return be->log && be->log->fn && be->log->level >= KC_LOG_INFO;
}

static void stage_done(stage_clock *c, const char *what) {
    double now = kc_time_now();
    if (stats_wanted(c->be)) {
        int64_t peak = kc_peak_rss_bytes();
        kc_log(c->be->log, KC_LOG_INFO, "%s: %.2f s, peak RSS %.1f MiB", what, now - c->t_stage,
               (double)peak / (1024.0 * 1024.0));
        kc_peak_rss_reset(); /* so the next stage reports its own peak (stays cumulative if refused) */
    }
    c->t_stage = now;
}

static void tap(const kc_pipe_backend *be, const char *name, const float *data, int ndim, const int64_t *shape) {
    if (be->tap) be->tap(be->user, name, data, ndim, shape);
}

static kc_status check_finite(const float *x, int64_t n, const char *what, kc_err *err) {
    int64_t i = kc_first_nonfinite(x, n);
    if (i >= 0)
        return kc_fail(err, KC_ERR_INTERNAL, "%s: element %lld is %g (non-finite); the model's weights or "
                       "settings overflow fp32", what, (long long)i, (double)x[i]);
    return KC_OK;
}

kc_status kc_pipe_run(const kc_pipe_backend *be, const kc_pipe_params *p, uint8_t *rgb, float *final_latents,
                      kc_err *err) {
    kc_status s = kc_pipe_validate(p, err);
    if (s) return s;
    const int64_t H = p->height, W = p->width, h = H / 8, w = W / 8, n = 4 * h * w;
    const int64_t T = be->tokens, E = be->text_width, P = be->pooled_width;
    const int cfg = p->cfg_scale > 1.0f;
    const int64_t B = cfg ? 2 : 1;
    const char *neg = p->negative_prompt ? p->negative_prompt : "";
    stage_clock clock = {be, kc_time_now()};
    if (stats_wanted(be)) kc_peak_rss_reset();

    float *embeds = NULL, *pooled = NULL, *time_ids = NULL, *x = NULL, *xin = NULL, *eps = NULL, *guided = NULL,
          *scratch = NULL, *image = NULL, *timesteps = NULL, *tvec = NULL;
    kc_sampler *smp = NULL;
    int unet_open = 0;
    size_t emb_n, img_n;
    if (!kc_size_mul((size_t)(B * T), (size_t)E, &emb_n) || !kc_size_mul((size_t)(3 * H), (size_t)W, &img_n))
        return kc_fail(err, KC_ERR_ARG, "image or text sizes overflow");
    embeds = malloc(emb_n * sizeof(float));
    pooled = malloc((size_t)(B * (P > 0 ? P : 1)) * sizeof(float));
    time_ids = malloc((size_t)B * 6 * sizeof(float));
    x = malloc((size_t)n * sizeof(float));
    xin = malloc((size_t)(B * n) * sizeof(float));
    eps = malloc((size_t)(2 * n) * sizeof(float)); /* B <= 2; img2img keeps mean and logvar here first */
    guided = malloc((size_t)n * sizeof(float));
    scratch = malloc((size_t)n * sizeof(float));
    image = malloc(img_n * sizeof(float));
    timesteps = malloc((size_t)p->steps * sizeof(float));
    tvec = malloc((size_t)B * sizeof(float));
    if (!embeds || !pooled || !time_ids || !x || !xin || !eps || !guided || !scratch || !image || !timesteps || !tvec) {
        s = kc_fail(err, KC_ERR_NOMEM, "out of memory for a %lldx%lld image", (long long)W, (long long)H);
        goto done;
    }

    /* 0. The sampler first: a bad scheduler config fails before any expensive work. */
    {
        kc_sched_config scfg;
        kc_sampler_kind kind;
        int karras = 0;
        if (p->scheduler_config && *p->scheduler_config) {
            if ((s = kc_sched_config_load(p->scheduler_config, &scfg, err))) goto done;
        } else {
            kc_log(be->log, KC_LOG_WARN, "the model has no scheduler_config.json: using Kolors' scheduler settings");
            kc_sched_config_kolors(&scfg);
        }
        if ((s = sampler_kind(p, &scfg, &kind, &karras, err)) ||
            (s = kc_sampler_create(&scfg, kind, p->steps, karras, &smp, err)))
            goto done;
    }
    const int N = kc_sampler_steps(smp);
    if (N != p->steps) { /* the buffers above are sized by p->steps */
        s = kc_fail(err, KC_ERR_INTERNAL, "sampler built %d steps for %d requested", N, p->steps);
        goto done;
    }

    /* 1. Text: [negative, prompt] as one batch (negative first), or the prompt alone without CFG. */
    {
        const char *prompts[2] = {neg, p->prompt};
        if ((s = be->encode(be->user, (int)B, cfg ? prompts : prompts + 1, embeds, pooled, err))) {
            kc_err_prepend(err, "encoding the prompt");
            goto done;
        }
        int64_t se[3] = {B, T, E}, sp[2] = {B, P};
        tap(be, "pipeline.prompt_embeds", embeds, 3, se);
        tap(be, "pipeline.add_text_embeds", pooled, 2, sp);
        stage_done(&clock, "text encoder");
        if (be->release_text) be->release_text(be->user);
        if (stats_wanted(be)) {
            kc_log(be->log, KC_LOG_INFO, "text encoder released: RSS now %.1f MiB",
                   (double)kc_current_rss_bytes() / (1024.0 * 1024.0));
            /* stage_done reset the peak while the weights were still mapped: reset it again so
             * the denoising stage reports its own peak, not the text encoder's. */
            kc_peak_rss_reset();
        }
    }
    /* add_time_ids = original_size + crops_coords_top_left + target_size, per row. For img2img this is
     * the output size, as when the caller passes height/width (the goldens do); diffusers'
     * KolorsImg2ImgPipeline called without them would use 1024x1024 whatever the image size
     * (kolors-model.md §8.1 quirk), which is not reproduced. */
    for (int64_t b = 0; b < B; b++) {
        float *t = time_ids + 6 * b;
        t[0] = (float)H, t[1] = (float)W, t[2] = 0.0f, t[3] = 0.0f, t[4] = (float)H, t[5] = (float)W;
    }
    {
        int64_t st[2] = {B, 6};
        tap(be, "pipeline.add_time_ids", time_ids, 2, st);
    }

    /* 2. Initial latents. */
    int k0 = 0;
    kc_rng rng;
    kc_rng_seed(&rng, p->seed);
    int64_t slat[4] = {1, 4, h, w};
    if (p->init_rgb) {
        /* KolorsImg2ImgPipeline.prepare_latents: VAE encode, latent_dist.sample(generator) draws eps
         * first, then randn_tensor(generator) draws the noise for add_noise at the first kept step. */
        int64_t simg[4] = {1, 3, H, W};
        if (p->init_w != W || p->init_h != H) {
            /* VaeImageProcessor.resize: PIL Lanczos to the target size (rgb is free until the end). */
            kc_log(be->log, KC_LOG_INFO, "init image %dx%d resized to %lldx%lld (Lanczos)", p->init_w, p->init_h,
                   (long long)W, (long long)H);
            if ((s = kc_pipe_resize_lanczos(p->init_rgb, p->init_w, p->init_h, rgb, (int)W, (int)H, err))) goto done;
            kc_pipe_from_uint8(rgb, H, W, image);
        } else {
            kc_pipe_from_uint8(p->init_rgb, H, W, image);
        }
        tap(be, "pipeline.i2i.preprocessed_image", image, 4, simg);
        float *mean = eps, *logvar = eps + n; /* unused until the loop */
        if ((s = be->vae_encode(be->user, image, H, W, mean, logvar, err))) {
            kc_err_prepend(err, "encoding the init image");
            goto done;
        }
        kc_rng_randn(&rng, scratch, n);
        tap(be, "pipeline.i2i.posterior_eps", scratch, 4, slat);
        for (int64_t i = 0; i < n; i++) {
            float sample = mean[i] + expf(0.5f * logvar[i]) * scratch[i];
            guided[i] = p->scaling_factor * sample;
        }
        tap(be, "pipeline.i2i.image_latents_scaled", guided, 4, slat);
        kc_rng_randn(&rng, scratch, n);
        tap(be, "pipeline.i2i.noise", scratch, 4, slat);
        k0 = N - kc_pipe_img2img_steps(N, p->strength);
        kc_sampler_add_noise(smp, k0, guided, scratch, x, n);
        tap(be, "pipeline.i2i.noisy_latents", x, 4, slat);
        stage_done(&clock, "init image encode");
    } else {
        if (p->init_noise) memcpy(x, p->init_noise, (size_t)n * sizeof(float));
        else kc_rng_randn(&rng, x, n);
        float sigma = kc_sampler_init_noise_sigma(smp);
        for (int64_t i = 0; i < n; i++) x[i] *= sigma;
    }
    tap(be, "pipeline.initial_latents", x, 4, slat);
    for (int k = k0; k < N; k++) timesteps[k - k0] = kc_sampler_timestep(smp, k);
    {
        int64_t st[1] = {N - k0};
        tap(be, "pipeline.timesteps", timesteps, 1, st);
    }

    /* 3. Denoising. */
    unet_open = 1; /* unet_end also undoes a unet_begin that failed half way */
    if ((s = be->unet_begin(be->user, B, h, w, embeds, err))) goto done;
    double t_loop = kc_time_now();
    int64_t sb[4] = {B, 4, h, w};
    /* Step 0 before the first U-Net call: a front end shows its bar (and may cancel) before the
     * first, possibly long, step. */
    if (be->progress && be->progress(be->user, 0, N - k0, 0.0)) {
        s = kc_fail(err, KC_ERR_CANCELLED, "cancelled by the progress callback before the first step");
        goto done;
    }
    for (int k = k0; k < N; k++) {
        kc_sampler_scale_model_input(smp, k, x, xin, n);
        if (cfg) memcpy(xin + n, xin, (size_t)n * sizeof(float));
        tap(be, "pipeline.unet_inputs", xin, 4, sb);
        float t = kc_sampler_timestep(smp, k);
        for (int64_t b = 0; b < B; b++) tvec[b] = t;
        kc_pipe_unet_call call = {B, h, w, xin, tvec, pooled, time_ids};
        if ((s = be->unet(be->user, &call, eps, err))) {
            kc_err_prepend(err, "U-Net at step %d/%d (t = %g)", k - k0 + 1, N - k0, (double)t);
            goto done;
        }
        tap(be, "pipeline.noise_preds", eps, 4, sb);
        const float g = p->cfg_scale;
        if (cfg)
            for (int64_t i = 0; i < n; i++) guided[i] = eps[i] + g * (eps[n + i] - eps[i]);
        else
            memcpy(guided, eps, (size_t)n * sizeof(float));
        /* The pipeline's generator goes to every step: Euler's unused draw and Euler a's noise
         * come from it in the reference's order. */
        if ((s = kc_sampler_step(smp, k, guided, x, n, &rng, err))) goto done;
        tap(be, "pipeline.latents_per_step", x, 4, slat);
        if (be->progress && be->progress(be->user, k - k0 + 1, N - k0, kc_time_now() - t_loop)) {
            s = kc_fail(err, KC_ERR_CANCELLED, "cancelled by the progress callback at step %d/%d", k - k0 + 1, N - k0);
            goto done;
        }
    }
    be->unet_end(be->user);
    unet_open = 0;
    /* The VAE decode's activations are the largest of the run at big sizes: let them reuse the
     * U-Net's memory instead of adding to it (a next image maps the U-Net again). */
    if (be->release_unet) be->release_unet(be->user);
    stage_done(&clock, "denoising");
    if ((s = check_finite(x, n, "final latents", err))) goto done;
    tap(be, "pipeline.final_latents", x, 4, slat);
    if (final_latents) memcpy(final_latents, x, (size_t)n * sizeof(float));

    /* 4. VAE decode of latents / scaling_factor, then the 8-bit conversion. */
    for (int64_t i = 0; i < n; i++) x[i] = x[i] / p->scaling_factor;
    tap(be, "pipeline.vae_decode_input", x, 4, slat);
    if ((s = be->vae_decode(be->user, x, h, w, image, err))) {
        kc_err_prepend(err, "decoding the latents");
        goto done;
    }
    {
        int64_t simg[4] = {1, 3, H, W};
        tap(be, "pipeline.decoded_image", image, 4, simg);
    }
    if ((s = check_finite(image, (int64_t)img_n, "decoded image", err))) goto done;
    kc_pipe_to_uint8(image, H, W, rgb);
    stage_done(&clock, "VAE decode");

done:
    if (unet_open) be->unet_end(be->user);
    kc_sampler_free(smp);
    free(embeds);
    free(pooled);
    free(time_ids);
    free(x);
    free(xin);
    free(eps);
    free(guided);
    free(scratch);
    free(image);
    free(timesteps);
    free(tvec);
    return s;
}
