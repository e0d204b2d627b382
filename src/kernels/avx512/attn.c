/* avx512/attn.c — one block of queries against one block of keys (flash-attention step):
 * S = scale·Q·Kᵀ with K transposed once per block (16×16 register transposes) so the scores
 * are FMAs along the keys, a masked online-softmax update with the vectorised exp, then
 * acc = acc·c + P·V along the head dim. Each query row's arithmetic is independent of the
 * other rows of the block, so results do not depend on how queries are blocked.
 * Dimension letters: nq queries, nk keys, D head dim. */
#include <immintrin.h>
#include <math.h>

#include "kernels/avx512/avx512.h"
#include "kernels/avx512/simd512.h"

#define QB 4 /* query rows per register block */

/* kt[d][j] = k[j][d] for j < nk, d < D; keys padded to nkp (multiple of 64) with zeros. */
static void transpose_keys(const float *k, int64_t ldk, int64_t nk, int64_t D, int64_t nkp, float *kt) {
    for (int64_t j = 0; j < nkp; j += 16)
        for (int64_t d = 0; d < D; d += 16) {
            __m512 r[16];
            __mmask16 md = kc_mask16(D - d);
            for (int i = 0; i < 16; i++)
                r[i] = j + i < nk ? _mm512_maskz_loadu_ps(md, k + (j + i) * ldk + d) : _mm512_setzero_ps();
            kc_transpose16(r);
            for (int64_t c = 0; c < 16 && d + c < D; c++) _mm512_storeu_ps(kt + (d + c) * nkp + j, r[c]);
        }
}

/* Scores of rows [i0, i0+R) (R = QB or 1, a constant after inlining so the 4×4 accumulator
 * block lives in registers): s[i][j] = scale · q_i · k_j for all padded j, 64 keys at a time. */
static inline __attribute__((always_inline)) void scores(const int R, const float *q, int64_t ldq, int64_t D,
                                                         const float *kt, int64_t nkp, float scale, float *s, int64_t i0) {
    const __m512 vs = _mm512_set1_ps(scale);
    for (int64_t j = 0; j < nkp; j += 64) {
        __m512 c[QB][4];
#pragma GCC unroll 4
        for (int r = 0; r < R; r++)
#pragma GCC unroll 4
            for (int v = 0; v < 4; v++) c[r][v] = _mm512_setzero_ps();
        const float *kd = kt + j;
        for (int64_t d = 0; d < D; d++, kd += nkp) {
            __m512 k0 = _mm512_loadu_ps(kd), k1 = _mm512_loadu_ps(kd + 16), k2 = _mm512_loadu_ps(kd + 32),
                   k3 = _mm512_loadu_ps(kd + 48);
#pragma GCC unroll 4
            for (int r = 0; r < R; r++) {
                __m512 qv = _mm512_set1_ps(q[(i0 + r) * ldq + d]);
                c[r][0] = _mm512_fmadd_ps(qv, k0, c[r][0]);
                c[r][1] = _mm512_fmadd_ps(qv, k1, c[r][1]);
                c[r][2] = _mm512_fmadd_ps(qv, k2, c[r][2]);
                c[r][3] = _mm512_fmadd_ps(qv, k3, c[r][3]);
            }
        }
#pragma GCC unroll 4
        for (int r = 0; r < R; r++)
#pragma GCC unroll 4
            for (int v = 0; v < 4; v++) _mm512_storeu_ps(s + (i0 + r) * nkp + j + 16 * v, _mm512_mul_ps(c[r][v], vs));
    }
}

/* acc rows [i0, i0+R) = acc·c + P·V over the keys (P is 0 outside each row's range), 64 head
 * dims at a time (masked past D). */
static inline __attribute__((always_inline)) void pv(const int R, const float *p, int64_t nkp, int64_t nk,
                                                     const float *v, int64_t ldv, int64_t D, const float *corr,
                                                     float *acc, int64_t i0) {
    for (int64_t d = 0; d < D; d += 64) {
        __mmask16 mk[4];
        kc_attn_masks64(D - d, mk);
        const __mmask16 m0 = mk[0], m1 = mk[1], m2 = mk[2], m3 = mk[3];
        __m512 c[QB][4];
        kc_attn_acc_load(R, c, acc, D, d, corr, i0, mk);
        const float *vj = v + d;
        for (int64_t j = 0; j < nk; j++, vj += ldv) {
            __m512 v0 = _mm512_maskz_loadu_ps(m0, vj), v1 = _mm512_maskz_loadu_ps(m1, vj + 16),
                   v2 = _mm512_maskz_loadu_ps(m2, vj + 32), v3 = _mm512_maskz_loadu_ps(m3, vj + 48);
#pragma GCC unroll 4
            for (int r = 0; r < R; r++) {
                __m512 pj = _mm512_set1_ps(p[(i0 + r) * nkp + j]);
                c[r][0] = _mm512_fmadd_ps(pj, v0, c[r][0]);
                c[r][1] = _mm512_fmadd_ps(pj, v1, c[r][1]);
                c[r][2] = _mm512_fmadd_ps(pj, v2, c[r][2]);
                c[r][3] = _mm512_fmadd_ps(pj, v3, c[r][3]);
            }
        }
        kc_attn_acc_store(R, c, acc, D, d, i0, mk);
    }
}

void kc_attn_block_avx512(const float *q, int64_t ldq, const float *k, int64_t ldk, const float *v, int64_t ldv,
                          int64_t nq, int64_t nk, int64_t D, float scale, const int64_t *j0, const int64_t *j1, float *m,
                          float *l, float *acc, float *s) {
    const int64_t nkp = (nk + 63) & ~(int64_t)63;
    float *kt = s + nq * nkp; /* [D][nkp]; s holds nq*nkp + D*nkp <= (nq + D)*(nk + 63) floats */
    transpose_keys(k, ldk, nk, D, nkp, kt);
    int64_t i = 0;
    for (; i + QB <= nq; i += QB) scores(QB, q, ldq, D, kt, nkp, scale, s, i);
    for (; i < nq; i++) scores(1, q, ldq, D, kt, nkp, scale, s, i);

    /* Masked online-softmax update (s becomes P), then P·V, for up to 256 rows at a time
     * (corr holds their rescaling factors exp(m_old - m_new)). */
    float corr[256];
    for (int64_t i0 = 0; i0 < nq; i0 += 256) {
        const int64_t nr = nq - i0 < 256 ? nq - i0 : 256;
        for (int64_t r = 0; r < nr; r++)
            corr[r] = kc_attn_softmax_row512(s + (i0 + r) * nkp, nkp, j0[i0 + r], j1[i0 + r], nk, m + i0 + r, l + i0 + r);
        int64_t r = 0;
        for (; r + QB <= nr; r += QB) pv(QB, s + i0 * nkp, nkp, nk, v, ldv, D, corr, acc + i0 * D, r);
        for (; r < nr; r++) pv(1, s + i0 * nkp, nkp, nk, v, ldv, D, corr, acc + i0 * D, r);
    }
}
