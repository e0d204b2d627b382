/* kernels.h — the ISA dispatch table. Kernels work on raw pointers over a range and never
 * allocate; ops/ validates, picks the table and splits work across threads.
 * Every entry has a scalar reference in ref/ that tests compare the other tables against. */
#ifndef KC_KERNELS_KERNELS_H
#define KC_KERNELS_KERNELS_H

#include <stdint.h>

#include "core/cpu.h"
#include "core/status.h"
#include "core/tensor.h"

typedef struct kc_kernels {
    const char *name; /* "ref", "avx2", "avx512", "avx512bf16" */
    /* Dot products of one fp32 row with n rows of a weight matrix in its stored dtype:
     * y[j] = sum_k x[k] * w[j*ldw + k], j in [0, n). */
    void (*dot_rows_f32w)(const float *x, const void *w, kc_dtype wt, int64_t ldw, int64_t K, int64_t n, float *y);
} kc_kernels;

const kc_kernels *kc_kernels_ref(void);
/* Best table for this CPU, or the one forced by the KOLORS_ISA environment variable
 * (ref|avx2|avx512|avx512bf16). Never NULL: unknown or unavailable names fall back to ref. */
const kc_kernels *kc_kernels_default(void);
/* Table by name; KC_ERR_UNSUPPORTED if the CPU lacks the ISA or the name is unknown. */
kc_status kc_kernels_select(const char *name, const kc_kernels **out, kc_err *err);

#endif
