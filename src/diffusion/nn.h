/* nn.h — layers shared by the U-Net and the VAE (diffusers resnet.py, downsampling.py,
 * upsampling.py), channels-last. Weight fields use the last component of the checkpoint key.
 *
 * Dimension letters: N batch, H/W spatial, S = H*W, C channels (Cin/Cout), T temb width. */
#ifndef KC_DIFFUSION_NN_H
#define KC_DIFFUSION_NN_H

#include "core/arena.h"
#include "core/status.h"
#include "core/tensor.h"
#include "io/arch.h"
#include "io/weights.h"
#include "ops/ops.h"

/* A conv or linear layer: weight (+ optional bias). */
typedef struct {
    kc_tensor weight; /* conv [Cout, Cin, k, k]; linear [out, in] */
    kc_tensor bias;   /* [Cout]; .data == NULL when absent */
    int fp32;         /* 1: runs in fp32 even in a bf16 run (kc_nn_is_fp32_layer) */
} kc_layer;

/* The layers a bf16 run keeps in fp32: those that transform the whole signal rather than add a
 * residual branch to it — conv_in, conv_out, the downsamplers, the resnets' 1x1 shortcuts and the
 * VAE's quant_conv / post_quant_conv. On the tiny goldens they carry about half of the bf16
 * default's squared error against fp32; in the full-size U-Net they are ~1.2 % of the work
 * (docs/performance.md §6). 1 when `name` (a tensor name or a layer prefix followed by '.')
 * belongs to one. Such layers are never prepacked. */
int kc_nn_is_fp32_layer(const char *name);
/* The exec layer l runs with: ex, or its fp32 copy in *tmp when l->fp32. */
static inline const kc_exec *kc_nn_layer_exec(const kc_exec *ex, const kc_layer *l, kc_exec *tmp) {
    return l->fp32 ? kc_exec_fp32(ex, tmp) : ex;
}

/* Binds "<prefix>.weight" with the given shape and "<prefix>.bias" [shape[0]] when has_bias. */
kc_status kc_layer_bind(kc_layer *l, const kc_weights *ws, const char *prefix, int ndim, const int64_t *shape,
                        int has_bias, kc_err *err);
kc_status kc_conv_bind(kc_layer *l, const kc_weights *ws, const char *prefix, int64_t cout, int64_t cin, int64_t k,
                       kc_err *err);
kc_status kc_linear_bind(kc_layer *l, const kc_weights *ws, const char *prefix, int64_t out, int64_t in, int has_bias,
                         kc_err *err);
/* Prepacks the store's GEMM weights for ex (kc_weights_prepare + kc_op_prepack), except those
 * whose name contains one of `skip` (NULL-terminated, may be NULL: layers that only ever see a
 * few rows and read the stored weight directly), and only tensors the config expects (`exp`),
 * with exactly the expected shape: an extra tensor (EMA or adapter weights left in a checkpoint)
 * is never copied, and a misshapen one is left for the bind that follows to report. *bytes: size of the packed copies. */
kc_status kc_nn_prepack_expected(kc_weights *ws, const kc_exec *ex, const kc_expected_list *exp, const char *const *skip,
                                 size_t *bytes, kc_err *err);

/* GroupNorm/LayerNorm affine: "<prefix>.weight", "<prefix>.bias" of [C]. */
typedef struct {
    kc_tensor weight, bias;
} kc_norm;
kc_status kc_norm_bind(kc_norm *n, const kc_weights *ws, const char *prefix, int64_t C, kc_err *err);

static inline const kc_tensor *kc_layer_bias(const kc_layer *l) { return l->bias.data ? &l->bias : NULL; }

/* y = conv(x) (+= when accumulate), stride 1 "same" padding for k = 1 or 3. */
kc_status kc_conv_same(const kc_exec *ex, const kc_layer *l, const float *x, int64_t N, int64_t H, int64_t W,
                       int64_t Cin, float *y, int accumulate, kc_arena *scratch, kc_err *err);

/* ResnetBlock2D: h = conv1(SiLU(GN1(x))) [+ temb_proj(SiLU(temb))]; h = conv2(SiLU(GN2(h)));
 * out = shortcut(x) + h, shortcut = 1x1 conv when Cin != Cout. */
typedef struct {
    int64_t cin, cout, groups, temb_dim; /* temb_dim 0 = no time embedding (VAE) */
    float eps;
    kc_norm norm1, norm2;
    kc_layer conv1, conv2, time_emb_proj, conv_shortcut;
    int has_shortcut;
} kc_resnet;

kc_status kc_resnet_bind(kc_resnet *r, const kc_weights *ws, const char *prefix, int64_t cin, int64_t cout,
                         int64_t temb_dim, int64_t groups, float eps, kc_err *err);
/* Scratch floats needed by kc_resnet_forward for N*S pixels (plus what the convs need). */
int64_t kc_resnet_scratch_floats(const kc_resnet *r, int64_t N, int64_t S);
/* x [N,H,W,Cin] -> out [N,H,W,Cout] (out must not alias x). temb_silu: SiLU(emb) [N, temb_dim] or
 * NULL when temb_dim == 0. */
kc_status kc_resnet_forward(const kc_exec *ex, const kc_resnet *r, const float *x, int64_t N, int64_t H, int64_t W,
                            const float *temb_silu, float *out, kc_arena *scratch, kc_err *err);

/* A run of GroupNorm layers over one tile of a larger image (tiled VAE, N = 1): the k-th
 * GroupNorm call since k was set to 0 uses statistics slot k, i.e. record[k*G ..] (merges the
 * moments of the tile's core rectangle, see kc_gn_tile) and/or mean/rstd[k*G ..] (normalises
 * with them instead of the tile's own statistics). The caller keeps the core rectangle in the
 * current layer's pixels (scaled with each up/down sampling). */
typedef struct {
    kc_gn_moments *record;    /* [nslots][G] or NULL */
    const float *mean, *rstd; /* [nslots][G] or NULL */
    int64_t G;
    int nslots, k;
    const unsigned char *use; /* [nslots] or NULL (all): mean/rstd apply to slot k only where use[k];
                                 the other slots use the tile's own statistics */
    int64_t y0, y1, x0, x1; /* core rectangle of the tile at the current level */
} kc_gn_seq;

/* GroupNorm of x [1, H, W, C] through seq (NULL: plain kc_op_group_norm); advances seq->k. */
kc_status kc_gn_seq_norm(const kc_exec *ex, kc_gn_seq *seq, const float *x, float *y, int64_t H, int64_t W, int64_t C,
                         int64_t G, float eps, const kc_norm *nrm, int silu, kc_err *err);
/* kc_resnet_forward with its two GroupNorms through seq (NULL: identical to kc_resnet_forward;
 * otherwise N must be 1). */
kc_status kc_resnet_forward_gn(const kc_exec *ex, const kc_resnet *r, const float *x, int64_t N, int64_t H, int64_t W,
                               const float *temb_silu, float *out, kc_arena *scratch, kc_gn_seq *seq, kc_err *err);

/* Downsample2D: 3x3 stride-2 conv. U-Net: padding 1 on every side (output ceil(size/2));
 * VAE encoder: zero pad right/bottom by 1, no other padding. */
typedef struct {
    kc_layer conv;
    int64_t C;
    int vae_padding;
} kc_downsample;
kc_status kc_downsample_bind(kc_downsample *d, const kc_weights *ws, const char *prefix, int64_t C, int vae_padding,
                             kc_err *err);
void kc_downsample_out_size(const kc_downsample *d, int64_t H, int64_t W, int64_t *Ho, int64_t *Wo);
kc_status kc_downsample_forward(const kc_exec *ex, const kc_downsample *d, const float *x, int64_t N, int64_t H,
                                int64_t W, float *y, kc_arena *scratch, kc_err *err);

/* Upsample2D: nearest-neighbour resize to (Ho, Wo) (= 2H, 2W unless a skip dictates the size,
 * kolors-model.md §4.8), then 3x3 conv with padding 1. */
typedef struct {
    kc_layer conv;
    int64_t C;
} kc_upsample;
kc_status kc_upsample_bind(kc_upsample *u, const kc_weights *ws, const char *prefix, int64_t C, kc_err *err);
kc_status kc_upsample_forward(const kc_exec *ex, const kc_upsample *u, const float *x, int64_t N, int64_t H,
                              int64_t W, int64_t Ho, int64_t Wo, float *y, kc_arena *scratch, kc_err *err);

#endif
