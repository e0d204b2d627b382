/* avx512/rows.c — AVX-512 row kernels: SiLU, GEGLU (erf GELU), SwiGLU, norm statistics (in
 * double, as the reference) and the norm affine with optional fused SiLU. */
#include <immintrin.h>

#include "kernels/avx512/avx512.h"
#include "kernels/avx512/simd512.h"

void kc_silu_avx512(float *y, const float *x, int64_t n) {
    for (int64_t i = 0; i < n; i += 16) {
        __mmask16 m = kc_mask16(n - i);
        _mm512_mask_storeu_ps(y + i, m, kc_silu512(_mm512_maskz_loadu_ps(m, x + i)));
    }
}

void kc_geglu_avx512(float *y, const float *v, const float *g, int64_t n) {
    const __m512 half = _mm512_set1_ps(0.5f), one = _mm512_set1_ps(1.0f), rs2 = _mm512_set1_ps(0.70710678118654752f);
    for (int64_t i = 0; i < n; i += 16) {
        __mmask16 m = kc_mask16(n - i);
        __m512 gv = _mm512_maskz_loadu_ps(m, g + i), vv = _mm512_maskz_loadu_ps(m, v + i);
        __m512 ge = _mm512_mul_ps(_mm512_mul_ps(half, gv), _mm512_add_ps(one, kc_erf512(_mm512_mul_ps(gv, rs2))));
        _mm512_mask_storeu_ps(y + i, m, _mm512_mul_ps(vv, ge));
    }
}

void kc_swiglu_avx512(float *y, const float *g, const float *v, int64_t n) {
    for (int64_t i = 0; i < n; i += 16) {
        __mmask16 m = kc_mask16(n - i);
        __m512 gv = _mm512_maskz_loadu_ps(m, g + i), vv = _mm512_maskz_loadu_ps(m, v + i);
        _mm512_mask_storeu_ps(y + i, m, _mm512_mul_ps(kc_silu512(gv), vv));
    }
}

void kc_moments_avx512(const float *x, int64_t n, float shift, double *sum, double *sumsq) {
    __m512d s0 = _mm512_setzero_pd(), s1 = _mm512_setzero_pd(), q0 = _mm512_setzero_pd(), q1 = _mm512_setzero_pd();
    const __m512d sh = _mm512_set1_pd((double)shift);
    for (int64_t i = 0; i < n; i += 16) {
        __mmask16 m = kc_mask16(n - i);
        __m512 v = _mm512_maskz_loadu_ps(m, x + i);
        __m512d lo = _mm512_cvtps_pd(_mm512_castps512_ps256(v));
        __m512d hi = _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)));
        __mmask8 mlo = (__mmask8)(m & 0xff), mhi = (__mmask8)(m >> 8);
        s0 = _mm512_add_pd(s0, lo);
        s1 = _mm512_add_pd(s1, hi);
        __m512d dl = _mm512_maskz_sub_pd(mlo, lo, sh), dh = _mm512_maskz_sub_pd(mhi, hi, sh);
        q0 = _mm512_fmadd_pd(dl, dl, q0);
        q1 = _mm512_fmadd_pd(dh, dh, q1);
    }
    *sum = _mm512_reduce_add_pd(_mm512_add_pd(s0, s1));
    *sumsq = _mm512_reduce_add_pd(_mm512_add_pd(q0, q1));
}

void kc_chan_moments_avx512(const float *x, int64_t rows, int64_t C, const float *shift, double *sum, double *sumsq) {
    for (int64_t c = 0; c < C; c += 8) {
        __mmask8 m = (__mmask8)(C - c >= 8 ? 0xff : (1u << (C - c)) - 1u);
        __m512d sh = _mm512_cvtps_pd(_mm256_maskz_loadu_ps(m, shift + c));
        __m512d s = _mm512_setzero_pd(), q = _mm512_setzero_pd();
        for (int64_t r = 0; r < rows; r++) {
            __m512d v = _mm512_cvtps_pd(_mm256_maskz_loadu_ps(m, x + r * C + c));
            __m512d d = _mm512_sub_pd(v, sh);
            s = _mm512_add_pd(s, v);
            q = _mm512_fmadd_pd(d, d, q);
        }
        _mm512_mask_storeu_pd(sum + c, m, _mm512_add_pd(_mm512_maskz_loadu_pd(m, sum + c), s));
        _mm512_mask_storeu_pd(sumsq + c, m, _mm512_add_pd(_mm512_maskz_loadu_pd(m, sumsq + c), q));
    }
}

void kc_norm_apply_avx512(float *y, const float *x, int64_t n, const float *mu, const float *rstd, int64_t inc,
                          const float *ga, const float *be, int silu) {
    for (int64_t i = 0; i < n; i += 16) {
        __mmask16 m = kc_mask16(n - i);
        __m512 vmu = inc ? _mm512_maskz_loadu_ps(m, mu + i) : _mm512_set1_ps(mu[0]);
        __m512 vr = inc ? _mm512_maskz_loadu_ps(m, rstd + i) : _mm512_set1_ps(rstd[0]);
        __m512 v = _mm512_mul_ps(_mm512_mul_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, x + i), vmu), vr),
                                 _mm512_maskz_loadu_ps(m, ga + i));
        if (be) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, be + i));
        if (silu) v = kc_silu512(v);
        _mm512_mask_storeu_ps(y + i, m, v);
    }
}
