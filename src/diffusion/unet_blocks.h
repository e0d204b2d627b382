/* unet_blocks.h — Transformer2DModel (continuous input) with BasicTransformerBlocks, as used by
 * the U-Net's cross-attention blocks (diffusers transformers/transformer_2d.py, attention.py;
 * kolors-model.md §4.5). Internal to src/diffusion/unet*.c.
 *
 * Dimension letters: N batch, S = H*W tokens, C channels, T text tokens, X cross width. */
#ifndef KC_DIFFUSION_UNET_BLOCKS_H
#define KC_DIFFUSION_UNET_BLOCKS_H

#include "diffusion/nn.h"
#include "diffusion/unet.h"

typedef struct {
    kc_norm norm1, norm2, norm3;             /* LayerNorm eps 1e-5 */
    kc_layer q1, k1, v1, o1;                 /* self-attention (to_out.0 has a bias) */
    kc_layer q2, k2, v2, o2;                 /* cross-attention, k2/v2 [C, X] */
    kc_layer ff0, ff2;                       /* GEGLU proj [8C, C], out [C, 4C] */
} kc_tblock;

typedef struct {
    int64_t C, heads, depth, groups, cross_dim;
    kc_norm norm;                            /* GroupNorm eps 1e-6 */
    kc_layer proj_in, proj_out;              /* Linear [C, C] or 1x1 conv [C, C, 1, 1] */
    kc_tblock *blocks;                       /* [depth], malloc'd */
    int64_t kv_off;                          /* this module's place in the K/V cache, in floats per
                                                (sample, token): block k's K at N·T·(kv_off + 2Ck),
                                                its V N·T·C further */
} kc_xformer;

kc_status kc_xformer_bind(kc_xformer *a, const kc_weights *ws, const char *prefix, int64_t C, int64_t heads,
                          int64_t depth, int64_t cross_dim, int64_t groups, int linear_proj, kc_err *err);
void kc_xformer_free(kc_xformer *a);
/* Arena bytes kc_xformer_forward takes on top of its input. */
size_t kc_xformer_scratch_bytes(const kc_xformer *a, int64_t N, int64_t S, int64_t T);
/* x [N, S, C] in place: x += proj_out(blocks(proj_in(GroupNorm(x)))). ctx [N, T, X]; kv is the
 * whole model's K/V cache (see unet.h) or NULL to project ctx here. */
kc_status kc_xformer_forward(const kc_exec *ex, const kc_xformer *a, float *x, int64_t N, int64_t S, const float *ctx,
                             const float *kv, int64_t T, kc_arena *arena, kc_err *err);
/* Fills this module's part of the K/V cache from ctx [N, T, X]. */
kc_status kc_xformer_kv(const kc_exec *ex, const kc_xformer *a, const float *ctx, int64_t N, int64_t T, float *kv,
                        kc_err *err);

#endif
