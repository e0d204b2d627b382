/* rope.c — rotary position embedding, GPT-J-style interleaved pairs on the first `rot` dims of
 * each head (ChatGLM2/3 "original_rope", kolors-model.md §3.3; li-plus/chatglm.cpp does the same).
 *
 * The frequencies and angles are computed in fp32 exactly as the reference builds its cache:
 * θ_i = 1 / base^((2i)/rot) (float pow), angle = (float)p · θ_i, then cosf/sinf. The fp16
 * reference rounds that cache to fp16; the fp32 goldens do not, and neither do we. */
#include <math.h>

#include "ops/ops.h"

#define KC_ROPE_MAX_PAIRS 512

kc_status kc_op_rope_interleaved(const kc_exec *ex, float *x, int64_t M, int64_t row_stride, int64_t NH, int64_t D,
                                 int64_t rot, const int32_t *pos, float base, kc_err *err) {
    if (rot < 2 || rot % 2 || rot > D || rot / 2 > KC_ROPE_MAX_PAIRS)
        return kc_fail(err, KC_ERR_UNSUPPORTED, "rope: rotary dims %lld must be even, <= head dim %lld and <= %d",
                       (long long)rot, (long long)D, 2 * KC_ROPE_MAX_PAIRS);
    if (row_stride < NH * D)
        return kc_fail(err, KC_ERR_INTERNAL, "rope: row stride %lld < %lld heads x %lld", (long long)row_stride,
                       (long long)NH, (long long)D);
    const int64_t half = rot / 2;
    float theta[KC_ROPE_MAX_PAIRS];
    for (int64_t i = 0; i < half; i++) theta[i] = 1.0f / powf(base, (float)(2 * i) / (float)rot);
#pragma omp parallel for schedule(static) num_threads(ex->n_threads)
    for (int64_t m = 0; m < M; m++) {
        float c[KC_ROPE_MAX_PAIRS], s[KC_ROPE_MAX_PAIRS];
        const float p = (float)pos[m];
        for (int64_t i = 0; i < half; i++) {
            float a = p * theta[i];
            c[i] = cosf(a);
            s[i] = sinf(a);
        }
        float *r = x + m * row_stride;
        for (int64_t h = 0; h < NH; h++) {
            float *v = r + h * D;
            for (int64_t i = 0; i < half; i++) {
                float x0 = v[2 * i], x1 = v[2 * i + 1];
                v[2 * i] = x0 * c[i] - x1 * s[i];
                v[2 * i + 1] = x1 * c[i] + x0 * s[i];
            }
        }
    }
    return KC_OK;
}
