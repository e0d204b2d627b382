/* kernels.h — the ISA dispatch table. Kernels work on raw pointers over a range and never
 * allocate; ops/ validates, picks the table and splits work across threads.
 * Every entry has a scalar reference in ref/ that tests compare the other tables against.
 *
 * Dimension letters: M rows (tokens / output pixels), N output features, K reduction. */
#ifndef KC_KERNELS_KERNELS_H
#define KC_KERNELS_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "core/cpu.h"
#include "core/status.h"
#include "core/tensor.h"

/* y[M,N] (+)= A[M,K] · W[N,K]ᵀ, one call per output tile.
 * A is either a row-major fp32 matrix (conv.Cin == 0: row m at x + m*ldx) or the implicit
 * im2col of a channels-last image (conv.Cin > 0): row m = output pixel (n, oy, ox) of the
 * Ho×Wo grid, column k = (ky*kw + kx)*Cin + ci, out-of-image taps read as zero.
 * W is row-major in its stored dtype (F32/F16/BF16), element (n, k) at w[n*ldw + k], at any
 * alignment (safetensors data offsets are arbitrary). */
typedef struct {
    const float *x;
    int64_t ldx;
    struct {
        int64_t Cin, H, W, Ho, Wo, kh, kw, stride, pad_t, pad_l;
    } conv;
    const void *w;
    kc_dtype wt;
    int64_t ldw;
    int64_t M, N, K;
    float *y;
    int64_t ldy;
    int accumulate; /* y += A·Wᵀ instead of y = A·Wᵀ */
    /* W already laid out by the table's gemm_bf16_wpack (for gemm_bf16 only; NULL: the kernel
     * packs from w). Tiles must then start at multiples of 32 columns. */
    const void *wpack;
    /* A already rounded to bf16 by the table's gemm_bf16_convert_a (for gemm_bf16 with
     * conv.Cin == 0 only; NULL: the kernel converts while packing): row m at xbf + m*ldxbf,
     * ldxbf even and >= K, element K zero when K is odd, 4-byte aligned. Lets the micro-kernel
     * read whole row blocks in place instead of converting A again for every column tile. */
    const uint16_t *xbf;
    int64_t ldxbf;
    /* fp32 [N] added to each output row once its sum is complete (after accumulate: y = (y +
     * A·Wᵀ) + bias, as a separate pass would), or NULL. */
    const float *bias;
} kc_gemm_args;

/* Computes rows [m0, m1) × columns [n0, n1) of y over the whole K, with n1 - n0 <= gemm_nc.
 * `pack` is the calling thread's buffer of gemm_pack_bytes bytes (64-byte aligned).
 * Every output element is computed by the same sequence of operations whatever the tile
 * bounds, so results do not depend on how ops/ splits the work across threads. */
typedef void (*kc_gemm_fn)(const kc_gemm_args *g, int64_t m0, int64_t m1, int64_t n0, int64_t n1, void *pack);

typedef struct kc_kernels {
    const char *name; /* "ref", "avx2", "avx512", "avx512bf16" */
    /* Dot products of one fp32 row with n rows of a weight matrix in its stored dtype:
     * y[j] = sum_k x[k] * w[j*ldw + k], j in [0, n). */
    void (*dot_rows_f32w)(const float *x, const void *w, kc_dtype wt, int64_t ldw, int64_t K, int64_t n, float *y);
    /* fp32 GEMM (fp32 products and sums). */
    kc_gemm_fn gemm_f32;
    /* bf16 GEMM: A rounded to bf16 (nearest even), W rounded to bf16 (F16/F32) or as stored
     * (BF16), exact products summed in fp32. NULL where the CPU has no bf16 dot product: ops/
     * then runs gemm_f32 (more accurate, same speed as emulating). */
    kc_gemm_fn gemm_bf16;
    /* Prepacked W for gemm_bf16 (NULL where gemm_bf16 is NULL): the bytes for an N×K weight,
     * and the packing of its columns [n0, n1) (n0 a multiple of 32) into dst, which must be
     * 64-byte aligned and hold gemm_bf16_wpack_bytes(N, K). The panels are exactly what
     * gemm_bf16 would pack on the fly, so results are bit-identical with or without. */
    size_t (*gemm_bf16_wpack_bytes)(int64_t N, int64_t K);
    void (*gemm_bf16_wpack)(const kc_gemm_args *g, int64_t n0, int64_t n1, void *dst);
    /* n fp32 values -> bf16 exactly as gemm_bf16 rounds A (for kc_gemm_args.xbf). */
    void (*gemm_bf16_convert_a)(const float *x, int64_t n, uint16_t *dst);
    int64_t gemm_nc;        /* largest n1 - n0 per gemm call */
    size_t gemm_pack_bytes; /* per-thread pack buffer the gemm calls need */

    /* ---- row kernels (each processes one contiguous range; ops/ splits rows over threads) */
    /* y[i] = x[i] * sigmoid(x[i]); y may alias x. */
    void (*silu)(float *y, const float *x, int64_t n);
    /* y[f] = v[f] * GELU_erf(g[f]) (GEGLU) and y[f] = SiLU(g[f]) * v[f] (SwiGLU). */
    void (*geglu)(float *y, const float *v, const float *g, int64_t n);
    void (*swiglu)(float *y, const float *g, const float *v, int64_t n);
    /* Sum of n values and sum of their squared deviations from `shift` (norm statistics, in
     * double; a shift near the mean keeps the one-pass variance exact enough). */
    void (*moments)(const float *x, int64_t n, float shift, double *sum, double *sumsq);
    /* Per-channel statistics of rows x [rows, C] (channels-last GroupNorm): ADDS Σx[c] to
     * sum[c] and Σ(x[c] - shift[c])² to sumsq[c]. */
    void (*chan_moments)(const float *x, int64_t rows, int64_t C, const float *shift, double *sum, double *sumsq);
    /* y[i] = (x[i] - mu[i·inc]) * rstd[i·inc] * ga[i] + be[i] (inc 0: one mu/rstd for the row,
     * 1: per element; be may be NULL), SiLU after if silu. y may alias x. */
    void (*norm_apply)(float *y, const float *x, int64_t n, const float *mu, const float *rstd, int64_t inc,
                       const float *ga, const float *be, int silu);

    /* ---- attention: one block of queries against a range of keys, online softmax.
     * q [nq, D] (row stride ldq), k/v [nk, D] (row strides ldk, ldv), scale applied to q·k.
     * State per query row i: running max m[i], running sum l[i], accumulator acc[i*D..]. The
     * key range of query i is [j0[i], j1[i]) within [0, nk) (masks; an empty range leaves the
     * row's state unchanged). m starts at -INFINITY, l and acc at 0; the caller divides acc
     * by l at the end. `s` is scratch of
     * (nq + D + 16) * (nk + 63) + nq * D floats. */
    void (*attn_block)(const float *q, int64_t ldq, const float *k, int64_t ldk, const float *v, int64_t ldv, int64_t nq,
                       int64_t nk, int64_t D, float scale, const int64_t *j0, const int64_t *j1, float *m, float *l,
                       float *acc, float *s);
    /* The same with bf16 products (q, k, P, v rounded to bf16; scores, softmax and sums in
     * fp32) for KC_PREC_BF16; NULL where the CPU has no bf16 dot product (ops/ then runs
     * attn_block). */
    void (*attn_block_bf16)(const float *q, int64_t ldq, const float *k, int64_t ldk, const float *v, int64_t ldv,
                            int64_t nq, int64_t nk, int64_t D, float scale, const int64_t *j0, const int64_t *j1,
                            float *m, float *l, float *acc, float *s);
} kc_kernels;

const kc_kernels *kc_kernels_ref(void);
/* Best table for this CPU, or the one forced by the KOLORS_ISA environment variable
 * (ref|avx2|avx512|avx512bf16); a forced table the CPU cannot run falls back to the best
 * available one. Never NULL. */
const kc_kernels *kc_kernels_default(void);
/* Table by name; KC_ERR_UNSUPPORTED if the CPU lacks the ISA or the name is unknown. */
kc_status kc_kernels_select(const char *name, const kc_kernels **out, kc_err *err);
/* Every table this CPU can run, best last; returns the count (<= 4). */
int kc_kernels_available(const kc_kernels **out, int cap);

/* The calling thread's buffer of at least `bytes` bytes (64-byte aligned), allocated on the
 * thread's first use and grown if a later call needs more; NULL if the allocation fails. */
void *kc_kernels_thread_buffer(size_t bytes);
/* A second such buffer, for the thread that calls into ops (its kc_kernels_thread_buffer is
 * its pack buffer inside the parallel region): linear's bias and bf16 A, the norms' affine
 * values and statistics. Its contents last for one op call only. */
void *kc_kernels_thread_buffer2(size_t bytes);

#endif
