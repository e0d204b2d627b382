/* avx512/avx512.h — declarations of the AVX-512 kernels (also used by the avx512bf16 table). */
#ifndef KC_KERNELS_AVX512_AVX512_H
#define KC_KERNELS_AVX512_AVX512_H

#include "kernels/kernels.h"

void kc_dot_rows_f32w_avx512(const float *x, const void *w, kc_dtype wt, int64_t ldw, int64_t K, int64_t n, float *y);
void kc_gemm_f32_avx512(const kc_gemm_args *g, int64_t m0, int64_t m1, int64_t n0, int64_t n1, void *pack);
size_t kc_gemm_f32_avx512_pack_bytes(void);
void kc_silu_avx512(float *y, const float *x, int64_t n);
void kc_geglu_avx512(float *y, const float *v, const float *g, int64_t n);
void kc_swiglu_avx512(float *y, const float *g, const float *v, int64_t n);
void kc_moments_avx512(const float *x, int64_t n, float shift, double *sum, double *sumsq);
void kc_chan_moments_avx512(const float *x, int64_t rows, int64_t C, const float *shift, double *sum, double *sumsq);
void kc_norm_apply_avx512(float *y, const float *x, int64_t n, const float *mu, const float *rstd, int64_t inc,
                          const float *ga, const float *be, int silu);
void kc_attn_block_avx512(const float *q, int64_t ldq, const float *k, int64_t ldk, const float *v, int64_t ldv,
                          int64_t nq, int64_t nk, int64_t D, float scale, const int64_t *j0, const int64_t *j1, float *m,
                          float *l, float *acc, float *s);

#ifndef KC_GEMM512_NC /* tuning override */
#define KC_GEMM512_NC 1024 /* tile width of every AVX-512 GEMM (A rows are re-packed once per tile) */
#endif

#endif
