/* schedule.h — diffusers noise schedules and samplers (diffusers 0.30.3 semantics, which the
 * Kolors pin 0.28.2 shares for everything here), kolors-model.md §6.
 *
 * A scheduler_config.json is parsed into kc_sched_config (every key that changes the result;
 * values we do not implement are refused with KC_ERR_UNSUPPORTED naming the key). A kc_sampler is
 * then built by name for N steps, exactly as `Cls.from_config(config); set_timesteps(N)`:
 *
 *   training tables  betas [T] (float32 torch.linspace of sqrt, squared), alphas_cumprod [T]
 *                    (float32, accumulated in double as torch's CPU cumprod), sigma table [T]
 *   per N            timesteps [N] (what the U-Net receives), sigmas [N+1] (VE levels, last 0;
 *                    not used by DDIM), init_noise_sigma
 *   per step k       scale_model_input, step (multistep history kept inside), add_noise
 *
 * Arithmetic mirrors the reference: float32 where diffusers computes with float32 tensors (tables,
 * every step), float64 where it uses numpy (sigma interpolation, Karras spacing, sigma_to_t).
 *
 * Seeded runs (one torch.Generator through the whole pipeline, reproduced by one kc_rng): the
 * reference draws, in this order, txt2img: the initial latents randn([B,4,h,w]) (not when latents
 * are given), then each step's randn(n) (Euler: drawn and unused; Euler a: the ancestral noise);
 * img2img: the VAE posterior eps randn([1,4,h,w]), the add_noise noise randn([1,4,h,w]), then the
 * steps as above. Each randn of >= 16 values consumes exactly one mt19937 word per value (plus 16
 * when the count is not a multiple of 16). Checked against the seeded pipeline goldens.
 *
 * Letters: T training timesteps (1100 for Kolors), N inference steps, k step index (0..N-1; img2img
 * starts at k = t_start like set_begin_index), n elements of one latent batch. */
#ifndef KC_SCHED_SCHEDULE_H
#define KC_SCHED_SCHEDULE_H

#include <stdint.h>

#include "core/rng.h"
#include "core/status.h"

#define KC_SCHED_MAX_TRAIN 100000 /* num_train_timesteps above this is refused */

typedef enum { KC_BETA_SCALED_LINEAR = 0, KC_BETA_LINEAR } kc_beta_schedule;
typedef enum { KC_SPACING_LEADING = 0, KC_SPACING_TRAILING, KC_SPACING_LINSPACE } kc_spacing;

/* The keys of scheduler_config.json that matter. Keys that define the model's schedule are checked
 * when parsing; keys that only one scheduler class reads (diffusers' from_config passes a key only
 * to a class whose __init__ takes it) are kept as written and checked when that sampler is built. */
typedef struct {
    char class_name[64];          /* "_class_name", "" if absent */
    int64_t num_train_timesteps;  /* T */
    double beta_start, beta_end;
    kc_beta_schedule beta_schedule;
    kc_spacing spacing;           /* timestep_spacing */
    int spacing_set;              /* 0: absent, the class default applies (DDIM "leading", others "linspace") */
    int64_t steps_offset;
    int use_karras_sigmas;
    int has_sigma_min, has_sigma_max; /* Karras range overrides (null = from the table) */
    double sigma_min, sigma_max;
    int set_alpha_to_one;         /* DDIM's final alpha: 1 or alphas_cumprod[0] */
    /* sampler-specific, "" / -1 when absent (= the class default) */
    char algorithm_type[32];      /* DPM: dpmsolver++ only */
    char solver_type[16];         /* DPM: midpoint; UniPC: bh1 / bh2 */
    int solver_order;             /* DPM / UniPC: 1 or 2 */
    int use_lu_lambdas;           /* DPM: refused */
    int lambda_min_clipped_set;   /* DPM: a finite value is refused */
    char variance_type[16];       /* DPM: null only */
    int predict_x0;               /* UniPC: true only */
    int lower_order_final;        /* UniPC: true only (DPM++ ends first order anyway with "zero") */
    int disable_corrector_n;      /* UniPC: empty only */
    int solver_p_set;             /* UniPC: null only */
    int thresholding;             /* DDIM / DPM / UniPC: refused */
    int clip_sample;              /* DDIM: refused */
} kc_sched_config;

/* Kolors' scheduler settings (kolors-model.md §1.6.5), for a model folder without the file. */
void kc_sched_config_kolors(kc_sched_config *cfg);
/* Parses scheduler_config.json. Refuses (KC_ERR_UNSUPPORTED, naming the key and value):
 * beta_schedule other than scaled_linear/linear, trained_betas, prediction_type other than
 * epsilon, timestep_spacing other than leading/trailing/linspace, rescale_betas_zero_snr,
 * interpolation_type other than linear, timestep_type other than discrete, final_sigmas_type other
 * than zero, use_exponential_sigmas / use_beta_sigmas. kc_sampler_create refuses the
 * sampler-specific values listed in the struct. */
kc_status kc_sched_config_load(const char *path, kc_sched_config *cfg, kc_err *err);
struct cJSON;
kc_status kc_sched_config_parse(const struct cJSON *root, const char *what, kc_sched_config *cfg, kc_err *err);

/* Training tables (float32, as diffusers' __init__). Each out array holds T values. */
void kc_sched_betas(const kc_sched_config *cfg, float *betas);
void kc_sched_alphas_cumprod(const float *betas, int64_t T, float *alphas_cumprod);

typedef enum {
    KC_SAMPLER_EULER = 0,   /* EulerDiscreteScheduler (Kolors' default) */
    KC_SAMPLER_EULER_A,     /* EulerAncestralDiscreteScheduler */
    KC_SAMPLER_DPMPP_2M,    /* DPMSolverMultistepScheduler, dpmsolver++, midpoint */
    KC_SAMPLER_UNIPC,       /* UniPCMultistepScheduler, bh2, predict_x0 */
    KC_SAMPLER_DDIM,        /* DDIMScheduler, eta 0 */
    KC_SAMPLER_COUNT
} kc_sampler_kind;

/* "euler", "euler_a", "dpm++2m", "unipc", "ddim" (plus the diffusers class names and a few
 * aliases); NULL, "" or "default" = the config's _class_name. Unknown names: KC_ERR_ARG. */
kc_status kc_sampler_kind_from_name(const char *name, const kc_sched_config *cfg, kc_sampler_kind *out, kc_err *err);
const char *kc_sampler_kind_name(kc_sampler_kind k);
/* Whether the sampler takes Karras sigma spacing (Euler, DPM++ 2M, UniPC). */
int kc_sampler_kind_supports_karras(kc_sampler_kind k);

typedef struct kc_sampler kc_sampler;

/* Builds sampler `kind` for n_steps (1..T). karras: 1 forces Karras sigmas (refused for samplers
 * that do not take them), 0 follows the config's use_karras_sigmas (which, as in diffusers, is
 * ignored by the samplers that do not have the option). */
kc_status kc_sampler_create(const kc_sched_config *cfg, kc_sampler_kind kind, int n_steps, int karras,
                            kc_sampler **out, kc_err *err);
void kc_sampler_free(kc_sampler *s);
/* Forgets the multistep history so the same sampler can run another image (tables kept). */
void kc_sampler_reset(kc_sampler *s);

kc_sampler_kind kc_sampler_kind_of(const kc_sampler *s);
int kc_sampler_steps(const kc_sampler *s);               /* N */
int kc_sampler_uses_karras(const kc_sampler *s);
/* t_k as the reference passes it to the U-Net (fractional for Euler with Karras sigmas). */
float kc_sampler_timestep(const kc_sampler *s, int k);
/* sigmas [N+1] (VE noise levels, last 0), or NULL for DDIM. */
const float *kc_sampler_sigmas(const kc_sampler *s);
/* The training tables [T] the sampler was built from. */
const float *kc_sampler_alphas_cumprod(const kc_sampler *s);
int64_t kc_sampler_train_steps(const kc_sampler *s);
float kc_sampler_init_noise_sigma(const kc_sampler *s);

/* out[0..n) = scale_model_input(x, t_k) (Euler family: x / sqrt(sigma_k^2 + 1); others: copy).
 * n is free (the CFG batch may be doubled); out may equal x. */
void kc_sampler_scale_model_input(const kc_sampler *s, int k, const float *x, float *out, int64_t n);

/* x[0..n) <- step(eps, t_k, x).prev_sample. Steps must run in order k, k+1, ... (the first call
 * may start at any k: img2img); the multistep history is sized on the first call and n must not
 * change afterwards. Random numbers, as the reference's step consumes the pipeline generator:
 *   euler    draws randn(n) every step and does not use it (diffusers draws it even with
 *            s_churn = 0). Pass the pipeline's generator to keep later draws aligned with a seeded
 *            reference run, or NULL to skip the draw (nothing after the loop uses the generator in
 *            txt2img, so NULL is fine there).
 *   euler_a  draws randn(n) every step as the ancestral noise: rng is required.
 *   others   draw nothing (rng may be NULL).
 * Returns KC_ERR_ARG for an out-of-order k or a missing rng, KC_ERR_NOMEM if the history cannot
 * be allocated. */
kc_status kc_sampler_step(kc_sampler *s, int k, const float *eps, float *x, int64_t n, kc_rng *rng, kc_err *err);
/* The same with the step noise given (euler_a: the ancestral noise; ignored by the others). */
kc_status kc_sampler_step_with_noise(kc_sampler *s, int k, const float *eps, float *x, int64_t n, const float *noise,
                                     kc_err *err);

/* out = add_noise(x0, noise, t_k) (Euler family: x0 + sigma_k * noise; DDIM: sqrt(abar) x0 +
 * sqrt(1 - abar) noise; DPM++/UniPC: alpha(sigma_k) x0 + sigma_t(sigma_k) noise). */
void kc_sampler_add_noise(const kc_sampler *s, int k, const float *x0, const float *noise, float *out, int64_t n);

/* img2img: the first step index kept, t_start = N - min(int(N * strength), N) (strength in
 * [0, 1]; int() truncates the double product as Python does). */
int kc_sched_img2img_start(int n_steps, double strength);

#endif
