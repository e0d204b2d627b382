/* avx512bf16/gemm.c — bf16 GEMM with vdpbf16ps: A rounded to bf16 and packed row-major as
 * k-pairs (the broadcast operand, one 32-bit pair per row), W rounded/copied to bf16 and packed
 * as [k/2][32] pairs; fp32 accumulation in a 12×32 register tile. K blocks of 1536.
 * Dimension letters: M rows, N output features, K reduction. */
#include <immintrin.h>

#include "kernels/avx512/avx512.h"
#include "kernels/avx512/simd512.h"
#include "kernels/avx512bf16/bf16.h"
#include "kernels/gemm_common.h"

#define MR 12
#define NR 32
#ifndef KC_BF16_KC /* tuning override */
#define KC_BF16_KC 1536 /* bf16 elements per K block; measured best of 256..2048 on Zen 4 */
#endif
#define KC KC_BF16_KC
#define MC 120

/* n fp32 values -> bf16 (nearest even), dst may be unaligned. */
static inline void f32_to_bf16(const float *src, int64_t n, uint16_t *dst) {
    int64_t i = 0;
    for (; i < n; i += 16) {
        __mmask16 m = kc_mask16(n - i);
        __m256bh h = _mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(m, src + i));
        _mm256_mask_storeu_epi16(dst + i, m, (__m256i)h);
    }
}

/* kc_gemm_a_row for a convolution, rounding each tap's run of channels to bf16 straight from
 * the image (an fp32 row copy first cost 4.4 % of a 1024^2 VAE decode in memmove alone). */
static void conv_row_bf16(const kc_gemm_args *g, int64_t m, int64_t k0, int64_t kc, uint16_t *dst) {
    const int64_t Cin = g->conv.Cin, hw = g->conv.Ho * g->conv.Wo;
    const int64_t n = m / hw, p = m - n * hw, oy = p / g->conv.Wo, ox = p - oy * g->conv.Wo;
    const int64_t iy0 = oy * g->conv.stride - g->conv.pad_t, ix0 = ox * g->conv.stride - g->conv.pad_l;
    for (int64_t k = k0, end = k0 + kc; k < end;) {
        const int64_t tap = k / Cin, ci = k - tap * Cin, run = Cin - ci < end - k ? Cin - ci : end - k;
        const int64_t ky = tap / g->conv.kw, kx = tap - ky * g->conv.kw, iy = iy0 + ky, ix = ix0 + kx;
        if (iy >= 0 && iy < g->conv.H && ix >= 0 && ix < g->conv.W)
            f32_to_bf16(g->x + ((n * g->conv.H + iy) * g->conv.W + ix) * Cin + ci, run, dst);
        else
            memset(dst, 0, (size_t)run * sizeof(uint16_t));
        dst += run;
        k += run;
    }
}

static void pack_a(const kc_gemm_args *g, int64_t m, int rows, int64_t k0, int64_t kc, void *dst) {
    uint16_t *d = dst;
    for (int r = 0; r < MR; r++, d += KC) {
        if (r < rows) {
            if (g->conv.Cin == 0) /* linear: convert straight from x */
                f32_to_bf16(g->x + (m + r) * g->ldx + k0, kc, d);
            else
                conv_row_bf16(g, m + r, k0, kc, d);
            if (kc & 1) d[kc] = 0; /* odd K block: zero pair member */
        } else {
            memset(d, 0, (size_t)(kc + 1) * 2);
        }
    }
}

/* 16 pairs (32 stored weights from element i, lanes past n zero) of one W row as bf16 pairs. */
static inline __m512 w_pairs(const void *p, kc_dtype wt, int64_t i, int64_t n) {
    if (wt == KC_DTYPE_BF16) {
        __mmask32 m = n >= 32 ? 0xffffffffu : (__mmask32)((1u << n) - 1u);
        return _mm512_castsi512_ps(_mm512_maskz_loadu_epi16(m, (const uint16_t *)p + i));
    }
    __m512 lo = kc_load_w512(p, wt, i, n), hi = kc_load_w512(p, wt, i + 16, n - 16 < 0 ? 0 : n - 16);
    return _mm512_castsi512_ps((__m512i)_mm512_cvtne2ps_pbh(hi, lo));
}

/* 16 pairs (32 stored weights from element i, all present) of one W row, wt a constant after
 * inlining: no mask and no dtype switch in the packing loop. */
static inline __attribute__((always_inline)) __m512 w_pairs_full(const void *p, const kc_dtype wt, int64_t i) {
    if (wt == KC_DTYPE_BF16) return _mm512_castsi512_ps(_mm512_loadu_si512((const uint16_t *)p + i));
    __m512 lo, hi;
    if (wt == KC_DTYPE_F16) {
        lo = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(const void *)((const uint16_t *)p + i)));
        hi = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(const void *)((const uint16_t *)p + i + 16)));
    } else {
        lo = _mm512_loadu_ps((const float *)p + i);
        hi = _mm512_loadu_ps((const float *)p + i + 16);
    }
    return _mm512_castsi512_ps((__m512i)_mm512_cvtne2ps_pbh(hi, lo));
}

/* 16-pair steps ahead that the packing loop prefetches in each W row (8 cache lines for 16-bit
 * weights; fp32 rows, two lines per step, get every other line): the rows are read as 16
 * interleaved streams, which the hardware prefetchers follow only partly. */
#define PACK_PF_LINES 8

/* W rows [n, n+nv) × K block into dst[k/2][32] pairs: 16 rows × 16 pairs converted in
 * registers and transposed as 32-bit lanes. Specialised per stored dtype; whole 16-pair steps
 * run unmasked with the transposed registers stored directly (this loop is the one-shot text
 * encoder's weight conversion: 4.3 % of its first forward). */
static inline __attribute__((always_inline)) void pack_b_dt(const kc_gemm_args *g, int64_t n, int nv, int64_t k0,
                                                            int64_t kc, void *dst, const kc_dtype wt) {
    float *d = dst; /* pairs handled as 32-bit lanes */
    const int64_t kp = (kc + 1) / 2;
    const size_t es = wt == KC_DTYPE_F32 ? 4 : 2;
    for (int h = 0; h < NR; h += 16) {
        const void *rows[16];
        for (int j = 0; j < 16; j++) rows[j] = h + j < nv ? kc_gemm_w_at(g, n + h + j, k0) : NULL;
        int64_t k = 0;
        for (; 2 * k + 32 <= kc; k += 16) {
            if (2 * k + 32 * (PACK_PF_LINES + 1) <= kc)
                for (int j = 0; j < 16; j++)
                    if (rows[j]) __builtin_prefetch((const char *)rows[j] + (size_t)(2 * k + 32 * PACK_PF_LINES) * es, 0, 3);
            __m512 r[16];
#pragma GCC unroll 16
            for (int j = 0; j < 16; j++) r[j] = rows[j] ? w_pairs_full(rows[j], wt, 2 * k) : _mm512_setzero_ps();
            kc_transpose16(r);
#pragma GCC unroll 16
            for (int c = 0; c < 16; c++) _mm512_store_ps(d + (k + c) * NR + h, r[c]);
        }
        for (; k < kp; k += 16) { /* the K block's last, partial step */
            int64_t cnt = kp - k < 16 ? kp - k : 16;
            __m512 r[16];
            for (int j = 0; j < 16; j++) r[j] = rows[j] ? w_pairs(rows[j], wt, 2 * k, kc - 2 * k) : _mm512_setzero_ps();
            kc_transpose16(r);
            for (int64_t c = 0; c < cnt; c++) _mm512_store_ps(d + (k + c) * NR + h, r[c]);
        }
    }
}

static void pack_b(const kc_gemm_args *g, int64_t n, int nv, int64_t k0, int64_t kc, void *dst) {
    switch (g->wt) {
    case KC_DTYPE_F16: pack_b_dt(g, n, nv, k0, kc, dst, KC_DTYPE_F16); break;
    case KC_DTYPE_BF16: pack_b_dt(g, n, nv, k0, kc, dst, KC_DTYPE_BF16); break;
    default: pack_b_dt(g, n, nv, k0, kc, dst, KC_DTYPE_F32); break;
    }
}

/* lda: A row stride in bf16 elements; the packed path passes the constant KC (inlined, so the
 * twelve row addresses stay immediate offsets). */
static inline __attribute__((always_inline)) void ukr_body(int64_t kp2, const void *ap, int64_t lda, const void *bp,
                                                           float *y, int64_t ldy, int mv, int nv, int first,
                                                           const float *bias) {
    const int32_t *a = ap; /* [MR][lda/2] pairs */
    const int64_t ldp = lda / 2;
    const float *b = bp;
    const int64_t kp = kp2 / 2;
    __m512 c0[MR], c1[MR];
    kc_prefetch_tile512(y, ldy, mv, first);
#pragma GCC unroll 12
    for (int r = 0; r < MR; r++) { c0[r] = _mm512_setzero_ps(); c1[r] = _mm512_setzero_ps(); }
    for (int64_t k = 0; k < kp; k++) {
        __m512bh b0 = (__m512bh)_mm512_load_si512(b + k * NR), b1 = (__m512bh)_mm512_load_si512(b + k * NR + 16);
#pragma GCC unroll 12
        for (int r = 0; r < MR; r++) {
            __m512bh av = (__m512bh)_mm512_set1_epi32(a[r * ldp + k]);
            c0[r] = _mm512_dpbf16_ps(c0[r], av, b0);
            c1[r] = _mm512_dpbf16_ps(c1[r], av, b1);
        }
    }
    kc_store_tile512(MR, c0, c1, y, ldy, mv, nv, first, bias);
}

static void ukr(int64_t kp2, const void *ap, int64_t lda, const void *bp, float *y, int64_t ldy, int mv, int nv,
                int first, const float *bias) {
    if (lda == KC) ukr_body(kp2, ap, KC, bp, y, ldy, mv, nv, first, bias);
    else ukr_body(kp2, ap, lda, bp, y, ldy, mv, nv, first, bias);
}

static const kc_gemm_impl impl = {
    .mr = MR, .nr = NR, .kc = KC, .mc = MC, .nc = KC_GEMM512_NC, .es = 2,
    .pack_a = pack_a, .pack_b = pack_b, .ukr = ukr,
};

void kc_gemm_bf16_avx512bf16(const kc_gemm_args *g, int64_t m0, int64_t m1, int64_t n0, int64_t n1, void *pack) {
    kc_gemm_run(&impl, g, m0, m1, n0, n1, pack);
}

size_t kc_gemm_bf16_avx512bf16_pack_bytes(void) { return kc_gemm_impl_pack_bytes(&impl); }

size_t kc_gemm_bf16_avx512bf16_wpack_bytes(int64_t N, int64_t K) { return kc_gemm_impl_wpack_bytes(&impl, N, K); }

void kc_gemm_bf16_avx512bf16_wpack(const kc_gemm_args *g, int64_t n0, int64_t n1, void *dst) {
    kc_gemm_impl_wpack(&impl, g, n0, n1, dst);
}

void kc_gemm_bf16_avx512bf16_convert_a(const float *x, int64_t n, uint16_t *dst) { f32_to_bf16(x, n, dst); }
