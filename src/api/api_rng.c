/* api_rng.c — kolors_randn: torch.randn(n) with a fresh torch.Generator().manual_seed(seed),
 * bit-exact (core/rng.c). The shape does not matter to torch's CPU sampler, only the count. */
#include "api/model_internal.h"
#include "core/rng.h"

int kolors_randn(uint64_t seed, int64_t n, float *out, kolors_error *e) {
    kc_err err = {0};
    if (n < 0) kc_fail(&err, KC_ERR_ARG, "kolors_randn: element count must be >= 0, got %lld", (long long)n);
    else if (n > 0 && !out) kc_fail(&err, KC_ERR_ARG, "kolors_randn: output buffer is NULL for %lld values", (long long)n);
    if (err.code) return kc_api_err(e, &err);
    kc_rng r;
    kc_rng_seed(&r, seed);
    kc_rng_randn(&r, out, n);
    return kc_api_err(e, &err);
}
