/* linear.c — y = x·Wᵀ + b and 2-D convolution (as im2col + the same row-dot kernel).
 * Reference-quality work split; the kernel table supplies the inner products. */
#include <string.h>

#include "core/checked.h"
#include "core/threads.h"
#include "kernels/kernels.h"
#include "ops/ops.h"

#define NB 64 /* output columns per work item */

static const kc_kernels *table(const kc_exec *ex) { return ex->k ? ex->k : kc_kernels_default(); }

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

kc_status kc_op_linear(const kc_exec *ex, const float *x, int64_t M, int64_t K, const kc_tensor *w,
                       const kc_tensor *b, float *y, int accumulate, kc_err *err) {
    kc_status s = check_w(w, K, b, err);
    if (s) return s;
    const int64_t N = w->shape[0], nblk = (N + NB - 1) / NB;
    const kc_kernels *kt = table(ex);
#pragma omp parallel for collapse(2) schedule(static) num_threads(ex->n_threads)
    for (int64_t m = 0; m < M; m++)
        for (int64_t jb = 0; jb < nblk; jb++) {
            int64_t j0 = jb * NB, n = N - j0 < NB ? N - j0 : NB;
            row_block(kt, x + m * K, K, w, b, j0, n, y + m * N + j0, accumulate);
        }
    return KC_OK;
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
    const kc_kernels *kt = table(ex);
    const int nt = ex->n_threads;

    /* 1x1 stride-1 unpadded conv is a plain linear layer over the pixels. */
    if (kh == 1 && kw == 1 && st == 1 && !p->pad_t && !p->pad_l && !p->pad_b && !p->pad_r)
        return kc_op_linear(ex, x, N * H * W, Cin, w, b, y, accumulate, err);

    /* im2col one output row at a time per thread: [Wo, Cin*kh*kw], K ordered (ci, ky, kx) to
     * match the PyTorch weight layout. */
    size_t mark = kc_arena_mark(scratch), per = 0, tot = 0;
    if (!kc_size_mul((size_t)Wo, (size_t)KK, &per) || !kc_size_mul(per, (size_t)nt, &tot))
        return kc_fail(err, KC_ERR_NOMEM, "conv2d: scratch size overflows");
    float *cols = kc_arena_floats(scratch, tot, err);
    if (!cols) return KC_ERR_NOMEM;
#pragma omp parallel for collapse(2) schedule(static) num_threads(nt)
    for (int64_t n = 0; n < N; n++)
        for (int64_t oy = 0; oy < Ho; oy++) {
            float *c = cols + (size_t)kc_thread_id() * per;
            for (int64_t ox = 0; ox < Wo; ox++) {
                float *row = c + ox * KK;
                for (int64_t ky = 0; ky < kh; ky++) {
                    int64_t iy = oy * st + ky - p->pad_t;
                    for (int64_t kx = 0; kx < kw; kx++) {
                        int64_t ix = ox * st + kx - p->pad_l;
                        int inside = iy >= 0 && iy < H && ix >= 0 && ix < W;
                        const float *src = x + ((n * H + iy) * W + ix) * Cin;
                        for (int64_t ci = 0; ci < Cin; ci++)
                            row[ci * kh * kw + ky * kw + kx] = inside ? src[ci] : 0.0f;
                    }
                }
            }
            float *yr = y + (n * Ho + oy) * Wo * Cout;
            for (int64_t ox = 0; ox < Wo; ox++)
                for (int64_t j0 = 0; j0 < Cout; j0 += NB) {
                    int64_t nn = Cout - j0 < NB ? Cout - j0 : NB;
                    row_block(kt, c + ox * KK, KK, w, b, j0, nn, yr + ox * Cout + j0, accumulate);
                }
        }
    kc_arena_rewind(scratch, mark);
    return KC_OK;
}
