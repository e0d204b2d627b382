/* bench_unet.c — one U-Net forward of the full-size Kolors configuration (kolors-model.md §1.6.3)
 * with random fp16 weights generated in memory (2.58 G parameters = 5.16 GB), at 512² and 1024²
 * images, batch 2 (classifier-free guidance). Prints seconds, GFLOP/s (FLOPs counted
 * analytically by kc_unet_flops: 3.47 T at 512² and 13.9 T at 1024² for batch 2) and peak RSS.
 *
 * Reduced runs for machines or moments that cannot afford the full model:
 *   --depth D        cap every transformer depth at D (Kolors: 1/2/10 -> e.g. 1/1/1)
 *   --div K          divide all channel widths by K (heads scale with them, head dim stays 64
 *                    where possible)
 *
 * The timed runs are kolors_bench() (kolors.h; the same code as `kolors bench unet`), one call per
 * size; --plan sizes the arena with the library's internals without generating weights.
 *
 * Dimension letters: N batch, H/W latent size, T text tokens. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/bench_internal.h"
#include "diffusion/unet.h"
#include "kolors.h"

static void usage(void) {
    printf("usage: bench_unet [--size PX]... [--batch N] [--threads N] [--precision fp32|bf16]\n"
           "                  [--depth D] [--div K] [--steps R]\n"
           "  --size PX       image size in pixels (multiple of 8); repeat for several (default 512 and 1024)\n"
           "  --batch N       batch (default 2: classifier-free guidance)\n"
           "  --threads N     worker threads (default: physical cores)\n"
           "  --precision P   fp32 or bf16 (default bf16, the fast path)\n"
           "  --depth D       cap the transformer depth per block at D (reduced run)\n"
           "  --div K         divide every channel width by K (reduced run)\n"
           "  --steps R       forwards per size (default 1); the best time is reported\n"
           "  --plan          only print the activation arena and K/V cache sizes (weights are not\n"
           "                  generated: every tensor views one shared zero buffer)\n");
}

int main(int argc, char **argv) {
    int sizes[8], nsizes = 0, depth = 0, div = 1, steps = 1, plan_only = 0;
    long batch = 2, threads = 0;
    kc_precision prec = KC_PREC_BF16;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { usage(); return 0; }
        if (!strcmp(a, "--plan")) { plan_only = 1; continue; }
        if (!v) { fprintf(stderr, "bench_unet: %s needs a value\n", a); return 2; }
        i++;
        if (!strcmp(a, "--size") && nsizes < 8) sizes[nsizes++] = atoi(v);
        else if (!strcmp(a, "--batch")) batch = atol(v);
        else if (!strcmp(a, "--threads")) threads = atol(v);
        else if (!strcmp(a, "--depth")) depth = atoi(v);
        else if (!strcmp(a, "--div")) div = atoi(v);
        else if (!strcmp(a, "--steps")) steps = atoi(v);
        else if (!strcmp(a, "--precision")) prec = !strcmp(v, "fp32") ? KC_PREC_FP32 : KC_PREC_BF16;
        else { fprintf(stderr, "bench_unet: unknown option %s\n", a); usage(); return 2; }
    }
    if (!nsizes) { sizes[0] = 512; sizes[1] = 1024; nsizes = 2; }
    if (batch < 1 || batch > 64 || threads < 0 || div < 1 || depth < 0 || steps < 1) { usage(); return 2; }
    for (int s = 0; s < nsizes; s++)
        if (sizes[s] < 64 || sizes[s] % 8) { fprintf(stderr, "bench_unet: --size %d is not a multiple of 8 >= 64\n", sizes[s]); return 2; }

    int rc = 0;
    if (!plan_only) {
        for (int si = 0; si < nsizes && !rc; si++) {
            kolors_bench_params p;
            kolors_bench_params_default(&p);
            p.workload = KOLORS_BENCH_UNET;
            p.width = p.height = sizes[si];
            p.batch = (int)batch;
            p.n_threads = (int)threads;
            p.precision = prec == KC_PREC_FP32 ? KOLORS_PRECISION_FP32 : KOLORS_PRECISION_BF16;
            p.layers = depth;
            p.width_div = div;
            p.repeat = steps;
            kolors_bench_result r;
            kolors_error e;
            if (kolors_bench(&p, &r, &e)) {
                fprintf(stderr, "bench_unet: %s\n", e.message);
                return 1;
            }
            if (si == 0)
                printf("U-Net %s: %.2f GB %s weights (random, generated in %.1f s), %d of %d transformer blocks; %d threads, "
                       "%s, %s kernels\n",
                       depth || div > 1 ? "REDUCED" : "Kolors full size", r.weights_mb / 1e3, r.dtype, r.setup_s,
                       r.layers_run, r.layers_total, r.threads, r.precision, r.isa);
            printf("%4dx%-4d batch %d: %8.2f s  %8.1f GFLOP/s  (%.3g TFLOP)  arena %.0f MB  peak RSS %.0f MB  mean|out| %.3f%s\n",
                   sizes[si], sizes[si], p.batch, r.min_s, r.gflop / r.min_s, r.gflop / 1e3, r.arena_mb, r.peak_rss_mb,
                   r.mean_abs_out, r.finite ? "" : "  NON-FINITE OUTPUT");
            if (r.scaled)
                printf("           full model (projected by FLOPs): %.2f s for %.3g TFLOP\n", r.min_s * r.scale,
                       r.scaled_gflop / 1e3);
            fflush(stdout);
        }
        return rc;
    }

    /* --plan: arena and K/V cache of the (reduced) configuration, weights not generated */
    kc_unet_config cfg;
    kc_unet_config_kolors(&cfg);
    kc_err err = {0};
    if (kc_bench_unet_reduce(&cfg, depth, div, &err)) {
        fprintf(stderr, "bench_unet: %s\n", err.msg);
        return 2;
    }
    kc_exec ex;
    kc_exec_init(&ex, (int)threads, prec);
    double gb = 0;
    kc_unet *u = NULL;
    if (kc_bench_unet_random(&cfg, KC_DTYPE_F16, 1, NULL, &u, &gb, &err)) {
        fprintf(stderr, "bench_unet: %s\n", err.msg);
        return 1;
    }
    printf("U-Net %s: %lld parameters (%.2f GB fp16, not generated (--plan)); blocks %lld/%lld/%lld, depth %lld/%lld/%lld; "
           "%d threads\n",
           depth || div > 1 ? "REDUCED" : "Kolors full size", (long long)kc_unet_param_count(&cfg), gb * 1e-9,
           (long long)cfg.block_out[0], (long long)cfg.block_out[1], (long long)cfg.block_out[2], (long long)cfg.depth[0],
           (long long)cfg.depth[1], (long long)cfg.depth[2], ex.n_threads);
    const int64_t N = batch, T = 256;
    for (int si = 0; si < nsizes && !rc; si++) {
        const int64_t H = sizes[si] / 8, W = sizes[si] / 8;
        size_t bytes = 0;
        if (kc_unet_arena_bytes(u, &ex, N, H, W, T, 0, &bytes, &err)) { fprintf(stderr, "bench_unet: %s\n", err.msg); rc = 1; break; }
        printf("%4dx%-4d batch %lld: activation arena %.1f MB, K/V cache %.1f MB, %.3g TFLOP\n", sizes[si], sizes[si],
               (long long)N, (double)bytes / 1e6, (double)kc_unet_kv_floats(u, N, T) * 4 / 1e6,
               kc_unet_flops(&cfg, N, H, W, T) / 1e12);
    }
    kc_unet_free(u);
    return rc;
}
