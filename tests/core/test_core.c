/* test_core.c — fp16/bf16 conversion, arena, checked math, status messages, CPU features. */
#include <math.h>
#include <string.h>

#include "core/arena.h"
#include "core/checked.h"
#include "core/cpu.h"
#include "core/dtype.h"
#include "core/status.h"
#include "harness.h"

static void test_f16(void) {
    /* Every fp16 bit pattern converts to f32 and back exactly (nan stays nan). */
    int bad = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        float f = kc_f16_to_f32((uint16_t)h);
        uint16_t back = kc_f32_to_f16(f);
        if (isnan(f) ? !((back & 0x7c00) == 0x7c00 && (back & 0x3ff)) : back != h) bad++;
    }
    KC_CHECK(bad == 0, "%d fp16 values do not round-trip", bad);
    KC_CHECK(kc_f16_to_f32(0x3c00) == 1.0f && kc_f16_to_f32(0xc000) == -2.0f, "fp16 1.0/-2.0");
    KC_CHECK(kc_f16_to_f32(0x0001) == ldexpf(1.0f, -24), "smallest subnormal");
    KC_CHECK(kc_f32_to_f16(65520.0f) == 0x7c00, "65520 rounds to inf");
    KC_CHECK(kc_f32_to_f16(65504.0f) == 0x7bff, "max half");
    KC_CHECK(kc_f32_to_f16(1.0f + ldexpf(1.0f, -11)) == 0x3c00, "tie rounds to even (down)");
    KC_CHECK(kc_f32_to_f16(1.0f + 3 * ldexpf(1.0f, -11)) == 0x3c02, "tie rounds to even (up)");
    KC_CHECK(kc_f32_to_f16(ldexpf(1.0f, -25)) == 0x0000, "half of smallest subnormal rounds to 0");
    KC_CHECK(kc_f32_to_f16(ldexpf(1.5f, -25)) == 0x0001, "rounds up to smallest subnormal");
}

static void test_bf16(void) {
    int bad = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        float f = kc_bf16_to_f32((uint16_t)h);
        if (!isnan(f) && kc_f32_to_bf16(f) != h) bad++;
    }
    KC_CHECK(bad == 0, "%d bf16 values do not round-trip", bad);
    KC_CHECK(kc_f32_to_bf16(1.0f + ldexpf(1.0f, -8)) == 0x3f80, "bf16 tie to even");
    KC_CHECK(kc_f32_to_bf16(1.0f + 3 * ldexpf(1.0f, -8)) == 0x3f82, "bf16 tie to even up");
    KC_CHECK(isnan(kc_bf16_to_f32(kc_f32_to_bf16(NAN))), "bf16 nan");
}

static void test_arena(void) {
    kc_arena a;
    kc_err err = {0};
    KC_CHECK(kc_arena_init(&a, "test", 1000, &err) == KC_OK, "arena init");
    void *p = kc_arena_alloc(&a, 100, 64, &err);
    KC_CHECK(p && ((uintptr_t)p & 63) == 0, "aligned allocation");
    size_t mark = kc_arena_mark(&a);
    KC_CHECK(kc_arena_alloc(&a, 500, 64, &err) != NULL, "second allocation");
    KC_CHECK(a.high_water >= 600, "high water %zu", a.high_water);
    kc_arena_rewind(&a, mark);
    KC_CHECK(kc_arena_alloc(&a, 5000, 64, &err) == NULL, "exhaustion returns NULL");
    KC_CHECK(err.code == KC_ERR_NOMEM && strstr(err.msg, "arena 'test' exhausted"), "message: %s", err.msg);
    KC_CHECK(kc_arena_alloc(&a, SIZE_MAX - 8, 64, NULL) == NULL, "huge request");
    kc_arena_free(&a);
}

static void test_checked(void) {
    size_t s;
    int64_t v;
    KC_CHECK(!kc_size_mul(SIZE_MAX / 2, 3, &s), "size_mul overflow");
    KC_CHECK(kc_size_mul(1000, 1000, &s) && s == 1000000, "size_mul");
    KC_CHECK(!kc_i64_mul(-1, 5, &v), "negative operand refused");
    int64_t dims[3] = {1 << 30, 1 << 30, 1 << 30};
    KC_CHECK(!kc_dims_product(dims, 3, &v), "dims overflow");
}

static void test_status(void) {
    kc_err e = {0};
    kc_fail(&e, KC_ERR_FORMAT, "first %d", 1);
    kc_fail(&e, KC_ERR_IO, "second");
    KC_CHECK(e.code == KC_ERR_FORMAT && strcmp(e.msg, "first 1") == 0, "first error wins: %s", e.msg);
    kc_err_prepend(&e, "loading %s", "unet");
    KC_CHECK(strcmp(e.msg, "loading unet: first 1") == 0, "prepend: %s", e.msg);
    char buf[256];
    printf("cpu: %s\n", kc_cpu_describe(buf, sizeof buf));
    KC_CHECK(strlen(buf) > 0, "cpu description");
}

int main(void) {
    test_f16();
    test_bf16();
    test_arena();
    test_checked();
    test_status();
    return kc_test_finish();
}
