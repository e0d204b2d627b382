/* test_attn_norm.c — kc_op_attention, the norms and the activations on every kernel table
 * this CPU runs, against naive double-precision formulas written here, and 1 vs 2 threads
 * bit for bit. Covers MQA, the causal + ChatGLM left-padding mask (padding rows see every
 * key), head dims that are not multiples of 16, large score magnitudes, near-constant norm
 * rows, strided (fused QKV) layouts.
 * Dimension letters: N batch, NH/NKV heads, D head dim, Tq/Tk tokens, S pixels, C channels. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "kernels/kernels.h"
#include "ops/ops.h"

/* fp32 softmax/norm/activation against double formulas: measured <= 3e-7 rel-L2. */
#define TOL_FP32 2e-6
/* bf16 attention (q, k, P, v rounded to 8-bit mantissas, fp32 sums): measured 1.8e-3..3.7e-3,
 * 8.8e-3 in the case with scores up to ±100 (bf16 rounding of q·k is ~0.4 there). */
#define TOL_ATTN_BF16 1e-2
/* The vectorised erf (A&S 7.1.26, abs error 1.5e-7) inside GELU: measured ~1e-7. */
#define TOL_GELU 2e-6

static const kc_kernels *tabs[4];
static int ntab;

static kc_exec exec_prec(const kc_kernels *k, int nt, kc_precision p) {
    kc_exec ex;
    kc_exec_init(&ex, nt, p);
    ex.k = k;
    return ex;
}

static kc_exec exec_for(const kc_kernels *k, int nt) {
    kc_exec ex;
    kc_exec_init(&ex, nt, KC_PREC_FP32);
    ex.k = k;
    return ex;
}

/* Full softmax attention in double, mask semantics of ops.h. */
static void naive_attn(const kc_attn_args *a) {
    const int64_t rep = a->NH / a->NKV;
    double *s = malloc(sizeof(double) * (size_t)a->Tk);
    for (int64_t b = 0; b < a->N; b++)
        for (int64_t h = 0; h < a->NH; h++)
            for (int64_t i = 0; i < a->Tq; i++) {
                int64_t j0 = 0, j1 = a->Tk;
                if (a->causal) {
                    int64_t P = a->pad ? a->pad[b] : 0;
                    if (i >= P) { j0 = P; j1 = i + 1 < a->Tk ? i + 1 : a->Tk; }
                }
                const float *q = a->q + b * a->q_bs + i * a->q_ts + h * a->D;
                double mx = -INFINITY, sum = 0;
                for (int64_t j = j0; j < j1; j++) {
                    const float *k = a->k + b * a->k_bs + j * a->k_ts + (h / rep) * a->D;
                    double t = 0;
                    for (int64_t d = 0; d < a->D; d++) t += (double)q[d] * k[d];
                    s[j] = t * a->scale;
                    if (s[j] > mx) mx = s[j];
                }
                for (int64_t j = j0; j < j1; j++) { s[j] = exp(s[j] - mx); sum += s[j]; }
                float *o = a->o + b * a->o_bs + i * a->o_ts + h * a->D;
                for (int64_t d = 0; d < a->D; d++) {
                    double acc = 0;
                    for (int64_t j = j0; j < j1; j++) acc += s[j] * a->v[b * a->v_bs + j * a->v_ts + (h / rep) * a->D + d];
                    o[d] = (float)(acc / sum);
                }
            }
    free(s);
}

/* q, k, v packed in one buffer per token ([N, T, (NH + 2 NKV) D], fused QKV as ChatGLM). */
static void test_attn(int64_t N, int64_t Tq, int64_t Tk, int64_t NH, int64_t NKV, int64_t D, int causal,
                      const int32_t *pad, float mag, uint64_t seed) {
    const int64_t T = Tq > Tk ? Tq : Tk, row = (NH + 2 * NKV) * D;
    float *qkv = malloc(sizeof(float) * (size_t)(N * T * row));
    kc_fill_random(qkv, N * T * row, seed, mag);
    const int64_t no = N * Tq * NH * D;
    float *truth = malloc(sizeof(float) * (size_t)no), *o1 = malloc(sizeof(float) * (size_t)no),
          *o2 = malloc(sizeof(float) * (size_t)no);
    kc_attn_args a = {.q = qkv, .k = qkv + NH * D, .v = qkv + (NH + NKV) * D, .o = truth, .N = N, .Tq = Tq, .Tk = Tk,
                      .NH = NH, .NKV = NKV, .D = D, .q_bs = T * row, .q_ts = row, .k_bs = T * row, .k_ts = row,
                      .v_bs = T * row, .v_ts = row, .o_bs = Tq * NH * D, .o_ts = NH * D,
                      .scale = 1.0f / sqrtf((float)D), .causal = causal, .pad = pad};
    naive_attn(&a);
    char name[160];
    for (int pr = 0; pr < 2; pr++)
        for (int t = 0; t < ntab; t++) {
            kc_precision prec = pr ? KC_PREC_BF16 : KC_PREC_FP32;
            if (pr && !tabs[t]->attn_block_bf16) continue; /* runs the fp32 kernel: already tested */
            kc_exec e1 = exec_prec(tabs[t], 1, prec), e2 = exec_prec(tabs[t], 2, prec);
            kc_err err = {0};
            a.o = o1;
            KC_CHECK(kc_op_attention(&e1, &a, &err) == KC_OK, "%s", err.msg);
            a.o = o2;
            KC_CHECK(kc_op_attention(&e2, &a, &err) == KC_OK, "%s", err.msg);
            snprintf(name, sizeof name, "attention %s %s N=%lld Tq=%lld Tk=%lld NH=%lld NKV=%lld D=%lld causal=%d pad=%d mag=%g",
                     tabs[t]->name, pr ? "bf16" : "fp32", (long long)N, (long long)Tq, (long long)Tk, (long long)NH,
                     (long long)NKV, (long long)D, causal, pad != NULL, mag);
            KC_CHECK(check_close(name, o1, truth, no, pr ? TOL_ATTN_BF16 : TOL_FP32), "%s", name);
            KC_CHECK(memcmp(o1, o2, sizeof(float) * (size_t)no) == 0, "%s: 1 vs 2 threads differ", name);
        }
    free(qkv); free(truth); free(o1); free(o2);
}

static kc_tensor vec(kc_dtype dt, const float *f, int64_t n, void **blk) {
    unsigned char *b = malloc((size_t)n * 4 + 4);
    kc_convert_from_f32(b + 2, dt, f, (size_t)n); /* misaligned on purpose */
    *blk = b;
    kc_tensor t = {.dtype = dt, .ndim = 1, .shape = {n}, .data = b + 2};
    return t;
}

static double silu_d(double v) { return v / (1.0 + exp(-v)); }

static void test_group_norm(int64_t N, int64_t S, int64_t C, int64_t G, int silu, float offset, uint64_t seed) {
    const int64_t n = N * S * C, cg = C / G;
    float *x = malloc(sizeof(float) * (size_t)n), *truth = malloc(sizeof(float) * (size_t)n);
    float *y1 = malloc(sizeof(float) * (size_t)n), *y2 = malloc(sizeof(float) * (size_t)n);
    float g[512], b[512];
    kc_fill_random(x, n, seed, 1.0f);
    for (int64_t i = 0; i < n; i++) x[i] = x[i] * (offset != 0.0f ? 1e-2f : 1.0f) + offset;
    kc_fill_random(g, C, seed + 1, 1.0f);
    kc_fill_random(b, C, seed + 2, 0.5f);
    void *gb, *bb;
    kc_tensor gt = vec(KC_DTYPE_F16, g, C, &gb), bt = vec(KC_DTYPE_F32, b, C, &bb);
    kc_tensor_to_f32(&gt, g);
    for (int64_t nn = 0; nn < N; nn++)
        for (int64_t gg = 0; gg < G; gg++) {
            double s = 0, q = 0;
            for (int64_t p = 0; p < S; p++)
                for (int64_t c = gg * cg; c < (gg + 1) * cg; c++) s += x[(nn * S + p) * C + c];
            double mean = s / (double)(S * cg);
            for (int64_t p = 0; p < S; p++)
                for (int64_t c = gg * cg; c < (gg + 1) * cg; c++) {
                    double d = x[(nn * S + p) * C + c] - mean;
                    q += d * d;
                }
            double rstd = 1.0 / sqrt(q / (double)(S * cg) + 1e-6);
            for (int64_t p = 0; p < S; p++)
                for (int64_t c = gg * cg; c < (gg + 1) * cg; c++) {
                    /* the op subtracts the fp32-rounded mean (as PyTorch's fp32 kernels do): on
                     * near-constant groups that rounding is visible, so the formula keeps it */
                    double v = (double)(x[(nn * S + p) * C + c] - (float)mean) * rstd * g[c] + b[c];
                    truth[(nn * S + p) * C + c] = (float)(silu ? silu_d(v) : v);
                }
        }
    char name[128];
    for (int t = 0; t < ntab; t++) {
        kc_exec e1 = exec_for(tabs[t], 1), e2 = exec_for(tabs[t], 2);
        kc_err err = {0};
        KC_CHECK(kc_op_group_norm(&e1, x, y1, N, S, C, G, 1e-6f, &gt, &bt, silu, &err) == KC_OK, "%s", err.msg);
        memcpy(y2, x, sizeof(float) * (size_t)n); /* in place */
        KC_CHECK(kc_op_group_norm(&e2, y2, y2, N, S, C, G, 1e-6f, &gt, &bt, silu, &err) == KC_OK, "%s", err.msg);
        snprintf(name, sizeof name, "group_norm %s N=%lld S=%lld C=%lld G=%lld silu=%d offset=%g", tabs[t]->name,
                 (long long)N, (long long)S, (long long)C, (long long)G, silu, offset);
        KC_CHECK(check_close(name, y1, truth, n, TOL_FP32), "%s", name);
        KC_CHECK(memcmp(y1, y2, sizeof(float) * (size_t)n) == 0, "%s: 1 vs 2 threads (in place) differ", name);
    }
    free(gb); free(bb); free(x); free(truth); free(y1); free(y2);
}

/* GroupNorm over tiles (tiled VAE): the moments recorded over rectangles that partition an
 * H x W image, merged, equal the whole image's statistics (checked against a double reference,
 * including groups offset far from 0, where merging tiles with different shifts is delicate), and
 * normalising with them (APPLY) reproduces the plain op. Also: a tile larger than its core with
 * APPLY + RECORD at once, and a region outside the image is refused. */
static void test_group_norm_tiles(int64_t N, int64_t H, int64_t W, int64_t C, int64_t G, float offset, uint64_t seed) {
    const int64_t S = H * W, n = N * S * C, cg = C / G;
    float *x = malloc(sizeof(float) * (size_t)n), *y1 = malloc(sizeof(float) * (size_t)n);
    float *y2 = malloc(sizeof(float) * (size_t)n), *mean = malloc(sizeof(float) * (size_t)(N * G));
    float *rstd = malloc(sizeof(float) * (size_t)(N * G)), g[256], b[256];
    kc_gn_moments *rec = calloc((size_t)(N * G), sizeof *rec);
    kc_fill_random(x, n, seed, 1.0f);
    for (int64_t i = 0; i < n; i++) x[i] = x[i] * (offset != 0.0f ? 1e-2f : 1.0f) + offset + 0.001f * (float)(i % 97);
    kc_fill_random(g, C, seed + 1, 1.0f);
    kc_fill_random(b, C, seed + 2, 0.5f);
    void *gb, *bb;
    kc_tensor gt = vec(KC_DTYPE_F32, g, C, &gb), bt = vec(KC_DTYPE_F32, b, C, &bb);
    char name[160];
    for (int t = 0; t < ntab; t++) {
        kc_exec e = exec_for(tabs[t], 2);
        kc_err err = {0};
        memset(rec, 0, sizeof *rec * (size_t)(N * G));
        /* uneven 3 x 2 partition of rows x columns; each tile runs on its own buffer [th, tw, C] */
        const int64_t ys[4] = {0, H / 3, H / 3 + H / 4 + 1, H}, xs[3] = {0, W / 2 - 1, W};
        for (int iy = 0; iy < 3; iy++)
            for (int ix = 0; ix < 2; ix++)
                for (int64_t nn = 0; nn < N; nn++) {
                    /* the tile: its core plus one pixel of context on each side where there is one */
                    const int64_t ty0 = ys[iy] > 0 ? ys[iy] - 1 : 0, ty1 = ys[iy + 1] < H ? ys[iy + 1] + 1 : H;
                    const int64_t tx0 = xs[ix] > 0 ? xs[ix] - 1 : 0, tx1 = xs[ix + 1] < W ? xs[ix + 1] + 1 : W;
                    const int64_t th = ty1 - ty0, tw = tx1 - tx0;
                    for (int64_t yy = 0; yy < th; yy++)
                        memcpy(y2 + yy * tw * C, x + ((nn * H + ty0 + yy) * W + tx0) * C, sizeof(float) * (size_t)(tw * C));
                    kc_gn_tile tl = {rec + nn * G, tw, ys[iy] - ty0, ys[iy + 1] - ty0, xs[ix] - tx0, xs[ix + 1] - tx0,
                                     NULL, NULL};
                    KC_CHECK(kc_op_group_norm_tile(&e, y2, y2, 1, th * tw, C, G, 1e-6f, &gt, &bt, 0, &tl, &err) == KC_OK,
                             "record: %s", err.msg);
                }
        double worst = 0.0;
        for (int64_t nn = 0; nn < N; nn++)
            for (int64_t gg = 0; gg < G; gg++) {
                double s = 0, q = 0;
                for (int64_t p = 0; p < S; p++)
                    for (int64_t c = gg * cg; c < (gg + 1) * cg; c++) s += x[(nn * S + p) * C + c];
                const double cnt = (double)(S * cg), mu = s / cnt;
                for (int64_t p = 0; p < S; p++)
                    for (int64_t c = gg * cg; c < (gg + 1) * cg; c++) q += (x[(nn * S + p) * C + c] - mu) * (x[(nn * S + p) * C + c] - mu);
                const kc_gn_moments *m = &rec[nn * G + gg];
                double e1 = fabs(m->mean - mu) / (fabs(mu) + sqrt(q / cnt)), e2 = fabs(m->m2 - q) / q;
                if (m->n != cnt) e1 = 1.0;
                if (e1 > worst) worst = e1;
                if (e2 > worst) worst = e2;
            }
        snprintf(name, sizeof name, "group_norm tiles %s N=%lld %lldx%lld C=%lld G=%lld offset=%g", tabs[t]->name,
                 (long long)N, (long long)H, (long long)W, (long long)C, (long long)G, offset);
        /* double sums of ~1e4 values: agreement to ~1e-12 relative; 1e-9 still catches any count,
         * shift or merge error (those are >= 1e-4) */
        KC_CHECK(worst < 1e-9, "%s: merged moments vs double reference %.3e", name, worst);
        kc_gn_moments_finish(rec, N * G, 1e-6f, mean, rstd);
        kc_gn_tile ap = {NULL, 0, 0, 0, 0, 0, mean, rstd};
        KC_CHECK(kc_op_group_norm(&e, x, y1, N, S, C, G, 1e-6f, &gt, &bt, 1, &err) == KC_OK, "%s", err.msg);
        KC_CHECK(kc_op_group_norm_tile(&e, x, y2, N, S, C, G, 1e-6f, &gt, &bt, 1, &ap, &err) == KC_OK, "%s", err.msg);
        /* the same fp32 mean/rstd up to double rounding of the sums: equal or 1 ulp apart */
        KC_CHECK(check_close(name, y2, y1, n, 1e-6), "%s: APPLY vs plain", name);
        kc_gn_tile bad = {rec, W, 0, H + 1, 0, W, NULL, NULL};
        KC_CHECK(kc_op_group_norm_tile(&e, x, y2, 1, S, C, G, 1e-6f, &gt, &bt, 0, &bad, &err) == KC_ERR_ARG &&
                     strstr(err.msg, "record region"),
                 "region outside the image refused: %s", err.msg);
    }
    free(gb); free(bb); free(x); free(y1); free(y2); free(mean); free(rstd); free(rec);
}

static void test_row_norm(int64_t M, int64_t D, int rms, float offset, uint64_t seed) {
    const int64_t n = M * D;
    float *x = malloc(sizeof(float) * (size_t)n), *truth = malloc(sizeof(float) * (size_t)n);
    float *y1 = malloc(sizeof(float) * (size_t)n), *y2 = malloc(sizeof(float) * (size_t)n);
    float *g = malloc(sizeof(float) * (size_t)D), *b = malloc(sizeof(float) * (size_t)D);
    kc_fill_random(x, n, seed, 1.0f);
    for (int64_t i = 0; i < n; i++) x[i] = x[i] * (offset != 0.0f ? 1e-3f : 1.0f) + offset;
    kc_fill_random(g, D, seed + 1, 1.0f);
    kc_fill_random(b, D, seed + 2, 0.5f);
    void *gb, *bb;
    kc_tensor gt = vec(KC_DTYPE_BF16, g, D, &gb), bt = vec(KC_DTYPE_F32, b, D, &bb);
    kc_tensor_to_f32(&gt, g);
    for (int64_t m = 0; m < M; m++) {
        double s = 0, q = 0, mean = 0;
        for (int64_t d = 0; d < D; d++) s += x[m * D + d];
        if (!rms) mean = s / (double)D;
        for (int64_t d = 0; d < D; d++) q += (x[m * D + d] - mean) * (x[m * D + d] - mean);
        double rstd = 1.0 / sqrt(q / (double)D + 1e-5);
        for (int64_t d = 0; d < D; d++) /* fp32-rounded mean, as in test_group_norm */
            truth[m * D + d] = (float)((double)(x[m * D + d] - (float)mean) * rstd * g[d] + (rms ? 0.0 : b[d]));
    }
    char name[128];
    for (int t = 0; t < ntab; t++) {
        kc_exec e1 = exec_for(tabs[t], 1), e2 = exec_for(tabs[t], 2);
        kc_err err = {0};
        memcpy(y2, x, sizeof(float) * (size_t)n);
        if (rms) {
            KC_CHECK(kc_op_rms_norm(&e1, x, y1, M, D, 1e-5f, &gt, &err) == KC_OK, "%s", err.msg);
            KC_CHECK(kc_op_rms_norm(&e2, y2, y2, M, D, 1e-5f, &gt, &err) == KC_OK, "%s", err.msg);
        } else {
            KC_CHECK(kc_op_layer_norm(&e1, x, y1, M, D, 1e-5f, &gt, &bt, &err) == KC_OK, "%s", err.msg);
            KC_CHECK(kc_op_layer_norm(&e2, y2, y2, M, D, 1e-5f, &gt, &bt, &err) == KC_OK, "%s", err.msg);
        }
        snprintf(name, sizeof name, "%s %s M=%lld D=%lld offset=%g", rms ? "rms_norm" : "layer_norm", tabs[t]->name,
                 (long long)M, (long long)D, offset);
        KC_CHECK(check_close(name, y1, truth, n, TOL_FP32), "%s", name);
        KC_CHECK(memcmp(y1, y2, sizeof(float) * (size_t)n) == 0, "%s: 1 vs 2 threads (in place) differ", name);
    }
    free(gb); free(bb); free(x); free(truth); free(y1); free(y2); free(g); free(b);
}

static void test_activations(int64_t M, int64_t F, float mag, uint64_t seed) {
    const int64_t n = M * F;
    float *p = malloc(sizeof(float) * (size_t)(2 * n)), *truth = malloc(sizeof(float) * (size_t)n);
    float *y1 = malloc(sizeof(float) * (size_t)n), *y2 = malloc(sizeof(float) * (size_t)n);
    kc_fill_random(p, 2 * n, seed, mag);
    char name[128];
    for (int kind = 0; kind < 3; kind++) {
        for (int64_t m = 0; m < M; m++)
            for (int64_t f = 0; f < F; f++) {
                double a = p[m * 2 * F + f], b = p[m * 2 * F + F + f];
                double v = kind == 0 ? a * 0.5 * b * (1.0 + erf(b / sqrt(2.0))) : kind == 1 ? silu_d(a) * b : silu_d(p[m * F + f]);
                truth[m * F + f] = (float)v;
            }
        for (int t = 0; t < ntab; t++) {
            kc_exec e1 = exec_for(tabs[t], 1), e2 = exec_for(tabs[t], 2);
            if (kind == 0) { kc_op_geglu(&e1, y1, p, M, F); kc_op_geglu(&e2, y2, p, M, F); }
            if (kind == 1) { kc_op_swiglu(&e1, y1, p, M, F); kc_op_swiglu(&e2, y2, p, M, F); }
            if (kind == 2) { kc_op_silu(&e1, y1, p, n); memcpy(y2, p, sizeof(float) * (size_t)n); kc_op_silu(&e2, y2, y2, n); }
            snprintf(name, sizeof name, "%s %s M=%lld F=%lld mag=%g", kind == 0 ? "geglu" : kind == 1 ? "swiglu" : "silu",
                     tabs[t]->name, (long long)M, (long long)F, mag);
            KC_CHECK(check_close(name, y1, truth, n, kind == 0 ? TOL_GELU : TOL_FP32), "%s", name);
            KC_CHECK(memcmp(y1, y2, sizeof(float) * (size_t)n) == 0, "%s: 1 vs 2 threads differ", name);
        }
    }
    free(p); free(truth); free(y1); free(y2);
}

int main(void) {
    ntab = kc_kernels_available(tabs, 4);
    uint64_t seed = 100;
    int32_t pad2[2] = {0, 37}, pad1[1] = {5};
    test_attn(2, 70, 150, 4, 4, 40, 0, NULL, 1.0f, seed++);     /* cross-attention shape, D % 16 != 0 */
    test_attn(2, 130, 130, 4, 2, 64, 1, pad2, 1.0f, seed++);    /* ChatGLM: MQA, causal, left padding */
    test_attn(1, 1, 77, 2, 1, 128, 0, NULL, 1.0f, seed++);      /* one query */
    test_attn(1, 200, 200, 2, 2, 16, 0, NULL, 6.0f, seed++);    /* scores up to ~±100: softmax stability */
    test_attn(1, 40, 40, 3, 1, 8, 1, pad1, 3.0f, seed++);       /* tiny head dim, causal */
    test_attn(2, 300, 260, 1, 1, 24, 1, NULL, 1.0f, seed++);    /* several key blocks, causal */
    test_attn(1, 70, 131, 2, 1, 37, 1, pad1, 1.0f, seed++);     /* odd D and odd key count (bf16 pairs) */
    test_attn(2, 600, 300, 2, 2, 64, 0, NULL, 1.0f, seed++);    /* U-Net self-attention: 256-query blocks, short last */
    test_attn(1, 300, 200, 1, 1, 128, 0, NULL, 2.0f, seed++);   /* head dim 128: 128-query blocks */
    test_group_norm(2, 77, 40, 8, 0, 0.0f, seed++);
    test_group_norm(1, 300, 64, 32, 1, 0.0f, seed++);
    test_group_norm(2, 50, 48, 4, 1, 100.0f, seed++);           /* near-constant groups */
    test_group_norm_tiles(2, 13, 17, 40, 8, 0.0f, seed++);
    test_group_norm_tiles(1, 20, 9, 32, 4, 300.0f, seed++);     /* groups far from 0: shifted sums */
    test_row_norm(5, 77, 0, 0.0f, seed++);
    test_row_norm(7, 640, 0, 300.0f, seed++);                   /* near-constant rows */
    test_row_norm(3, 130, 1, 0.0f, seed++);
    test_row_norm(4, 1000, 1, 50.0f, seed++);
    test_activations(3, 77, 4.0f, seed++);
    test_activations(2, 640, 30.0f, seed++);                    /* saturated SiLU/GELU tails */
    return kc_test_finish();
}
