/* ops.h — op entry points used by every model (nn layers call only these, never a kernel).
 *
 * Each op validates its arguments, picks the kernel for the run's ISA table and precision, and
 * splits the work across OpenMP threads so that every output element is computed by exactly one
 * thread in a fixed order: results do not depend on the thread count.
 *
 * Activations are fp32. Weights are kc_tensor views in their stored dtype (F32/F16/BF16) and are
 * never converted in place. Image-like activations are channels-last [N, H, W, C] (tensor.h).
 *
 * Dimension letters: N batch, M rows (tokens), K reduction, C channels, H/W spatial, G groups,
 * NH heads, NKV key/value heads, D head dim, Tq/Tk query/key tokens. */
#ifndef KC_OPS_OPS_H
#define KC_OPS_OPS_H

#include <stdint.h>

#include "core/arena.h"
#include "core/status.h"
#include "core/tensor.h"

typedef enum {
    KC_PREC_FP32 = 0, /* fp32 arithmetic everywhere: reproduces the goldens */
    KC_PREC_BF16 = 1, /* bf16 products with fp32 accumulation where the CPU has it (fast default) */
} kc_precision;

struct kc_kernels;
typedef struct {
    int n_threads;                 /* >= 1 */
    kc_precision precision;
    const struct kc_kernels *k;    /* ISA table; NULL = best for this CPU (kc_kernels_default) */
} kc_exec;

/* Fills ex with defaults: n_threads resolved (0 = physical cores), fp32, best ISA table. */
void kc_exec_init(kc_exec *ex, int n_threads, kc_precision precision);
/* ex with fp32 arithmetic: ex itself when it already runs fp32, else a copy in *tmp (for the
 * layers a bf16 run keeps in fp32, see kc_nn_layer_exec). */
const kc_exec *kc_exec_fp32(const kc_exec *ex, kc_exec *tmp);

/* ---- linear algebra ---------------------------------------------------------------------- */

/* y[M,N] = x[M,K] · W[N,K]ᵀ (+ b[N]).  W: F32/F16/BF16 [N,K]; b: float dtype [N] or NULL.
 * If accumulate != 0, y += result instead of y = result (residual connections). */
kc_status kc_op_linear(const kc_exec *ex, const float *x, int64_t M, int64_t K, const kc_tensor *w,
                       const kc_tensor *b, float *y, int accumulate, kc_err *err);

/* 2-D convolution, channels-last. x [N,H,W,Cin]; w [Cout,Cin,kh,kw] (PyTorch layout, any float
 * dtype); b [Cout] or NULL; zero padding (top, left, bottom, right); y [N,Ho,Wo,Cout] with
 * Ho = (H + pt + pb - kh) / stride + 1. `scratch` provides temporary memory (rewound on return).
 * If accumulate != 0, y += result. */
typedef struct {
    int stride;
    int pad_t, pad_l, pad_b, pad_r;
} kc_conv_params;
kc_status kc_op_conv2d(const kc_exec *ex, const float *x, int64_t N, int64_t H, int64_t W, int64_t Cin,
                       const kc_tensor *w, const kc_tensor *b, const kc_conv_params *p, float *y, int64_t *Ho,
                       int64_t *Wo, int accumulate, kc_arena *scratch, kc_err *err);

/* Prepares a weight for this run's bf16 GEMM once (what the GEMM otherwise converts and lays
 * out on every call): when ex runs bf16 products on a table that supports it and w is a matrix
 * [N, K] or a convolution weight [Cout, Cin, kh, kw], allocates the packed copy, sets w->pack /
 * w->pack_for and returns the buffer in *owned (the caller frees it with kc_op_prepack_free
 * after the last use of w)
 * and its size in *bytes. Otherwise leaves w alone with *owned = NULL. Linear and conv2d use a
 * pack only with the table and precision it was made for; results are bit-identical. */
kc_status kc_op_prepack(const kc_exec *ex, kc_tensor *w, void **owned, size_t *bytes, kc_err *err);
/* Frees a buffer kc_op_prepack returned (its own mapping: the memory goes back to the system
 * at once, so releasing a component lowers the resident size). */
void kc_op_prepack_free(void *owned);
/* A view of rows [r0, r0+n) of a matrix or vector (e.g. the Q or K/V part of a fused
 * projection). It keeps t's prepacked copy only where the rows start a packed panel (r0 a
 * multiple of 32), pointing at that panel; otherwise the view packs on the fly. Copying a
 * kc_tensor and changing its data or shape by hand would leave the pack of the whole. */
kc_tensor kc_op_rows_view(const kc_tensor *t, int64_t r0, int64_t n);

/* ---- attention --------------------------------------------------------------------------- */

/* Scaled dot-product attention without materialising the score matrix (online softmax, fp32).
 * With KC_PREC_BF16 on a CPU with bf16 dot products, q·k and P·v use bf16 products (fp32
 * sums; scores and softmax stay fp32): ~2e-3 rel-L2 from fp32 at ordinary score magnitudes.
 * Element (b, t, h, d) of q is q[b*q_bs + t*q_ts + h*D + d]; same for k, v (with head index
 * h_kv = h / (NH/NKV): multi-query attention) and o. Masks:
 *   causal == 0: every query sees every key;
 *   causal == 1: query i sees keys j <= i, and if pad != NULL, with P = pad[b] left-padding
 *     positions: a query row i >= P sees keys j in [P, i]; a padding row i < P sees ALL keys
 *     (ChatGLM's exact behaviour on padded rows, kolors-model.md §3.5). */
typedef struct {
    const float *q, *k, *v;
    float *o;
    int64_t N, Tq, Tk, NH, NKV, D;
    int64_t q_bs, q_ts, k_bs, k_ts, v_bs, v_ts, o_bs, o_ts;
    float scale;
    int causal;
    const int32_t *pad; /* [N] or NULL */
} kc_attn_args;
kc_status kc_op_attention(const kc_exec *ex, const kc_attn_args *a, kc_err *err);

/* Rotary position embedding in place, GPT-J-style interleaved pairs (x[2i], x[2i+1]) on the
 * first `rot` dims of every head; dims rot..D-1 pass through (ChatGLM2/3, kolors-model.md §3.3).
 * Row m (at x + m*row_stride) holds NH heads of D dims and has position pos[m];
 * θ_i = base^(-2i/rot), angle pos·θ_i, all fp32. */
kc_status kc_op_rope_interleaved(const kc_exec *ex, float *x, int64_t M, int64_t row_stride, int64_t NH, int64_t D,
                                 int64_t rot, const int32_t *pos, float base, kc_err *err);

/* ---- normalisation ----------------------------------------------------------------------- */

/* GroupNorm over channels-last x [N, S, C] (S = H*W), G contiguous channel groups, biased
 * variance, per-channel affine; optional fused SiLU. y may alias x. */
kc_status kc_op_group_norm(const kc_exec *ex, const float *x, float *y, int64_t N, int64_t S, int64_t C, int64_t G,
                           float eps, const kc_tensor *gamma, const kc_tensor *beta, int silu, kc_err *err);

/* GroupNorm statistics shared across the tiles of one image (tiled VAE). Per group: n values,
 * their mean and m2 = Σ(x - mean)² in double; tiles merge with Chan et al.'s pairwise formula,
 * so sums over differently shifted tiles stay accurate. */
typedef struct {
    double n, mean, m2;
} kc_gn_moments;
/* acc += add (either may be empty). */
void kc_gn_moments_merge(kc_gn_moments *acc, const kc_gn_moments *add);
/* mean and 1/sqrt(m2/n + eps) of G groups, as kc_op_group_norm computes them (fp32). */
void kc_gn_moments_finish(const kc_gn_moments *m, int64_t G, float eps, float *mean, float *rstd);
/* Options of kc_op_group_norm_tile, both parts optional:
 *   record != NULL: MERGE the moments of the pixels in rows [y0, y1) x columns [x0, x1) of x,
 *     seen as [N, S/W, W, C], into record[n*G + g] (of the input, before normalising);
 *   mean, rstd != NULL: normalise with mean[n*G + g], rstd[n*G + g] instead of x's own
 *     statistics. */
typedef struct {
    kc_gn_moments *record;
    int64_t W, y0, y1, x0, x1;
    const float *mean, *rstd;
} kc_gn_tile;
/* kc_op_group_norm with tile options (t == NULL: exactly kc_op_group_norm). */
kc_status kc_op_group_norm_tile(const kc_exec *ex, const float *x, float *y, int64_t N, int64_t S, int64_t C, int64_t G,
                                float eps, const kc_tensor *gamma, const kc_tensor *beta, int silu, const kc_gn_tile *t,
                                kc_err *err);
/* LayerNorm over the last dim D of x [M, D]; gamma/beta [D] (beta may be NULL). y may alias x. */
kc_status kc_op_layer_norm(const kc_exec *ex, const float *x, float *y, int64_t M, int64_t D, float eps,
                           const kc_tensor *gamma, const kc_tensor *beta, kc_err *err);
/* RMSNorm: y = x / sqrt(mean(x²) + eps) · gamma over the last dim. y may alias x. */
kc_status kc_op_rms_norm(const kc_exec *ex, const float *x, float *y, int64_t M, int64_t D, float eps,
                         const kc_tensor *gamma, kc_err *err);

/* ---- elementwise ------------------------------------------------------------------------- */

void kc_op_silu(const kc_exec *ex, float *y, const float *x, int64_t n);          /* y may alias x */
void kc_op_add(const kc_exec *ex, float *y, const float *a, const float *b, int64_t n); /* y = a + b */
/* GEGLU: p [M, 2F] = [value | gate] -> y [M, F] = value · GELU_erf(gate). */
void kc_op_geglu(const kc_exec *ex, float *y, const float *p, int64_t M, int64_t F);
/* SwiGLU: p [M, 2F] = [gate | value] -> y [M, F] = SiLU(gate) · value. */
void kc_op_swiglu(const kc_exec *ex, float *y, const float *p, int64_t M, int64_t F);

/* ---- layout ------------------------------------------------------------------------------ */

void kc_nchw_to_nhwc(float *dst, const float *src, int64_t N, int64_t C, int64_t H, int64_t W);
void kc_nhwc_to_nchw(float *dst, const float *src, int64_t N, int64_t C, int64_t H, int64_t W);
/* Nearest-neighbour resize, channels-last: out[y][x] = in[floor(y*H/Ho)][floor(x*W/Wo)]. */
void kc_op_upsample_nearest(const kc_exec *ex, float *y, const float *x, int64_t N, int64_t H, int64_t W, int64_t C,
                            int64_t Ho, int64_t Wo);
/* Channel concat, channels-last: y [N,S,Ca+Cb] = [a [N,S,Ca] | b [N,S,Cb]]. */
void kc_op_concat_channels(const kc_exec *ex, float *y, const float *a, int64_t Ca, const float *b, int64_t Cb,
                           int64_t N, int64_t S);

/* Reads element i of a float-dtype tensor as f32 (for small vectors: biases, norm scales). */
float kc_tensor_get_f32(const kc_tensor *t, int64_t i);
/* Converts a whole float-dtype tensor view to f32 into dst (numel floats). */
void kc_tensor_to_f32(const kc_tensor *t, float *dst);

#endif
