/* euler_a.c — EulerAncestralDiscreteScheduler.step (diffusers 0.30.3), epsilon prediction:
 *   sigma_up   = (s_to^2 * (s_from^2 - s_to^2) / s_from^2) ** 0.5
 *   sigma_down = (s_to^2 - sigma_up^2) ** 0.5
 *   x0 = x - s_from * eps;  d = (x - x0) / s_from;  x <- x + d * (sigma_down - s_from) + z * sigma_up
 * with z ~ N(0, I) drawn from the pipeline generator after the deterministic part (one randn of
 * the model output's shape per step). float32, the reference's order of operations.
 * Letters: n latent elements. */
#include "sched/sampler_internal.h"

void kc_euler_a_step(kc_sampler *s, int k, const float *eps, float *x, int64_t n, const float *z) {
    const float s_from = s->sigmas[k], s_to = s->sigmas[k + 1];
    const float from2 = s_from * s_from, to2 = s_to * s_to;
    const float up = sqrtf(to2 * (from2 - to2) / from2);
    const float down = sqrtf(to2 - up * up);
    const float dt = down - s_from;
    for (int64_t i = 0; i < n; i++) {
        float x0 = x[i] - s_from * eps[i];
        float d = (x[i] - x0) / s_from;
        float prev = x[i] + d * dt;
        x[i] = prev + z[i] * up;
    }
}
