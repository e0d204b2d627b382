/* bench_vae.c — one VAE decode of the full-size SDXL / Kolors VAE (kolors-model.md §1.6.4, §5) with
 * random fp16 weights generated in memory (83.7 M parameters = 0.17 GB; the encoder is bound
 * too), at 512² and 1024² images by default, batch 1. Prints seconds, GFLOP/s (FLOPs counted
 * analytically by kc_vae_decode_flops: 2.62 T at 512², 10.47 T at 1024²), the arena size and
 * peak RSS. Arithmetic is fp32 (or bf16 products with --precision bf16); weights stay fp16.
 * Each run is kolors_bench() (kolors.h; the same code as `kolors bench vae-decode|vae-encode`).
 *
 * Dimension letters: h/w latent size (image / 8). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kolors.h"
#include "ops/ops.h"

static void usage(void) {
    printf("usage: bench_vae [--size PX]... [--threads N] [--precision fp32|bf16] [--tiling auto|on|off]\n"
           "                 [--tile-size N] [--encode] [--steps R]\n"
           "  --size PX       image size in pixels (multiple of 8); repeat for several (default 512 and 1024)\n"
           "  --threads N     worker threads (default: physical cores)\n"
           "  --precision P   fp32 (default) or bf16 products\n"
           "  --tiling M      auto (default: tiles above 1024^2), on or off\n"
           "  --tile-size N   tile side in latent pixels (default 64)\n"
           "  --encode        also time one encode of the same size\n"
           "  --steps R       runs per size (default 1); the best time is reported\n");
}

int main(int argc, char **argv) {
    int sizes[16], nsizes = 0, threads = 0, steps = 1, tiling = -1, tile = 0, encode = 0;
    kc_precision prec = KC_PREC_FP32;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--size") && v && nsizes < 16) { sizes[nsizes++] = atoi(v); i++; }
        else if (!strcmp(a, "--threads") && v) { threads = atoi(v); i++; }
        else if (!strcmp(a, "--steps") && v) { steps = atoi(v); i++; }
        else if (!strcmp(a, "--tile-size") && v) { tile = atoi(v); i++; }
        else if (!strcmp(a, "--tiling") && v) {
            tiling = !strcmp(v, "on") ? 1 : !strcmp(v, "off") ? 0 : !strcmp(v, "auto") ? -1 : 2;
            i++;
        } else if (!strcmp(a, "--precision") && v) {
            if (!strcmp(v, "fp32")) prec = KC_PREC_FP32;
            else if (!strcmp(v, "bf16")) prec = KC_PREC_BF16;
            else { usage(); return 2; }
            i++;
        } else if (!strcmp(a, "--encode")) encode = 1;
        else { usage(); return !strcmp(a, "-h") || !strcmp(a, "--help") ? 0 : 2; }
    }
    if (!nsizes) { sizes[0] = 512; sizes[1] = 1024; nsizes = 2; }
    for (int i = 0; i < nsizes; i++)
        if (sizes[i] < 8 || sizes[i] % 8) { fprintf(stderr, "bench_vae: size %d is not a positive multiple of 8\n", sizes[i]); return 2; }
    if (steps < 1 || threads < 0 || tiling == 2) { usage(); return 2; }

    int rc = 0;
    for (int si = 0; si < nsizes && !rc; si++)
        for (int enc = 0; enc <= encode && !rc; enc++) {
            kolors_bench_params p;
            kolors_bench_params_default(&p);
            p.workload = enc ? KOLORS_BENCH_VAE_ENCODE : KOLORS_BENCH_VAE_DECODE;
            p.width = p.height = sizes[si];
            p.n_threads = threads;
            p.precision = prec == KC_PREC_FP32 ? KOLORS_PRECISION_FP32 : KOLORS_PRECISION_BF16;
            p.vae_tiling = tiling;
            p.vae_tile_size = tile;
            p.repeat = steps;
            kolors_bench_result r;
            kolors_error e;
            if (kolors_bench(&p, &r, &e)) {
                fprintf(stderr, "bench_vae: %s\n", e.message);
                rc = 1;
                break;
            }
            if (si == 0 && !enc)
                printf("SDXL VAE, %.2f GB %s weights (random, generated in %.1f s), %d threads, %s arithmetic, %s kernels\n",
                       r.weights_mb / 1e3, r.dtype, r.setup_s, r.threads, r.precision, r.isa);
            printf("%s %4dx%-4d %s: %8.2f s  %7.1f GFLOP/s  (%.3f TFLOP)  arena %.2f GB  peak RSS %.2f GB%s\n",
                   enc ? "encode" : "decode", sizes[si], sizes[si], strstr(r.shape, "tiled") ? "tiled  " : "untiled", r.min_s,
                   r.gflop / r.min_s, r.gflop * 1e-3, r.arena_mb / 1e3, r.peak_rss_mb / 1e3,
                   r.finite ? "" : "  NON-FINITE OUTPUT");
            fflush(stdout);
        }
    return rc;
}
