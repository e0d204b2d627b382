/* bench_internal.h — what the benchmarks share: random weights in memory for a config's expected
 * tensor list, random inputs, and the reduced configurations (fewer transformer layers, narrower
 * channels) that let a loaded machine time the full-size models in parts. Used by
 * kolors_bench (api_bench.c, behind `kolors bench`) and by the bench/bench_*.c executables, so
 * that both run one implementation.
 *
 * Random weights: matrices and convolutions U(±sqrt(3/fan_in)) (unit-variance activations),
 * embedding tables U(±1), norm scales 1 + U(±0.1), biases U(±0.05). Values are drawn from a
 * 4096-entry table per tensor: converting billions of values one by one takes minutes, the table
 * takes seconds and is as good for timing. */
#ifndef KC_API_BENCH_INTERNAL_H
#define KC_API_BENCH_INTERNAL_H

#include <stdint.h>

#include "core/dtype.h"
#include "core/status.h"
#include "diffusion/unet.h"
#include "diffusion/vae.h"
#include "io/arch.h"
#include "io/weights.h"
#include "text/chatglm3.h"

/* xorshift64 state of the benchmarks' random numbers (any non-zero seed). */
typedef struct {
    uint64_t s;
} kc_bench_rng;

static inline uint64_t kc_bench_next(kc_bench_rng *r) {
    r->s ^= r->s << 13;
    r->s ^= r->s >> 7;
    r->s ^= r->s << 17;
    return r->s;
}
/* Uniform in [-1, 1). */
static inline float kc_bench_urand(kc_bench_rng *r) {
    return (float)((kc_bench_next(r) >> 40) * (1.0 / 8388608.0)) - 1.0f;
}
/* x[i] = scale * U(-1, 1). */
void kc_bench_fill(kc_bench_rng *r, float *x, int64_t n, float scale);

/* A new store holding one random tensor of dtype dt (F16 or BF16) per entry of l, skipping
 * entries whose name ends with `skip` (NULL = none; the ChatGLM LM head is never used). With
 * `shared`, every tensor views one zero buffer (enough for planning; nothing is generated).
 * *bytes (may be NULL) receives the size of the generated weights. */
kc_status kc_bench_random_weights(const kc_expected_list *l, kc_dtype dt, int shared, const char *skip,
                                  kc_weights **out, double *bytes, kc_err *err);

/* Reduced U-Net: every transformer depth capped at `depth` (0 = keep) and every channel width
 * divided by `div` (1 = keep; heads follow with head dim 64 where possible). KC_ERR_ARG when the
 * division leaves widths that the group norm or the heads cannot split. */
kc_status kc_bench_unet_reduce(kc_unet_config *cfg, int64_t depth, int64_t div, kc_err *err);
/* BasicTransformerBlocks one forward runs (Kolors: 70). */
int64_t kc_bench_unet_transformer_blocks(const kc_unet_config *cfg);
/* Reduced VAE: channel widths divided by `div` (1 = keep). */
kc_status kc_bench_vae_reduce(kc_vae_config *cfg, int64_t div, kc_err *err);
/* ChatGLM3-6B-Base (kolors-model.md §1.6.1) with `layers` blocks and a `vocab`-row embedding
 * table (lookups cost nothing; the full 65024 rows would add 0.5 GB to a benchmark). */
void kc_bench_chatglm3_6b(kc_chatglm_config *c, int64_t layers, int64_t vocab);

/* Random-weight models of a config (expected tensors as dt); the model owns the weights. */
/* pack_ex: prepack the U-Net's GEMM weights for it (kc_unet_create); NULL = none. */
kc_status kc_bench_unet_random(const kc_unet_config *cfg, kc_dtype dt, int shared, const kc_exec *pack_ex, kc_unet **out,
                               double *bytes, kc_err *err);
kc_status kc_bench_vae_random(const kc_vae_config *cfg, kc_dtype dt, const kc_exec *pack_ex, kc_vae **out, double *bytes,
                              kc_err *err);
/* The ChatGLM borrows *ws (freed by the caller after kc_chatglm_free). */
kc_status kc_bench_chatglm_random(const kc_chatglm_config *cfg, kc_dtype dt, kc_chatglm *g, kc_weights **ws,
                                  double *bytes, kc_err *err);

#endif
