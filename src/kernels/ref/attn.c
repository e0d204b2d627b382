/* ref/attn.c — reference attention block: scores, online-softmax update and P·V, one query
 * row at a time (see kernels.h for the state it carries between key blocks).
 * Dimension letters: nq queries, nk keys, D head dim. */
#include <math.h>

#include "kernels/ref/ref.h"

void kc_attn_block_ref(const float *q, int64_t ldq, const float *k, int64_t ldk, const float *v, int64_t ldv, int64_t nq,
                       int64_t nk, int64_t D, float scale, const int64_t *j0, const int64_t *j1, float *m, float *l,
                       float *acc, float *s) {
    for (int64_t i = 0; i < nq; i++) {
        int64_t a = j0[i] < 0 ? 0 : j0[i], b = j1[i] > nk ? nk : j1[i];
        if (a >= b) continue;
        const float *qi = q + i * ldq;
        float mx = m[i];
        for (int64_t j = a; j < b; j++) {
            float t = 0.0f;
            for (int64_t d = 0; d < D; d++) t += qi[d] * k[j * ldk + d];
            s[j] = t * scale;
            if (s[j] > mx) mx = s[j];
        }
        float c = expf(m[i] - mx), sum = 0.0f, *ai = acc + i * D;
        for (int64_t d = 0; d < D; d++) ai[d] *= c;
        for (int64_t j = a; j < b; j++) {
            float p = expf(s[j] - mx);
            sum += p;
            for (int64_t d = 0; d < D; d++) ai[d] += p * v[j * ldv + d];
        }
        l[i] = l[i] * c + sum;
        m[i] = mx;
    }
}
