/* ref/dot.c — scalar reference dot products of one fp32 row with rows of a stored weight
 * matrix (weights may sit at any alignment: read through memcpy). */
#include "kernels/gemm_common.h"
#include "kernels/ref/ref.h"

#define KB 256 /* weights converted at a time */

void kc_dot_rows_f32w_ref(const float *x, const void *w, kc_dtype wt, int64_t ldw, int64_t K, int64_t n, float *y) {
    const size_t es = kc_dtype_size(wt);
    float buf[KB];
    for (int64_t j = 0; j < n; j++) {
        float acc = 0.0f;
        const unsigned char *r = (const unsigned char *)w + (size_t)j * (size_t)ldw * es;
        for (int64_t k0 = 0; k0 < K; k0 += KB) {
            int64_t kc = K - k0 < KB ? K - k0 : KB;
            kc_gemm_w_to_f32_scalar(r + (size_t)k0 * es, wt, kc, buf);
            for (int64_t k = 0; k < kc; k++) acc += x[k0 + k] * buf[k];
        }
        y[j] = acc;
    }
}
