/* dtype.h — element types of stored tensors and scalar fp16/bf16 <-> fp32 conversion. */
#ifndef KC_CORE_DTYPE_H
#define KC_CORE_DTYPE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef enum {
    KC_DTYPE_INVALID = 0,
    KC_DTYPE_F32,
    KC_DTYPE_F16,
    KC_DTYPE_BF16,
    KC_DTYPE_F64,
    KC_DTYPE_I64,
    KC_DTYPE_I32,
    KC_DTYPE_I16,
    KC_DTYPE_I8,
    KC_DTYPE_U8,
    KC_DTYPE_BOOL,
    KC_DTYPE_COUNT
} kc_dtype;

size_t kc_dtype_size(kc_dtype t);          /* 0 for INVALID */
const char *kc_dtype_name(kc_dtype t);     /* safetensors spelling: "F32", "F16", "BF16", ... */
kc_dtype kc_dtype_from_name(const char *s); /* KC_DTYPE_INVALID if unknown */
static inline int kc_dtype_is_float(kc_dtype t) {
    return t == KC_DTYPE_F32 || t == KC_DTYPE_F16 || t == KC_DTYPE_BF16;
}

/* IEEE binary16 -> binary32, exact (handles subnormals, inf, nan). */
static inline float kc_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f;
    uint32_t man = h & 0x3ff;
    uint32_t bits;
    if (exp == 0) {
        if (man == 0) {
            bits = sign;
        } else { /* subnormal: normalise */
            int e = -1;
            do { e++; man <<= 1; } while (!(man & 0x400));
            bits = sign | ((uint32_t)(127 - 15 - e) << 23) | ((man & 0x3ff) << 13);
        }
    } else if (exp == 0x1f) {
        bits = sign | 0x7f800000u | (man << 13);
    } else {
        bits = sign | ((exp + 127 - 15) << 23) | (man << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

/* binary32 -> binary16, round to nearest even; overflow -> inf; nan stays nan. */
static inline uint16_t kc_f32_to_f16(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000;
    uint32_t absx = x & 0x7fffffffu;
    if (absx >= 0x7f800000u) return (uint16_t)(sign | 0x7c00 | (absx > 0x7f800000u ? 0x200 : 0));
    if (absx >= 0x477ff000u) return (uint16_t)(sign | 0x7c00); /* rounds to >= 65520 -> inf */
    if (absx < 0x38800000u) { /* result is subnormal or zero */
        if (absx < 0x33000000u) return (uint16_t)sign;
        uint32_t e = absx >> 23;
        uint32_t m = (absx & 0x7fffff) | 0x800000;
        uint32_t shift = 126 - e; /* 14..24 */
        uint32_t r = m >> shift;
        uint32_t rem = m & ((1u << shift) - 1), half = 1u << (shift - 1);
        if (rem > half || (rem == half && (r & 1))) r++;
        return (uint16_t)(sign | r);
    }
    uint32_t r = ((absx >> 13) - ((127 - 15) << 10));
    uint32_t rem = absx & 0x1fff;
    if (rem > 0x1000 || (rem == 0x1000 && (r & 1))) r++;
    return (uint16_t)(sign | r);
}

static inline float kc_bf16_to_f32(uint16_t b) {
    uint32_t bits = (uint32_t)b << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

/* binary32 -> bfloat16, round to nearest even; nan stays nan. */
static inline uint16_t kc_f32_to_bf16(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    if ((x & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((x >> 16) | 0x40);
    x += 0x7fff + ((x >> 16) & 1);
    return (uint16_t)(x >> 16);
}

/* Converts n elements of a float dtype (F32/F16/BF16) to f32. Returns 0 on success. */
int kc_convert_to_f32(float *dst, const void *src, kc_dtype t, size_t n);
/* Converts n f32 values to F32/F16/BF16. Returns 0 on success. */
int kc_convert_from_f32(void *dst, kc_dtype t, const float *src, size_t n);

#endif
