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

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static inline float urand(void) { /* uniform in [-1, 1) */
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (float)((rng_state >> 40) * (1.0 / 8388608.0)) - 1.0f;
}

/* Every expected tensor as fp16: matrices/convs U(±sqrt(3/fan_in)) (unit-variance activations),
 * norm scales 1 + U(±0.1), biases U(±0.05). */
static int make_weights(const kc_vae_config *cfg, kc_weights **out, double *gb, kc_err *err) {
    kc_expected_list l = {0};
    if (kc_vae_expected(cfg, 0, &l, err)) return 1;
    int64_t total = 0;
    for (int64_t i = 0; i < l.n; i++) {
        int64_t n = 1;
        for (int d = 0; d < l.v[i].ndim; d++) n *= l.v[i].shape[d];
        total += n;
    }
    *gb = (double)total * 2 / 1e9;
    uint16_t *buf = malloc((size_t)total * sizeof(uint16_t));
    kc_weights *ws = NULL;
    if (!buf || kc_weights_new(&ws, err)) { free(buf); kc_expected_free(&l); return 1; }
    if (kc_weights_add_source(ws, buf, free, err)) { kc_weights_free(ws); kc_expected_free(&l); return 1; }
    int64_t off = 0;
    for (int64_t i = 0; i < l.n; i++) {
        const kc_expected *e = &l.v[i];
        kc_tensor t = {.dtype = KC_DTYPE_F16, .ndim = e->ndim, .data = buf + off};
        int64_t n = 1, fan = 1;
        for (int d = 0; d < e->ndim; d++) { t.shape[d] = e->shape[d]; n *= e->shape[d]; if (d) fan *= e->shape[d]; }
        const size_t nl = strlen(e->name);
        const int is_bias = nl > 5 && !strcmp(e->name + nl - 5, ".bias");
        const float sc = e->ndim >= 2 ? sqrtf(3.0f / (float)fan) : is_bias ? 0.05f : 0.1f;
        const float base = e->ndim == 1 && !is_bias ? 1.0f : 0.0f;
        for (int64_t k = 0; k < n; k++) buf[off + k] = kc_f32_to_f16(base + sc * urand());
        if (kc_weights_add_entry(ws, e->name, &t, "(random, in memory)", err)) {
            kc_weights_free(ws);
            kc_expected_free(&l);
            return 1;
        }
        off += n;
    }
    kc_expected_free(&l);
    *out = ws;
    return 0;
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
    kc_weights *ws = NULL;
    double gb = 0;
    double t0 = kc_time_now();
    if (make_weights(&cfg, &ws, &gb, &err)) { fprintf(stderr, "bench_vae: %s\n", err.msg); return 1; }
    kc_vae *v = NULL;
    if (kc_vae_create(&cfg, ws, &v, &err)) { fprintf(stderr, "bench_vae: %s\n", err.msg); return 1; }
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
        for (int64_t i = 0; i < 4 * h * h; i++) lat[i] = urand() * 1.7f; /* ~unit variance like real latents/0.13 */
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
                for (int64_t i = 0; i < 3 * H * H; i++) img[i] = urand();
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
