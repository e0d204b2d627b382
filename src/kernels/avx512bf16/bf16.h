/* avx512bf16/bf16.h — declarations of the AVX512-BF16 kernels. */
#ifndef KC_KERNELS_AVX512BF16_BF16_H
#define KC_KERNELS_AVX512BF16_BF16_H

#include "kernels/kernels.h"

void kc_gemm_bf16_avx512bf16(const kc_gemm_args *g, int64_t m0, int64_t m1, int64_t n0, int64_t n1, void *pack);
size_t kc_gemm_bf16_avx512bf16_pack_bytes(void);

#endif
