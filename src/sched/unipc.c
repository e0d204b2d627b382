/* unipc.c — UniPCMultistepScheduler.step (diffusers 0.30.3): predict_x0, solver_type bh2 (or
 * bh1), solver_order 2 (or 1), corrector on, lower_order_final, final_sigmas_type "zero",
 * epsilon prediction. kolors-model.md §6.7. Per step k on sample x (before any update):
 *   m_k = (x - s_k eps) / a_k                                         data prediction
 *   corrector (k > 0): redo the previous predictor from last_sample with m_k known (UniC):
 *     h = lambda_k - lambda_{k-1}, hh = -h, phi = expm1(hh), B = expm1(hh) (bh2) or hh (bh1)
 *     x_ = (s_k / s_{k-1}) last - a_k phi m_{k-1}
 *     order 1: x <- x_ - a_k B (0.5 (m_k - m_{k-1}))
 *     order 2: rk = (lambda_{k-2} - lambda_{k-1}) / h, D1 = (m_{k-2} - m_{k-1}) / rk,
 *              rho = solve([[1, 1], [rk, 1]], [b1, b2]),  x <- x_ - a_k B (rho0 D1 + rho1 (m_k - m_{k-1}))
 *   predictor (UniP) to sigma_{k+1}, order p = min(solver_order, N - k, steps so far + 1):
 *     h = lambda_{k+1} - lambda_k, x_ = (s_{k+1}/s_k) x - a_{k+1} phi m_k
 *     p = 1: x <- x_;  p = 2: rk = (lambda_{k-1} - lambda_k) / h, x <- x_ - a_{k+1} B 0.5 (m_{k-1} - m_k) / rk
 * with b_i from h_phi_k = phi/hh - 1, b1 = h_phi_k / B, h_phi_k <- h_phi_k/hh - 1/2, b2 = 2 h_phi_k / B.
 * The sample the predictor starts from (after correction) is kept as last_sample. Coefficients
 * are float32 as the reference's 0-d tensors; the 2x2 solve (LAPACK sgesv there) is done in
 * double and rounded, well inside the 1e-5 agreement of the steps. Letters: n elements. */
#include <string.h>

#include "sched/sampler_internal.h"

static float lambda_at(float sigma) {
    float a, st;
    kc_sched_alpha_sigma(sigma, &a, &st);
    return logf(a) - logf(st);
}

/* B_h and h_phi_1 for hh = -h. */
static void phi_b(const kc_sampler *s, float hh, float *phi, float *B) {
    *phi = expm1f(hh);
    *B = s->unipc_bh1 ? hh : expm1f(hh);
}

/* multistep_uni_c_bh_update: corrects x (the current sample) in place. m_cur = m_{k-1}, m_prev =
 * m_{k-2}, model_t = m_k. */
static void corrector(kc_sampler *s, int k, const float *model_t, float *x, int64_t n) {
    const int order = s->this_order;
    float a_t, s_t, a_s0, s_s0;
    kc_sched_alpha_sigma(s->sigmas[k], &a_t, &s_t);
    kc_sched_alpha_sigma(s->sigmas[k - 1], &a_s0, &s_s0);
    const float lam_t = logf(a_t) - logf(s_t), lam_s0 = logf(a_s0) - logf(s_s0);
    const float h = lam_t - lam_s0, hh = -h;
    float phi, B;
    phi_b(s, hh, &phi, &B);
    const float c_x = s_t / s_s0, c_m = a_t * phi, c_b = a_t * B;
    const float *m0 = s->m_cur, *m1 = s->m_prev, *last = s->last_sample;
    if (order == 1) {
        for (int64_t i = 0; i < n; i++) {
            float xt_ = c_x * last[i] - c_m * m0[i];
            float d1t = model_t[i] - m0[i];
            x[i] = xt_ - c_b * (0.0f + 0.5f * d1t);
        }
        return;
    }
    const float rk = (lambda_at(s->sigmas[k - 2]) - lam_s0) / h;
    float hpk = phi / hh - 1.0f;
    const float b1 = hpk * 1.0f / B;
    hpk = hpk / hh - 0.5f;
    const float b2 = hpk * 2.0f / B;
    /* [[1, 1], [rk, 1]] rho = [b1, b2] */
    const double det = 1.0 - (double)rk;
    const float rho0 = (float)(((double)b1 - (double)b2) / det);
    const float rho1 = (float)(((double)b2 - (double)rk * (double)b1) / det);
    for (int64_t i = 0; i < n; i++) {
        float xt_ = c_x * last[i] - c_m * m0[i];
        float d1 = (m1[i] - m0[i]) / rk;
        float corr = rho0 * d1;
        float d1t = model_t[i] - m0[i];
        x[i] = xt_ - c_b * (corr + rho1 * d1t);
    }
}

/* multistep_uni_p_bh_update: x <- prediction at sigma_{k+1}; m_cur = m_k, m_prev = m_{k-1}. */
static void predictor(kc_sampler *s, int k, int order, float *x, int64_t n) {
    const float *m0 = s->m_cur, *m1 = s->m_prev;
    if (s->sigmas[k + 1] == 0.0f) {
        /* sigma_t = 0: (0/s) x - 1 * expm1(-inf) * m0 = m0 exactly in the reference too */
        memcpy(x, m0, (size_t)n * sizeof *x);
        return;
    }
    float a_t, s_t, a_s0, s_s0;
    kc_sched_alpha_sigma(s->sigmas[k + 1], &a_t, &s_t);
    kc_sched_alpha_sigma(s->sigmas[k], &a_s0, &s_s0);
    const float lam_t = logf(a_t) - logf(s_t), lam_s0 = logf(a_s0) - logf(s_s0);
    const float h = lam_t - lam_s0, hh = -h;
    float phi, B;
    phi_b(s, hh, &phi, &B);
    const float c_x = s_t / s_s0, c_m = a_t * phi, c_b = a_t * B;
    if (order == 1) {
        for (int64_t i = 0; i < n; i++) x[i] = c_x * x[i] - c_m * m0[i];
        return;
    }
    const float rk = (lambda_at(s->sigmas[k - 1]) - lam_s0) / h;
    for (int64_t i = 0; i < n; i++) {
        float xt_ = c_x * x[i] - c_m * m0[i];
        float d1 = (m1[i] - m0[i]) / rk;
        x[i] = xt_ - c_b * (0.5f * d1);
    }
}

void kc_unipc_step(kc_sampler *s, int k, const float *eps, float *x, int64_t n) {
    /* convert_model_output on the incoming sample (before correction, as the reference) */
    float a, st;
    kc_sched_alpha_sigma(s->sigmas[k], &a, &st);
    float *mk = s->m_next;
    for (int64_t i = 0; i < n; i++) mk[i] = (x[i] - st * eps[i]) / a;
    /* corrector whenever a previous step of this run exists (img2img starting at k > 0 has none) */
    if (s->lower_order_nums > 0) corrector(s, k, mk, x, n);
    /* shift the history: m_prev <- m_{k-1}, m_cur <- m_k */
    float *oldest = s->m_prev;
    s->m_prev = s->m_cur;
    s->m_cur = mk;
    s->m_next = oldest;
    int order = s->solver_order < s->n - k ? s->solver_order : s->n - k; /* lower_order_final */
    if (order > s->lower_order_nums + 1) order = s->lower_order_nums + 1; /* warm-up */
    s->this_order = order;
    memcpy(s->last_sample, x, (size_t)n * sizeof *x);
    predictor(s, k, order, x, n);
    if (s->lower_order_nums < s->solver_order) s->lower_order_nums++;
}
