/* bench_ops.c — milliseconds of the memory-bound ops at U-Net / VAE / ChatGLM sizes for each
 * kernel table (GroupNorm+SiLU, LayerNorm, RMSNorm, GEGLU, SwiGLU, SiLU), with GB/s of the
 * bytes they must move. The machine is shared: figures are noisy.
 *
 *   bench_ops [--threads N] [--reps N] [--tables ref,avx512bf16]
 *
 * Dimension letters: N batch, S pixels, C channels, M rows, D features, F gated width. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/sysinfo.h"
#include "kernels/kernels.h"
#include "ops/ops.h"

static float *buf(int64_t n) {
    float *p = malloc(sizeof(float) * (size_t)n);
    for (int64_t i = 0; i < n; i++) p[i] = (float)((i * 7919) % 2001) / 1000.0f - 1.0f;
    return p;
}

int main(int argc, char **argv) {
    int nt = 1, reps = 3;
    const char *tables = NULL;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--threads")) nt = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--reps")) reps = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--tables")) tables = argv[i + 1];
        else { fprintf(stderr, "unknown option %s\n", argv[i]); return 2; }
    }
    char deflt[64];
    snprintf(deflt, sizeof deflt, "ref,%s", kc_kernels_default()->name);
    if (!tables) tables = deflt;
    const int64_t N = 2, S = 128 * 128, C = 320, M = 4096, D = 640, F = 5120, Mg = 512, Dg = 4096;
    float *x = buf(N * S * C), *y = malloc(sizeof(float) * (size_t)(N * S * C)), *g = buf(4096), *p = buf(1024 * 2 * F);
    float *yf = malloc(sizeof(float) * (size_t)(1024 * F));
    kc_tensor gt = {.dtype = KC_DTYPE_F32, .ndim = 1, .shape = {C}, .data = g};
    kc_tensor gd = {.dtype = KC_DTYPE_F32, .ndim = 1, .shape = {D}, .data = g};
    kc_tensor gg = {.dtype = KC_DTYPE_F32, .ndim = 1, .shape = {Dg}, .data = g};
    for (const char *tb = tables; *tb;) {
        char name[32];
        size_t len = strcspn(tb, ",");
        snprintf(name, sizeof name, "%.*s", (int)len, tb);
        tb += len;
        if (*tb == ',') tb++;
        const kc_kernels *kt;
        kc_err err = {0};
        if (kc_kernels_select(name, &kt, &err)) { fprintf(stderr, "%s\n", err.msg); return 1; }
        kc_exec ex;
        kc_exec_init(&ex, nt, KC_PREC_FP32);
        ex.k = kt;
        for (int op = 0; op < 6; op++) {
            double best = 1e30, bytes = 0;
            const char *what = "";
            for (int r = 0; r < reps + 1; r++) {
                double t0 = kc_time_now();
                switch (op) {
                case 0: what = "group_norm+silu 2x128x128x320 G32"; bytes = 3.0 * N * S * C * 4;
                    kc_op_group_norm(&ex, x, y, N, S, C, 32, 1e-5f, &gt, &gt, 1, &err); break;
                case 1: what = "layer_norm 4096x640"; bytes = 2.0 * M * D * 4;
                    kc_op_layer_norm(&ex, x, y, M, D, 1e-5f, &gd, &gd, &err); break;
                case 2: what = "rms_norm 512x4096"; bytes = 2.0 * Mg * Dg * 4;
                    kc_op_rms_norm(&ex, x, y, Mg, Dg, 1e-5f, &gg, &err); break;
                case 3: what = "geglu 1024x5120"; bytes = 3.0 * 1024 * F * 4;
                    kc_op_geglu(&ex, yf, p, 1024, F); break;
                case 4: what = "swiglu 1024x5120"; bytes = 3.0 * 1024 * F * 4;
                    kc_op_swiglu(&ex, yf, p, 1024, F); break;
                default: what = "silu 2x128x128x320"; bytes = 2.0 * N * S * C * 4;
                    kc_op_silu(&ex, y, x, N * S * C); break;
                }
                double dt = kc_time_now() - t0;
                if (r > 0 && dt < best) best = dt;
            }
            printf("%-36s %-10s threads=%d  %8.3f ms  %6.1f GB/s\n", what, name, nt, best * 1e3, bytes / best * 1e-9);
        }
    }
    free(x); free(y); free(g); free(p); free(yf);
    return 0;
}
