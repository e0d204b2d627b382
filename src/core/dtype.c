/* dtype.c — see dtype.h. */
#include "core/dtype.h"

static const struct { const char *name; size_t size; } k_dtypes[KC_DTYPE_COUNT] = {
    [KC_DTYPE_INVALID] = {"INVALID", 0}, [KC_DTYPE_F32] = {"F32", 4}, [KC_DTYPE_F16] = {"F16", 2},
    [KC_DTYPE_BF16] = {"BF16", 2},       [KC_DTYPE_F64] = {"F64", 8}, [KC_DTYPE_I64] = {"I64", 8},
    [KC_DTYPE_I32] = {"I32", 4},         [KC_DTYPE_I16] = {"I16", 2}, [KC_DTYPE_I8] = {"I8", 1},
    [KC_DTYPE_U8] = {"U8", 1},           [KC_DTYPE_BOOL] = {"BOOL", 1},
};

size_t kc_dtype_size(kc_dtype t) { return (t > 0 && t < KC_DTYPE_COUNT) ? k_dtypes[t].size : 0; }
const char *kc_dtype_name(kc_dtype t) { return (t >= 0 && t < KC_DTYPE_COUNT) ? k_dtypes[t].name : "INVALID"; }

kc_dtype kc_dtype_from_name(const char *s) {
    if (!s) return KC_DTYPE_INVALID;
    for (int t = 1; t < KC_DTYPE_COUNT; t++)
        if (strcmp(s, k_dtypes[t].name) == 0) return (kc_dtype)t;
    return KC_DTYPE_INVALID;
}

int kc_convert_to_f32(float *dst, const void *src, kc_dtype t, size_t n) {
    const unsigned char *p = src;
    switch (t) {
    case KC_DTYPE_F32: memmove(dst, src, n * 4); return 0;
    case KC_DTYPE_F16:
        for (size_t i = 0; i < n; i++) { uint16_t h; memcpy(&h, p + 2 * i, 2); dst[i] = kc_f16_to_f32(h); }
        return 0;
    case KC_DTYPE_BF16:
        for (size_t i = 0; i < n; i++) { uint16_t h; memcpy(&h, p + 2 * i, 2); dst[i] = kc_bf16_to_f32(h); }
        return 0;
    default: return -1;
    }
}

int kc_convert_from_f32(void *dst, kc_dtype t, const float *src, size_t n) {
    unsigned char *p = dst;
    switch (t) {
    case KC_DTYPE_F32: memmove(dst, src, n * 4); return 0;
    case KC_DTYPE_F16:
        for (size_t i = 0; i < n; i++) { uint16_t h = kc_f32_to_f16(src[i]); memcpy(p + 2 * i, &h, 2); }
        return 0;
    case KC_DTYPE_BF16:
        for (size_t i = 0; i < n; i++) { uint16_t h = kc_f32_to_bf16(src[i]); memcpy(p + 2 * i, &h, 2); }
        return 0;
    default: return -1;
    }
}
