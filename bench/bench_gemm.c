/* bench_gemm.c — GFLOP/s of kc_op_linear / kc_op_conv2d at the Kolors shapes, fp32 and bf16,
 * on 1 and 2 threads (the machine's other load makes single runs noisy: best of `reps`).
 *
 *   bench_gemm [--threads 1,2] [--prec fp32,bf16] [--wdtype f16|bf16|f32] [--reps N] [--only NAME]
 *
 * Dimension letters: M rows (tokens / pixels), K reduction, N outputs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "core/sysinfo.h"
#include "kernels/kernels.h"
#include "ops/ops.h"
#include "gemm_shapes.h"


static double now(void) { return kc_time_now(); }
/* CPU seconds of the process (all threads): on a shared machine, GFLOP per CPU-second shows
 * the kernel's own speed even while other work steals the cores. */
static double cpu_now(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec + 1e-6 * (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

int main(int argc, char **argv) {
    const char *threads = "1,2", *precs = "fp32,bf16", *wd = "f16", *only = NULL;
    int reps = 3;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--threads")) threads = argv[i + 1];
        else if (!strcmp(argv[i], "--prec")) precs = argv[i + 1];
        else if (!strcmp(argv[i], "--wdtype")) wd = argv[i + 1];
        else if (!strcmp(argv[i], "--reps")) reps = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--only")) only = argv[i + 1];
        else { fprintf(stderr, "unknown option %s\n", argv[i]); return 2; }
    }
    kc_dtype wt = !strcmp(wd, "bf16") ? KC_DTYPE_BF16 : !strcmp(wd, "f32") ? KC_DTYPE_F32 : KC_DTYPE_F16;
    printf("kernel table %s, weights %s\n", kc_kernels_default()->name, kc_dtype_name(wt));
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const shape *sh = &shapes[s];
        if (only && !strstr(sh->name, only)) continue;
        float *x = malloc(sizeof(float) * (size_t)(sh->M * (sh->conv ? sh->K / 9 : sh->K)));
        float *y = malloc(sizeof(float) * (size_t)(sh->M * sh->N));
        float *wf = malloc(sizeof(float) * (size_t)(sh->N * sh->K));
        void *wb = malloc(kc_dtype_size(wt) * (size_t)(sh->N * sh->K));
        if (!x || !y || !wf || !wb) { fprintf(stderr, "out of memory\n"); return 1; }
        int64_t nx = sh->M * (sh->conv ? sh->K / 9 : sh->K);
        for (int64_t i = 0; i < nx; i++) x[i] = (float)((i * 7919) % 1000) / 1000.0f - 0.5f;
        for (int64_t i = 0; i < sh->N * sh->K; i++) wf[i] = (float)((i * 104729) % 2000) / 20000.0f - 0.05f;
        kc_convert_from_f32(wb, wt, wf, (size_t)(sh->N * sh->K));
        free(wf);
        kc_tensor w = {.dtype = wt, .ndim = 2, .shape = {sh->N, sh->K}, .data = wb};
        int64_t side = 1;
        while (side * side < sh->M) side++;
        if (sh->conv) { w.ndim = 4; w.shape[1] = sh->K / 9; w.shape[2] = 3; w.shape[3] = 3; }
        const double gflop = 2.0 * (double)sh->M * (double)sh->K * (double)sh->N * 1e-9;
        for (const char *pp = precs; *pp;) {
            kc_precision prec = !strncmp(pp, "bf16", 4) ? KC_PREC_BF16 : KC_PREC_FP32;
            for (const char *tp = threads; *tp;) {
                int nt = atoi(tp);
                kc_exec ex;
                kc_exec_init(&ex, nt, prec);
                kc_err err = {0};
                kc_conv_params cp = {.stride = 1, .pad_t = 1, .pad_l = 1, .pad_b = 1, .pad_r = 1};
                double best = 1e30, best_cpu = 1e30;
                for (int r = 0; r < reps + 1; r++) { /* first run warms up */
                    double t0 = now(), c0 = cpu_now();
                    kc_status st = sh->conv ? kc_op_conv2d(&ex, x, 1, side, side, sh->K / 9, &w, NULL, &cp, y, NULL, NULL, 0, NULL, &err)
                                            : kc_op_linear(&ex, x, sh->M, sh->K, &w, NULL, y, 0, &err);
                    double dt = now() - t0, dc = cpu_now() - c0;
                    if (st) { fprintf(stderr, "%s\n", err.msg); return 1; }
                    if (r > 0 && dt < best) best = dt;
                    if (r > 0 && dc < best_cpu) best_cpu = dc;
                }
                printf("%-50s %-4s threads=%d  %8.4f s  %7.1f GFLOP/s  (%6.1f GFLOP per CPU-second)\n", sh->name,
                       prec == KC_PREC_BF16 ? "bf16" : "fp32", nt, best, gflop / best, gflop / best_cpu);
                fflush(stdout);
                tp = strchr(tp, ',');
                tp = tp ? tp + 1 : "";
            }
            pp = strchr(pp, ',');
            pp = pp ? pp + 1 : "";
        }
        free(x); free(y); free(wb);
    }
    return 0;
}
