/* euler.c — EulerDiscreteScheduler.step (diffusers 0.30.3), epsilon prediction, s_churn = 0:
 *   sigma_hat = sigma_k * (gamma + 1) with gamma = 0
 *   x0        = x - sigma_hat * eps
 *   d         = (x - x0) / sigma_hat
 *   x        <- x + d * (sigma_{k+1} - sigma_hat)
 * as float32 tensor operations in that order (the reference does not simplify to x + eps*dt, and
 * the last step with sigma_N = 0 is not exactly x0). The random tensor the reference draws each
 * step is drawn by kc_sampler_step, not here. Letters: n latent elements. */
#include "sched/sampler_internal.h"

void kc_euler_step(kc_sampler *s, int k, const float *eps, float *x, int64_t n) {
    const float sigma_hat = s->sigmas[k] * 1.0f;
    const float dt = s->sigmas[k + 1] - sigma_hat;
    for (int64_t i = 0; i < n; i++) {
        float x0 = x[i] - sigma_hat * eps[i];
        float d = (x[i] - x0) / sigma_hat;
        x[i] = x[i] + d * dt;
    }
}
