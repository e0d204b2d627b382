/* avx512/simd512.h — AVX-512 helpers shared by the avx512 and avx512bf16 files (static inline:
 * each file compiles them with its own flags). */
#ifndef KC_KERNELS_AVX512_SIMD512_H
#define KC_KERNELS_AVX512_SIMD512_H

#include <immintrin.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "core/dtype.h"

static inline __mmask16 kc_mask16(int64_t n) { return n >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << n) - 1u); }

/* exp(x), Cephes single-precision polynomial after range reduction by ln2 (max rel error
 * ≈ 2e-7 on [-87, 88]); scalef makes x -> -inf give 0 and large x give inf. */
static inline __m512 kc_exp512(__m512 x) {
    x = _mm512_max_ps(x, _mm512_set1_ps(-104.0f));
    x = _mm512_min_ps(x, _mm512_set1_ps(88.8f));
    __m512 fx = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                     _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(fx, _mm512_set1_ps(0.693359375f), x);
    r = _mm512_fnmadd_ps(fx, _mm512_set1_ps(-2.12194440e-4f), r);
    __m512 p = _mm512_set1_ps(1.9875691500e-4f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
    p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
    return _mm512_scalef_ps(p, fx);
}

/* x·sigmoid(x) = x / (1 + exp(-x)). */
static inline __m512 kc_silu512(__m512 x) {
    __m512 e = kc_exp512(_mm512_sub_ps(_mm512_setzero_ps(), x));
    return _mm512_div_ps(x, _mm512_add_ps(_mm512_set1_ps(1.0f), e));
}

/* erf(x), Abramowitz & Stegun 7.1.26 (absolute error <= 1.5e-7): enough for GELU, where it
 * enters as 1 + erf. */
static inline __m512 kc_erf512(__m512 x) {
    __m512 ax = _mm512_abs_ps(x);
    __m512 t = _mm512_div_ps(_mm512_set1_ps(1.0f), _mm512_fmadd_ps(ax, _mm512_set1_ps(0.3275911f), _mm512_set1_ps(1.0f)));
    __m512 p = _mm512_set1_ps(1.061405429f);
    p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(-1.453152027f));
    p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(1.421413741f));
    p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(-0.284496736f));
    p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(0.254829592f));
    p = _mm512_mul_ps(p, t);
    __m512 e = kc_exp512(_mm512_mul_ps(_mm512_sub_ps(_mm512_setzero_ps(), ax), ax));
    __m512 y = _mm512_fnmadd_ps(p, e, _mm512_set1_ps(1.0f));
    /* copy the sign of x */
    return _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(y),
                                               _mm512_and_si512(_mm512_castps_si512(x), _mm512_set1_epi32(INT32_MIN))));
}

static inline float kc_hsum512(__m512 v) { return _mm512_reduce_add_ps(v); }

/* Loads up to 16 stored weights (unaligned) at element i of p as fp32; lanes past n are 0. */
static inline __m512 kc_load_w512(const void *p, kc_dtype wt, int64_t i, int64_t n) {
    __mmask16 m = kc_mask16(n);
    if (wt == KC_DTYPE_F32) return _mm512_maskz_loadu_ps(m, (const float *)p + i);
    __m256i h = _mm256_maskz_loadu_epi16(m, (const uint16_t *)p + i);
    if (wt == KC_DTYPE_F16) return _mm512_cvtph_ps(h);
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

/* Converts n stored weights at p to fp32. */
static inline void kc_w_to_f32_512(const void *p, kc_dtype wt, int64_t n, float *dst) {
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) _mm512_storeu_ps(dst + i, kc_load_w512(p, wt, i, 16));
    if (i < n) _mm512_mask_storeu_ps(dst + i, kc_mask16(n - i), kc_load_w512(p, wt, i, n - i));
}

/* 16×16 transpose of fp32 rows r[0..16) into columns (in place). */
static inline __attribute__((always_inline)) void kc_transpose16(__m512 r[16]) {
    __m512 t[16];
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 16; i += 4) {
        r[i] = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t[i]), _mm512_castps_pd(t[i + 2])));
        r[i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t[i]), _mm512_castps_pd(t[i + 2])));
        r[i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t[i + 1]), _mm512_castps_pd(t[i + 3])));
        r[i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t[i + 1]), _mm512_castps_pd(t[i + 3])));
    }
    /* r[4q + c] now holds, per 128-bit lane L, rows 4q..4q+3 at column 4L + c. */
    for (int i = 0; i < 4; i++) {
        for (int q = 0; q < 4; q++) t[4 * q + i] = r[4 * q + i];
    }
    for (int c = 0; c < 4; c++) {
        __m512 a = t[c], b = t[4 + c], cc = t[8 + c], d = t[12 + c];
        __m512 ab_lo = _mm512_shuffle_f32x4(a, b, 0x44), ab_hi = _mm512_shuffle_f32x4(a, b, 0xee);
        __m512 cd_lo = _mm512_shuffle_f32x4(cc, d, 0x44), cd_hi = _mm512_shuffle_f32x4(cc, d, 0xee);
        r[c] = _mm512_shuffle_f32x4(ab_lo, cd_lo, 0x88);      /* lane 0 -> column c */
        r[4 + c] = _mm512_shuffle_f32x4(ab_lo, cd_lo, 0xdd);  /* lane 1 -> column 4 + c */
        r[8 + c] = _mm512_shuffle_f32x4(ab_hi, cd_hi, 0x88);  /* lane 2 */
        r[12 + c] = _mm512_shuffle_f32x4(ab_hi, cd_hi, 0xdd); /* lane 3 */
    }
}


/* Prefetches the rows of an output tile that the micro-kernel will read back at its end
 * (y += tile): they are usually in L2/L3, and the load would otherwise stall the tile. */
static inline void kc_prefetch_tile512(float *y, int64_t ldy, int mv, int first) {
    if (first) return;
    for (int r = 0; r < mv; r++) {
        _mm_prefetch((const char *)(y + r * ldy), _MM_HINT_T0);
        _mm_prefetch((const char *)(y + r * ldy + 16), _MM_HINT_T0);
    }
}

/* Writes rows [0, mv) × columns [0, nv) of a register tile held as two 16-wide halves per
 * row: y = tile (first) or y += tile, then + bias[0, nv) when bias != NULL. */
static inline void kc_store_tile512(int mr, const __m512 *c0, const __m512 *c1, float *y, int64_t ldy, int mv, int nv,
                                    int first, const float *bias) {
    __mmask16 k0m = kc_mask16(nv), k1m = kc_mask16(nv - 16 < 0 ? 0 : nv - 16);
    const __m512 b0 = bias ? _mm512_maskz_loadu_ps(k0m, bias) : _mm512_setzero_ps();
    const __m512 b1 = bias ? _mm512_maskz_loadu_ps(k1m, bias + 16) : _mm512_setzero_ps();
    for (int r = 0; r < mr && r < mv; r++) {
        float *yr = y + r * ldy;
        __m512 t0 = c0[r], t1 = c1[r];
        if (!first) {
            t0 = _mm512_add_ps(_mm512_maskz_loadu_ps(k0m, yr), t0);
            t1 = _mm512_add_ps(_mm512_maskz_loadu_ps(k1m, yr + 16), t1);
        }
        if (bias) {
            t0 = _mm512_add_ps(t0, b0);
            t1 = _mm512_add_ps(t1, b1);
        }
        _mm512_mask_storeu_ps(yr, k0m, t0);
        _mm512_mask_storeu_ps(yr + 16, k1m, t1);
    }
}


/* Lanes of the 16 keys j..j+15 that lie in the visible range [a, b). */
static inline __mmask16 kc_attn_visible16(int64_t j, int64_t a, int64_t b) {
    return (__mmask16)(kc_mask16(b - j < 0 ? 0 : b - j) & ~kc_mask16(a - j < 0 ? 0 : a - j));
}

/* max(m, the visible scores [a, b) of a row of nkp floats); a < b. */
static inline float kc_attn_row_max512(const float *sr, int64_t nkp, int64_t a, int64_t b, float m) {
    __m512 mx = _mm512_set1_ps(-INFINITY);
    for (int64_t j = 0; j < nkp; j += 16) mx = _mm512_mask_max_ps(mx, kc_attn_visible16(j, a, b), mx, _mm512_loadu_ps(sr + j));
    const float r = _mm512_reduce_max_ps(mx);
    return m > r ? m : r;
}

/* The online-softmax state update once a row's new max and the sum of its exp(s - mnew) are
 * known: returns the factor exp(m_old - mnew) that rescales the row's accumulator. */
static inline float kc_attn_row_update(float *m, float *l, float mnew, float rowsum) {
    const float c = expf(*m - mnew);
    *l = *l * c + rowsum;
    *m = mnew;
    return c;
}

/* Online-softmax update of one attention row over a block of scores sr [nkp] (multiple of
 * 16): keys [a, b) ∩ [0, nk) are visible. sr becomes P = exp(s - m_new) (0 where masked), the
 * running max *m and sum *l are updated, and the factor exp(m_old - m_new) that rescales the
 * row's accumulator is returned (1 with P = 0 when nothing is visible: state unchanged). */
static inline float kc_attn_softmax_row512(float *sr, int64_t nkp, int64_t a, int64_t b, int64_t nk, float *m, float *l) {
    if (a < 0) a = 0;
    if (b > nk) b = nk;
    if (a >= b) {
        for (int64_t j = 0; j < nkp; j += 16) _mm512_storeu_ps(sr + j, _mm512_setzero_ps());
        return 1.0f;
    }
    const float mnew = kc_attn_row_max512(sr, nkp, a, b, *m);
    const __m512 vm = _mm512_set1_ps(mnew);
    __m512 sum = _mm512_setzero_ps();
    for (int64_t j = 0; j < nkp; j += 16) {
        __m512 e = _mm512_maskz_mov_ps(kc_attn_visible16(j, a, b), kc_exp512(_mm512_sub_ps(_mm512_loadu_ps(sr + j), vm)));
        sum = _mm512_add_ps(sum, e);
        _mm512_storeu_ps(sr + j, e);
    }
    return kc_attn_row_update(m, l, mnew, _mm512_reduce_add_ps(sum));
}


/* P·V accumulator block of R query rows (R <= 6) × 64 head dims starting at d: masks for the
 * dims left, load acc·corr, store back. Shared by the fp32 and bf16 attention kernels. */
static inline void kc_attn_masks64(int64_t left, __mmask16 mk[4]) {
    for (int u = 0; u < 4; u++) mk[u] = kc_mask16(left - 16 * u < 0 ? 0 : left - 16 * u);
}

static inline __attribute__((always_inline)) void kc_attn_acc_load(const int R, __m512 c[][4], const float *acc, int64_t D,
                                                                   int64_t d, const float *corr, int64_t i0,
                                                                   const __mmask16 mk[4]) {
#pragma GCC unroll 6
    for (int r = 0; r < R; r++) {
        const __m512 cr = _mm512_set1_ps(corr[i0 + r]);
        const float *ar = acc + (i0 + r) * D + d;
#pragma GCC unroll 4
        for (int u = 0; u < 4; u++) c[r][u] = _mm512_mul_ps(_mm512_maskz_loadu_ps(mk[u], ar + 16 * u), cr);
    }
}

static inline __attribute__((always_inline)) void kc_attn_acc_store(const int R, __m512 c[][4], float *acc, int64_t D,
                                                                    int64_t d, int64_t i0, const __mmask16 mk[4]) {
#pragma GCC unroll 6
    for (int r = 0; r < R; r++) {
        float *ar = acc + (i0 + r) * D + d;
#pragma GCC unroll 4
        for (int u = 0; u < 4; u++) _mm512_mask_storeu_ps(ar + 16 * u, mk[u], c[r][u]);
    }
}

#endif
