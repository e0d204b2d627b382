/* bench_vae.c — one VAE decode of the full-size SDXL / Kolors VAE (kolors-model.md §1.6.4, §5) with
 * random fp16 weights generated in memory (83.7 M parameters = 0.17 GB; the encoder is bound
 * too), at 512² and 1024² images by default, batch 1. Prints seconds, GFLOP/s (FLOPs counted
 * analytically by kc_vae_decode_flops: 2.62 T at 512², 10.47 T at 1024²), the arena size and
 * peak RSS. Arithmetic is fp32 (or bf16 products with --precision bf16); weights stay fp16.
 *
 * Dimension letters: h/w latent size (image / 8). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/dtype.h"
#include "core/sysinfo.h"
#include "diffusion/vae.h"
#include "api/bench_internal.h"

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
    if (steps < 1 || threads < 0) { usage(); return 2; }

    kc_vae_config cfg;
    kc_vae_config_sdxl(&cfg);
    kc_exec ex;
    kc_exec_init(&ex, threads, prec);
    kc_err err = {0};
    double gb = 0;
    double t0 = kc_time_now();
    kc_vae *v = NULL;
    if (kc_bench_vae_random(&cfg, KC_DTYPE_F16, &v, &gb, &err)) { fprintf(stderr, "bench_vae: %s\n", err.msg); return 1; }
    gb *= 1e-9;
    kc_bench_rng rng = {0x9E3779B97F4A7C15ull};
    printf("SDXL VAE, %lld parameters (%.2f GB fp16, random, generated in %.1f s), %d threads, %s arithmetic\n",
           (long long)kc_vae_param_count(&cfg), gb, kc_time_now() - t0, ex.n_threads,
           prec == KC_PREC_FP32 ? "fp32" : "bf16-product");
    int rc = 0;
    for (int si = 0; si < nsizes && !rc; si++) {
        const int64_t H = sizes[si], h = H / 8;
        kc_vae_tiling t;
        if (kc_vae_tiling_resolve(tiling, tile, h, h, &t, &err)) { fprintf(stderr, "bench_vae: %s\n", err.msg); rc = 1; break; }
        size_t bytes = 0;
        if (kc_vae_decode_bytes(&cfg, &ex, 1, h, h, &t, 0, &bytes, &err)) { fprintf(stderr, "bench_vae: %s\n", err.msg); rc = 1; break; }
        float *lat = malloc((size_t)(4 * h * h) * sizeof(float)), *img = malloc((size_t)(3 * H * H) * sizeof(float));
        kc_arena a;
        if (!lat || !img || kc_arena_init(&a, "bench-vae", bytes, &err)) {
            fprintf(stderr, "bench_vae: out of memory (%.2f GB arena)\n", (double)bytes / 1e9);
            free(lat); free(img);
            rc = 1;
            break;
        }
        kc_bench_fill(&rng, lat, 4 * h * h, 1.7f); /* ~unit variance like real latents/0.13 */
        const double fl = kc_vae_decode_flops(&cfg, 1, h, h);
        double best = 1e30;
        for (int r = 0; r < steps && !rc; r++) {
            double s0 = kc_time_now();
            if (kc_vae_decode(&ex, v, lat, 1, h, h, &t, img, &a, NULL, NULL, &err)) {
                fprintf(stderr, "bench_vae: %s\n", err.msg);
                rc = 1;
            }
            double dt = kc_time_now() - s0;
            if (dt < best) best = dt;
        }
        if (!rc) {
            int finite = 1;
            for (int64_t i = 0; i < 3 * H * H; i++) finite &= isfinite(img[i]) != 0;
            printf("decode %4lldx%-4lld %s: %8.2f s  %7.1f GFLOP/s  (%.3f TFLOP)  arena %.2f GB (high water %.2f)  "
                   "peak RSS %.2f GB%s\n",
                   (long long)H, (long long)H, t.enabled ? "tiled  " : "untiled", best, fl / best * 1e-9, fl * 1e-12,
                   (double)bytes / 1e9, (double)a.high_water / 1e9, (double)kc_peak_rss_bytes() / 1e9,
                   finite ? "" : "  NON-FINITE OUTPUT");
            fflush(stdout);
        }
        if (!rc && encode) {
            size_t eb = 0;
            float *mom = malloc((size_t)(8 * h * h) * sizeof(float));
            kc_arena ea;
            if (!mom || kc_vae_encode_bytes(&cfg, &ex, 1, H, H, &t, 0, &eb, &err) || kc_arena_init(&ea, "bench-vae-enc", eb, &err)) {
                fprintf(stderr, "bench_vae: encode setup failed: %s\n", err.msg);
                free(mom);
                rc = 1;
            } else {
                kc_bench_fill(&rng, img, 3 * H * H, 1.0f);
                const double efl = kc_vae_encode_flops(&cfg, 1, H, H);
                double s0 = kc_time_now();
                if (kc_vae_encode(&ex, v, img, 1, H, H, &t, mom, &ea, NULL, NULL, &err)) {
                    fprintf(stderr, "bench_vae: %s\n", err.msg);
                    rc = 1;
                } else {
                    double dt = kc_time_now() - s0;
                    printf("encode %4lldx%-4lld %s: %8.2f s  %7.1f GFLOP/s  (%.3f TFLOP)  arena %.2f GB  peak RSS %.2f GB\n",
                           (long long)H, (long long)H, t.enabled ? "tiled  " : "untiled", dt, efl / dt * 1e-9,
                           efl * 1e-12, (double)eb / 1e9, (double)kc_peak_rss_bytes() / 1e9);
                }
                kc_arena_free(&ea);
                free(mom);
            }
        }
        kc_arena_free(&a);
        free(lat);
        free(img);
    }
    kc_vae_free(v);
    return rc;
}
