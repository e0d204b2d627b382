/* select.c — the kernel tables and their run-time choice from the CPU features (or
 * KOLORS_ISA), plus the per-thread pack buffers of the GEMMs. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/avx2/avx2.h"
#include "kernels/avx512/avx512.h"
#include "kernels/avx512bf16/bf16.h"
#include "kernels/kernels.h"
#include "kernels/ref/ref.h"

#define KC_REF_NC 256

static const kc_kernels k_ref = {
    .name = "ref",
    .dot_rows_f32w = kc_dot_rows_f32w_ref,
    .gemm_f32 = kc_gemm_f32_ref,
    .gemm_bf16 = kc_gemm_bf16_ref,
    .gemm_nc = KC_REF_NC,
    .gemm_pack_bytes = 64,
    .silu = kc_silu_ref,
    .geglu = kc_geglu_ref,
    .swiglu = kc_swiglu_ref,
    .moments = kc_moments_ref,
    .chan_moments = kc_chan_moments_ref,
    .norm_apply = kc_norm_apply_ref,
    .attn_block = kc_attn_block_ref,
};

/* AVX2 accelerates the GEMM; the row kernels and attention use the reference. */
static kc_kernels k_avx2 = {
    .name = "avx2",
    .dot_rows_f32w = kc_dot_rows_f32w_avx2,
    .gemm_f32 = kc_gemm_f32_avx2,
    .gemm_bf16 = NULL,
    .gemm_nc = KC_GEMM_AVX2_NC,
    .silu = kc_silu_ref,
    .geglu = kc_geglu_ref,
    .swiglu = kc_swiglu_ref,
    .moments = kc_moments_ref,
    .chan_moments = kc_chan_moments_ref,
    .norm_apply = kc_norm_apply_ref,
    .attn_block = kc_attn_block_ref,
};

/* Row kernels and attention shared by both AVX-512 tables. */
#define KC_AVX512_ROWS                                                                                  \
    .dot_rows_f32w = kc_dot_rows_f32w_avx512, .gemm_f32 = kc_gemm_f32_avx512, .gemm_nc = KC_GEMM512_NC, \
    .silu = kc_silu_avx512, .geglu = kc_geglu_avx512, .swiglu = kc_swiglu_avx512,                       \
    .moments = kc_moments_avx512, .chan_moments = kc_chan_moments_avx512,                               \
    .norm_apply = kc_norm_apply_avx512, .attn_block = kc_attn_block_avx512

static kc_kernels k_avx512 = {.name = "avx512", .gemm_bf16 = NULL, KC_AVX512_ROWS};
static kc_kernels k_avx512bf16 = {.name = "avx512bf16", .gemm_bf16 = kc_gemm_bf16_avx512bf16,
                                   .gemm_bf16_wpack_bytes = kc_gemm_bf16_avx512bf16_wpack_bytes,
                                   .gemm_bf16_wpack = kc_gemm_bf16_avx512bf16_wpack,
                                   .gemm_bf16_convert_a = kc_gemm_bf16_avx512bf16_convert_a,
                                   .attn_block_bf16 = kc_attn_block_avx512bf16, KC_AVX512_ROWS};

static size_t max_size(size_t a, size_t b) { return a > b ? a : b; }

/* Pack sizes come from the ISA files (their blocking constants), filled in once. */
static void fill_sizes_once(void) {
    k_avx2.gemm_pack_bytes = kc_gemm_f32_avx2_pack_bytes();
    k_avx512.gemm_pack_bytes = kc_gemm_f32_avx512_pack_bytes();
    k_avx512bf16.gemm_pack_bytes = max_size(kc_gemm_f32_avx512_pack_bytes(), kc_gemm_bf16_avx512bf16_pack_bytes());
}

static pthread_once_t sizes_once = PTHREAD_ONCE_INIT;
static void fill_sizes(void) { pthread_once(&sizes_once, fill_sizes_once); }

static int can_run(const kc_kernels *k) {
    const kc_cpu_features *f = kc_cpu_get();
    if (k == &k_ref) return 1;
    if (k == &k_avx2) return f->avx2 && f->fma && f->f16c;
    int a512 = f->avx512f && f->avx512bw && f->avx512vl && f->avx512dq && f->fma && f->f16c;
    if (k == &k_avx512) return a512;
    return a512 && f->avx512bf16;
}

static const kc_kernels *const all[] = {&k_ref, &k_avx2, &k_avx512, &k_avx512bf16};
#define N_TABLES (int)(sizeof all / sizeof all[0])

const kc_kernels *kc_kernels_ref(void) { return &k_ref; }

int kc_kernels_available(const kc_kernels **out, int cap) {
    fill_sizes();
    int n = 0;
    for (int i = 0; i < N_TABLES; i++)
        if (can_run(all[i]) && n < cap) out[n++] = all[i];
    return n;
}

kc_status kc_kernels_select(const char *name, const kc_kernels **out, kc_err *err) {
    fill_sizes();
    for (int i = 0; i < N_TABLES; i++) {
        if (strcmp(name, all[i]->name) != 0) continue;
        if (!can_run(all[i]))
            return kc_fail(err, KC_ERR_UNSUPPORTED, "kernel table '%s' needs CPU features this CPU lacks", name);
        *out = all[i];
        return KC_OK;
    }
    return kc_fail(err, KC_ERR_UNSUPPORTED, "unknown kernel table '%s' (known: ref, avx2, avx512, avx512bf16)", name);
}

static const kc_kernels *best(void) {
    const kc_kernels *b = &k_ref;
    for (int i = 0; i < N_TABLES; i++)
        if (can_run(all[i])) b = all[i];
    return b;
}

const kc_kernels *kc_kernels_default(void) {
    fill_sizes();
    const char *force = getenv("KOLORS_ISA");
    const kc_kernels *k = NULL;
    if (force && *force && kc_kernels_select(force, &k, NULL) == KC_OK) return k;
    return best();
}

/* One buffer per thread, kept for the thread's life: OpenMP pool threads reuse it on every
 * op, so nothing is allocated inside the hot loops. */
static _Thread_local void *tl_buf;
static _Thread_local size_t tl_cap;

static void *grow(void **buf, size_t *have, size_t bytes) {
    if (*buf && *have >= bytes) return *buf;
    free(*buf);
    *have = 0;
    size_t cap = (bytes + 4095) & ~(size_t)4095;
    *buf = aligned_alloc(64, cap);
    if (*buf) *have = cap;
    return *buf;
}

void *kc_kernels_thread_buffer(size_t bytes) { return grow(&tl_buf, &tl_cap, bytes); }

static _Thread_local void *tl_buf2;
static _Thread_local size_t tl_cap2;
void *kc_kernels_thread_buffer2(size_t bytes) { return grow(&tl_buf2, &tl_cap2, bytes); }
