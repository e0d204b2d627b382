/* ref/gemm.c — reference GEMM: one dot product per output element, summed in k order.
 * Dimension letters: M rows, N output features, K reduction. */
#include "kernels/gemm_common.h"
#include "kernels/ref/ref.h"

#define KC_REF_KB 256 /* k values fetched at a time (stack buffers) */

static void gemm_ref(const kc_gemm_args *g, int64_t m0, int64_t m1, int64_t n0, int64_t n1, int bf16) {
    float a[KC_REF_KB], w[KC_REF_KB];
    for (int64_t m = m0; m < m1; m++)
        for (int64_t n = n0; n < n1; n++) {
            float acc = 0.0f;
            for (int64_t k0 = 0; k0 < g->K; k0 += KC_REF_KB) {
                int64_t kc = g->K - k0 < KC_REF_KB ? g->K - k0 : KC_REF_KB;
                kc_gemm_a_row(g, m, k0, kc, a);
                const void *wp = kc_gemm_w_at(g, n, k0);
                if (bf16) {
                    for (int64_t k = 0; k < kc; k++) {
                        a[k] = kc_bf16_to_f32(kc_f32_to_bf16(a[k]));
                        w[k] = kc_bf16_to_f32(kc_gemm_w_bf16(wp, g->wt, k));
                    }
                } else {
                    kc_gemm_w_to_f32_scalar(wp, g->wt, kc, w);
                }
                for (int64_t k = 0; k < kc; k++) acc += a[k] * w[k];
            }
            float *y = g->y + m * g->ldy + n;
            *y = g->accumulate ? *y + acc : acc;
            if (g->bias) *y += g->bias[n];
        }
}

void kc_gemm_f32_ref(const kc_gemm_args *g, int64_t m0, int64_t m1, int64_t n0, int64_t n1, void *pack) {
    (void)pack;
    gemm_ref(g, m0, m1, n0, n1, 0);
}

void kc_gemm_bf16_ref(const kc_gemm_args *g, int64_t m0, int64_t m1, int64_t n0, int64_t n1, void *pack) {
    (void)pack;
    gemm_ref(g, m0, m1, n0, n1, 1);
}
