/* norm.c — GroupNorm (channels-last, optional fused SiLU), LayerNorm, RMSNorm.
 * Statistics are accumulated in double around a shift (the first value of the row / of each
 * channel), which keeps the one-pass variance accurate on near-constant inputs; the affine
 * step computes (x - mean)·rstd·gamma + beta in fp32 as the reference does.
 * GroupNorm splits the pixels into a fixed number of chunks whose per-channel partial sums
 * are combined in chunk order, so results do not depend on the thread count. The tile variant
 * (tiled VAE) can also record the moments of a sub-rectangle (one partial per row) and merge them
 * across tiles, or normalise with statistics supplied by the caller.
 * Dimension letters: N batch, S pixels (H*W), C channels, G groups, M rows, D features. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"
#include "ops/ops.h"

#define GN_CHUNKS 64 /* pixel chunks of the GroupNorm statistics (fixed: thread-count independent) */

static const kc_kernels *table(const kc_exec *ex) { return ex->k ? ex->k : kc_kernels_default(); }

/* gamma/beta (any float dtype, may be NULL -> 1 / 0) to fp32 arrays inside buf [2*n]. */
static void affine_f32(const kc_tensor *gamma, const kc_tensor *beta, int64_t n, float *buf, const float **ga,
                       const float **be) {
    for (int64_t i = 0; i < n; i++) buf[i] = gamma ? kc_tensor_get_f32(gamma, i) : 1.0f;
    *ga = buf;
    *be = NULL;
    if (beta) {
        for (int64_t i = 0; i < n; i++) buf[n + i] = kc_tensor_get_f32(beta, i);
        *be = buf + n;
    }
}

/* Per-group moments from per-channel partial sums part[nchunk][2][C] (Σx, Σ(x - shift)²) over
 * `cnt_c` values per channel. */
static void group_moments(const double *part, int64_t nchunk, int64_t C, int64_t G, const float *shift, double cnt_c,
                          kc_gn_moments *out) {
    const int64_t cg = C / G;
    for (int64_t g = 0; g < G; g++) {
        double sum = 0.0;
        for (int64_t c0 = 0; c0 < nchunk; c0++)
            for (int64_t c = g * cg; c < (g + 1) * cg; c++) sum += part[(c0 * 2) * C + c];
        const double cnt = cnt_c * (double)cg, mean = sum / cnt;
        double sq = 0.0;
        for (int64_t c = g * cg; c < (g + 1) * cg; c++) {
            double sc = 0.0, qc = 0.0, sh = shift[c];
            for (int64_t c0 = 0; c0 < nchunk; c0++) {
                sc += part[(c0 * 2) * C + c];
                qc += part[(c0 * 2 + 1) * C + c];
            }
            /* Σ(x-μ)² = Σ(x-sh)² - 2(μ-sh)Σ(x-sh) + n(μ-sh)² over the channel's n values */
            double dm = mean - sh, dsum = sc - cnt_c * sh;
            sq += qc - 2.0 * dm * dsum + cnt_c * dm * dm;
        }
        if (sq < 0.0) sq = 0.0;
        out[g] = (kc_gn_moments){cnt, mean, sq};
    }
}

void kc_gn_moments_merge(kc_gn_moments *acc, const kc_gn_moments *add) {
    if (add->n <= 0.0) return;
    if (acc->n <= 0.0) {
        *acc = *add;
        return;
    }
    const double n = acc->n + add->n, d = add->mean - acc->mean;
    acc->mean += d * (add->n / n);
    acc->m2 += add->m2 + d * d * (acc->n * add->n / n);
    acc->n = n;
}

void kc_gn_moments_finish(const kc_gn_moments *m, int64_t G, float eps, float *mean, float *rstd) {
    for (int64_t g = 0; g < G; g++) {
        const double n = m[g].n > 0.0 ? m[g].n : 1.0;
        mean[g] = (float)m[g].mean;
        rstd[g] = (float)(1.0 / sqrt(m[g].m2 / n + (double)eps));
    }
}

kc_status kc_op_group_norm(const kc_exec *ex, const float *x, float *y, int64_t N, int64_t S, int64_t C, int64_t G,
                           float eps, const kc_tensor *gamma, const kc_tensor *beta, int silu_after, kc_err *err) {
    return kc_op_group_norm_tile(ex, x, y, N, S, C, G, eps, gamma, beta, silu_after, NULL, err);
}

kc_status kc_op_group_norm_tile(const kc_exec *ex, const float *x, float *y, int64_t N, int64_t S, int64_t C, int64_t G,
                                float eps, const kc_tensor *gamma, const kc_tensor *beta, int silu_after,
                                const kc_gn_tile *t, kc_err *err) {
    if (G < 1 || C % G != 0)
        return kc_fail(err, KC_ERR_SHAPE, "group_norm: %lld channels are not divisible into %lld groups", (long long)C,
                       (long long)G);
    if (N <= 0 || S <= 0) return KC_OK;
    const int record = t && t->record, apply = t && t->mean && t->rstd;
    int64_t ry = 0, rx = 0;
    if (record) {
        if (t->W <= 0 || S % t->W != 0 || t->y0 < 0 || t->y0 > t->y1 || t->y1 > S / t->W || t->x0 < 0 ||
            t->x0 > t->x1 || t->x1 > t->W)
            return kc_fail(err, KC_ERR_ARG,
                           "group_norm: record region rows [%lld, %lld) x columns [%lld, %lld) is not inside %lld "
                           "pixels of width %lld",
                           (long long)t->y0, (long long)t->y1, (long long)t->x0, (long long)t->x1, (long long)S,
                           (long long)t->W);
        ry = t->y1 - t->y0;
        rx = t->x1 - t->x0;
        if (rx == 0) ry = 0;
    }
    const kc_kernels *kt = table(ex);
    const int64_t cg = C / G, chunk = (S + GN_CHUNKS - 1) / GN_CHUNKS, nchunk = (S + chunk - 1) / chunk;
    const int64_t npart = ry > nchunk ? ry : nchunk;
    /* floats: gamma, beta, mean, rstd [C] each; doubles: partial sums [npart][2][C] (per image),
     * chunks of the image's own statistics or rows of the record region; moments [G]. From the
     * calling thread's second kernel buffer (kept between calls: nothing allocated per op). */
    const size_t fb_bytes = ((size_t)C * 4 * sizeof(float) + 63) & ~(size_t)63;
    const size_t part_bytes = ((size_t)(npart * 2 * C) * sizeof(double) + 63) & ~(size_t)63;
    unsigned char *mem = kc_kernels_thread_buffer2(fb_bytes + part_bytes + (size_t)G * sizeof(kc_gn_moments));
    if (!mem) return kc_fail(err, KC_ERR_NOMEM, "group_norm: cannot allocate statistics for %lld channels", (long long)C);
    float *fb = (float *)(void *)mem;
    double *part = (double *)(void *)(mem + fb_bytes);
    kc_gn_moments *gm = (kc_gn_moments *)(void *)(mem + fb_bytes + part_bytes);
    const float *ga, *be;
    affine_f32(gamma, beta, C, fb, &ga, &be);
    float *mu = fb + 2 * C, *rs = fb + 3 * C;

    for (int64_t n = 0; n < N; n++) {
        const float *xn = x + n * S * C;
        if (ry > 0) { /* region moments, one partial per row, around the region's first pixel */
            const float *r0 = xn + (t->y0 * t->W + t->x0) * C;
            memset(part, 0, (size_t)(ry * 2 * C) * sizeof(double));
#pragma omp parallel for schedule(static) num_threads(ex->n_threads)
            for (int64_t r = 0; r < ry; r++) {
                double *ps = part + (r * 2) * C;
                kt->chan_moments(r0 + r * t->W * C, rx, C, r0, ps, ps + C);
            }
            group_moments(part, ry, C, G, r0, (double)(ry * rx), gm);
            for (int64_t g = 0; g < G; g++) kc_gn_moments_merge(&t->record[n * G + g], &gm[g]);
        }
        if (apply) {
            for (int64_t g = 0; g < G; g++)
                for (int64_t c = g * cg; c < (g + 1) * cg; c++) {
                    mu[c] = t->mean[n * G + g];
                    rs[c] = t->rstd[n * G + g];
                }
        } else {
            const float *shift = xn; /* first pixel's channels */
            memset(part, 0, (size_t)(nchunk * 2 * C) * sizeof(double));
#pragma omp parallel for schedule(static) num_threads(ex->n_threads)
            for (int64_t c0 = 0; c0 < nchunk; c0++) {
                int64_t s0 = c0 * chunk, rows = S - s0 < chunk ? S - s0 : chunk;
                double *ps = part + (c0 * 2) * C;
                kt->chan_moments(xn + s0 * C, rows, C, shift, ps, ps + C);
            }
            group_moments(part, nchunk, C, G, shift, (double)S, gm);
            for (int64_t g = 0; g < G; g++) {
                float m, r;
                kc_gn_moments_finish(&gm[g], 1, eps, &m, &r);
                for (int64_t c = g * cg; c < (g + 1) * cg; c++) { mu[c] = m; rs[c] = r; }
            }
        }
        float *yn = y + n * S * C;
#pragma omp parallel for schedule(static) num_threads(ex->n_threads)
        for (int64_t s = 0; s < S; s++) kt->norm_apply(yn + s * C, xn + s * C, C, mu, rs, 1, ga, be, silu_after);
    }
    return KC_OK;
}

/* Mean and 1/sqrt(var + eps) of one row (rms: mean 0, mean square instead of variance). */
static void row_stats(const kc_kernels *kt, const float *r, int64_t D, float eps, int rms, float *mu, float *rstd) {
    double sum, sq;
    if (rms) {
        kt->moments(r, D, 0.0f, &sum, &sq);
        *mu = 0.0f;
        *rstd = (float)(1.0 / sqrt(sq / (double)D + (double)eps));
        return;
    }
    kt->moments(r, D, r[0], &sum, &sq);
    double mean = sum / (double)D, dm = mean - (double)r[0];
    double var = sq / (double)D - dm * dm;
    if (var < 0.0) var = 0.0;
    *mu = (float)mean;
    *rstd = (float)(1.0 / sqrt(var + (double)eps));
}

static kc_status rowwise_norm(const kc_exec *ex, const float *x, float *y, int64_t M, int64_t D, float eps,
                              const kc_tensor *gamma, const kc_tensor *beta, int rms, const char *what, kc_err *err) {
    if (M <= 0 || D <= 0) return KC_OK;
    const kc_kernels *kt = table(ex);
    float *fb = kc_kernels_thread_buffer2((size_t)D * 2 * sizeof(float)); /* kept between calls */
    if (!fb) return kc_fail(err, KC_ERR_NOMEM, "%s: cannot allocate %lld affine values", what, (long long)D);
    const float *ga, *be;
    affine_f32(gamma, beta, D, fb, &ga, &be);
#pragma omp parallel for schedule(static) num_threads(ex->n_threads)
    for (int64_t m = 0; m < M; m++) {
        float mu, rstd;
        row_stats(kt, x + m * D, D, eps, rms, &mu, &rstd);
        kt->norm_apply(y + m * D, x + m * D, D, &mu, &rstd, 0, ga, be, 0);
    }
    return KC_OK;
}

kc_status kc_op_layer_norm(const kc_exec *ex, const float *x, float *y, int64_t M, int64_t D, float eps,
                           const kc_tensor *gamma, const kc_tensor *beta, kc_err *err) {
    return rowwise_norm(ex, x, y, M, D, eps, gamma, beta, 0, "layer_norm", err);
}

kc_status kc_op_rms_norm(const kc_exec *ex, const float *x, float *y, int64_t M, int64_t D, float eps,
                         const kc_tensor *gamma, kc_err *err) {
    return rowwise_norm(ex, x, y, M, D, eps, gamma, NULL, 1, "rms_norm", err);
}
