/* gemm_common.h — operand access shared by every GEMM table (static inline: each ISA file
 * compiles its own copy with its own flags).
 *
 * Dimension letters: M rows of A (tokens or output pixels), N output features, K reduction. */
#ifndef KC_KERNELS_GEMM_COMMON_H
#define KC_KERNELS_GEMM_COMMON_H

#include <string.h>

#include "core/dtype.h"
#include "kernels/kernels.h"

/* Copies A[m, k0 .. k0+kc) as fp32 into dst. For a convolution, walks the im2col row in runs
 * of contiguous input channels (one run per kernel tap), zero outside the image. */
static inline void kc_gemm_a_row(const kc_gemm_args *g, int64_t m, int64_t k0, int64_t kc, float *dst) {
    if (g->conv.Cin == 0) {
        memcpy(dst, g->x + m * g->ldx + k0, (size_t)kc * sizeof(float));
        return;
    }
    const int64_t Cin = g->conv.Cin, hw = g->conv.Ho * g->conv.Wo;
    const int64_t n = m / hw, p = m - n * hw, oy = p / g->conv.Wo, ox = p - oy * g->conv.Wo;
    const int64_t iy0 = oy * g->conv.stride - g->conv.pad_t, ix0 = ox * g->conv.stride - g->conv.pad_l;
    int64_t k = k0;
    const int64_t end = k0 + kc;
    while (k < end) {
        const int64_t tap = k / Cin, ci = k - tap * Cin;
        const int64_t run = Cin - ci < end - k ? Cin - ci : end - k;
        const int64_t ky = tap / g->conv.kw, kx = tap - ky * g->conv.kw;
        const int64_t iy = iy0 + ky, ix = ix0 + kx;
        if (iy >= 0 && iy < g->conv.H && ix >= 0 && ix < g->conv.W)
            memcpy(dst, g->x + ((n * g->conv.H + iy) * g->conv.W + ix) * Cin + ci, (size_t)run * sizeof(float));
        else
            memset(dst, 0, (size_t)run * sizeof(float));
        dst += run;
        k += run;
    }
}

/* Prefetches A[m, k0 .. k0+kc) (linear case) into L2: packing reads short row segments at a
 * large stride, which the hardware prefetchers pick up too late. */
static inline void kc_gemm_prefetch_a_row(const kc_gemm_args *g, int64_t m, int64_t k0, int64_t kc) {
    if (g->conv.Cin != 0 || m >= g->M) return;
    const char *p = g->xbf ? (const char *)(g->xbf + m * g->ldxbf + k0) : (const char *)(g->x + m * g->ldx + k0);
    const int64_t n = kc * (g->xbf ? 2 : (int64_t)sizeof(float));
    for (int64_t b = 0; b < n; b += 64) __builtin_prefetch(p + b, 0, 2);
}

/* Row-major fp32 micro-panel of A rows [m, m+rows) with row stride ld (zero rows past
 * `rows`; only the kc values the micro-kernel reads). */
static inline void kc_gemm_pack_a_f32(const kc_gemm_args *g, int64_t m, int rows, int mr, int64_t k0, int64_t kc,
                                      float *dst, int64_t ld) {
    for (int r = 0; r < mr; r++) {
        if (r < rows) kc_gemm_a_row(g, m + r, k0, kc, dst + r * ld);
        else memset(dst + r * ld, 0, (size_t)kc * sizeof(float));
    }
}

/* Address of W[n, k0]. */
static inline const void *kc_gemm_w_at(const kc_gemm_args *g, int64_t n, int64_t k0) {
    return (const unsigned char *)g->w + ((size_t)n * (size_t)g->ldw + (size_t)k0) * kc_dtype_size(g->wt);
}

/* Scalar conversion of n stored weights starting at p to fp32 (unaligned reads). */
static inline void kc_gemm_w_to_f32_scalar(const void *p, kc_dtype wt, int64_t n, float *dst) {
    const unsigned char *b = p;
    if (wt == KC_DTYPE_F32) {
        memcpy(dst, b, (size_t)n * sizeof(float));
    } else if (wt == KC_DTYPE_F16) {
        for (int64_t i = 0; i < n; i++) { uint16_t h; memcpy(&h, b + 2 * i, 2); dst[i] = kc_f16_to_f32(h); }
    } else {
        for (int64_t i = 0; i < n; i++) { uint16_t h; memcpy(&h, b + 2 * i, 2); dst[i] = kc_bf16_to_f32(h); }
    }
}

/* The bf16 value a weight is rounded to in the bf16 GEMM (BF16 kept, others nearest even). */
static inline uint16_t kc_gemm_w_bf16(const void *p, kc_dtype wt, int64_t i) {
    const unsigned char *b = p;
    uint16_t h;
    if (wt == KC_DTYPE_BF16) { memcpy(&h, b + 2 * i, 2); return h; }
    if (wt == KC_DTYPE_F16) { memcpy(&h, b + 2 * i, 2); return kc_f32_to_bf16(kc_f16_to_f32(h)); }
    float f;
    memcpy(&f, b + 4 * i, 4);
    return kc_f32_to_bf16(f);
}

/* Prefetches W rows [n, n+nv) over [k0, k0+kc) into L2 (stored dtype, any alignment). */
static inline void kc_gemm_prefetch_w(const kc_gemm_args *g, int64_t n, int nv, int64_t k0, int64_t kc) {
    const size_t bytes = (size_t)kc * kc_dtype_size(g->wt);
    for (int j = 0; j < nv; j++) {
        const char *p = kc_gemm_w_at(g, n + j, k0);
        for (size_t b = 0; b < bytes; b += 64) __builtin_prefetch(p + b, 0, 2);
        __builtin_prefetch(p + bytes - 1, 0, 2);
    }
}

/* A blocked GEMM as every SIMD table runs it (Goto/BLIS loop order): for each K block, the
 * W columns of the tile are packed once into micro-panels of nr (converted to the compute
 * type), then for each block of mc rows the A rows are packed and the micro-kernel computes
 * mr×nr register tiles. The micro-kernel sees whole micro-panels: rows past the tile are
 * zero, and a K block of odd length gets a zero pair member (bf16), so every output element
 * is the same sequence of operations wherever the tile starts. */
typedef struct {
    int mr, nr;       /* register tile */
    int64_t kc, mc;   /* K block (elements of A row stride in the pack), rows per A block */
    int64_t nc;       /* largest tile width */
    size_t es;        /* bytes per packed element: 4 (fp32) or 2 (bf16) */
    /* Micro-panel of A rows [m, m+rows) (rows <= mr) for the K block into dst, row-major with
     * a row stride of kc elements (no transposition: the micro-kernel broadcasts A, and a
     * scattering pack costs a store per element, too much when N is small as in convs);
     * rows past `rows` are zero. */
    void (*pack_a)(const kc_gemm_args *g, int64_t m, int rows, int64_t k0, int64_t kc, void *dst);
    /* nr-wide micro-panel of W rows [n, n+nr_valid) for the K block (rows past nr_valid zero). */
    void (*pack_b)(const kc_gemm_args *g, int64_t n, int nr_valid, int64_t k0, int64_t kc, void *dst);
    /* y[mr_valid, nr_valid] = ((first ? 0 : y) + a·b) (+ bias[0, nr_valid) when bias != NULL)
     * over kc packed K values; A rows lda elements apart (kc for a packed panel;
     * kc_gemm_args.ldxbf when read in place). */
    void (*ukr)(int64_t kc, const void *a, int64_t lda, const void *b, float *y, int64_t ldy, int mr_valid, int nr_valid,
                int first, const float *bias);
} kc_gemm_impl;

static inline size_t kc_gemm_impl_pack_bytes(const kc_gemm_impl *im) {
    int64_t mcr = (im->mc + im->mr - 1) / im->mr * im->mr;
    int64_t ncr = (im->nc + im->nr - 1) / im->nr * im->nr;
    return (size_t)((mcr + ncr) * (im->kc + 2)) * im->es + 128;
}

/* Prepacked W (kc_gemm_args.wpack): one nr-wide panel per nr columns, each holding every K
 * block back to back exactly as pack_b writes it (blocks of kc are even for bf16, so block k0
 * starts k0·nr elements into the panel; only the last block can have an odd length, padded). */
static inline int64_t kc_gemm_impl_wpack_kp(const kc_gemm_impl *im, int64_t K) {
    return im->es == 2 ? (K + 1) & ~(int64_t)1 : K;
}
static inline size_t kc_gemm_impl_wpack_bytes(const kc_gemm_impl *im, int64_t N, int64_t K) {
    return (size_t)((N + im->nr - 1) / im->nr) * (size_t)kc_gemm_impl_wpack_kp(im, K) * (size_t)im->nr * im->es;
}
static inline void kc_gemm_impl_wpack(const kc_gemm_impl *im, const kc_gemm_args *g, int64_t n0, int64_t n1,
                                      void *dst) {
    const size_t panel = (size_t)kc_gemm_impl_wpack_kp(im, g->K) * (size_t)im->nr * im->es;
    for (int64_t n = n0; n < n1; n += im->nr) {
        const int nv = n1 - n < im->nr ? (int)(n1 - n) : im->nr;
        unsigned char *p = (unsigned char *)dst + (size_t)(n / im->nr) * panel;
        for (int64_t k0 = 0; k0 < g->K; k0 += im->kc) {
            const int64_t kc = g->K - k0 < im->kc ? g->K - k0 : im->kc;
            im->pack_b(g, n, nv, k0, kc, p + (size_t)k0 * (size_t)im->nr * im->es);
        }
    }
}

static inline void kc_gemm_run(const kc_gemm_impl *im, const kc_gemm_args *g, int64_t m0, int64_t m1, int64_t n0,
                               int64_t n1, void *pack) {
    const int64_t mcr = (im->mc + im->mr - 1) / im->mr * im->mr;
    const size_t es = im->es;
    unsigned char *apack = pack, *bpack = apack + (((size_t)mcr * (size_t)(im->kc + 2) * es + 63) & ~(size_t)63);
    const size_t wpanel = (size_t)kc_gemm_impl_wpack_kp(im, g->K) * (size_t)im->nr * es; /* a prepacked W panel */
    for (int64_t k0 = 0; k0 < g->K; k0 += im->kc) {
        const int64_t kc = g->K - k0 < im->kc ? g->K - k0 : im->kc;
        const int64_t kp = es == 2 ? (kc + 1) & ~(int64_t)1 : kc; /* packed length */
        const size_t b_panel = (size_t)kp * (size_t)im->nr * es, a_panel = (size_t)im->kc * (size_t)im->mr * es;
        const int first = k0 == 0 && !g->accumulate;
        const float *bias = k0 + kc >= g->K ? g->bias : NULL; /* with the last K block */
        /* W micro-panels are packed on first use (ic == m0), each while the next one's rows
         * are being prefetched, so reading the weights overlaps the multiplications. */
        if (!g->wpack) kc_gemm_prefetch_w(g, n0, n1 - n0 < im->nr ? (int)(n1 - n0) : im->nr, k0, kc);
        for (int64_t ic = m0; ic < m1; ic += im->mc) {
            const int64_t mc = m1 - ic < im->mc ? m1 - ic : im->mc;
            /* With A already in bf16 (xbf), whole micro-panels are read in place; only a last,
             * partial one is packed (the micro-kernel reads all mr rows). */
            for (int64_t i = 0; i < mc; i += im->mr) {
                const int rows = mc - i < im->mr ? (int)(mc - i) : im->mr;
                if (!g->xbf || rows < im->mr) im->pack_a(g, ic + i, rows, k0, kc, apack + (size_t)(i / im->mr) * a_panel);
            }
            /* The next A block is fetched into L2 while this one is being multiplied. */
            if (ic + im->mc < m1) {
                for (int64_t i = 0; i < im->mc && ic + im->mc + i < m1; i++) kc_gemm_prefetch_a_row(g, ic + im->mc + i, k0, kc);
            } else if (k0 + im->kc < g->K) {
                const int64_t kn = g->K - k0 - im->kc < im->kc ? g->K - k0 - im->kc : im->kc;
                for (int64_t i = 0; i < im->mc && m0 + i < m1; i++) kc_gemm_prefetch_a_row(g, m0 + i, k0 + im->kc, kn);
            }
            for (int64_t n = n0; n < n1; n += im->nr) {
                const int nv = n1 - n < im->nr ? (int)(n1 - n) : im->nr;
                unsigned char *bp = bpack + (size_t)((n - n0) / im->nr) * b_panel;
                if (g->wpack) {
                    bp = (unsigned char *)g->wpack + (size_t)(n / im->nr) * wpanel + (size_t)k0 * (size_t)im->nr * es;
                } else if (ic == m0) {
                    im->pack_b(g, n, nv, k0, kc, bp);
                    if (n + im->nr < n1) kc_gemm_prefetch_w(g, n + im->nr, n1 - n - im->nr < im->nr ? (int)(n1 - n - im->nr) : im->nr, k0, kc);
                }
                for (int64_t i = 0; i < mc; i += im->mr) {
                    const int mv = mc - i < im->mr ? (int)(mc - i) : im->mr;
                    float *yt = g->y + (ic + i) * g->ldy + n;
                    const float *bt = bias ? bias + n : NULL;
                    if (g->xbf && mv == im->mr)
                        im->ukr(kp, g->xbf + (ic + i) * g->ldxbf + k0, g->ldxbf, bp, yt, g->ldy, mv, nv, first, bt);
                    else
                        im->ukr(kp, apack + (size_t)(i / im->mr) * a_panel, im->kc, bp, yt, g->ldy, mv, nv, first, bt);
                }
            }
        }
    }
}

#endif
