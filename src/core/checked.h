/* checked.h — overflow-checked size arithmetic for every size derived from outside data. */
#ifndef KC_CORE_CHECKED_H
#define KC_CORE_CHECKED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Each returns false (and leaves *out unspecified) on overflow or negative operands. */
static inline bool kc_size_mul(size_t a, size_t b, size_t *out) { return !__builtin_mul_overflow(a, b, out); }
static inline bool kc_size_add(size_t a, size_t b, size_t *out) { return !__builtin_add_overflow(a, b, out); }
static inline bool kc_i64_mul(int64_t a, int64_t b, int64_t *out) {
    return a >= 0 && b >= 0 && !__builtin_mul_overflow(a, b, out);
}
static inline bool kc_i64_add(int64_t a, int64_t b, int64_t *out) {
    return a >= 0 && b >= 0 && !__builtin_add_overflow(a, b, out);
}
/* Product of n non-negative dims; false on overflow or a negative dim. */
static inline bool kc_dims_product(const int64_t *dims, int n, int64_t *out) {
    int64_t p = 1;
    for (int i = 0; i < n; i++)
        if (!kc_i64_mul(p, dims[i], &p)) return false;
    *out = p;
    return true;
}

#endif
