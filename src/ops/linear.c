/* linear.c — y = x·Wᵀ + b and 2-D convolution, both through the table's blocked GEMM.
 *
 * Work split: the output is cut into tiles of (a chunk of M rows) × (gemm_nc columns) and
 * threads take tiles dynamically. Every output element is computed by the same sequence of
 * operations whatever tile it falls in, so results do not depend on the thread count.
 * Convolutions are implicit GEMMs: the kernel gathers im2col rows straight from the
 * channels-last input while packing, over a copy of the weight reordered to
 * [Cout, kh, kw, Cin] so that each tap's channels are contiguous on both sides.
 * Dimension letters: M rows, N output features, K reduction. */
#include <stdlib.h>
#include <string.h>

#include "core/checked.h"
#include "core/mapfile.h"
#include "core/threads.h"
#include "kernels/kernels.h"
#include "ops/ops.h"

#define NB 64          /* output columns per dot-row work item (small M) */
#define KC_SMALL_M 3   /* up to this many rows: dot products straight from the stored weights */
#define KC_MAX_NC 1024 /* largest column tile asked of a table */
#define TASKS_PER_THREAD 2 /* tiles per thread when N gives too few: each M chunk re-packs its W block */
#define TILE_NR 32 /* column tiles are cut at multiples of this (every table's micro-panel width divides it) */
#define KC_XBF_MAX ((size_t)64 << 20) /* largest bf16 copy of A kept per calling thread */
#define TILE_MR 24 /* row chunks are cut at multiples of this (whole register tiles of every table) */

static const kc_kernels *table(const kc_exec *ex) { return ex->k ? ex->k : kc_kernels_default(); }

static int64_t gcd64(int64_t a, int64_t b) {
    while (b) {
        const int64_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

static kc_status check_w(const kc_tensor *w, int64_t K, const kc_tensor *b, kc_err *err) {
    if (!w || !kc_dtype_is_float(w->dtype) || w->ndim < 2)
        return kc_fail(err, KC_ERR_INTERNAL, "linear: weight must be a float matrix");
    int64_t k2 = 1;
    for (int i = 1; i < w->ndim; i++) k2 *= w->shape[i];
    if (k2 != K) return kc_fail(err, KC_ERR_INTERNAL, "linear: weight has %lld inputs, activation has %lld", (long long)k2, (long long)K);
    if (b && kc_tensor_numel(b) != w->shape[0])
        return kc_fail(err, KC_ERR_INTERNAL, "linear: bias has %lld entries, weight has %lld outputs",
                       (long long)kc_tensor_numel(b), (long long)w->shape[0]);
    return KC_OK;
}

/* One row block: y[0..n) (+)= x·W[j0..j0+n)ᵀ + b. */
static void row_block(const kc_kernels *kt, const float *x, int64_t K, const kc_tensor *w, const kc_tensor *b,
                      int64_t j0, int64_t n, float *y, int accumulate) {
    float tmp[NB];
    size_t es = kc_dtype_size(w->dtype);
    kt->dot_rows_f32w(x, (const unsigned char *)w->data + (size_t)j0 * (size_t)K * es, w->dtype, K, K, n, tmp);
    for (int64_t j = 0; j < n; j++) {
        float v = tmp[j] + (b ? kc_tensor_get_f32(b, j0 + j) : 0.0f);
        y[j] = accumulate ? y[j] + v : v;
    }
}

/* The prepacked copy of w that this run's GEMM can use, or NULL. */
static const void *usable_pack(const kc_exec *ex, const kc_tensor *w) {
    const kc_kernels *kt = table(ex);
    if (!w->pack || w->pack_for != (const void *)kt || ex->precision != KC_PREC_BF16 || !kt->gemm_bf16) return NULL;
    return w->pack;
}

/* Runs g over all tiles on ex's threads; the kernels add the bias b (or none) as each output
 * tile completes (no second pass over y). */
static kc_status run_gemm(const kc_exec *ex, const kc_gemm_args *g_in, const kc_tensor *w, const kc_tensor *b,
                          const char *what, kc_err *err) {
    const kc_kernels *kt = table(ex);
    const kc_gemm_fn fn = ex->precision == KC_PREC_BF16 && kt->gemm_bf16 ? kt->gemm_bf16 : kt->gemm_f32;
    kc_gemm_args gw = *g_in;
    gw.wpack = usable_pack(ex, w);
    const kc_gemm_args *g = &gw;
    const int nt = ex->n_threads;
    const int64_t nc = kt->gemm_nc < KC_MAX_NC ? kt->gemm_nc : KC_MAX_NC;
    /* Tiles: whole NR-wide column panels and TILE_MR-row chunks, as equal as possible, enough
     * of them for dynamic balancing and a multiple of the thread count where the sizes allow,
     * so that no thread is left with a short last round (ChatGLM's QKV at N = 4608 made 5
     * column tiles of 1024 + 512 for 2 threads: one thread idled for a third of the call).
     * Every extra column tile packs A again, every extra row chunk packs W again: with W
     * packed on the fly, balance with columns first; with W prepacked, with rows only. */
    const int64_t np = (g->N + TILE_NR - 1) / TILE_NR, mu = (g->M + TILE_MR - 1) / TILE_MR;
    int64_t n_n = (g->N + nc - 1) / nc;
    if (!gw.wpack && nt > 1 && n_n % nt) {
        int64_t r = (n_n + nt - 1) / nt * nt;
        if (r <= np) n_n = r;
    }
    int64_t n_m = 1, want = (int64_t)nt * TASKS_PER_THREAD;
    if (nt > 1 && n_n < want) n_m = (want + n_n - 1) / n_n;
    if (nt > 1 && (n_m * n_n) % nt) {
        const int64_t step = nt / gcd64(n_n, nt); /* smallest n_m step giving a multiple of nt */
        n_m = (n_m + step - 1) / step * step;
    }
    if (n_m > mu) n_m = mu;
    const int64_t ntask = n_m * n_n;
    /* The calling thread's second buffer: the bias in fp32 [N] (64-byte rounded), then
     * possibly A in bf16 (below). */
    const size_t bias_bytes = b ? ((size_t)g->N * sizeof(float) + 63) & ~(size_t)63 : 0;
    /* A linear layer's A is otherwise rounded to bf16 again for every column tile (27 times
     * for ChatGLM's 4096 -> 27392 projection): with three or more column tiles, round it once
     * here, for this call only (skipped above KC_XBF_MAX; the buffer itself is kept). Row stride: K rounded up to
     * even, plus one cache line when that would be a multiple of 1 KiB (K = 4096: the
     * micro-kernel's 12 rows 8 KiB apart would all fall in one L1 set). */
    int64_t ld = (g->K + 1) & ~(int64_t)1;
    if ((ld * 2) % 1024 == 0) ld += 32;
    const int use_xbf = fn == kt->gemm_bf16 && kt->gemm_bf16_convert_a && g->conv.Cin == 0 && n_n >= 3 &&
                        (size_t)g->M * (size_t)ld * sizeof(uint16_t) <= KC_XBF_MAX;
    const size_t need = bias_bytes + (use_xbf ? (size_t)g->M * (size_t)ld * sizeof(uint16_t) : 0);
    unsigned char *buf2 = need ? kc_kernels_thread_buffer2(need) : NULL;
    if (need && !buf2) return kc_fail(err, KC_ERR_NOMEM, "%s: cannot allocate %zu bytes for the bias and A", what, need);
    if (b) {
        float *bf = (float *)(void *)buf2;
        for (int64_t n = 0; n < g->N; n++) bf[n] = kc_tensor_get_f32(b, n);
        gw.bias = bf;
    }
    if (use_xbf) {
        uint16_t *xb = (uint16_t *)(void *)(buf2 + bias_bytes);
#pragma omp parallel for schedule(static) num_threads(nt)
        for (int64_t m = 0; m < g->M; m++) {
            kt->gemm_bf16_convert_a(g->x + m * g->ldx, g->K, xb + m * ld);
            if (ld > g->K) xb[m * ld + g->K] = 0;
        }
        gw.xbf = xb;
        gw.ldxbf = ld;
    }
    int failed = 0;
#pragma omp parallel for schedule(dynamic, 1) num_threads(nt)
    for (int64_t t = 0; t < ntask; t++) {
        void *pack = kc_kernels_thread_buffer(kt->gemm_pack_bytes);
        if (!pack) {
#pragma omp atomic write
            failed = 1;
            continue;
        }
        const int64_t tm = t / n_n, tn = t % n_n;
        const int64_t m0 = tm * mu / n_m * TILE_MR, n0 = tn * np / n_n * TILE_NR;
        int64_t m1 = (tm + 1) * mu / n_m * TILE_MR, n1 = (tn + 1) * np / n_n * TILE_NR;
        if (m1 > g->M) m1 = g->M;
        if (n1 > g->N) n1 = g->N;
        fn(g, m0, m1, n0, n1, pack);
    }
    if (failed) return kc_fail(err, KC_ERR_NOMEM, "%s: cannot allocate the %zu-byte per-thread GEMM buffer", what, kt->gemm_pack_bytes);
    return KC_OK;
}

kc_status kc_op_linear(const kc_exec *ex, const float *x, int64_t M, int64_t K, const kc_tensor *w,
                       const kc_tensor *b, float *y, int accumulate, kc_err *err) {
    kc_status s = check_w(w, K, b, err);
    if (s) return s;
    const int64_t N = w->shape[0];
    if (M <= 0 || N <= 0) return KC_OK;
    if (M <= KC_SMALL_M) {
        /* Packing W would cost as much as using it once: stream the stored rows instead. */
        const kc_kernels *kt = table(ex);
        const int64_t nblk = (N + NB - 1) / NB;
#pragma omp parallel for collapse(2) schedule(static) num_threads(ex->n_threads)
        for (int64_t m = 0; m < M; m++)
            for (int64_t jb = 0; jb < nblk; jb++) {
                int64_t j0 = jb * NB, n = N - j0 < NB ? N - j0 : NB;
                row_block(kt, x + m * K, K, w, b, j0, n, y + m * N + j0, accumulate);
            }
        return KC_OK;
    }
    kc_gemm_args g = {.x = x, .ldx = K, .w = w->data, .wt = w->dtype, .ldw = K, .M = M, .N = N, .K = K,
                      .y = y, .ldy = N, .accumulate = accumulate};
    return run_gemm(ex, &g, w, b, "linear", err);
}

/* dst [Cout, kh, kw, Cin] = src [Cout, Cin, kh, kw], elements of es bytes (2 or 4): a pure
 * shuffle, copied as 16/32-bit words (a memcpy call per element cost 12% of a U-Net step). */
static void reorder_conv_weight(const kc_exec *ex, unsigned char *dst, const unsigned char *src, int64_t Cout,
                                int64_t Cin, int64_t taps, size_t es) {
#pragma omp parallel for schedule(static) num_threads(ex->n_threads)
    for (int64_t o = 0; o < Cout; o++) {
        const unsigned char *so = src + (size_t)(o * Cin * taps) * es;
        unsigned char *dq = dst + (size_t)(o * taps * Cin) * es;
        if (es == 2) {
            uint16_t *d = (uint16_t *)(void *)dq; /* dst comes from an aligned allocation */
            for (int64_t ci = 0; ci < Cin; ci++)
                for (int64_t t = 0; t < taps; t++) {
                    uint16_t v;
                    memcpy(&v, so + (size_t)(ci * taps + t) * 2, 2);
                    d[t * Cin + ci] = v;
                }
        } else {
            float *d = (float *)(void *)dq;
            for (int64_t ci = 0; ci < Cin; ci++)
                for (int64_t t = 0; t < taps; t++) {
                    float v;
                    memcpy(&v, so + (size_t)(ci * taps + t) * 4, 4);
                    d[t * Cin + ci] = v;
                }
        }
    }
}

kc_status kc_op_conv2d(const kc_exec *ex, const float *x, int64_t N, int64_t H, int64_t W, int64_t Cin,
                       const kc_tensor *w, const kc_tensor *b, const kc_conv_params *p, float *y, int64_t *Ho_out,
                       int64_t *Wo_out, int accumulate, kc_arena *scratch, kc_err *err) {
    if (!w || w->ndim != 4 || w->shape[1] != Cin)
        return kc_fail(err, KC_ERR_INTERNAL, "conv2d: weight must be [Cout, %lld, kh, kw]", (long long)Cin);
    const int64_t Cout = w->shape[0], kh = w->shape[2], kw = w->shape[3], KK = Cin * kh * kw;
    const int st = p->stride;
    if (st < 1) return kc_fail(err, KC_ERR_INTERNAL, "conv2d: stride %d", st);
    const int64_t Hp = H + p->pad_t + p->pad_b, Wp = W + p->pad_l + p->pad_r;
    if (Hp < kh || Wp < kw) return kc_fail(err, KC_ERR_SHAPE, "conv2d: input %lldx%lld is smaller than the kernel", (long long)H, (long long)W);
    const int64_t Ho = (Hp - kh) / st + 1, Wo = (Wp - kw) / st + 1;
    if (Ho_out) *Ho_out = Ho;
    if (Wo_out) *Wo_out = Wo;
    kc_status s = check_w(w, KK, b, err);
    if (s) return s;

    /* 1x1 stride-1 unpadded conv is a plain linear layer over the pixels. */
    if (kh == 1 && kw == 1 && st == 1 && !p->pad_t && !p->pad_l && !p->pad_b && !p->pad_r)
        return kc_op_linear(ex, x, N * H * W, Cin, w, b, y, accumulate, err);

    /* Reordered weight copy: from the scratch arena when it has room, else the heap (one
     * allocation per call, outside the loops). */
    const void *wdata = w->data;
    void *heap = NULL;
    size_t mark = scratch ? kc_arena_mark(scratch) : 0;
    const size_t es = kc_dtype_size(w->dtype);
    if (kh * kw > 1 && !usable_pack(ex, w)) {
        size_t bytes = 0;
        if (!kc_size_mul((size_t)Cout * (size_t)KK, es, &bytes))
            return kc_fail(err, KC_ERR_NOMEM, "conv2d: weight copy size overflows");
        void *dst = NULL;
        if (scratch && scratch->cap - scratch->used >= bytes + 64) dst = kc_arena_alloc(scratch, bytes, 64, NULL);
        if (!dst) dst = heap = malloc(bytes);
        if (!dst) return kc_fail(err, KC_ERR_NOMEM, "conv2d: cannot allocate %zu bytes for the reordered weight", bytes);
        reorder_conv_weight(ex, dst, w->data, Cout, Cin, kh * kw, es);
        wdata = dst;
    }
    kc_gemm_args g = {.x = x, .ldx = 0, .w = wdata, .wt = w->dtype, .ldw = KK, .M = N * Ho * Wo, .N = Cout, .K = KK,
                      .y = y, .ldy = Cout, .accumulate = accumulate};
    g.conv.Cin = Cin;
    g.conv.H = H;
    g.conv.W = W;
    g.conv.Ho = Ho;
    g.conv.Wo = Wo;
    g.conv.kh = kh;
    g.conv.kw = kw;
    g.conv.stride = st;
    g.conv.pad_t = p->pad_t;
    g.conv.pad_l = p->pad_l;
    s = run_gemm(ex, &g, w, b, "conv2d", err);
    free(heap);
    if (scratch) kc_arena_rewind(scratch, mark);
    return s;
}

kc_status kc_op_prepack(const kc_exec *ex, kc_tensor *w, void **owned, size_t *bytes, kc_err *err) {
    *owned = NULL;
    if (bytes) *bytes = 0;
    const kc_kernels *kt = table(ex);
    if (ex->precision != KC_PREC_BF16 || !kt->gemm_bf16 || !kt->gemm_bf16_wpack || !w->data ||
        !kc_dtype_is_float(w->dtype) || (w->ndim != 2 && w->ndim != 4))
        return KC_OK;
    const int64_t N = w->shape[0], K = kc_tensor_numel(w) / (N > 0 ? N : 1), taps = w->ndim == 4 ? w->shape[2] * w->shape[3] : 1;
    if (N <= 0 || K <= 0) return KC_OK;
    const size_t n = kt->gemm_bf16_wpack_bytes(N, K), es = kc_dtype_size(w->dtype);
    void *dst = kc_map_alloc(n ? n : 64); /* 64-byte aligned; kc_op_prepack_free returns it to the system */
    if (!dst) return kc_fail(err, KC_ERR_NOMEM, "prepack: cannot allocate %zu bytes", n);
    /* A convolution's GEMM reads W as [Cout, kh, kw, Cin] (see kc_op_conv2d): reorder first. */
    void *tmp = NULL;
    const void *src = w->data;
    if (taps > 1) {
        if (!(tmp = malloc((size_t)N * (size_t)K * es))) {
            kc_map_free(dst);
            return kc_fail(err, KC_ERR_NOMEM, "prepack: cannot allocate the reordered weight");
        }
        reorder_conv_weight(ex, tmp, w->data, N, K / taps, taps, es);
        src = tmp;
    }
    kc_gemm_args g = {.w = src, .wt = w->dtype, .ldw = K, .M = 0, .N = N, .K = K};
    const int64_t np = (N + TILE_NR - 1) / TILE_NR;
#pragma omp parallel for schedule(dynamic, 1) num_threads(ex->n_threads)
    for (int64_t p = 0; p < np; p++) {
        const int64_t n0 = p * TILE_NR, n1 = n0 + TILE_NR < N ? n0 + TILE_NR : N;
        kt->gemm_bf16_wpack(&g, n0, n1, dst);
    }
    free(tmp);
    w->pack = dst;
    w->pack_for = kt;
    *owned = dst;
    if (bytes) *bytes = n;
    return KC_OK;
}

void kc_op_prepack_free(void *owned) { kc_map_free(owned); }

kc_tensor kc_op_rows_view(const kc_tensor *t, int64_t r0, int64_t n) {
    kc_tensor v = *t;
    int64_t row = 1;
    for (int i = 1; i < t->ndim; i++) row *= t->shape[i];
    v.data = (const unsigned char *)t->data + (size_t)(r0 * row) * kc_dtype_size(t->dtype);
    v.shape[0] = n;
    const kc_kernels *kt = t->pack_for;
    if (t->pack && kt && kt->gemm_bf16_wpack_bytes && r0 % TILE_NR == 0)
        v.pack = (const unsigned char *)t->pack + kt->gemm_bf16_wpack_bytes(r0, row);
    else
        v.pack = v.pack_for = NULL;
    return v;
}
