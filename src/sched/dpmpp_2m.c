/* dpmpp_2m.c — DPMSolverMultistepScheduler.step (diffusers 0.30.3): algorithm "dpmsolver++",
 * solver_order 2 (or 1), solver_type "midpoint", final_sigmas_type "zero", epsilon prediction.
 * kolors-model.md §6.5. With a(sigma) = 1/sqrt(sigma^2 + 1), s(sigma) = sigma*a, lambda = ln a - ln s:
 *   m_k = (x - s_k * eps) / a_k                                  data prediction (history)
 *   h   = lambda_{k+1} - lambda_k
 *   first order (first step, last step, order 1):
 *     x <- (s_{k+1}/s_k) x - a_{k+1} (e^{-h} - 1) m_k
 *   second order: r0 = (lambda_k - lambda_{k-1}) / h, D1 = (1/r0)(m_k - m_{k-1})
 *     x <- (s_{k+1}/s_k) x - a_{k+1} (e^{-h} - 1) m_k - 0.5 a_{k+1} (e^{-h} - 1) D1
 * The last step always goes first order (final_sigmas_type "zero" forces lower_order_final), and
 * with sigma_N = 0 it returns m_{N-1} exactly, as the reference's arithmetic does (0*x + m).
 * Coefficients are float32 0-d tensor arithmetic in the reference; so here. Letters: n elements. */
#include <string.h>

#include "sched/sampler_internal.h"

static float lambda_of(float alpha, float sigma_t) { return logf(alpha) - logf(sigma_t); }

void kc_dpmpp_2m_step(kc_sampler *s, int k, const float *eps, float *x, int64_t n) {
    const int last = k == s->n - 1;
    const int second = s->solver_order == 2 && s->lower_order_nums >= 1 && !last;
    float a_s0, s_s0;
    kc_sched_alpha_sigma(s->sigmas[k], &a_s0, &s_s0);

    /* convert_model_output, then shift the history: m_prev <- m_cur, m_cur <- m_k */
    float *tmp = s->m_prev;
    s->m_prev = s->m_cur;
    s->m_cur = tmp;
    float *m0 = s->m_cur, *m1 = s->m_prev;
    for (int64_t i = 0; i < n; i++) m0[i] = (x[i] - s_s0 * eps[i]) / a_s0;

    if (s->sigmas[k + 1] == 0.0f) {
        memcpy(x, m0, (size_t)n * sizeof *x);
    } else {
        float a_t, s_t;
        kc_sched_alpha_sigma(s->sigmas[k + 1], &a_t, &s_t);
        const float lam_t = lambda_of(a_t, s_t), lam_s0 = lambda_of(a_s0, s_s0);
        const float h = lam_t - lam_s0;
        const float c_x = s_t / s_s0;
        const float c_m = a_t * (expf(-h) - 1.0f);
        if (!second) {
            for (int64_t i = 0; i < n; i++) x[i] = c_x * x[i] - c_m * m0[i];
        } else {
            float a_s1, s_s1;
            kc_sched_alpha_sigma(s->sigmas[k - 1], &a_s1, &s_s1);
            const float h0 = lam_s0 - lambda_of(a_s1, s_s1);
            const float r0 = h0 / h;
            const float inv_r0 = 1.0f / r0;
            const float c_d = 0.5f * c_m;
            for (int64_t i = 0; i < n; i++) {
                float d1 = inv_r0 * (m0[i] - m1[i]);
                x[i] = c_x * x[i] - c_m * m0[i] - c_d * d1;
            }
        }
    }
    if (s->lower_order_nums < s->solver_order) s->lower_order_nums++;
}
