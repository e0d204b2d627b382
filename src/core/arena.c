/* arena.c — see arena.h. */
#include "core/arena.h"

#include <stdint.h>
#include <stdlib.h>

kc_status kc_arena_init(kc_arena *a, const char *name, size_t cap, kc_err *err) {
    a->name = name;
    a->base = NULL;
    a->cap = 0;
    a->used = 0;
    a->high_water = 0;
    a->owns = 1;
    if (cap == 0) return KC_OK;
    size_t rounded = (cap + 63) & ~(size_t)63;
    if (rounded < cap) return kc_fail(err, KC_ERR_NOMEM, "arena '%s': size %zu overflows", name, cap);
    void *p = aligned_alloc(64, rounded);
    if (!p)
        return kc_fail(err, KC_ERR_NOMEM, "arena '%s': cannot allocate %zu bytes (%.1f MiB)", name, rounded,
                       rounded / 1048576.0);
    a->base = p;
    a->cap = rounded;
    return KC_OK;
}

void kc_arena_init_from(kc_arena *a, const char *name, void *mem, size_t cap) {
    a->name = name;
    a->base = mem;
    a->cap = cap;
    a->used = 0;
    a->high_water = 0;
    a->owns = 0;
}

void kc_arena_free(kc_arena *a) {
    if (a->owns) free(a->base);
    a->base = NULL;
    a->cap = a->used = 0;
}

void *kc_arena_alloc(kc_arena *a, size_t bytes, size_t align, kc_err *err) {
    if (align == 0) align = 1;
    uintptr_t cur = (uintptr_t)a->base + a->used;
    uintptr_t aligned = (cur + (align - 1)) & ~(uintptr_t)(align - 1);
    size_t pad = (size_t)(aligned - cur);
    size_t need = a->used + pad;
    if (need < a->used || need + bytes < need || need + bytes > a->cap) {
        kc_fail(err, KC_ERR_NOMEM, "arena '%s' exhausted: request of %zu bytes, %zu of %zu bytes free",
                a->name ? a->name : "?", bytes, a->cap - a->used, a->cap);
        return NULL;
    }
    a->used = need + bytes;
    if (a->used > a->high_water) a->high_water = a->used;
    return (void *)aligned;
}

float *kc_arena_floats(kc_arena *a, size_t n, kc_err *err) {
    if (n > SIZE_MAX / sizeof(float)) {
        kc_fail(err, KC_ERR_NOMEM, "arena '%s': %zu floats overflow", a->name ? a->name : "?", n);
        return NULL;
    }
    return (float *)kc_arena_alloc(a, n * sizeof(float), 64, err);
}
