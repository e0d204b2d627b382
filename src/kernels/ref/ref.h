/* ref/ref.h — declarations of the scalar reference kernels (the truth SIMD tables are tested
 * against). */
#ifndef KC_KERNELS_REF_REF_H
#define KC_KERNELS_REF_REF_H

#include <stdint.h>

#include "core/dtype.h"
#include "kernels/kernels.h"

void kc_dot_rows_f32w_ref(const float *x, const void *w, kc_dtype wt, int64_t ldw, int64_t K, int64_t n, float *y);
void kc_gemm_f32_ref(const kc_gemm_args *g, int64_t m0, int64_t m1, int64_t n0, int64_t n1, void *pack);
void kc_gemm_bf16_ref(const kc_gemm_args *g, int64_t m0, int64_t m1, int64_t n0, int64_t n1, void *pack);
void kc_silu_ref(float *y, const float *x, int64_t n);
void kc_geglu_ref(float *y, const float *v, const float *g, int64_t n);
void kc_swiglu_ref(float *y, const float *g, const float *v, int64_t n);
void kc_moments_ref(const float *x, int64_t n, float shift, double *sum, double *sumsq);
void kc_chan_moments_ref(const float *x, int64_t rows, int64_t C, const float *shift, double *sum, double *sumsq);
void kc_norm_apply_ref(float *y, const float *x, int64_t n, const float *mu, const float *rstd, int64_t inc,
                       const float *ga, const float *be, int silu);
void kc_attn_block_ref(const float *q, int64_t ldq, const float *k, int64_t ldk, const float *v, int64_t ldv, int64_t nq,
                       int64_t nk, int64_t D, float scale, const int64_t *j0, const int64_t *j1, float *m, float *l,
                       float *acc, float *s);

#endif
