/* random_weights.h — in-memory random fp16 weights for the model benchmarks (header-only:
 * every bench/bench_*.c is its own executable). Given the expected tensor list of a config, it
 * registers one fp16 tensor per entry in a new weights store: matrices and convs
 * U(±sqrt(3/fan_in)) (unit-variance activations), norm scales 1 + U(±0.1), biases U(±0.05).
 * Values are drawn from a 4096-entry table per tensor: converting billions of values one by one
 * takes minutes, the table takes seconds and is as good for timing. With `shared`, every tensor
 * views one zero buffer (enough for planning, nothing generated). */
#ifndef KC_BENCH_RANDOM_WEIGHTS_H
#define KC_BENCH_RANDOM_WEIGHTS_H

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/dtype.h"
#include "io/arch.h"
#include "io/weights.h"

static uint64_t kc_bench_rng = 0x9E3779B97F4A7C15ull;

static inline uint64_t kc_bench_next(void) {
    kc_bench_rng ^= kc_bench_rng << 13;
    kc_bench_rng ^= kc_bench_rng >> 7;
    kc_bench_rng ^= kc_bench_rng << 17;
    return kc_bench_rng;
}

/* Uniform in [-1, 1). */
static inline float kc_bench_urand(void) { return (float)((kc_bench_next() >> 40) * (1.0 / 8388608.0)) - 1.0f; }

/* *gb receives the fp16 size of the weights. Returns 0 on success. */
static int kc_bench_random_weights(const kc_expected_list *l, int shared, kc_weights **out, double *gb, kc_err *err) {
    int64_t total = 0, biggest = 0;
    for (int64_t i = 0; i < l->n; i++) {
        int64_t n = 1;
        for (int d = 0; d < l->v[i].ndim; d++) n *= l->v[i].shape[d];
        total += n;
        if (n > biggest) biggest = n;
    }
    *gb = (double)total * 2 / 1e9;
    uint16_t *buf = shared ? calloc((size_t)biggest, sizeof(uint16_t)) : malloc((size_t)total * sizeof(uint16_t));
    kc_weights *ws = NULL;
    if (!buf) { kc_fail(err, KC_ERR_NOMEM, "out of memory for %.2f GB of weights", *gb); return 1; }
    if (kc_weights_new(&ws, err)) { free(buf); return 1; }
    if (kc_weights_add_source(ws, buf, free, err)) { kc_weights_free(ws); return 1; }
    int64_t off = 0;
    for (int64_t i = 0; i < l->n; i++) {
        const kc_expected *e = &l->v[i];
        kc_tensor t = {.dtype = KC_DTYPE_F16, .ndim = e->ndim, .data = shared ? buf : buf + off};
        int64_t n = 1, fan = 1;
        for (int d = 0; d < e->ndim; d++) { t.shape[d] = e->shape[d]; n *= e->shape[d]; if (d) fan *= e->shape[d]; }
        const size_t nl = strlen(e->name);
        const int is_bias = nl > 5 && !strcmp(e->name + nl - 5, ".bias");
        const float sc = e->ndim >= 2 ? sqrtf(3.0f / (float)fan) : is_bias ? 0.05f : 0.1f;
        const float base = e->ndim == 1 && !is_bias ? 1.0f : 0.0f;
        uint16_t tab[4096];
        for (int k = 0; k < 4096; k++) tab[k] = kc_f32_to_f16(base + sc * kc_bench_urand());
        for (int64_t k = 0; k < n && !shared; k++) buf[off + k] = tab[kc_bench_next() >> 52];
        if (kc_weights_add_entry(ws, e->name, &t, "(random, in memory)", err)) { kc_weights_free(ws); return 1; }
        off += n;
    }
    *out = ws;
    return 0;
}

#endif
