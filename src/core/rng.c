/* rng.c — torch-compatible CPU generator: mt19937 + torch's normal_ sampling (see rng.h).
 *
 * Bit-exactness depends on doing every single-precision step exactly as the AVX2 kernel does:
 * each float operation rounds once, fused multiply-adds only where the reference has them
 * (explicit fmaf), so this file forbids the compiler from contracting anything else. The double path relies on the C library's log/sqrt/sin/cos, as torch does;
 * glibc's are correctly rounded in practice, and the result is rounded to float anyway. */
#include "core/rng.h"

#include <math.h>
#include <string.h>

#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

/* ---- mt19937 (the standard generator; torch seeds it with init_genrand(seed & 0xffffffff)) ---- */

void kc_rng_seed(kc_rng *r, uint64_t seed) {
    r->mt[0] = (uint32_t)(seed & 0xffffffffu);
    for (int j = 1; j < KC_MT_N; j++)
        r->mt[j] = 1812433253u * (r->mt[j - 1] ^ (r->mt[j - 1] >> 30)) + (uint32_t)j;
    r->idx = KC_MT_N;
    r->has_next_double = 0;
    r->next_double = 0.0;
}

static void mt_regenerate(kc_rng *r) {
    enum { M = 397 };
    const uint32_t upper = 0x80000000u, lower = 0x7fffffffu, matrix = 0x9908b0dfu;
    for (int k = 0; k < KC_MT_N; k++) {
        uint32_t y = (r->mt[k] & upper) | (r->mt[(k + 1) % KC_MT_N] & lower);
        r->mt[k] = r->mt[(k + M) % KC_MT_N] ^ (y >> 1) ^ ((y & 1u) ? matrix : 0u);
    }
    r->idx = 0;
}

uint32_t kc_rng_u32(kc_rng *r) {
    if (r->idx >= KC_MT_N) mt_regenerate(r);
    uint32_t y = r->mt[r->idx++];
    y ^= y >> 11;
    y ^= (y << 7) & 0x9d2c5680u;
    y ^= (y << 15) & 0xefc60000u;
    y ^= y >> 18;
    return y;
}

uint64_t kc_rng_u64(kc_rng *r) {
    uint64_t hi = kc_rng_u32(r);
    uint64_t lo = kc_rng_u32(r);
    return (hi << 32) | lo;
}

/* uniform_real_distribution<float>(0, 1): the low 24 bits (float's digits) times 2^-24. */
static float uniform_f32(kc_rng *r) { return (float)(kc_rng_u32(r) & 0xffffffu) * (1.0f / 16777216.0f); }
/* uniform_real_distribution<double>(0, 1): the low 53 bits of random64() times 2^-53. */
static double uniform_f64(kc_rng *r) {
    return (double)(kc_rng_u64(r) & ((UINT64_C(1) << 53) - 1)) * (1.0 / 9007199254740992.0);
}

/* ---- single-precision Cephes log and sincos, operation for operation as avx_mathfun.h ----
 * torch's AVX2 kernels are compiled with -mfma and GCC's default contraction, so every
 * "product then add" whose product has no other use became one fused multiply-add (the earlier
 * product in statement order when both operands of an add are products). Those are written as
 * explicit fmaf() below; without them about 1% of the outputs differ by one ulp. Measured: all
 * 21 golden tensors (seeds 0, 42, 12345, up to 65536 values) match bit for bit only this way. */

static uint32_t f2u(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}
static float u2f(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* log of x in (0, 1]; the callers never pass x <= 0 (1 - u with u < 1). */
static float cephes_logf(float x) {
    const float min_norm = u2f(0x00800000u);
    if (!(x > min_norm)) x = min_norm; /* _mm256_max_ps(x, min_norm) returns the second operand on NaN */
    int32_t e_bits = (int32_t)(f2u(x) >> 23);
    x = u2f((f2u(x) & ~0x7f800000u) | f2u(0.5f)); /* mantissa in [0.5, 1) */
    float e = (float)(e_bits - 0x7f);
    e = e + 1.0f;
    int below = x < 0.707106781186547524f;
    float tmp = below ? x : 0.0f;
    x = x - 1.0f;
    e = e - (below ? 1.0f : 0.0f);
    x = x + tmp;
    float z = x * x;
    float y = 7.0376836292E-2f;
    y = fmaf(y, x, -1.1514610310E-1f);
    y = fmaf(y, x, 1.1676998740E-1f);
    y = fmaf(y, x, -1.2420140846E-1f);
    y = fmaf(y, x, 1.4249322787E-1f);
    y = fmaf(y, x, -1.6668057665E-1f);
    y = fmaf(y, x, 2.0000714765E-1f);
    y = fmaf(y, x, -2.4999993993E-1f);
    y = fmaf(y, x, 3.3333331174E-1f);
    y = y * x;
    y = fmaf(y, z, e * -2.12194440e-4f); /* y*z fused; e*q1 stays a product */
    y = fmaf(-z, 0.5f, y);
    x = fmaf(e, 0.693359375f, x + y);
    return x;
}

static void cephes_sincosf(float xin, float *s, float *c) {
    uint32_t sign_sin = f2u(xin) & 0x80000000u;
    float x = u2f(f2u(xin) & 0x7fffffffu);
    float y = x * 1.27323954473516f; /* 4/pi */
    int32_t j = (int32_t)y;          /* cvttps: truncation */
    j = (j + 1) & ~1;
    y = (float)j;
    uint32_t swap_sin = ((uint32_t)j & 4u) << 29;
    int poly_sin = (j & 2) == 0; /* the cosine polynomial gives the sine when set */
    x = fmaf(y, -0.78515625f, x);
    x = fmaf(y, -2.4187564849853515625e-4f, x);
    x = fmaf(y, -3.77489497744594108e-8f, x);
    uint32_t sign_cos = (~(uint32_t)(j - 2) & 4u) << 29;
    sign_sin ^= swap_sin;

    float z = x * x;
    float yc = 2.443315711809948E-005f;
    yc = fmaf(yc, z, -1.388731625493765E-003f);
    yc = fmaf(yc, z, 4.166664568298827E-002f);
    yc = yc * z;
    yc = fmaf(yc, z, -(z * 0.5f)); /* the earlier product is the fused one */
    yc = yc + 1.0f;

    float ys = -1.9515295891E-4f;
    ys = fmaf(ys, z, 8.3321608736E-3f);
    ys = fmaf(ys, z, -1.6666654611E-1f);
    ys = ys * z;
    ys = fmaf(ys, x, x);

    /* the AVX code selects with and/andnot and then adds a +0; mirror it (matters only for zeros) */
    float sin_v, cos_v;
    if (poly_sin) {
        sin_v = 0.0f + ys;
        cos_v = yc + 0.0f;
    } else {
        sin_v = yc + 0.0f;
        cos_v = 0.0f + ys;
    }
    *s = u2f(f2u(sin_v) ^ sign_sin);
    *c = u2f(f2u(cos_v) ^ sign_cos);
}

/* normal_fill_16_AVX2 with mean 0, std 1 (the final fmadd n*1+0 is exact). */
static void normal_fill_16(float *d) {
    const float two_pi = (float)(2.0 * 3.14159265358979323846);
    for (int j = 0; j < 8; j++) {
        float u1 = 1.0f - d[j];
        float u2 = d[j + 8];
                float radius = sqrtf(-2.0f * cephes_logf(u1));
        float theta = two_pi * u2;
        float sn, cs;
        cephes_sincosf(theta, &sn, &cs);
        d[j] = radius * cs; /* then fmadd(n, std = 1, mean = 0): exact */
        d[j + 8] = radius * sn;
    }
}

/* at::normal_distribution<double>: Box-Muller with the sine half cached in the generator. */
static double normal_f64(kc_rng *r) {
    if (r->has_next_double) {
        r->has_next_double = 0;
        return r->next_double;
    }
    double u1 = uniform_f64(r);
    double u2 = uniform_f64(r);
    double rad = sqrt(-2.0 * log(1.0 - u2));
    double theta = 2.0 * 3.14159265358979323846 * u1;
    r->next_double = rad * sin(theta);
    r->has_next_double = 1;
    return rad * cos(theta);
}

void kc_rng_randn(kc_rng *r, float *out, int64_t n) {
    if (n <= 0) return;
    if (n < 16) {
        for (int64_t i = 0; i < n; i++) out[i] = (float)normal_f64(r);
        return;
    }
    for (int64_t i = 0; i < n; i++) out[i] = uniform_f32(r);
    for (int64_t i = 0; i + 16 <= n; i += 16) normal_fill_16(out + i);
    if (n % 16 != 0) {
        float *tail = out + n - 16;
        for (int i = 0; i < 16; i++) tail[i] = uniform_f32(r);
        normal_fill_16(tail);
    }
}
