/* avx2/avx2.h — declarations of the AVX2+FMA kernels. */
#ifndef KC_KERNELS_AVX2_AVX2_H
#define KC_KERNELS_AVX2_AVX2_H

#include "kernels/kernels.h"

#define KC_GEMM_AVX2_NC 256

void kc_dot_rows_f32w_avx2(const float *x, const void *w, kc_dtype wt, int64_t ldw, int64_t K, int64_t n, float *y);
void kc_gemm_f32_avx2(const kc_gemm_args *g, int64_t m0, int64_t m1, int64_t n0, int64_t n1, void *pack);
size_t kc_gemm_f32_avx2_pack_bytes(void);

#endif
