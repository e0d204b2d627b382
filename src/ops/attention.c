/* attention.c — scaled dot-product attention, flash-style: for each (batch, head, block of BQ
 * queries) the keys are visited in blocks of BK at fixed positions (multiples of BK), and the
 * table's attn_block kernel updates a running max m, running sum l and output accumulator
 * per query (online softmax, Milakov & Gimelshein 2018). The [Tq, Tk] score matrix is never
 * materialised. Key blocks outside every row's visible range are skipped; a visited block
 * that a row cannot see leaves that row unchanged, so each row's result depends only on its
 * own key range: results do not depend on the thread count or the query blocking.
 * Dimension letters: N batch, NH heads, NKV key/value heads, D head dim, Tq/Tk tokens. */
#include <math.h>

#include "kernels/kernels.h"
#include "ops/ops.h"

#define KC_ATTN_MAX_D 1024
#define BQ_MAX 256 /* queries per block: bq below */
#define BK 128     /* keys per block */

kc_status kc_op_attention(const kc_exec *ex, const kc_attn_args *a, kc_err *err) {
    if (a->D < 1 || a->D > KC_ATTN_MAX_D)
        return kc_fail(err, KC_ERR_UNSUPPORTED, "attention: head dim %lld not in [1, %d]", (long long)a->D, KC_ATTN_MAX_D);
    if (a->NKV < 1 || a->NH % a->NKV != 0)
        return kc_fail(err, KC_ERR_INTERNAL, "attention: %lld heads not divisible by %lld kv heads", (long long)a->NH,
                       (long long)a->NKV);
    if (a->N <= 0 || a->Tq <= 0 || a->NH <= 0) return KC_OK;
    const kc_kernels *kt = ex->k ? ex->k : kc_kernels_default();
    /* Queries per block: each visited key block is rounded and laid out for the products once
     * per query block (≈ 12 % of the work at 64 queries and head dim 64), so take as many as
     * keep the accumulator [bq, D] within 64 KiB. Causal runs keep 64: a larger block would
     * visit more keys that most of its rows cannot see. A row's result does not depend on bq. */
    int64_t bq = a->causal ? 64 : 16384 / (a->D > 64 ? a->D : 64);
    if (bq < 64) bq = 64;
    if (bq > BQ_MAX) bq = BQ_MAX;
    const int64_t BQ = bq;
    const int64_t rep = a->NH / a->NKV, D = a->D, nqb = (a->Tq + BQ - 1) / BQ;
    /* per thread: acc [BQ*D] + kernel scratch [(BQ + D + 16) * (BK + 63) + BQ * D] */
    const size_t need = ((size_t)BQ * (size_t)D * 2 + (size_t)(BQ + D + 16) * (BK + 63)) * sizeof(float);
    /* KC_PREC_BF16: bf16 products where the table has them (scores and softmax stay fp32). */
    void (*block)(const float *, int64_t, const float *, int64_t, const float *, int64_t, int64_t, int64_t, int64_t, float,
                  const int64_t *, const int64_t *, float *, float *, float *, float *) =
        ex->precision == KC_PREC_BF16 && kt->attn_block_bf16 ? kt->attn_block_bf16 : kt->attn_block;
    int failed = 0;
#pragma omp parallel for collapse(3) schedule(dynamic, 1) num_threads(ex->n_threads)
    for (int64_t b = 0; b < a->N; b++)
        for (int64_t h = 0; h < a->NH; h++)
            for (int64_t qb = 0; qb < nqb; qb++) {
                float *buf = kc_kernels_thread_buffer(need);
                if (!buf) {
#pragma omp atomic write
                    failed = 1;
                    continue;
                }
                float *acc = buf, *s = buf + BQ * D;
                float m[BQ_MAX], l[BQ_MAX];
                int64_t lo[BQ_MAX], hi[BQ_MAX], j0[BQ_MAX], j1[BQ_MAX];
                const int64_t i0 = qb * BQ, nq = a->Tq - i0 < BQ ? a->Tq - i0 : BQ, hk = h / rep;
                int64_t kmin = a->Tk, kmax = 0;
                for (int64_t r = 0; r < nq; r++) {
                    const int64_t i = i0 + r;
                    lo[r] = 0;
                    hi[r] = a->Tk;
                    if (a->causal) {
                        const int64_t P = a->pad ? a->pad[b] : 0;
                        if (i >= P) { lo[r] = P; hi[r] = i + 1 < a->Tk ? i + 1 : a->Tk; }
                    }
                    if (lo[r] < kmin) kmin = lo[r];
                    if (hi[r] > kmax) kmax = hi[r];
                    m[r] = -INFINITY;
                    l[r] = 0.0f;
                }
                for (int64_t e = 0; e < nq * D; e++) acc[e] = 0.0f;
                const float *q = a->q + b * a->q_bs + i0 * a->q_ts + h * D;
                for (int64_t kb = kmin / BK * BK; kb < kmax; kb += BK) {
                    const int64_t nk = a->Tk - kb < BK ? a->Tk - kb : BK;
                    for (int64_t r = 0; r < nq; r++) { j0[r] = lo[r] - kb; j1[r] = hi[r] - kb; }
                    block(q, a->q_ts, a->k + b * a->k_bs + kb * a->k_ts + hk * D, a->k_ts,
                                   a->v + b * a->v_bs + kb * a->v_ts + hk * D, a->v_ts, nq, nk, D, a->scale, j0, j1, m, l,
                                   acc, s);
                }
                for (int64_t r = 0; r < nq; r++) {
                    float *o = a->o + b * a->o_bs + (i0 + r) * a->o_ts + h * D;
                    const float inv = l[r] > 0.0f ? 1.0f / l[r] : 0.0f;
                    for (int64_t d = 0; d < D; d++) o[d] = acc[r * D + d] * inv;
                }
            }
    if (failed) return kc_fail(err, KC_ERR_NOMEM, "attention: cannot allocate the %zu-byte per-thread buffer", need);
    return KC_OK;
}
