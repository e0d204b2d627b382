/* harness.h — test helpers: data paths, skips (exit 77), relative-L2 comparison, golden loading.
 *
 * Data root: $KOLORS_SHARED (the `shared/` folder) if set, else $KOLORS_TESTDATA's parent
 * convention: $KOLORS_TESTDATA points at shared/testdata directly; else the build default
 * (<source>/../shared). A test that needs an absent file calls kc_test_skip() with the reason. */
#ifndef KC_TESTS_HARNESS_H
#define KC_TESTS_HARNESS_H

#include <stdint.h>
#include <stdio.h>

#include "io/safetensors.h"

/* Path of a file under shared/testdata (rel like "goldens/tiny-kolors-a/unet.safetensors"). */
const char *kc_test_data(const char *rel);
/* Path under shared/ (rel like "models/tokenizer/tokenizer.model"). */
const char *kc_test_shared(const char *rel);
/* Prints "SKIP: <why>" and exits 77. */
void kc_test_skip(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
/* Skips unless `path` exists. */
void kc_test_require_file(const char *path);
/* A scratch folder for this test (created under the build tree's tmp). */
const char *kc_test_tmpdir(void);

typedef struct {
    double rel_l2, max_abs;
    int64_t worst;
    int64_t nonfinite;
} kc_cmp;
kc_cmp kc_compare(const float *out, const float *ref, int64_t n);
/* Prints name, rel_l2 vs tolerance, max_abs at index, the first pairs; returns 1 on pass. */
int check_close(const char *name, const float *out, const float *ref, int64_t n, double rtol);
/* Exact equality of int arrays; prints the first mismatch. */
int check_equal_i32(const char *name, const int32_t *out, const int32_t *ref, int64_t n);

/* Loads a golden tensor as fp32 (any float or int dtype), malloc'd. Fails the test (exit 1)
 * if missing. numel (and shape/ndim if not NULL) are returned. */
float *kc_golden_f32(const kc_safetensors *st, const char *name, int64_t *numel, int64_t *shape, int *ndim);

/* Deterministic pseudo-random fill (xorshift) in [-scale, scale] — never zeros. */
void kc_fill_random(float *x, int64_t n, uint64_t seed, float scale);

/* A tap callback (kc_unet_tap_fn / kc_vae_tap_fn) that keeps a copy of the first tap named
 * `want`: pass &grab as user; the caller frees grab.buf (NULL when the tap never came). */
typedef struct {
    const char *want;
    float *buf;
    int64_t n;
} kc_tap_grab;
void kc_tap_grab_fn(const char *name, const float *data, int ndim, const int64_t *shape, void *user);

/* Counters for a test's final line: "N passed, N failed". */
extern int kc_test_passed, kc_test_failed;
#define KC_CHECK(cond, ...)                                                         \
    do {                                                                            \
        if (cond) kc_test_passed++;                                                 \
        else { kc_test_failed++; printf("FAIL %s:%d: ", __FILE__, __LINE__);        \
               printf(__VA_ARGS__); printf("\n"); }                                 \
    } while (0)
/* Prints the summary and returns the exit code (1 if anything failed). */
int kc_test_finish(void);

#endif
