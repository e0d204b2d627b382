/* ref/dot.c — scalar reference kernels: the truth the SIMD tables are tested against. */
#include "kernels/ref/ref.h"

#include "core/dtype.h"

void kc_dot_rows_f32w_ref(const float *x, const void *w, kc_dtype wt, int64_t ldw, int64_t K, int64_t n, float *y) {
    for (int64_t j = 0; j < n; j++) {
        float acc = 0.0f;
        if (wt == KC_DTYPE_F32) {
            const float *r = (const float *)w + j * ldw;
            for (int64_t k = 0; k < K; k++) acc += x[k] * r[k];
        } else if (wt == KC_DTYPE_F16) {
            const uint16_t *r = (const uint16_t *)w + j * ldw;
            for (int64_t k = 0; k < K; k++) acc += x[k] * kc_f16_to_f32(r[k]);
        } else {
            const uint16_t *r = (const uint16_t *)w + j * ldw;
            for (int64_t k = 0; k < K; k++) acc += x[k] * kc_bf16_to_f32(r[k]);
        }
        y[j] = acc;
    }
}
