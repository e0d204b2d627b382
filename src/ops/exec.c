/* exec.c — run configuration shared by all ops, and small tensor helpers. */
#include <string.h>
#include "core/threads.h"
#include "kernels/kernels.h"
#include "ops/ops.h"

void kc_exec_init(kc_exec *ex, int n_threads, kc_precision precision) {
    ex->n_threads = kc_threads_resolve(n_threads);
    ex->precision = precision;
    ex->k = kc_kernels_default();
}

const kc_exec *kc_exec_fp32(const kc_exec *ex, kc_exec *tmp) {
    if (ex->precision == KC_PREC_FP32) return ex;
    *tmp = *ex;
    tmp->precision = KC_PREC_FP32;
    return tmp;
}

float kc_tensor_get_f32(const kc_tensor *t, int64_t i) {
    const unsigned char *p = t->data;
    switch (t->dtype) {
    case KC_DTYPE_F32: { float f; memcpy(&f, p + 4 * i, 4); return f; }
    case KC_DTYPE_F16: { uint16_t h; memcpy(&h, p + 2 * i, 2); return kc_f16_to_f32(h); }
    case KC_DTYPE_BF16: { uint16_t h; memcpy(&h, p + 2 * i, 2); return kc_bf16_to_f32(h); }
    default: return 0.0f;
    }
}

void kc_tensor_to_f32(const kc_tensor *t, float *dst) {
    kc_convert_to_f32(dst, t->data, t->dtype, (size_t)kc_tensor_numel(t));
}
