/* bench_text_encoder.c — ChatGLM3-6B-shaped text encoder with random weights generated in
 * memory (bf16 and/or fp16, as real checkpoints store them), one batch of N prompts x T tokens
 * (Kolors: 2 x 256, cond + uncond). Not a test: prints seconds, GFLOP/s and peak RSS.
 *
 * The full model is 12 GB of weights: --layers L runs only L of the 28 blocks (default 2) and
 * the time is projected linearly to 28. Every block is computed on all rows (the last-row
 * shortcut of the final layer is turned off by asking for last_hidden) so that per-layer time is
 * uniform. The embedding table has --vocab rows (default 4096, not 65024: a lookup costs nothing
 * and the full table would add 0.5 GB). FLOPs are counted analytically (kc_chatglm_flops: 2 per
 * multiply-add, attention over the full T x T square): ~2.95 TFLOP per 256-token prompt for 28
 * layers.
 *
 * usage: bench_text_encoder [--layers L] [--threads N] [--dtype bf16|fp16|both] [--batch N]
 *                           [--tokens T] [--vocab V] [--precision fp32|bf16] */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/sysinfo.h"
#include "io/arch.h"
#include "io/weights.h"
#include "ops/ops.h"
#include "text/chatglm3.h"
#include "api/bench_internal.h"

static int run(kc_chatglm_config cfg, kc_dtype dt, int64_t N, int64_t T, int threads, kc_precision prec) {
    kc_err err = {0};
    kc_weights *ws = NULL;
    kc_peak_rss_reset(); /* per-run peak when the kernel allows it */
    double t0 = kc_time_now();
    kc_chatglm g;
    if (kc_bench_chatglm_random(&cfg, dt, &g, &ws, NULL, &err)) { fprintf(stderr, "bench: %s\n", err.msg); return 1; }
    double t_gen = kc_time_now() - t0;
    kc_exec ex;
    kc_exec_init(&ex, threads, prec);
    /* Kolors CFG batch: a 60-token prompt and the empty prompt, left-padded to T */
    int32_t *ids = malloc(sizeof(int32_t) * (size_t)(N * T)), *mask = malloc(sizeof(int32_t) * (size_t)(N * T));
    for (int64_t b = 0; b < N; b++) {
        int64_t real = b % 2 == 0 ? (T < 60 ? T : 60) : 2;
        for (int64_t t = 0; t < T; t++) {
            int in = t >= T - real;
            mask[b * T + t] = in;
            ids[b * T + t] = in ? (int32_t)((t * 7919 + b * 31) % cfg.vocab) : 0;
        }
    }
    float *pe = malloc(sizeof(float) * (size_t)(N * T * cfg.hidden)), *pooled = malloc(sizeof(float) * (size_t)(N * cfg.hidden)),
          *last = malloc(sizeof(float) * (size_t)(N * T * cfg.hidden));
    kc_arena ar;
    size_t bytes = kc_chatglm_arena_bytes(&cfg, N, T);
    if (kc_arena_init(&ar, "bench", bytes, &err)) { fprintf(stderr, "bench: %s\n", err.msg); return 1; }
    kc_chatglm_input in = {N, T, ids, mask, NULL};
    kc_chatglm_output out = {pe, pooled, last, NULL, NULL, NULL}; /* last: every layer on all rows */
    t0 = kc_time_now();
    kc_status s = kc_chatglm_forward(&ex, &g, &in, &out, &ar, &err);
    double sec = kc_time_now() - t0;
    if (s) { fprintf(stderr, "bench: %s\n", err.msg); return 1; }
    int finite = 1;
    for (int64_t i = 0; i < N * cfg.hidden; i++) finite &= isfinite(pooled[i]);
    const double fl = kc_chatglm_flops(&cfg, N, T);
    printf("text_encoder %-4s layers %lld  batch %lld x %lld tokens  threads %d  %s arithmetic: %.2f s  %.1f GFLOP  "
           "%.2f GFLOP/s  -> 28 layers ~%.0f s  (weights %.2f GB generated in %.1f s, arena %.1f MB, peak RSS %.2f GB%s)\n",
           dt == KC_DTYPE_BF16 ? "bf16" : "fp16", (long long)cfg.layers, (long long)N, (long long)T, ex.n_threads,
           prec == KC_PREC_BF16 ? "bf16" : "fp32", sec, fl * 1e-9, fl / sec * 1e-9, sec / (double)cfg.layers * 28.0,
           (double)cfg.layers * 2.0 * (double)(kc_chatglm_qkv_width(&cfg) + cfg.heads * cfg.head_dim + 3 * cfg.ffn) *
               (double)cfg.hidden * 1e-9,
           t_gen, (double)bytes / 1048576.0, (double)kc_peak_rss_bytes() / 1e9, finite ? "" : ", NON-FINITE OUTPUT");
    kc_arena_free(&ar);
    free(ids); free(mask); free(pe); free(pooled); free(last);
    kc_chatglm_free(&g);
    kc_weights_free(ws);
    return finite ? 0 : 1;
}

int main(int argc, char **argv) {
    long layers = 2, threads = 1, batch = 2, tokens = 256, vocab = 4096;
    const char *dtype = "both", *precision = "fp32";
    for (int i = 1; i < argc; i += 2) { /* every option takes a value */
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) { fprintf(stderr, "bench: %s needs a value\n", a); return 2; }
        if (!strcmp(a, "--layers")) layers = atol(v);
        else if (!strcmp(a, "--threads")) threads = atol(v);
        else if (!strcmp(a, "--batch")) batch = atol(v);
        else if (!strcmp(a, "--tokens")) tokens = atol(v);
        else if (!strcmp(a, "--vocab")) vocab = atol(v);
        else if (!strcmp(a, "--dtype")) dtype = v;
        else if (!strcmp(a, "--precision")) precision = v;
        else { fprintf(stderr, "bench: unknown option %s\n", a); return 2; }
    }
    if (layers < 1 || layers > 28 || threads < 1 || batch < 1 || batch > 64 || tokens < 2 || tokens > 4096 || vocab < 64 ||
        vocab > 65024) {
        fprintf(stderr, "bench: out-of-range option\n");
        return 2;
    }
    /* ChatGLM3-6B-Base (kolors-model.md §1.6.1) */
    kc_chatglm_config c;
    kc_bench_chatglm3_6b(&c, layers, vocab);
    kc_precision prec = !strcmp(precision, "bf16") ? KC_PREC_BF16 : KC_PREC_FP32;
    int rc = 0;
    if (!strcmp(dtype, "bf16") || !strcmp(dtype, "both")) rc |= run(c, KC_DTYPE_BF16, batch, tokens, (int)threads, prec);
    if (!strcmp(dtype, "fp16") || !strcmp(dtype, "both")) rc |= run(c, KC_DTYPE_F16, batch, tokens, (int)threads, prec);
    return rc;
}
