/* test_gemm.c — kc_op_linear and kc_op_conv2d on every kernel table this CPU runs, against a
 * naive double-precision product / direct convolution, against the reference table, and
 * 1 vs 2 threads bit for bit, and prepacked weights (kc_op_prepack) bit for bit against packing
 * on the fly. Weights in F32/F16/BF16 at odd byte offsets (safetensors data
 * is unaligned); odd sizes, tails, M = 1, K not a multiple of 16, accumulate + bias.
 * Dimension letters: M rows, N outputs, K reduction; conv: N batch, H/W, Cin/Cout. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "kernels/kernels.h"
#include "ops/ops.h"

/* fp32 sums over K <= 600 of O(1) products: ~sqrt(K)·2^-24 relative; measured <= 1.2e-7. */
#define TOL_FP32 2e-6
/* bf16 inputs (8-bit mantissa, both operands rounded): measured 1.5e-3..3e-3 rel-L2. */
#define TOL_BF16 1e-2
/* bf16 SIMD vs bf16 reference: same rounded inputs, only the summation order differs:
 * measured <= 2e-7. */
#define TOL_BF16_VS_REF 2e-6

static const kc_kernels *tabs[4];
static int ntab;

/* Stores wf [n] as dtype dt at byte offset 2 of a fresh buffer (misaligned for every type),
 * replacing wf by the values actually stored. */
static kc_tensor make_w(kc_dtype dt, float *wf, int64_t N, int64_t K, void **block) {
    size_t es = kc_dtype_size(dt), n = (size_t)(N * K);
    unsigned char *buf = malloc(n * es + 8);
    kc_convert_from_f32(buf + 2, dt, wf, n);
    kc_convert_to_f32(wf, buf + 2, dt, n);
    *block = buf;
    kc_tensor t = {.dtype = dt, .ndim = 2, .shape = {N, K}, .data = buf + 2};
    return t;
}

static void naive_linear(const float *x, int64_t M, int64_t K, const float *w, int64_t N, const float *b, float *y) {
    for (int64_t m = 0; m < M; m++)
        for (int64_t n = 0; n < N; n++) {
            double acc = b ? b[n] : 0.0;
            for (int64_t k = 0; k < K; k++) acc += (double)x[m * K + k] * w[n * K + k];
            y[m * N + n] += (float)acc;
        }
}

static kc_exec exec_for(const kc_kernels *k, int nt, kc_precision p) {
    kc_exec ex;
    kc_exec_init(&ex, nt, p);
    ex.k = k;
    return ex;
}

static double worst_bf16 = 0, worst_fp32 = 0, worst_bf16_ref = 0;
static int n_prepacked = 0;

/* One linear or conv call with weight w (conv when p != NULL) into y (initialised from y0). */
typedef struct {
    const float *x;
    int64_t M, K;                 /* linear */
    int64_t N, H, W, Cin;         /* conv */
    const kc_conv_params *p;
    const kc_tensor *b;
    const float *y0;
    int64_t ny;
    int accumulate;
} gemm_call;

static kc_status run_call(const kc_exec *ex, const gemm_call *c, const kc_tensor *w, float *y, kc_err *err) {
    if (c->y0) memcpy(y, c->y0, sizeof(float) * (size_t)c->ny);
    else memset(y, 0, sizeof(float) * (size_t)c->ny);
    if (!c->p) return kc_op_linear(ex, c->x, c->M, c->K, w, c->b, y, c->accumulate, err);
    return kc_op_conv2d(ex, c->x, c->N, c->H, c->W, c->Cin, w, c->b, c->p, y, NULL, NULL, c->accumulate, NULL, err);
}

/* A weight prepacked for table kt's bf16 GEMM gives `want` (the on-the-fly bf16 result) bit for
 * bit on 1 and 2 threads; the pack is ignored in fp32 and by another table. */
static void check_prepacked(const kc_kernels *kt, const gemm_call *c, const kc_tensor *w, const float *want,
                            const char *name) {
    if (!kt->gemm_bf16_wpack) return;
    kc_exec e1 = exec_for(kt, 1, KC_PREC_BF16), e2 = exec_for(kt, 2, KC_PREC_BF16), ef = exec_for(kt, 1, KC_PREC_FP32);
    kc_exec eref = exec_for(kc_kernels_ref(), 1, KC_PREC_BF16);
    kc_tensor wp = *w;
    void *own = NULL;
    size_t bytes = 0;
    kc_err err = {0};
    const int64_t Nw = w->shape[0], Kw = kc_tensor_numel(w) / Nw;
    KC_CHECK(kc_op_prepack(&e1, &wp, &own, &bytes, &err) == KC_OK && own && wp.pack == own && wp.pack_for == kt &&
                 bytes >= (size_t)(Nw * Kw * 2),
             "%s: prepack (%s)", name, err.msg);
    kc_tensor wf = *w;
    void *own_f = NULL;
    KC_CHECK(kc_op_prepack(&ef, &wf, &own_f, NULL, &err) == KC_OK && !own_f && !wf.pack, "%s: no prepack in fp32", name);
    float *y = malloc(sizeof(float) * (size_t)c->ny), *y2 = malloc(sizeof(float) * (size_t)c->ny);
    KC_CHECK(run_call(&e1, c, &wp, y, &err) == KC_OK && memcmp(y, want, sizeof(float) * (size_t)c->ny) == 0,
             "%s: prepacked weight differs from packing on the fly (1 thread)", name);
    KC_CHECK(run_call(&e2, c, &wp, y, &err) == KC_OK && memcmp(y, want, sizeof(float) * (size_t)c->ny) == 0,
             "%s: prepacked weight differs from packing on the fly (2 threads)", name);
    KC_CHECK(run_call(&ef, c, &wp, y, &err) == KC_OK && run_call(&ef, c, w, y2, &err) == KC_OK &&
                 memcmp(y, y2, sizeof(float) * (size_t)c->ny) == 0,
             "%s: fp32 must ignore a bf16 pack", name);
    KC_CHECK(run_call(&eref, c, &wp, y, &err) == KC_OK && run_call(&eref, c, w, y2, &err) == KC_OK &&
                 memcmp(y, y2, sizeof(float) * (size_t)c->ny) == 0,
             "%s: another table must ignore the pack", name);
    n_prepacked++;
    free(y);
    free(y2);
    kc_op_prepack_free(own);
}

static void test_linear(int64_t M, int64_t N, int64_t K, kc_dtype dt, int accumulate, uint64_t seed) {
    float *x = malloc(sizeof(float) * (size_t)(M * K)), *wf = malloc(sizeof(float) * (size_t)(N * K));
    float *bf = malloc(sizeof(float) * (size_t)N), *y0 = malloc(sizeof(float) * (size_t)(M * N));
    float *truth = malloc(sizeof(float) * (size_t)(M * N)), *y = malloc(sizeof(float) * (size_t)(M * N));
    float *y2 = malloc(sizeof(float) * (size_t)(M * N)), *yr = malloc(sizeof(float) * (size_t)(M * N));
    kc_fill_random(x, M * K, seed, 1.0f);
    kc_fill_random(wf, N * K, seed + 1, 0.5f);
    kc_fill_random(bf, N, seed + 2, 0.3f);
    kc_fill_random(y0, M * N, seed + 3, 2.0f);
    void *blk;
    kc_tensor w = make_w(dt, wf, N, K, &blk);
    kc_tensor b = {.dtype = KC_DTYPE_F32, .ndim = 1, .shape = {N}, .data = bf};
    for (int64_t i = 0; i < M * N; i++) truth[i] = accumulate ? y0[i] : 0.0f;
    naive_linear(x, M, K, wf, N, bf, truth);
    char name[160];
    for (int pr = 0; pr < 2; pr++) {
        kc_precision prec = pr ? KC_PREC_BF16 : KC_PREC_FP32;
        kc_exec exr = exec_for(kc_kernels_ref(), 1, prec);
        memcpy(yr, y0, sizeof(float) * (size_t)(M * N));
        kc_err err = {0};
        KC_CHECK(kc_op_linear(&exr, x, M, K, &w, &b, yr, accumulate, &err) == KC_OK, "%s", err.msg);
        for (int t = 0; t < ntab; t++) {
            kc_exec e1 = exec_for(tabs[t], 1, prec), e2 = exec_for(tabs[t], 2, prec);
            memcpy(y, y0, sizeof(float) * (size_t)(M * N));
            memcpy(y2, y0, sizeof(float) * (size_t)(M * N));
            KC_CHECK(kc_op_linear(&e1, x, M, K, &w, &b, y, accumulate, &err) == KC_OK, "%s", err.msg);
            KC_CHECK(kc_op_linear(&e2, x, M, K, &w, &b, y2, accumulate, &err) == KC_OK, "%s", err.msg);
            snprintf(name, sizeof name, "linear %s %s M=%lld N=%lld K=%lld %s acc=%d", tabs[t]->name, pr ? "bf16" : "fp32",
                     (long long)M, (long long)N, (long long)K, kc_dtype_name(dt), accumulate);
            int bf16_path = pr && tabs[t]->gemm_bf16 && M > 3;
            kc_cmp c = kc_compare(y, truth, M * N);
            double tol = bf16_path ? TOL_BF16 : TOL_FP32;
            if (bf16_path && c.rel_l2 > worst_bf16) worst_bf16 = c.rel_l2;
            if (!bf16_path && c.rel_l2 > worst_fp32) worst_fp32 = c.rel_l2;
            KC_CHECK(check_close(name, y, truth, M * N, tol), "%s vs naive", name);
            if (bf16_path) {
                kc_cmp cr = kc_compare(y, yr, M * N);
                if (cr.rel_l2 > worst_bf16_ref) worst_bf16_ref = cr.rel_l2;
                KC_CHECK(cr.rel_l2 <= TOL_BF16_VS_REF, "%s vs ref bf16: rel %.3g", name, cr.rel_l2);
            }
            KC_CHECK(memcmp(y, y2, sizeof(float) * (size_t)(M * N)) == 0, "%s: 1 vs 2 threads differ", name);
            if (bf16_path) {
                gemm_call gc = {.x = x, .M = M, .K = K, .b = &b, .y0 = y0, .ny = M * N, .accumulate = accumulate};
                check_prepacked(tabs[t], &gc, &w, y, name);
            }
        }
    }
    free(blk);
    free(x); free(wf); free(bf); free(y0); free(truth); free(y); free(y2); free(yr);
}

/* A linear layer wide enough for three or more column tiles rounds A to bf16 once and reads
 * it in place (kc_gemm_args.xbf); the result must equal, bit for bit, the same product computed
 * in column slices narrow enough to pack A per tile (every output element is the same sequence
 * of operations either way). M = 37 leaves a partial register tile; odd K a padded pair,
 * K = 1601 a second K block, K = 512 a padded row stride. */
static void test_linear_wide(void) {
    const int64_t M = 37, N = 2100, SL = 700;
    const int64_t Ks[3] = {99, 1601, 512 /* 1 KiB rows: the copy's stride gets a cache line of padding */};
    for (int kk = 0; kk < 3; kk++) {
        const int64_t K = Ks[kk];
        float *x = malloc(sizeof(float) * (size_t)(M * K)), *wf = malloc(sizeof(float) * (size_t)(N * K));
        float *y = malloc(sizeof(float) * (size_t)(M * N)), *ys = malloc(sizeof(float) * (size_t)(M * SL));
        kc_fill_random(x, M * K, 91 + (uint64_t)kk, 1.0f);
        kc_fill_random(wf, N * K, 92 + (uint64_t)kk, 0.5f);
        void *blk;
        kc_tensor w = make_w(KC_DTYPE_F16, wf, N, K, &blk);
        for (int t = 0; t < ntab; t++) {
            if (!tabs[t]->gemm_bf16_convert_a) continue;
            for (int nt = 1; nt <= 2; nt++) {
                kc_exec ex = exec_for(tabs[t], nt, KC_PREC_BF16);
                kc_err err = {0};
                KC_CHECK(kc_op_linear(&ex, x, M, K, &w, NULL, y, 0, &err) == KC_OK, "%s", err.msg);
                int same = 1;
                for (int64_t j0 = 0; j0 < N; j0 += SL) {
                    kc_tensor ws = w;
                    ws.shape[0] = SL;
                    ws.data = (const unsigned char *)w.data + (size_t)(j0 * K) * 2;
                    KC_CHECK(kc_op_linear(&ex, x, M, K, &ws, NULL, ys, 0, &err) == KC_OK, "%s", err.msg);
                    for (int64_t m = 0; m < M; m++)
                        same &= memcmp(ys + m * SL, y + m * N + j0, sizeof(float) * (size_t)SL) == 0;
                }
                KC_CHECK(same, "linear %s bf16 %lldx%lldx%lld, %d thread(s): A rounded once != A packed per tile",
                         tabs[t]->name, (long long)M, (long long)N, (long long)K, nt);
                printf("ok   linear %s bf16 M=%lld N=%lld K=%lld %d thread(s): A rounded once == packed per tile\n",
                       tabs[t]->name, (long long)M, (long long)N, (long long)K, nt);
            }
        }
        free(blk);
        free(x); free(wf); free(y); free(ys);
    }
}

/* Row views of a prepacked weight (kc_op_rows_view, e.g. ChatGLM's Q and K/V slices of the fused
 * projection) compute what views of the unpacked weight compute, bit for bit, whether the view
 * starts on a packed panel (keeps the pack) or not (drops it). */
static void test_rows_view(void) {
    const int64_t M = 20, N = 100, K = 70;
    float *x = malloc(sizeof(float) * (size_t)(M * K)), *wf = malloc(sizeof(float) * (size_t)(N * K));
    float *y = malloc(sizeof(float) * (size_t)(M * N)), *yp = malloc(sizeof(float) * (size_t)(M * N));
    kc_fill_random(x, M * K, 301, 1.0f);
    kc_fill_random(wf, N * K, 302, 0.5f);
    void *blk;
    kc_tensor w = make_w(KC_DTYPE_F16, wf, N, K, &blk);
    for (int t = 0; t < ntab; t++) {
        if (!tabs[t]->gemm_bf16_wpack) continue;
        kc_exec ex = exec_for(tabs[t], 2, KC_PREC_BF16);
        kc_tensor wp = w;
        void *own = NULL;
        kc_err err = {0};
        KC_CHECK(kc_op_prepack(&ex, &wp, &own, NULL, &err) == KC_OK && own, "prepack: %s", err.msg);
        const int64_t views[3][2] = {{32, 50}, {5, 40}, {64, 36}};
        for (int v = 0; v < 3; v++) {
            kc_tensor a = kc_op_rows_view(&w, views[v][0], views[v][1]), b = kc_op_rows_view(&wp, views[v][0], views[v][1]);
            KC_CHECK((b.pack != NULL) == (views[v][0] % 32 == 0), "view at row %lld keeps the pack only on a panel start",
                     (long long)views[v][0]);
            KC_CHECK(kc_op_linear(&ex, x, M, K, &a, NULL, y, 0, &err) == KC_OK &&
                         kc_op_linear(&ex, x, M, K, &b, NULL, yp, 0, &err) == KC_OK &&
                         memcmp(y, yp, sizeof(float) * (size_t)(M * views[v][1])) == 0,
                     "%s: rows [%lld, +%lld) of a prepacked weight differ from the same rows unpacked", tabs[t]->name,
                     (long long)views[v][0], (long long)views[v][1]);
        }
        kc_op_prepack_free(own);
    }
    free(blk);
    free(x); free(wf); free(y); free(yp);
}

/* Direct convolution in double, PyTorch semantics (w [Cout, Cin, kh, kw]), channels-last. */
static void naive_conv(const float *x, int64_t N, int64_t H, int64_t W, int64_t Cin, const float *w, int64_t Cout,
                       int64_t kh, int64_t kw, const float *b, const kc_conv_params *p, int64_t Ho, int64_t Wo, float *y) {
    for (int64_t n = 0; n < N; n++)
        for (int64_t oy = 0; oy < Ho; oy++)
            for (int64_t ox = 0; ox < Wo; ox++)
                for (int64_t co = 0; co < Cout; co++) {
                    double acc = b[co];
                    for (int64_t ci = 0; ci < Cin; ci++)
                        for (int64_t ky = 0; ky < kh; ky++)
                            for (int64_t kx = 0; kx < kw; kx++) {
                                int64_t iy = oy * p->stride + ky - p->pad_t, ix = ox * p->stride + kx - p->pad_l;
                                if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
                                acc += (double)x[((n * H + iy) * W + ix) * Cin + ci] * w[((co * Cin + ci) * kh + ky) * kw + kx];
                            }
                    y[((n * Ho + oy) * Wo + ox) * Cout + co] = (float)acc;
                }
}

static void test_conv(int64_t N, int64_t H, int64_t W, int64_t Cin, int64_t Cout, int64_t kh, int64_t kw,
                      kc_conv_params p, kc_dtype dt, int use_arena, uint64_t seed) {
    const int64_t Ho = (H + p.pad_t + p.pad_b - kh) / p.stride + 1, Wo = (W + p.pad_l + p.pad_r - kw) / p.stride + 1;
    const int64_t nx = N * H * W * Cin, nw = Cout * Cin * kh * kw, ny = N * Ho * Wo * Cout;
    float *x = malloc(sizeof(float) * (size_t)nx), *wf = malloc(sizeof(float) * (size_t)nw);
    float *bf = malloc(sizeof(float) * (size_t)Cout), *truth = malloc(sizeof(float) * (size_t)ny);
    float *y = malloc(sizeof(float) * (size_t)ny), *y2 = malloc(sizeof(float) * (size_t)ny);
    kc_fill_random(x, nx, seed, 1.0f);
    kc_fill_random(wf, nw, seed + 1, 0.3f);
    kc_fill_random(bf, Cout, seed + 2, 0.3f);
    void *blk;
    kc_tensor w = make_w(dt, wf, Cout, Cin * kh * kw, &blk);
    w.ndim = 4;
    w.shape[0] = Cout; w.shape[1] = Cin; w.shape[2] = kh; w.shape[3] = kw;
    kc_tensor b = {.dtype = KC_DTYPE_F32, .ndim = 1, .shape = {Cout}, .data = bf};
    naive_conv(x, N, H, W, Cin, wf, Cout, kh, kw, bf, &p, Ho, Wo, truth);
    kc_arena ar;
    kc_err err = {0};
    KC_CHECK(kc_arena_init(&ar, "conv-test", 1 << 20, &err) == KC_OK, "%s", err.msg);
    char name[200];
    for (int pr = 0; pr < 2; pr++)
        for (int t = 0; t < ntab; t++) {
            kc_precision prec = pr ? KC_PREC_BF16 : KC_PREC_FP32;
            kc_exec e1 = exec_for(tabs[t], 1, prec), e2 = exec_for(tabs[t], 2, prec);
            int64_t ho = 0, wo = 0;
            KC_CHECK(kc_op_conv2d(&e1, x, N, H, W, Cin, &w, &b, &p, y, &ho, &wo, 0, use_arena ? &ar : NULL, &err) == KC_OK,
                     "%s", err.msg);
            KC_CHECK(ho == Ho && wo == Wo, "conv output %lldx%lld, expected %lldx%lld", (long long)ho, (long long)wo,
                     (long long)Ho, (long long)Wo);
            KC_CHECK(ar.used == 0, "conv2d left %zu bytes of scratch in use", ar.used);
            KC_CHECK(kc_op_conv2d(&e2, x, N, H, W, Cin, &w, &b, &p, y2, NULL, NULL, 0, use_arena ? &ar : NULL, &err) == KC_OK,
                     "%s", err.msg);
            snprintf(name, sizeof name, "conv %s %s %lldx%lldx%lld->%lld k%lldx%lld s%d pad %d,%d,%d,%d %s", tabs[t]->name,
                     pr ? "bf16" : "fp32", (long long)H, (long long)W, (long long)Cin, (long long)Cout, (long long)kh,
                     (long long)kw, p.stride, p.pad_t, p.pad_l, p.pad_b, p.pad_r, kc_dtype_name(dt));
            int bf16_path = pr && tabs[t]->gemm_bf16;
            KC_CHECK(check_close(name, y, truth, ny, bf16_path ? TOL_BF16 : TOL_FP32), "%s", name);
            KC_CHECK(memcmp(y, y2, sizeof(float) * (size_t)ny) == 0, "%s: 1 vs 2 threads differ", name);
            if (bf16_path) {
                gemm_call c = {.x = x, .N = N, .H = H, .W = W, .Cin = Cin, .p = &p, .b = &b, .ny = ny};
                check_prepacked(tabs[t], &c, &w, y, name);
            }
        }
    kc_arena_free(&ar);
    free(blk);
    free(x); free(wf); free(bf); free(truth); free(y); free(y2);
}

int main(void) {
    ntab = kc_kernels_available(tabs, 4);
    printf("tables:");
    for (int i = 0; i < ntab; i++) printf(" %s", tabs[i]->name);
    printf(" (default %s)\n", kc_kernels_default()->name);
    KC_CHECK(ntab >= 1 && strcmp(tabs[0]->name, "ref") == 0, "ref table must always be available");
    const kc_kernels *k = NULL;
    kc_err err = {0};
    KC_CHECK(kc_kernels_select("no-such-isa", &k, &err) == KC_ERR_UNSUPPORTED && strstr(err.msg, "no-such-isa"),
             "unknown table name must fail with its name in the message");

    const kc_dtype dts[3] = {KC_DTYPE_F32, KC_DTYPE_F16, KC_DTYPE_BF16};
    const int64_t shapes[][3] = {{1, 37, 19}, {3, 70, 33}, {4, 33, 17}, {5, 64, 16}, {29, 100, 257},
                                 {130, 300, 70}, {13, 31, 600}, {64, 32, 513},
                                 {20, 40, 1700} /* several K blocks in both precisions */};
    uint64_t seed = 1;
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int d = 0; d < 3; d++) test_linear(shapes[s][0], shapes[s][1], shapes[s][2], dts[d], (int)(s & 1), seed++);
    test_linear(50, 40, 30, KC_DTYPE_F16, 1, seed++);
    test_linear_wide();
    test_rows_view();

    kc_conv_params same = {.stride = 1, .pad_t = 1, .pad_l = 1, .pad_b = 1, .pad_r = 1};
    kc_conv_params down = {.stride = 2, .pad_t = 0, .pad_l = 0, .pad_b = 1, .pad_r = 1}; /* VAE encoder */
    kc_conv_params none = {.stride = 1};
    kc_conv_params s2 = {.stride = 2, .pad_t = 1, .pad_l = 1, .pad_b = 1, .pad_r = 1};
    test_conv(2, 9, 7, 5, 6, 3, 3, same, KC_DTYPE_F32, 1, seed++);
    test_conv(1, 8, 10, 16, 33, 3, 3, down, KC_DTYPE_F16, 0, seed++);
    test_conv(2, 7, 9, 3, 20, 3, 3, down, KC_DTYPE_BF16, 1, seed++);
    test_conv(1, 6, 5, 4, 40, 3, 3, same, KC_DTYPE_F16, 1, seed++); /* Cin 4: the U-Net conv_in */
    test_conv(1, 5, 6, 7, 9, 1, 1, none, KC_DTYPE_F32, 1, seed++);
    test_conv(2, 9, 8, 12, 10, 3, 3, s2, KC_DTYPE_F32, 0, seed++);
    test_conv(1, 12, 11, 36, 70, 3, 3, same, KC_DTYPE_BF16, 0, seed++);
    test_conv(1, 6, 5, 200, 20, 3, 3, same, KC_DTYPE_F16, 1, seed++); /* K blocks end inside a tap */
    printf("worst rel-L2 vs naive: fp32 paths %.3g, bf16 paths %.3g; bf16 SIMD vs bf16 ref %.3g\n", worst_fp32, worst_bf16,
           worst_bf16_ref);
    if (n_prepacked) printf("prepacked bf16 weights: %d linear/conv cases bit-identical to packing on the fly\n", n_prepacked);
    else printf("prepacked bf16 weights: not checked (no table here prepacks: this CPU has no AVX512-BF16)\n");
    return kc_test_finish();
}
