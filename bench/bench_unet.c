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
 * Dimension letters: N batch, H/W latent size, T text tokens. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/dtype.h"
#include "core/sysinfo.h"
#include "diffusion/unet.h"
#include "api/bench_internal.h"

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

    kc_unet_config cfg;
    kc_unet_config_kolors(&cfg);
    kc_err err = {0};
    if (kc_bench_unet_reduce(&cfg, depth, div, &err)) {
        fprintf(stderr, "bench_unet: %s\n", err.msg);
        return 2;
    }
    kc_exec ex;
    kc_exec_init(&ex, (int)threads, prec);
    double t0 = kc_time_now(), gb = 0;
    kc_unet *u = NULL;
    if (kc_bench_unet_random(&cfg, KC_DTYPE_F16, plan_only, &u, &gb, &err)) {
        fprintf(stderr, "bench_unet: %s\n", err.msg);
        return 1;
    }
    gb *= 1e-9;
    printf("U-Net %s: %lld parameters (%.2f GB fp16, %s in %.1f s); blocks %lld/%lld/%lld, depth %lld/%lld/%lld; "
           "%d threads, %s\n",
           depth || div > 1 ? "REDUCED" : "Kolors full size", (long long)kc_unet_param_count(&cfg), gb,
           plan_only ? "not generated (--plan)" : "generated", kc_time_now() - t0, (long long)cfg.block_out[0], (long long)cfg.block_out[1], (long long)cfg.block_out[2],
           (long long)cfg.depth[0], (long long)cfg.depth[1], (long long)cfg.depth[2], ex.n_threads,
           prec == KC_PREC_FP32 ? "fp32" : "bf16");
    const int64_t N = batch, T = 256, E = kc_unet_text_width(&cfg), P = kc_unet_pooled_width(&cfg);
    int rc = 0;
    if (plan_only) {
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
    for (int si = 0; si < nsizes && !rc; si++) {
        const int64_t H = sizes[si] / 8, W = sizes[si] / 8;
        size_t bytes = 0;
        kc_arena ar = {0};
        float *sample = malloc((size_t)(N * cfg.in_channels * H * W) * sizeof(float));
        float *ehs = malloc((size_t)(N * T * E) * sizeof(float)), *ctx = malloc((size_t)(N * T * cfg.cross_dim) * sizeof(float));
        float *te = malloc((size_t)(N * P + 1) * sizeof(float)), *tid = malloc((size_t)(N * 6) * sizeof(float));
        float *ts = malloc((size_t)N * sizeof(float)), *out = malloc((size_t)(N * cfg.out_channels * H * W) * sizeof(float));
        if (!sample || !ehs || !ctx || !te || !tid || !ts || !out) { fprintf(stderr, "bench_unet: out of memory\n"); rc = 1; }
        if (!rc && (kc_unet_arena_bytes(u, &ex, N, H, W, T, 0, &bytes, &err) || kc_arena_init(&ar, "unet", bytes, &err))) {
            fprintf(stderr, "bench_unet: %s\n", err.msg);
            rc = 1;
        }
        if (!rc) {
            kc_bench_rng rng = {0x9E3779B97F4A7C15ull};
            kc_bench_fill(&rng, sample, N * cfg.in_channels * H * W, 1.0f);
            kc_bench_fill(&rng, ehs, N * T * E, 1.0f);
            kc_bench_fill(&rng, te, N * P, 1.0f);
            for (int64_t n = 0; n < N; n++) {
                ts[n] = 500.0f;
                const float id[6] = {(float)sizes[si], (float)sizes[si], 0, 0, (float)sizes[si], (float)sizes[si]};
                memcpy(tid + 6 * n, id, sizeof id);
            }
            double best = 1e30;
            for (int r = 0; r < steps && !rc; r++) {
                double t1 = kc_time_now();
                kc_unet_input in = {N, H, W, T, sample, ts, ctx, te, tid, NULL};
                if (kc_unet_project_context(&ex, u, ehs, N, T, ctx, NULL, NULL, &err) ||
                    kc_unet_forward(&ex, u, &in, out, &ar, NULL, NULL, &err)) {
                    fprintf(stderr, "bench_unet: %s\n", err.msg);
                    rc = 1;
                }
                double dt = kc_time_now() - t1;
                if (dt < best) best = dt;
            }
            double fl = kc_unet_flops(&cfg, N, H, W, T);
            double sum = 0;
            for (int64_t i = 0; i < N * cfg.out_channels * H * W; i++) sum += fabs(out[i]);
            if (!rc)
                printf("%4dx%-4d batch %lld: %8.2f s  %8.1f GFLOP/s  (%.3g TFLOP)  arena %.0f MB  peak RSS %.0f MB  "
                       "mean|out| %.3f\n",
                       sizes[si], sizes[si], (long long)N, best, fl / best / 1e9, fl / 1e12, (double)bytes / 1e6,
                       (double)kc_peak_rss_bytes() / 1e6, sum / (double)(N * cfg.out_channels * H * W));
        }
        kc_arena_free(&ar);
        free(sample); free(ehs); free(ctx); free(te); free(tid); free(ts); free(out);
    }
    kc_unet_free(u);
    return rc;
}
