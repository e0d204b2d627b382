/* ref/rows.c — reference row kernels: activations, gated units, norm statistics and affine. */
#include <math.h>

#include "kernels/ref/ref.h"

static inline float silu1(float v) { return v / (1.0f + expf(-v)); }

void kc_silu_ref(float *y, const float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] = silu1(x[i]);
}

void kc_geglu_ref(float *y, const float *v, const float *g, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] = v[i] * (0.5f * g[i] * (1.0f + erff(g[i] * 0.70710678118654752f)));
}

void kc_swiglu_ref(float *y, const float *g, const float *v, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] = silu1(g[i]) * v[i];
}

void kc_moments_ref(const float *x, int64_t n, float shift, double *sum, double *sumsq) {
    double s = 0.0, q = 0.0;
    for (int64_t i = 0; i < n; i++) {
        double d = (double)x[i] - (double)shift;
        s += x[i];
        q += d * d;
    }
    *sum = s;
    *sumsq = q;
}

void kc_chan_moments_ref(const float *x, int64_t rows, int64_t C, const float *shift, double *sum, double *sumsq) {
    for (int64_t r = 0; r < rows; r++)
        for (int64_t c = 0; c < C; c++) {
            double v = x[r * C + c], d = v - (double)shift[c];
            sum[c] += v;
            sumsq[c] += d * d;
        }
}

void kc_norm_apply_ref(float *y, const float *x, int64_t n, const float *mu, const float *rstd, int64_t inc,
                       const float *ga, const float *be, int silu) {
    for (int64_t i = 0; i < n; i++) {
        float v = (x[i] - mu[i * inc]) * rstd[i * inc] * ga[i] + (be ? be[i] : 0.0f);
        y[i] = silu ? silu1(v) : v;
    }
}
