/* pipeline.h — the Kolors text-to-image / image-to-image loop (kolors-model.md §7, §8.1), as
 * diffusers' KolorsPipeline and KolorsImg2ImgPipeline run it:
 *
 *   embeds, pooled = encode([negative, prompt])          one batch, negative first (CFG on)
 *   time_ids       = (H, W, 0, 0, H, W) per row
 *   x              = randn(generator) * init_noise_sigma  (or init_noise * init_noise_sigma)
 *   for k: eps = UNet(scale_model_input([x, x], t_k)); eps = u + g (c - u); x = step(eps, t_k, x)
 *   image          = VAE.decode(x / scaling_factor);  u8 = round_half_even(clamp(img/2 + 0.5) * 255)
 *
 * img2img: the init image is resized to W x H (Pillow's Lanczos) if needed, then
 * z0 = (mean + std * eps) * scaling_factor with eps drawn first, then noise drawn second,
 * x = add_noise(z0, noise, t_start), and only the last int(steps * strength) steps run.
 *
 * The loop is written against a small backend of callbacks (encode, U-Net, VAE) so it does not
 * depend on how the API layer loads, caches and releases the components.
 *
 * Dimension letters: B batch of the U-Net (2 with CFG, else 1), T text tokens (256), E text width,
 * P pooled width, h/w latent size (H/8, W/8), H/W image size. Latents and images are NCHW fp32. */
#ifndef KC_PIPELINE_PIPELINE_H
#define KC_PIPELINE_PIPELINE_H

#include <stdint.h>

#include "core/log.h"
#include "core/rng.h"
#include "core/status.h"

/* Limits refused before any work (kolors-model.md §7.1: sizes are multiples of 8). */
#define KC_PIPE_MIN_SIDE 64      /* below this the U-Net's deepest level is under 2x2 latents */
#define KC_PIPE_MAX_SIDE 4096    /* 4x the native 1024: beyond it attention alone needs > 100 GB */
#define KC_PIPE_MAX_STEPS 1000   /* "leading" spacing needs 1100 // steps >= 1 */
#define KC_PIPE_MAX_CFG 100.0f   /* guidance far above ~20 only produces saturated noise */
#define KC_PIPE_MAX_INIT_SIDE 16384 /* init images are resized to the target size first */

typedef struct {
    const char *prompt;
    const char *negative_prompt; /* NULL = "" */
    int width, height, steps;
    float cfg_scale;
    uint64_t seed;
    const char *sampler;         /* euler, euler_a, dpm++2m, unipc, ddim */
    const char *scheduler;       /* default, karras */
    const uint8_t *init_rgb;     /* img2img: [init_h, init_w, 3] uint8, or NULL; resized to H x W */
    int init_w, init_h;          /*   (Lanczos, as diffusers) when the sizes differ */
    float strength;
    const float *init_noise;     /* [1, 4, h, w] or NULL */
    const char *scheduler_config;/* path of scheduler_config.json; NULL/"" = Kolors' settings */
    float scaling_factor;        /* VAE scaling factor (0.13025) */
} kc_pipe_params;

/* The U-Net call of one step. */
typedef struct {
    int64_t B, h, w;
    const float *sample;      /* [B, 4, h, w], already scaled by scale_model_input */
    const float *timestep;    /* [B] */
    const float *text_embeds; /* [B, P] */
    const float *time_ids;    /* [B, 6] */
} kc_pipe_unet_call;

typedef struct {
    void *user;
    int64_t tokens, text_width, pooled_width; /* T, E, P */
    /* prompts[0..n) -> embeds [n, T, E], pooled [n, P]. */
    kc_status (*encode)(void *user, int n, const char *const *prompts, float *embeds, float *pooled, kc_err *err);
    /* Frees the text encoder's weights (after encoding, before denoising). May be NULL. */
    void (*release_text)(void *user);
    /* Per-image U-Net set-up with the text states (embeds [B, T, E]): hoists what does not depend
     * on the step (the context projection, buffers). unet_end releases it, also after a failed
     * unet_begin. */
    kc_status (*unet_begin)(void *user, int64_t B, int64_t h, int64_t w, const float *embeds, kc_err *err);
    kc_status (*unet)(void *user, const kc_pipe_unet_call *c, float *noise_pred, kc_err *err);
    void (*unet_end)(void *user);
    /* Frees the U-Net's weights (after denoising, before the VAE decode). May be NULL. */
    void (*release_unet)(void *user);
    /* z [1, 4, h, w] (already / scaling_factor) -> image [1, 3, 8h, 8w] unclamped. */
    kc_status (*vae_decode)(void *user, const float *z, int64_t h, int64_t w, float *image, kc_err *err);
    /* image [1, 3, H, W] in [-1, 1] -> mean, logvar [1, 4, H/8, W/8] (logvar clamped). */
    kc_status (*vae_encode)(void *user, const float *image, int64_t H, int64_t W, float *mean, float *logvar,
                            kc_err *err);
    /* Debug taps ("pipeline.*", NCHW / [B, T, E] as the goldens). May be NULL. */
    void (*tap)(void *user, const char *name, const float *data, int ndim, const int64_t *shape);
    /* Progress: called with step 0 before the first step, then after each; non-zero cancels.
     * May be NULL. */
    int (*progress)(void *user, int step, int n_steps, double elapsed_s);
    const kc_logger *log;
} kc_pipe_backend;

/* Checks every parameter (sizes, steps, guidance, strength, sampler and scheduler names, init
 * image size) without doing any work. Messages name the parameter, the value and the limit. */
kc_status kc_pipe_validate(const kc_pipe_params *p, kc_err *err);

/* Runs the whole pipeline: rgb receives [H, W, 3] uint8 (caller-allocated, H*W*3 bytes);
 * final_latents (may be NULL) receives [1, 4, h, w] before the VAE. */
kc_status kc_pipe_run(const kc_pipe_backend *be, const kc_pipe_params *p, uint8_t *rgb, float *final_latents,
                      kc_err *err);

/* ---- pieces, exposed for tests ---- */

/* int(steps * strength) as Python computes it with the decimal strength the user typed: the float
 * is widened through its shortest round-trip decimal, so 0.29 gives 28 for 100 steps as in Python. */
int kc_pipe_img2img_steps(int steps, float strength);
/* decoded [1, 3, H, W] -> rgb [H, W, 3]: round_half_even(clamp(x / 2 + 0.5, 0, 1) * 255) in fp32
 * (torch's clamp, numpy's round), as the reference's "pil"/"np" outputs. */
void kc_pipe_to_uint8(const float *decoded, int64_t H, int64_t W, uint8_t *rgb);
/* Pillow's Image.resize((W, H), Image.LANCZOS) of 8-bit RGB, bit-exact (diffusers resizes the
 * img2img init image this way): src [h, w, 3] -> dst [H, W, 3]. */
kc_status kc_pipe_resize_lanczos(const uint8_t *src, int w, int h, uint8_t *dst, int W, int H, kc_err *err);
/* rgb [H, W, 3] uint8 -> [1, 3, H, W] in [-1, 1]: (u8 / 255) * 2 - 1 in fp32 (diffusers' image
 * processor: pil_to_numpy then normalize). */
void kc_pipe_from_uint8(const uint8_t *rgb, int64_t H, int64_t W, float *image);

#endif
