/* elementwise.c — activations, gated units, layout changes. */
#include <string.h>

#include "ops/ops.h"

#include "kernels/kernels.h"

#define CHUNK 4096 /* elements per work item of the flat elementwise ops */

static const kc_kernels *table(const kc_exec *ex) { return ex->k ? ex->k : kc_kernels_default(); }

void kc_op_silu(const kc_exec *ex, float *y, const float *x, int64_t n) {
    const kc_kernels *kt = table(ex);
    const int64_t nb = (n + CHUNK - 1) / CHUNK;
#pragma omp parallel for schedule(static) num_threads(ex->n_threads)
    for (int64_t b = 0; b < nb; b++) {
        int64_t i = b * CHUNK, len = n - i < CHUNK ? n - i : CHUNK;
        kt->silu(y + i, x + i, len);
    }
}

void kc_op_add(const kc_exec *ex, float *y, const float *a, const float *b, int64_t n) {
#pragma omp parallel for schedule(static) num_threads(ex->n_threads)
    for (int64_t i = 0; i < n; i++) y[i] = a[i] + b[i];
}

void kc_op_geglu(const kc_exec *ex, float *y, const float *p, int64_t M, int64_t F) {
    const kc_kernels *kt = table(ex);
#pragma omp parallel for schedule(static) num_threads(ex->n_threads)
    for (int64_t m = 0; m < M; m++) kt->geglu(y + m * F, p + m * 2 * F, p + m * 2 * F + F, F);
}

void kc_op_swiglu(const kc_exec *ex, float *y, const float *p, int64_t M, int64_t F) {
    const kc_kernels *kt = table(ex);
#pragma omp parallel for schedule(static) num_threads(ex->n_threads)
    for (int64_t m = 0; m < M; m++) kt->swiglu(y + m * F, p + m * 2 * F, p + m * 2 * F + F, F);
}

void kc_nchw_to_nhwc(float *dst, const float *src, int64_t N, int64_t C, int64_t H, int64_t W) {
    for (int64_t n = 0; n < N; n++)
        for (int64_t c = 0; c < C; c++)
            for (int64_t s = 0; s < H * W; s++) dst[(n * H * W + s) * C + c] = src[(n * C + c) * H * W + s];
}

void kc_nhwc_to_nchw(float *dst, const float *src, int64_t N, int64_t C, int64_t H, int64_t W) {
    for (int64_t n = 0; n < N; n++)
        for (int64_t c = 0; c < C; c++)
            for (int64_t s = 0; s < H * W; s++) dst[(n * C + c) * H * W + s] = src[(n * H * W + s) * C + c];
}

void kc_op_upsample_nearest(const kc_exec *ex, float *y, const float *x, int64_t N, int64_t H, int64_t W, int64_t C,
                            int64_t Ho, int64_t Wo) {
#pragma omp parallel for collapse(2) schedule(static) num_threads(ex->n_threads)
    for (int64_t n = 0; n < N; n++)
        for (int64_t oy = 0; oy < Ho; oy++) {
            int64_t iy = oy * H / Ho;
            for (int64_t ox = 0; ox < Wo; ox++) {
                int64_t ix = ox * W / Wo;
                memcpy(y + ((n * Ho + oy) * Wo + ox) * C, x + ((n * H + iy) * W + ix) * C, (size_t)C * sizeof(float));
            }
        }
}

void kc_op_concat_channels(const kc_exec *ex, float *y, const float *a, int64_t Ca, const float *b, int64_t Cb,
                           int64_t N, int64_t S) {
#pragma omp parallel for schedule(static) num_threads(ex->n_threads)
    for (int64_t i = 0; i < N * S; i++) {
        memcpy(y + i * (Ca + Cb), a + i * Ca, (size_t)Ca * sizeof(float));
        memcpy(y + i * (Ca + Cb) + Ca, b + i * Cb, (size_t)Cb * sizeof(float));
    }
}
