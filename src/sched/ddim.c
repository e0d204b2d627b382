/* ddim.c — DDIMScheduler.step (diffusers 0.30.3) with eta = 0, epsilon prediction, no clipping:
 *   t_prev = t - T // N;  abar_p = alphas_cumprod[t_prev] if t_prev >= 0 else final_alpha_cumprod
 *   x0     = (x - (1 - abar_t) ** 0.5 * eps) / abar_t ** 0.5
 *   x     <- abar_p ** 0.5 * x0 + (1 - abar_p - 0) ** 0.5 * eps
 * float32 as the reference. final_alpha_cumprod is 1 with set_alpha_to_one, else
 * alphas_cumprod[0] (whether the official Kolors file sets it is unconfirmed, kolors-model.md
 * §6.6; the tiny model's config says false). Letters: n latent elements. */
#include "sched/sampler_internal.h"

void kc_ddim_step(kc_sampler *s, int k, const float *eps, float *x, int64_t n) {
    const int64_t t = s->timesteps_i[k], t_prev = t - s->ddim_ratio;
    const float a_t = s->alphas_cumprod[t];
    const float a_p = t_prev >= 0 ? s->alphas_cumprod[t_prev] : s->final_alpha_cumprod;
    const float sqrt_beta_t = sqrtf(1.0f - a_t), sqrt_a_t = sqrtf(a_t);
    const float sqrt_a_p = sqrtf(a_p), dir = sqrtf(1.0f - a_p - 0.0f);
    for (int64_t i = 0; i < n; i++) {
        float x0 = (x[i] - sqrt_beta_t * eps[i]) / sqrt_a_t;
        x[i] = sqrt_a_p * x0 + dir * eps[i];
    }
}
