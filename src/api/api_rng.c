/* api_rng.c — PENDING (issue #5): torch-compatible RNG entry point. */
#include "api/model_internal.h"

int kolors_randn(uint64_t seed, int64_t n, float *out, kolors_error *e) {
    (void)seed; (void)n; (void)out;
    kc_err err = {0};
    kc_fail(&err, KC_ERR_UNSUPPORTED, "randn is not implemented yet");
    return kc_api_err(e, &err);
}
