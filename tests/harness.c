/* harness.c — see harness.h. */
#include "harness.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int kc_test_passed, kc_test_failed;

static const char *shared_root(void) {
    static char buf[4096];
    const char *s = getenv("KOLORS_SHARED");
    if (s && *s) return s;
    const char *td = getenv("KOLORS_TESTDATA");
    if (td && *td) {
        snprintf(buf, sizeof buf, "%s/..", td);
        return buf;
    }
    s = getenv("KOLORS_SHARED_DEFAULT");
    return s && *s ? s : "../shared";
}

const char *kc_test_data(const char *rel) {
    static char buf[8][4096];
    static int k;
    char *b = buf[k++ & 7];
    const char *td = getenv("KOLORS_TESTDATA");
    if (td && *td) snprintf(b, 4096, "%s/%s", td, rel);
    else snprintf(b, 4096, "%s/testdata/%s", shared_root(), rel);
    return b;
}

const char *kc_test_shared(const char *rel) {
    static char buf[8][4096];
    static int k;
    char *b = buf[k++ & 7];
    snprintf(b, 4096, "%s/%s", shared_root(), rel);
    return b;
}

void kc_test_skip(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    printf("SKIP: ");
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
    fflush(stdout);
    exit(77);
}

void kc_test_require_file(const char *path) {
    struct stat st;
    if (stat(path, &st) != 0) kc_test_skip("%s not found (set KOLORS_TESTDATA or KOLORS_SHARED)", path);
}

const char *kc_test_tmpdir(void) {
    static char buf[512];
    if (!buf[0]) {
        snprintf(buf, sizeof buf, "/tmp/kolors-test-%d", (int)getpid());
        mkdir(buf, 0700);
    }
    return buf;
}

kc_cmp kc_compare(const float *out, const float *ref, int64_t n) {
    kc_cmp c = {0, 0, -1, 0};
    double num = 0, den = 0;
    for (int64_t i = 0; i < n; i++) {
        if (!isfinite(out[i])) { c.nonfinite++; continue; }
        double d = (double)out[i] - (double)ref[i];
        num += d * d;
        den += (double)ref[i] * ref[i];
        if (fabs(d) > c.max_abs) { c.max_abs = fabs(d); c.worst = i; }
    }
    c.rel_l2 = den > 0 ? sqrt(num / den) : sqrt(num);
    return c;
}

int check_close(const char *name, const float *out, const float *ref, int64_t n, double rtol) {
    kc_cmp c = kc_compare(out, ref, n);
    int ok = c.nonfinite == 0 && c.rel_l2 <= rtol && n > 0;
    printf("%s %-40s rel_l2 %.3e (tol %.1e)  max_abs %.3e at %lld  n=%lld%s\n", ok ? "ok  " : "FAIL", name, c.rel_l2,
           rtol, c.max_abs, (long long)c.worst, (long long)n, c.nonfinite ? "  NON-FINITE VALUES" : "");
    if (!ok)
        for (int64_t i = 0; i < n && i < 4; i++) printf("      [%lld] out %.7g ref %.7g\n", (long long)i, out[i], ref[i]);
    if (ok) kc_test_passed++;
    else kc_test_failed++;
    return ok;
}

int check_equal_i32(const char *name, const int32_t *out, const int32_t *ref, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        if (out[i] != ref[i]) {
            printf("FAIL %s: first mismatch at %lld: got %d, expected %d\n", name, (long long)i, out[i], ref[i]);
            kc_test_failed++;
            return 0;
        }
    kc_test_passed++;
    return 1;
}

float *kc_golden_f32(const kc_safetensors *st, const char *name, int64_t *numel, int64_t *shape, int *ndim) {
    const kc_st_entry *e = kc_st_find(st, name);
    if (!e) {
        printf("FAIL: golden tensor '%s' not found in %s\n", name, st->map.path);
        exit(1);
    }
    int64_t n = kc_tensor_numel(&e->t);
    float *f = malloc((size_t)(n ? n : 1) * sizeof(float));
    if (!f) exit(1);
    const unsigned char *p = e->t.data;
    for (int64_t i = 0; i < n; i++) {
        switch (e->t.dtype) {
        case KC_DTYPE_I64: { int64_t v; memcpy(&v, p + 8 * i, 8); f[i] = (float)v; break; }
        case KC_DTYPE_I32: { int32_t v; memcpy(&v, p + 4 * i, 4); f[i] = (float)v; break; }
        case KC_DTYPE_U8: f[i] = p[i]; break;
        case KC_DTYPE_F64: { double v; memcpy(&v, p + 8 * i, 8); f[i] = (float)v; break; }
        default: kc_convert_to_f32(f + i, p + i * kc_dtype_size(e->t.dtype), e->t.dtype, 1);
        }
    }
    if (numel) *numel = n;
    if (shape) memcpy(shape, e->t.shape, sizeof(int64_t) * (size_t)e->t.ndim);
    if (ndim) *ndim = e->t.ndim;
    return f;
}

void kc_fill_random(float *x, int64_t n, uint64_t seed, float scale) {
    uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
    for (int64_t i = 0; i < n; i++) {
        s ^= s << 13; s ^= s >> 7; s ^= s << 17;
        float u = (float)((s >> 11) * (1.0 / 9007199254740992.0)); /* [0,1) */
        float v = (2.0f * u - 1.0f) * scale;
        x[i] = v == 0.0f ? scale * 0.5f : v;
    }
}

int kc_test_finish(void) {
    printf("%d passed, %d failed\n", kc_test_passed, kc_test_failed);
    return kc_test_failed ? 1 : 0;
}

void kc_tap_grab_fn(const char *name, const float *data, int ndim, const int64_t *shape, void *user) {
    kc_tap_grab *t = user;
    if (strcmp(name, t->want) || t->buf) return;
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= shape[i];
    if ((t->buf = malloc((size_t)n * sizeof(float)))) {
        memcpy(t->buf, data, (size_t)n * sizeof(float));
        t->n = n;
    }
}
