/* avx512bf16/attn.c — the attention block with bf16 products (vdpbf16ps) and fp32 sums, for
 * KC_PREC_BF16: q, k rounded to bf16 pairs along the head dim for S = scale·Q·Kᵀ; the softmax
 * in fp32 (shared with the fp32 kernel); P and v rounded to bf16 pairs along the keys for P·V.
 * Layouts in the scratch s (all 32-bit lanes holding a bf16 pair, low half = even index):
 *   sc  [nq][nkp]      fp32 scores, then P pairs in place (row i: nkp/2 pairs)
 *   kt2 [D2][nkp]      kt2[p][j] = (k[j][2p], k[j][2p+1])
 *   vt2 [nkp/2][D16]   vt2[p][d] = (v[2p][d], v[2p+1][d])
 *   qb  [nq][D2]       qb[i][p] = (q[i][2p], q[i][2p+1])
 * Each query row's arithmetic is independent of the other rows (thread-count independence).
 * Dimension letters: nq queries, nk keys, D head dim (D2 = ceil(D/2) pairs, D16 = D rounded up to 16). */
#include <immintrin.h>

#include "kernels/avx512/simd512.h"
#include "kernels/avx512bf16/bf16.h"

#define QB 4 /* query rows per register block */

/* 32 floats from p (n valid, rest zero) as 16 bf16 pairs. */
static inline __m512i pairs32(const float *p, int64_t n) {
    __m512 lo = _mm512_maskz_loadu_ps(kc_mask16(n), p);
    __m512 hi = _mm512_maskz_loadu_ps(kc_mask16(n - 16 < 0 ? 0 : n - 16), p + 16);
    return (__m512i)_mm512_cvtne2ps_pbh(hi, lo);
}

static inline __attribute__((always_inline)) void scores(const int R, const uint32_t *qb, int64_t D2, const uint32_t *kt2,
                                                         int64_t nkp, float scale, float *s, int64_t i0) {
    const __m512 vs = _mm512_set1_ps(scale);
    for (int64_t j = 0; j < nkp; j += 64) {
        __m512 c[QB][4];
#pragma GCC unroll 4
        for (int r = 0; r < R; r++)
#pragma GCC unroll 4
            for (int v = 0; v < 4; v++) c[r][v] = _mm512_setzero_ps();
        const uint32_t *kd = kt2 + j;
        for (int64_t p = 0; p < D2; p++, kd += nkp) {
            __m512bh k0 = (__m512bh)_mm512_loadu_si512(kd), k1 = (__m512bh)_mm512_loadu_si512(kd + 16),
                     k2 = (__m512bh)_mm512_loadu_si512(kd + 32), k3 = (__m512bh)_mm512_loadu_si512(kd + 48);
#pragma GCC unroll 4
            for (int r = 0; r < R; r++) {
                __m512bh qv = (__m512bh)_mm512_set1_epi32((int)qb[(i0 + r) * D2 + p]);
                c[r][0] = _mm512_dpbf16_ps(c[r][0], qv, k0);
                c[r][1] = _mm512_dpbf16_ps(c[r][1], qv, k1);
                c[r][2] = _mm512_dpbf16_ps(c[r][2], qv, k2);
                c[r][3] = _mm512_dpbf16_ps(c[r][3], qv, k3);
            }
        }
#pragma GCC unroll 4
        for (int r = 0; r < R; r++)
#pragma GCC unroll 4
            for (int v = 0; v < 4; v++) _mm512_storeu_ps(s + (i0 + r) * nkp + j + 16 * v, _mm512_mul_ps(c[r][v], vs));
    }
}

/* 2^t for t <= 0 (t = -inf not allowed), lanes outside `in` zero: t = n + r with n an integer
 * and |r| <= 1/2, 2^r by a degree-4 polynomial (relative error 3.7e-6, far below the bf16
 * rounding P gets next; fitted for this kernel, exact at r = 0), scalef for 2^n (0 below
 * 2^-149). */
static inline __m512 exp2_neg(__mmask16 in, __m512 t) {
    const __m512 n = _mm512_roundscale_ps(t, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    const __m512 r = _mm512_sub_ps(t, n);
    __m512 p = _mm512_set1_ps(9.5701012760e-03f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.5917859077e-02f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(2.4024744332e-01f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(6.9312179089e-01f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    return _mm512_maskz_scalef_ps(in, p, n);
}

/* The online-softmax step of one score row (as kc_attn_softmax_row512: visible keys [a, b) of
 * nk, running max *m and sum *l, returns the correction exp(m_old - m_new) of the row's
 * accumulator), writing P straight to bf16 pairs in place: pair block j/2 is written after
 * floats j..j+31 are read. exp(s - m) is computed as 2^((s - m)·log2 e) with one FMA. */
static inline float softmax_pairs(float *sr, int64_t nkp, int64_t a, int64_t b, int64_t nk, float *m, float *l) {
    if (a < 0) a = 0;
    if (b > nk) b = nk;
    uint32_t *pr = (uint32_t *)(void *)sr;
    if (a >= b) {
        for (int64_t j = 0; j < nkp / 2; j += 16) _mm512_storeu_si512(pr + j, _mm512_setzero_si512());
        return 1.0f;
    }
    const float mnew = kc_attn_row_max512(sr, nkp, a, b, *m);
    const float L2E = 1.44269504088896341f;
    const __m512 vl = _mm512_set1_ps(L2E), vml = _mm512_set1_ps(-mnew * L2E);
    __m512 sum = _mm512_setzero_ps();
    for (int64_t j = 0; j < nkp; j += 32) {
        const __m512 e0 = exp2_neg(kc_attn_visible16(j, a, b), _mm512_fmadd_ps(_mm512_loadu_ps(sr + j), vl, vml));
        const __m512 e1 = exp2_neg(kc_attn_visible16(j + 16, a, b), _mm512_fmadd_ps(_mm512_loadu_ps(sr + j + 16), vl, vml));
        sum = _mm512_add_ps(sum, _mm512_add_ps(e0, e1));
        _mm512_storeu_si512(pr + j / 2, (__m512i)_mm512_cvtne2ps_pbh(e1, e0));
    }
    return kc_attn_row_update(m, l, mnew, _mm512_reduce_add_ps(sum));
}

static inline __attribute__((always_inline)) void pv(const int R, const float *sc, int64_t nkp, int64_t nkh,
                                                     const uint32_t *vt2, int64_t D16, int64_t D, const float *corr,
                                                     float *acc, int64_t i0) {
    for (int64_t d = 0; d < D; d += 64) {
        __mmask16 mk[4];
        kc_attn_masks64(D - d, mk);
        const __mmask16 m0 = mk[0], m1 = mk[1], m2 = mk[2], m3 = mk[3];
        __m512 c[QB][4];
        kc_attn_acc_load(R, c, acc, D, d, corr, i0, mk);
        const uint32_t *vp = vt2 + d;
        for (int64_t p = 0; p < nkh; p++, vp += D16) {
            __m512bh v0 = (__m512bh)_mm512_maskz_loadu_epi32(m0, vp), v1 = (__m512bh)_mm512_maskz_loadu_epi32(m1, vp + 16),
                     v2 = (__m512bh)_mm512_maskz_loadu_epi32(m2, vp + 32), v3 = (__m512bh)_mm512_maskz_loadu_epi32(m3, vp + 48);
#pragma GCC unroll 4
            for (int r = 0; r < R; r++) {
                const uint32_t *prow = (const uint32_t *)(const void *)(sc + (i0 + r) * nkp);
                __m512bh pj = (__m512bh)_mm512_set1_epi32((int)prow[p]);
                c[r][0] = _mm512_dpbf16_ps(c[r][0], pj, v0);
                c[r][1] = _mm512_dpbf16_ps(c[r][1], pj, v1);
                c[r][2] = _mm512_dpbf16_ps(c[r][2], pj, v2);
                c[r][3] = _mm512_dpbf16_ps(c[r][3], pj, v3);
            }
        }
        kc_attn_acc_store(R, c, acc, D, d, i0, mk);
    }
}

void kc_attn_block_avx512bf16(const float *q, int64_t ldq, const float *k, int64_t ldk, const float *v, int64_t ldv,
                              int64_t nq, int64_t nk, int64_t D, float scale, const int64_t *j0, const int64_t *j1,
                              float *m, float *l, float *acc, float *s) {
    const int64_t nkp = (nk + 63) & ~(int64_t)63, D2 = (D + 1) / 2, D16 = (D + 15) & ~(int64_t)15;
    const int64_t nkh = (nk + 1) / 2; /* key pairs */
    float *sc = s;
    uint32_t *kt2 = (uint32_t *)(void *)(s + nq * nkp);
    uint32_t *vt2 = kt2 + D2 * nkp;
    uint32_t *qb = vt2 + (nkp / 2) * D16;

    /* K as pairs along D, transposed 16 keys × 16 pairs at a time. */
    for (int64_t j = 0; j < nkp; j += 16)
        for (int64_t d = 0; d < D; d += 32) {
            __m512 r[16];
            for (int i = 0; i < 16; i++)
                r[i] = j + i < nk ? _mm512_castsi512_ps(pairs32(k + (j + i) * ldk + d, D - d)) : _mm512_setzero_ps();
            kc_transpose16(r);
            for (int64_t c = 0; c < 16 && d / 2 + c < D2; c++)
                _mm512_storeu_ps((float *)(void *)(kt2 + (d / 2 + c) * nkp + j), r[c]);
        }
    /* V as pairs along the keys: rows 2p and 2p+1 interleaved lane by lane. */
    const __m512i inter = _mm512_set_epi16(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8, 23, 7, 22, 6, 21,
                                           5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
    for (int64_t p = 0; p < nkh; p++)
        for (int64_t d = 0; d < D16; d += 16) {
            __mmask16 md = kc_mask16(D - d);
            __m512 a = _mm512_maskz_loadu_ps(md, v + 2 * p * ldv + d);
            __m512 b = 2 * p + 1 < nk ? _mm512_maskz_loadu_ps(md, v + (2 * p + 1) * ldv + d) : _mm512_setzero_ps();
            __m512i x = _mm512_permutexvar_epi16(inter, (__m512i)_mm512_cvtne2ps_pbh(b, a));
            _mm512_storeu_si512(vt2 + p * D16 + d, x);
        }
    /* Q as pairs along D. */
    for (int64_t i = 0; i < nq; i++)
        for (int64_t d = 0; d < D; d += 32) {
            int64_t np = D2 - d / 2;
            _mm512_mask_storeu_epi32(qb + i * D2 + d / 2, kc_mask16(np), pairs32(q + i * ldq + d, D - d));
        }

    int64_t i = 0;
    for (; i + QB <= nq; i += QB) scores(QB, qb, D2, kt2, nkp, scale, sc, i);
    for (; i < nq; i++) scores(1, qb, D2, kt2, nkp, scale, sc, i);

    float corr[256];
    for (int64_t i0 = 0; i0 < nq; i0 += 256) {
        const int64_t nr = nq - i0 < 256 ? nq - i0 : 256;
        for (int64_t r = 0; r < nr; r++)
            corr[r] = softmax_pairs(sc + (i0 + r) * nkp, nkp, j0[i0 + r], j1[i0 + r], nk, m + i0 + r, l + i0 + r);
        int64_t r = 0;
        for (; r + QB <= nr; r += QB) pv(QB, sc + i0 * nkp, nkp, nkh, vt2, D16, D, corr, acc + i0 * D, r);
        for (; r < nr; r++) pv(1, sc + i0 * nkp, nkp, nkh, vt2, D16, D, corr, acc + i0 * D, r);
    }
}
