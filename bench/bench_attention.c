/* bench_attention.c — GFLOP/s of kc_op_attention at the Kolors shapes (4·N·NH·Tq·Tk·D flops
 * counted for full masks, half for causal), per kernel table and thread count. The machine is
 * shared: GFLOP per CPU-second is printed next to the wall-clock figure.
 *
 *   bench_attention [--threads 1,2] [--prec fp32,bf16] [--reps N] [--tables avx512bf16,ref] [--only NAME]
 *
 * Dimension letters: N batch, NH/NKV heads, D head dim, Tq/Tk tokens. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "core/sysinfo.h"
#include "kernels/kernels.h"
#include "ops/ops.h"

typedef struct {
    const char *name;
    int64_t N, Tq, Tk, NH, NKV, D;
    int causal;
} shape;

static const shape shapes[] = {
    {"unet-self 512^2 (1024 tok, 10x64)", 1, 1024, 1024, 10, 10, 64, 0},
    {"unet-cross 512^2 (1024 x 256 tok)", 1, 1024, 256, 10, 10, 64, 0},
    {"unet-self 1024^2 (4096 tok, 10x64)", 1, 4096, 4096, 10, 10, 64, 0},
    {"glm 2x256 tok, 32 heads/2 kv x128, causal+pad", 2, 256, 256, 32, 2, 128, 1},
};

static double cpu_now(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec + 1e-6 * (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

int main(int argc, char **argv) {
    const char *threads = "1,2", *tables = NULL, *only = NULL, *precs = "fp32,bf16";
    int reps = 2;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--threads")) threads = argv[i + 1];
        else if (!strcmp(argv[i], "--reps")) reps = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--prec")) precs = argv[i + 1];
        else if (!strcmp(argv[i], "--tables")) tables = argv[i + 1];
        else if (!strcmp(argv[i], "--only")) only = argv[i + 1];
        else { fprintf(stderr, "unknown option %s\n", argv[i]); return 2; }
    }
    if (!tables) tables = kc_kernels_default()->name;
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const shape *sh = &shapes[s];
        if (only && !strstr(sh->name, only)) continue;
        const int64_t nq = sh->N * sh->Tq * sh->NH * sh->D, nk = sh->N * sh->Tk * sh->NKV * sh->D;
        float *q = malloc(sizeof(float) * (size_t)nq), *o = malloc(sizeof(float) * (size_t)nq);
        float *k = malloc(sizeof(float) * (size_t)nk), *v = malloc(sizeof(float) * (size_t)nk);
        for (int64_t i = 0; i < nq; i++) q[i] = sinf((float)i * 0.37f);
        for (int64_t i = 0; i < nk; i++) { k[i] = cosf((float)i * 0.11f); v[i] = sinf((float)i * 0.05f); }
        int32_t pad[2] = {0, 40};
        kc_attn_args a = {.q = q, .k = k, .v = v, .o = o, .N = sh->N, .Tq = sh->Tq, .Tk = sh->Tk, .NH = sh->NH,
                          .NKV = sh->NKV, .D = sh->D, .q_bs = sh->Tq * sh->NH * sh->D, .q_ts = sh->NH * sh->D,
                          .k_bs = sh->Tk * sh->NKV * sh->D, .k_ts = sh->NKV * sh->D, .v_bs = sh->Tk * sh->NKV * sh->D,
                          .v_ts = sh->NKV * sh->D, .o_bs = sh->Tq * sh->NH * sh->D, .o_ts = sh->NH * sh->D,
                          .scale = 1.0f / sqrtf((float)sh->D), .causal = sh->causal, .pad = sh->causal ? pad : NULL};
        const double gflop = 4.0 * sh->N * sh->NH * (double)sh->Tq * sh->Tk * sh->D * 1e-9 * (sh->causal ? 0.5 : 1.0);
        for (const char *tb = tables; *tb;) {
            char name[32];
            size_t len = strcspn(tb, ",");
            snprintf(name, sizeof name, "%.*s", (int)len, tb);
            const kc_kernels *kt = NULL;
            kc_err err = {0};
            if (kc_kernels_select(name, &kt, &err)) { fprintf(stderr, "%s\n", err.msg); return 1; }
            for (const char *pp = precs; *pp;) {
            const kc_precision prec = !strncmp(pp, "bf16", 4) ? KC_PREC_BF16 : KC_PREC_FP32;
            for (const char *tp = threads; *tp;) {
                kc_exec ex;
                kc_exec_init(&ex, atoi(tp), prec);
                ex.k = kt;
                double best = 1e30, best_cpu = 1e30;
                for (int r = 0; r < reps + 1; r++) {
                    double t0 = kc_time_now(), c0 = cpu_now();
                    if (kc_op_attention(&ex, &a, &err)) { fprintf(stderr, "%s\n", err.msg); return 1; }
                    double dt = kc_time_now() - t0, dc = cpu_now() - c0;
                    if (r > 0 && dt < best) best = dt;
                    if (r > 0 && dc < best_cpu) best_cpu = dc;
                }
                printf("%-48s %-10s %s threads=%d  %8.4f s  %7.1f GFLOP/s  (%6.1f GFLOP per CPU-second)\n", sh->name, name,
                       prec == KC_PREC_BF16 ? "bf16" : "fp32", ex.n_threads, best, gflop / best, gflop / best_cpu);
                fflush(stdout);
                tp = strchr(tp, ',');
                tp = tp ? tp + 1 : "";
            }
            pp = strchr(pp, ',');
            pp = pp ? pp + 1 : "";
            }
            tb += len;
            if (*tb == ',') tb++;
        }
        free(q); free(o); free(k); free(v);
    }
    return 0;
}
