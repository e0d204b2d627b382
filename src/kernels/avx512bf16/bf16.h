/* avx512bf16/bf16.h — declarations of the AVX512-BF16 kernels. */
#ifndef KC_KERNELS_AVX512BF16_BF16_H
#define KC_KERNELS_AVX512BF16_BF16_H

#include "kernels/kernels.h"

void kc_gemm_bf16_avx512bf16(const kc_gemm_args *g, int64_t m0, int64_t m1, int64_t n0, int64_t n1, void *pack);
size_t kc_gemm_bf16_avx512bf16_pack_bytes(void);
size_t kc_gemm_bf16_avx512bf16_wpack_bytes(int64_t N, int64_t K);
void kc_gemm_bf16_avx512bf16_wpack(const kc_gemm_args *g, int64_t n0, int64_t n1, void *dst);
void kc_gemm_bf16_avx512bf16_convert_a(const float *x, int64_t n, uint16_t *dst);
void kc_attn_block_avx512bf16(const float *q, int64_t ldq, const float *k, int64_t ldk, const float *v, int64_t ldv,
                              int64_t nq, int64_t nk, int64_t D, float scale, const int64_t *j0, const int64_t *j1,
                              float *m, float *l, float *acc, float *s);

#endif
