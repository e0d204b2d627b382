/* tensor.h — kc_tensor: a typed, shaped view of memory (weights point into a read-only map).
 *
 * Layout decision (project-wide): tensors are dense row-major. Inside the U-Net and the VAE,
 * activations are channels-last, [N, H, W, C] (token index = y*W + x), so attention sees
 * [N, H*W, C] without a copy, 1x1 convs are plain GEMMs and GroupNorm groups are contiguous
 * channel runs. The golden data and the CLI tensor files are NCHW (as PyTorch); conversion
 * happens at that boundary only (kc_nchw_to_nhwc / kc_nhwc_to_nchw in ops/). */
#ifndef KC_CORE_TENSOR_H
#define KC_CORE_TENSOR_H

#include <stdint.h>

#include "core/dtype.h"

#define KC_MAX_DIMS 8

typedef enum { KC_DEVICE_CPU = 0 } kc_device;

typedef struct {
    kc_dtype dtype;
    int ndim;
    int64_t shape[KC_MAX_DIMS];
    const void *data;  /* row-major, possibly unaligned (safetensors offsets are arbitrary) */
    kc_device device;
    /* Optional copy of the same weight prepared once for one kernel table's GEMM (converted and
     * laid out as its micro-kernel reads it; see kc_op_prepack in ops/ops.h), and the table it
     * was made for. NULL: the kernels pack from `data` on every call. */
    const void *pack;
    const void *pack_for;
} kc_tensor;

static inline int64_t kc_tensor_numel(const kc_tensor *t) {
    int64_t n = 1;
    for (int i = 0; i < t->ndim; i++) n *= t->shape[i];
    return n;
}
static inline int64_t kc_tensor_nbytes(const kc_tensor *t) {
    return kc_tensor_numel(t) * (int64_t)kc_dtype_size(t->dtype);
}
/* Index of the first NaN or infinity in x[0..n), or -1 when all are finite. */
int64_t kc_first_nonfinite(const float *x, int64_t n);
/* Formats a shape as "[a, b, c]" into buf; returns buf. */
char *kc_shape_str(char *buf, size_t cap, const int64_t *shape, int ndim);

#endif
