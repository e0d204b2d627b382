/* bench_text_encoder.c — ChatGLM3-6B-shaped text encoder with random weights generated in
 * memory (bf16 and/or fp16, as real checkpoints store them), one batch of N prompts x T tokens
 * (Kolors: 2 x 256, cond + uncond). Not a test: prints seconds, GFLOP/s and peak RSS.
 *
 * The full model is 12 GB of weights: --layers L runs only L of the 28 blocks (default 2) and
 * the time is projected linearly to 28. Every block is computed on all rows (the last-row
 * shortcut of the final layer is turned off by asking for last_hidden) so that per-layer time is
 * uniform. The embedding table has 4096 rows, not 65024 (a lookup costs nothing and the full
 * table would add 0.5 GB). FLOPs are counted analytically (kc_chatglm_flops: 2 per multiply-add,
 * attention over the full T x T square): ~2.95 TFLOP per 256-token prompt for 28 layers.
 * Each run is kolors_bench() (kolors.h; the same code as `kolors bench text-encoder`).
 *
 * usage: bench_text_encoder [--layers L] [--threads N] [--dtype bf16|fp16|both] [--batch N]
 *                           [--tokens T] [--precision fp32|bf16] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kolors.h"

static int run(int layers, int bf16_weights, int N, int T, int threads, kolors_precision prec) {
    kolors_bench_params p;
    kolors_bench_params_default(&p);
    p.workload = KOLORS_BENCH_TEXT_ENCODER;
    p.layers = layers;
    p.weights_bf16 = bf16_weights;
    p.batch = N;
    p.tokens = T;
    p.n_threads = threads;
    p.precision = prec;
    kolors_bench_result r;
    kolors_error e;
    if (kolors_bench(&p, &r, &e)) {
        fprintf(stderr, "bench: %s\n", e.message);
        return 1;
    }
    printf("text_encoder %-4s layers %d  batch %d x %d tokens  threads %d  %s arithmetic (%s): %.2f s  %.1f GFLOP  "
           "%.2f GFLOP/s  -> %d layers ~%.1f s  (weights %.2f GB generated in %.1f s, arena %.1f MB, peak RSS %.2f GB%s)\n",
           r.dtype, r.layers_run, N, T, r.threads, r.precision, r.isa, r.median_s, r.gflop, r.gflops, r.layers_total,
           r.scaled_median_s, r.weights_mb / 1e3, r.setup_s, r.arena_mb, r.peak_rss_mb / 1e3,
           r.finite ? "" : ", NON-FINITE OUTPUT");
    return r.finite ? 0 : 1;
}

int main(int argc, char **argv) {
    long layers = 2, threads = 1, batch = 2, tokens = 256;
    const char *dtype = "both", *precision = "fp32";
    for (int i = 1; i < argc; i += 2) { /* every option takes a value */
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) { fprintf(stderr, "bench: %s needs a value\n", a); return 2; }
        if (!strcmp(a, "--layers")) layers = atol(v);
        else if (!strcmp(a, "--threads")) threads = atol(v);
        else if (!strcmp(a, "--batch")) batch = atol(v);
        else if (!strcmp(a, "--tokens")) tokens = atol(v);
        else if (!strcmp(a, "--dtype")) dtype = v;
        else if (!strcmp(a, "--precision")) precision = v;
        else { fprintf(stderr, "bench: unknown option %s\n", a); return 2; }
    }
    if (layers < 1 || layers > 28 || threads < 1 || batch < 1 || batch > 64 || tokens < 2 || tokens > 4096) {
        fprintf(stderr, "bench: out-of-range option\n");
        return 2;
    }
    const kolors_precision prec = !strcmp(precision, "bf16") ? KOLORS_PRECISION_BF16 : KOLORS_PRECISION_FP32;
    int rc = 0;
    if (!strcmp(dtype, "bf16") || !strcmp(dtype, "both")) rc |= run((int)layers, 1, (int)batch, (int)tokens, (int)threads, prec);
    if (!strcmp(dtype, "fp16") || !strcmp(dtype, "both")) rc |= run((int)layers, 0, (int)batch, (int)tokens, (int)threads, prec);
    return rc;
}
