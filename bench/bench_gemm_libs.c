/* bench_gemm_libs.c — kolors.c's GEMM and convolution against the Debian libraries issue #6
 * names, at the Kolors shapes, side by side in one process: oneDNN (libdnnl-dev, its C API)
 * bf16 and fp32 matmul / convolution, OpenBLAS (libopenblas-dev) cblas_sgemm, and kc_op_linear /
 * kc_op_conv2d in bf16 (weights prepacked, as the models run) and fp32. Each library part is
 * compiled only when CMake finds the library; the others print why they are missing.
 *
 *   bench_gemm_libs [--threads N] [--reps N] [--only NAME] [--check-threads 1]
 *
 * --check-threads 1 also compares oneDNN's bf16 result on 1 thread with the one on N threads
 * (kolors.c's results never depend on the thread count).
 *
 * What is timed (best of reps after one warm-up run):
 *   kolors.c: the op as the models call it: fp32 activations in and out, fp16 weights (bf16:
 *     prepacked once, outside the timing); the rounding of A to bf16 is inside the timing.
 *   oneDNN: the primitive alone, with its own preferred weight layout (reordered once, outside
 *     the timing); bf16 runs take A already in bf16 (the conversion is not timed) and write fp32.
 *   OpenBLAS: cblas_sgemm on fp32 A and W.
 * Dimension letters: M rows (tokens / pixels), K reduction, N outputs; convs are 3x3 "same"
 * on a square image of M pixels, K = 9 Cin. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/sysinfo.h"
#include "kernels/kernels.h"
#include "ops/ops.h"
#include "gemm_shapes.h"

#ifdef KC_BENCH_DNNL
#include <oneapi/dnnl/dnnl.h>
#include <omp.h>
#endif
#ifdef KC_BENCH_OPENBLAS
#include <cblas.h>
#endif


static void row(const char *shape_name, const char *who, const char *prec, double s, double gflop) {
    printf("%-46s %-10s %-5s %9.4f s  %7.1f GFLOP/s\n", shape_name, who, prec, s, gflop / s);
    fflush(stdout);
}

/* ---- kolors.c ---------------------------------------------------------------------------- */

static double time_kolors(const shape *sh, const float *x, const kc_tensor *w_in, float *y, kc_precision prec, int nt,
                          int reps) {
    kc_exec ex;
    kc_exec_init(&ex, nt, prec);
    kc_tensor w = *w_in;
    void *own = NULL;
    kc_err err = {0};
    if (kc_op_prepack(&ex, &w, &own, NULL, &err)) { fprintf(stderr, "prepack: %s\n", err.msg); return NAN; }
    const int64_t side = (int64_t)llround(sqrt((double)sh->M));
    kc_conv_params cp = {.stride = 1, .pad_t = 1, .pad_l = 1, .pad_b = 1, .pad_r = 1};
    double best = INFINITY;
    for (int r = 0; r <= reps; r++) {
        double t0 = kc_time_now();
        kc_status st = sh->conv ? kc_op_conv2d(&ex, x, 1, side, side, sh->K / 9, &w, NULL, &cp, y, NULL, NULL, 0, NULL, &err)
                                : kc_op_linear(&ex, x, sh->M, sh->K, &w, NULL, y, 0, &err);
        double dt = kc_time_now() - t0;
        if (st) { fprintf(stderr, "%s\n", err.msg); best = NAN; break; }
        if (r > 0 && dt < best) best = dt;
    }
    if (own) kc_op_prepack_free(own);
    return best;
}

/* ---- oneDNN ------------------------------------------------------------------------------ */

#ifdef KC_BENCH_DNNL
#define DN(call) do { dnnl_status_t st_ = (call); if (st_ != dnnl_success) { fprintf(stderr, "oneDNN: %s failed (%d)\n", #call, (int)st_); return NAN; } } while (0)

/* Reorders `src` (described by src_md) into a new memory of dst_md; returns it in *out. */
static int dn_reorder(dnnl_engine_t eng, dnnl_stream_t strm, const dnnl_memory_desc_t *src_md, void *src,
                      const dnnl_memory_desc_t *dst_md, dnnl_memory_t *out) {
    dnnl_memory_t ms, md;
    dnnl_primitive_desc_t rpd;
    dnnl_primitive_t rp;
    if (dnnl_memory_create(&ms, src_md, eng, src) != dnnl_success) return 1;
    if (dnnl_memory_create(&md, dst_md, eng, DNNL_MEMORY_ALLOCATE) != dnnl_success) return 1;
    if (dnnl_reorder_primitive_desc_create(&rpd, src_md, eng, dst_md, eng, NULL) != dnnl_success) return 1;
    if (dnnl_primitive_create(&rp, rpd) != dnnl_success) return 1;
    dnnl_exec_arg_t a[2] = {{DNNL_ARG_FROM, ms}, {DNNL_ARG_TO, md}};
    if (dnnl_primitive_execute(rp, strm, 2, a) != dnnl_success) return 1;
    dnnl_stream_wait(strm);
    dnnl_primitive_destroy(rp);
    dnnl_primitive_desc_destroy(rpd);
    dnnl_memory_destroy(ms);
    *out = md;
    return 0;
}

/* x fp32 [M, K] (or [H, W, Cin]), w fp32 [N, K] (or [Cout, Cin, 3, 3]). with_cvt: the rounding
 * of x to bf16 (a reorder) is timed with the primitive, as a model keeping fp32 activations would
 * run it. Output (if y != NULL): the result, for the thread-count check. */
static double time_dnnl(const shape *sh, const float *x, const float *w, int bf16, int with_cvt, int nt, int reps,
                        float *y) {
    omp_set_num_threads(nt);
    dnnl_engine_t eng;
    dnnl_stream_t strm;
    DN(dnnl_engine_create(&eng, dnnl_cpu, 0));
    DN(dnnl_stream_create(&strm, eng, dnnl_stream_default_flags));
    const dnnl_data_type_t dt = bf16 ? dnnl_bf16 : dnnl_f32;
    dnnl_memory_desc_t x_user, x_md, w_user, w_any, y_md;
    dnnl_primitive_desc_t pd;
    if (!sh->conv) {
        dnnl_dims_t xd = {sh->M, sh->K}, wd = {sh->K, sh->N}, yd = {sh->M, sh->N};
        DN(dnnl_memory_desc_init_by_tag(&x_user, 2, xd, dnnl_f32, dnnl_ab));
        DN(dnnl_memory_desc_init_by_tag(&x_md, 2, xd, dt, dnnl_ab));
        DN(dnnl_memory_desc_init_by_tag(&w_user, 2, wd, dnnl_f32, dnnl_ba)); /* W [N, K] row-major = [K, N] "ba" */
        DN(dnnl_memory_desc_init_by_tag(&w_any, 2, wd, dt, dnnl_format_tag_any));
        DN(dnnl_memory_desc_init_by_tag(&y_md, 2, yd, dnnl_f32, dnnl_ab));
        dnnl_matmul_desc_t md;
        DN(dnnl_matmul_desc_init(&md, &x_md, &w_any, NULL, &y_md));
        DN(dnnl_primitive_desc_create(&pd, &md, NULL, eng, NULL));
    } else {
        const int64_t side = (int64_t)llround(sqrt((double)sh->M)), cin = sh->K / 9;
        dnnl_dims_t xd = {1, cin, side, side}, wd = {sh->N, cin, 3, 3}, yd = {1, sh->N, side, side};
        dnnl_dims_t strides = {1, 1}, pad = {1, 1};
        DN(dnnl_memory_desc_init_by_tag(&x_user, 4, xd, dnnl_f32, dnnl_nhwc));
        DN(dnnl_memory_desc_init_by_tag(&x_md, 4, xd, dt, dnnl_nhwc));
        DN(dnnl_memory_desc_init_by_tag(&w_user, 4, wd, dnnl_f32, dnnl_oihw));
        DN(dnnl_memory_desc_init_by_tag(&w_any, 4, wd, dt, dnnl_format_tag_any));
        DN(dnnl_memory_desc_init_by_tag(&y_md, 4, yd, dnnl_f32, dnnl_nhwc));
        dnnl_convolution_desc_t cd;
        DN(dnnl_convolution_forward_desc_init(&cd, dnnl_forward_inference, dnnl_convolution_direct, &x_md, &w_any, NULL,
                                              &y_md, strides, pad, pad));
        DN(dnnl_primitive_desc_create(&pd, &cd, NULL, eng, NULL));
    }
    const dnnl_memory_desc_t *w_pd = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
    dnnl_memory_t mx, mw, my;
    if (dn_reorder(eng, strm, &x_user, (void *)x, &x_md, &mx) || dn_reorder(eng, strm, &w_user, (void *)w, w_pd, &mw)) {
        fprintf(stderr, "oneDNN: reorder failed\n");
        return NAN;
    }
    DN(dnnl_memory_create(&my, &y_md, eng, y ? (void *)y : DNNL_MEMORY_ALLOCATE));
    dnnl_primitive_t prim;
    DN(dnnl_primitive_create(&prim, pd));
    dnnl_exec_arg_t args[3] = {{DNNL_ARG_SRC, mx}, {DNNL_ARG_WEIGHTS, mw}, {DNNL_ARG_DST, my}};
    /* the x reorder, timed with the primitive when with_cvt */
    dnnl_memory_t mxu;
    dnnl_primitive_desc_t rpd;
    dnnl_primitive_t rp;
    DN(dnnl_memory_create(&mxu, &x_user, eng, (void *)x));
    DN(dnnl_reorder_primitive_desc_create(&rpd, &x_user, eng, &x_md, eng, NULL));
    DN(dnnl_primitive_create(&rp, rpd));
    dnnl_exec_arg_t rargs[2] = {{DNNL_ARG_FROM, mxu}, {DNNL_ARG_TO, mx}};
    double best = INFINITY;
    for (int r = 0; r <= reps; r++) {
        double t0 = kc_time_now();
        if (with_cvt) DN(dnnl_primitive_execute(rp, strm, 2, rargs));
        DN(dnnl_primitive_execute(prim, strm, 3, args));
        DN(dnnl_stream_wait(strm));
        double el = kc_time_now() - t0;
        if (r > 0 && el < best) best = el;
    }
    dnnl_primitive_destroy(rp);
    dnnl_primitive_desc_destroy(rpd);
    dnnl_memory_destroy(mxu);
    dnnl_primitive_destroy(prim);
    dnnl_primitive_desc_destroy(pd);
    dnnl_memory_destroy(mx);
    dnnl_memory_destroy(mw);
    dnnl_memory_destroy(my);
    dnnl_stream_destroy(strm);
    dnnl_engine_destroy(eng);
    return best;
}
#endif

/* ---- OpenBLAS ---------------------------------------------------------------------------- */

#ifdef KC_BENCH_OPENBLAS
static double time_openblas(const shape *sh, const float *x, const float *w, float *y, int nt, int reps) {
    openblas_set_num_threads(nt);
    double best = INFINITY;
    for (int r = 0; r <= reps; r++) {
        double t0 = kc_time_now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)sh->M, (int)sh->N, (int)sh->K, 1.0f, x, (int)sh->K, w,
                    (int)sh->K, 0.0f, y, (int)sh->N);
        double dt = kc_time_now() - t0;
        if (r > 0 && dt < best) best = dt;
    }
    return best;
}
#endif

int main(int argc, char **argv) {
    int nt = 2, reps = 3, check = 0;
    const char *only = NULL;
    for (int i = 1; i < argc; i += 2) {
        if (i + 1 >= argc) { fprintf(stderr, "usage: bench_gemm_libs [--threads N] [--reps N] [--only NAME] [--check-threads 1]\n"); return 2; }
        if (!strcmp(argv[i], "--threads")) nt = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--reps")) reps = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--only")) only = argv[i + 1];
        else if (!strcmp(argv[i], "--check-threads")) check = atoi(argv[i + 1]);
        else { fprintf(stderr, "unknown option %s\n", argv[i]); return 2; }
    }
    if (nt < 1 || reps < 1) { fprintf(stderr, "--threads and --reps must be >= 1\n"); return 2; }
    printf("# kernel table %s, %d threads, best of %d\n", kc_kernels_default()->name, nt, reps);
#ifndef KC_BENCH_DNNL
    printf("# oneDNN: not built (libdnnl-dev 2.x was not found when configuring)\n");
    if (check) printf("# --check-threads: needs oneDNN\n");
#endif
#ifndef KC_BENCH_OPENBLAS
    printf("# OpenBLAS: not built (libopenblas-dev was not found when configuring)\n");
#endif
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const shape *sh = &shapes[s];
        if (only && !strstr(sh->name, only)) continue;
        const int64_t nx = sh->M * (sh->conv ? sh->K / 9 : sh->K), nw = sh->N * sh->K;
        float *x = malloc(sizeof(float) * (size_t)nx), *y = malloc(sizeof(float) * (size_t)(sh->M * sh->N));
        float *wf = malloc(sizeof(float) * (size_t)nw);
        uint16_t *wh = malloc(sizeof(uint16_t) * (size_t)nw);
        if (!x || !y || !wf || !wh) { fprintf(stderr, "out of memory\n"); return 1; }
        for (int64_t i = 0; i < nx; i++) x[i] = (float)((i * 7919) % 1000) / 1000.0f - 0.5f;
        for (int64_t i = 0; i < nw; i++) wf[i] = (float)((i * 104729) % 2000) / 20000.0f - 0.05f;
        kc_convert_from_f32(wh, KC_DTYPE_F16, wf, (size_t)nw);
        kc_convert_to_f32(wf, wh, KC_DTYPE_F16, (size_t)nw); /* every party multiplies the same weights */
        kc_tensor w = {.dtype = KC_DTYPE_F16, .ndim = 2, .shape = {sh->N, sh->K}, .data = wh};
        if (sh->conv) { w.ndim = 4; w.shape[1] = sh->K / 9; w.shape[2] = 3; w.shape[3] = 3; }
        const double gflop = 2.0 * (double)sh->M * (double)sh->K * (double)sh->N * 1e-9;
        row(sh->name, "kolors.c", "bf16", time_kolors(sh, x, &w, y, KC_PREC_BF16, nt, reps), gflop);
#ifdef KC_BENCH_DNNL
        row(sh->name, "oneDNN", "bf16", time_dnnl(sh, x, wf, 1, 0, nt, reps, NULL), gflop);
        row(sh->name, "oneDNN+cvt", "bf16", time_dnnl(sh, x, wf, 1, 1, nt, reps, NULL), gflop);
        if (check) { /* same result on 1 thread as on nt? (kolors.c: always, test_gemm checks it) */
            float *y1 = malloc(sizeof(float) * (size_t)(sh->M * sh->N)), *y2 = malloc(sizeof(float) * (size_t)(sh->M * sh->N));
            if (y1 && y2) {
                time_dnnl(sh, x, wf, 1, 0, 1, 1, y1);
                time_dnnl(sh, x, wf, 1, 0, nt, 1, y2);
                printf("%-46s oneDNN     bf16  1 vs %d threads: %s\n", sh->name, nt,
                       memcmp(y1, y2, sizeof(float) * (size_t)(sh->M * sh->N)) ? "results DIFFER" : "bit-identical");
            }
            free(y1);
            free(y2);
        }
#endif
        row(sh->name, "kolors.c", "fp32", time_kolors(sh, x, &w, y, KC_PREC_FP32, nt, reps), gflop);
#ifdef KC_BENCH_DNNL
        row(sh->name, "oneDNN", "fp32", time_dnnl(sh, x, wf, 0, 0, nt, reps, NULL), gflop);
#endif
#ifdef KC_BENCH_OPENBLAS
        if (!sh->conv) row(sh->name, "OpenBLAS", "fp32", time_openblas(sh, x, wf, y, nt, reps), gflop);
#endif
        free(x); free(y); free(wf); free(wh);
    }
    return 0;
}
