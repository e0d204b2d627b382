/* norm.c — GroupNorm (channels-last, optional fused SiLU), LayerNorm, RMSNorm. Statistics are
 * accumulated in double: cheap next to the convolutions, and it keeps the reference exact. */
#include <math.h>

#include "ops/ops.h"

static inline float silu(float v) { return v / (1.0f + expf(-v)); }

kc_status kc_op_group_norm(const kc_exec *ex, const float *x, float *y, int64_t N, int64_t S, int64_t C, int64_t G,
                           float eps, const kc_tensor *gamma, const kc_tensor *beta, int silu_after, kc_err *err) {
    if (G < 1 || C % G != 0)
        return kc_fail(err, KC_ERR_SHAPE, "group_norm: %lld channels are not divisible into %lld groups", (long long)C,
                       (long long)G);
    const int64_t cg = C / G;
#pragma omp parallel for collapse(2) schedule(static) num_threads(ex->n_threads)
    for (int64_t n = 0; n < N; n++)
        for (int64_t g = 0; g < G; g++) {
            const float *xb = x + n * S * C + g * cg;
            double sum = 0.0, sq = 0.0;
            for (int64_t s = 0; s < S; s++)
                for (int64_t c = 0; c < cg; c++) sum += xb[s * C + c];
            const double cnt = (double)S * (double)cg, mean = sum / cnt;
            for (int64_t s = 0; s < S; s++)
                for (int64_t c = 0; c < cg; c++) { double d = xb[s * C + c] - mean; sq += d * d; }
            const float rstd = (float)(1.0 / sqrt(sq / cnt + (double)eps)), mu = (float)mean;
            float *yb = y + n * S * C + g * cg;
            for (int64_t c = 0; c < cg; c++) {
                float ga = gamma ? kc_tensor_get_f32(gamma, g * cg + c) : 1.0f;
                float be = beta ? kc_tensor_get_f32(beta, g * cg + c) : 0.0f;
                for (int64_t s = 0; s < S; s++) {
                    float v = (xb[s * C + c] - mu) * rstd * ga + be;
                    yb[s * C + c] = silu_after ? silu(v) : v;
                }
            }
        }
    return KC_OK;
}

kc_status kc_op_layer_norm(const kc_exec *ex, const float *x, float *y, int64_t M, int64_t D, float eps,
                           const kc_tensor *gamma, const kc_tensor *beta, kc_err *err) {
    (void)err;
#pragma omp parallel for schedule(static) num_threads(ex->n_threads)
    for (int64_t m = 0; m < M; m++) {
        const float *r = x + m * D;
        double sum = 0.0, sq = 0.0;
        for (int64_t d = 0; d < D; d++) sum += r[d];
        double mean = sum / (double)D;
        for (int64_t d = 0; d < D; d++) { double t = r[d] - mean; sq += t * t; }
        float rstd = (float)(1.0 / sqrt(sq / (double)D + (double)eps)), mu = (float)mean;
        float *o = y + m * D;
        for (int64_t d = 0; d < D; d++) {
            float ga = gamma ? kc_tensor_get_f32(gamma, d) : 1.0f, be = beta ? kc_tensor_get_f32(beta, d) : 0.0f;
            o[d] = (r[d] - mu) * rstd * ga + be;
        }
    }
    return KC_OK;
}

kc_status kc_op_rms_norm(const kc_exec *ex, const float *x, float *y, int64_t M, int64_t D, float eps,
                         const kc_tensor *gamma, kc_err *err) {
    (void)err;
#pragma omp parallel for schedule(static) num_threads(ex->n_threads)
    for (int64_t m = 0; m < M; m++) {
        const float *r = x + m * D;
        double sq = 0.0;
        for (int64_t d = 0; d < D; d++) sq += (double)r[d] * r[d];
        float rs = (float)(1.0 / sqrt(sq / (double)D + (double)eps));
        float *o = y + m * D;
        for (int64_t d = 0; d < D; d++) o[d] = r[d] * rs * (gamma ? kc_tensor_get_f32(gamma, d) : 1.0f);
    }
    return KC_OK;
}
