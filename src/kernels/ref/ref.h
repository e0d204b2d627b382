/* ref/ref.h — declarations of the scalar reference kernels. */
#ifndef KC_KERNELS_REF_REF_H
#define KC_KERNELS_REF_REF_H

#include <stdint.h>

#include "core/dtype.h"

void kc_dot_rows_f32w_ref(const float *x, const void *w, kc_dtype wt, int64_t ldw, int64_t K, int64_t n, float *y);

#endif
