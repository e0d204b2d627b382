/* arena.h — bump allocator with mark/rewind and a high-water mark.
 *
 * Activations live in arenas sized up front from the shapes of a run; nothing is allocated
 * inside hot loops. kc_arena_alloc never aborts: on exhaustion it returns NULL and records a
 * KC_ERR_NOMEM message naming the arena, the request and the space left. */
#ifndef KC_CORE_ARENA_H
#define KC_CORE_ARENA_H

#include <stddef.h>

#include "core/status.h"

typedef struct {
    const char *name;   /* for messages ("step", "run", ...) */
    unsigned char *base;
    size_t cap;         /* bytes */
    size_t used;        /* bytes in use */
    size_t high_water;  /* max of used over the arena's life */
    int owns;           /* base was allocated by kc_arena_init */
} kc_arena;

/* Allocates cap bytes (64-byte aligned) for the arena. */
kc_status kc_arena_init(kc_arena *a, const char *name, size_t cap, kc_err *err);
/* Wraps caller-owned memory (not freed by kc_arena_free). */
void kc_arena_init_from(kc_arena *a, const char *name, void *mem, size_t cap);
void kc_arena_free(kc_arena *a);

/* Returns `bytes` bytes aligned to `align` (a power of two, <= 4096), or NULL with err set. */
void *kc_arena_alloc(kc_arena *a, size_t bytes, size_t align, kc_err *err);
/* Convenience: n floats, 64-byte aligned. */
float *kc_arena_floats(kc_arena *a, size_t n, kc_err *err);

static inline size_t kc_arena_mark(const kc_arena *a) { return a->used; }
static inline void kc_arena_rewind(kc_arena *a, size_t mark) { if (mark <= a->used) a->used = mark; }
static inline void kc_arena_reset(kc_arena *a) { a->used = 0; }

#endif
