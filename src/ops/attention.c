/* attention.c — scaled dot-product attention with online softmax (fp32), never materialising
 * the [Tq, Tk] score matrix: one pass over the keys keeps a running max m, a running sum l and
 * an output accumulator, rescaled whenever the max grows (Milakov & Gimelshein 2018). */
#include <math.h>

#include "ops/ops.h"

#define KC_ATTN_MAX_D 1024

kc_status kc_op_attention(const kc_exec *ex, const kc_attn_args *a, kc_err *err) {
    if (a->D < 1 || a->D > KC_ATTN_MAX_D)
        return kc_fail(err, KC_ERR_UNSUPPORTED, "attention: head dim %lld not in [1, %d]", (long long)a->D, KC_ATTN_MAX_D);
    if (a->NKV < 1 || a->NH % a->NKV != 0)
        return kc_fail(err, KC_ERR_INTERNAL, "attention: %lld heads not divisible by %lld kv heads", (long long)a->NH,
                       (long long)a->NKV);
    const int64_t rep = a->NH / a->NKV, D = a->D;
#pragma omp parallel for collapse(3) schedule(static) num_threads(ex->n_threads)
    for (int64_t b = 0; b < a->N; b++)
        for (int64_t h = 0; h < a->NH; h++)
            for (int64_t i = 0; i < a->Tq; i++) {
                const float *q = a->q + b * a->q_bs + i * a->q_ts + h * D;
                const int64_t hk = h / rep;
                int64_t j0 = 0, j1 = a->Tk; /* keys [j0, j1) */
                if (a->causal) {
                    int64_t P = a->pad ? a->pad[b] : 0;
                    if (i >= P) { j0 = P; j1 = i + 1 < a->Tk ? i + 1 : a->Tk; }
                }
                float acc[KC_ATTN_MAX_D];
                for (int64_t d = 0; d < D; d++) acc[d] = 0.0f;
                float m = -INFINITY, l = 0.0f;
                for (int64_t j = j0; j < j1; j++) {
                    const float *k = a->k + b * a->k_bs + j * a->k_ts + hk * D;
                    const float *v = a->v + b * a->v_bs + j * a->v_ts + hk * D;
                    float s = 0.0f;
                    for (int64_t d = 0; d < D; d++) s += q[d] * k[d];
                    s *= a->scale;
                    if (s > m) {
                        float c = expf(m - s);
                        l *= c;
                        for (int64_t d = 0; d < D; d++) acc[d] *= c;
                        m = s;
                    }
                    float e = expf(s - m);
                    l += e;
                    for (int64_t d = 0; d < D; d++) acc[d] += e * v[d];
                }
                float *o = a->o + b * a->o_bs + i * a->o_ts + h * D;
                float inv = l > 0.0f ? 1.0f / l : 0.0f;
                for (int64_t d = 0; d < D; d++) o[d] = acc[d] * inv;
            }
    return KC_OK;
}
