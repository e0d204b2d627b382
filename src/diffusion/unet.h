/* unet.h — diffusers UNet2DConditionModel as configured for Kolors / SDXL (kolors-model.md §1.6.3,
 * §1.7.2, §4): config parsing with every computation-relevant key validated, the expected tensor
 * list, weight binding in the stored dtype, arena planning and the channels-last forward.
 *
 * Dimension letters: N batch, H/W latent size, S = H*W, C channels, T text tokens, E text width
 * (encoder_hid_dim), X cross-attention width, P pooled width, D embedding width (4 * C0). */
#ifndef KC_DIFFUSION_UNET_H
#define KC_DIFFUSION_UNET_H

#include <stdint.h>

#include "core/arena.h"
#include "core/status.h"
#include "io/arch.h"
#include "io/weights.h"
#include "ops/ops.h"

#include <cjson/cJSON.h>

#define KC_UNET_MAX_BLOCKS 6
#define KC_UNET_MAX_LAYERS 8 /* resnets per down block (layers_per_block) */

typedef struct {
    int nblocks;                              /* len(block_out_channels) */
    int64_t block_out[KC_UNET_MAX_BLOCKS];    /* block_out_channels */
    int64_t layers[KC_UNET_MAX_BLOCKS];       /* layers_per_block, per down block (up: reversed + 1) */
    int64_t depth[KC_UNET_MAX_BLOCKS];        /* transformer_layers_per_block, per down block */
    int64_t heads[KC_UNET_MAX_BLOCKS];        /* attention_head_dim (= number of heads, diffusers naming) */
    int down_attn[KC_UNET_MAX_BLOCKS];        /* down block i is CrossAttnDownBlock2D */
    int up_attn[KC_UNET_MAX_BLOCKS];          /* up block i (0 = deepest) is CrossAttnUpBlock2D */
    int64_t in_channels, out_channels;
    int64_t cross_dim;                        /* cross_attention_dim (X) */
    int64_t hid_dim;                          /* encoder_hid_dim (E); 0 = no encoder_hid_proj (E = X) */
    int64_t temb_in, temb_dim;                /* sinusoid width = block_out[0]; D = 4 * block_out[0] */
    int add_text_time;                        /* addition_embed_type == "text_time" */
    int64_t add_time_dim;                     /* addition_time_embed_dim */
    int64_t add_in_dim;                       /* projection_class_embeddings_input_dim = P + 6 * add_time_dim */
    int64_t groups;                           /* norm_num_groups */
    float eps;                                /* norm_eps (resnets, conv_norm_out) */
    int flip_sin_to_cos;
    double freq_shift;
    int64_t conv_in_k, conv_out_k;
    int downsample_padding;                   /* 1 (U-Net) or 0 (pad right/bottom, as the VAE) */
    int linear_proj;                          /* use_linear_projection (else proj_in/out are 1x1 convs) */
} kc_unet_config;

/* Width of encoder_hidden_states the U-Net takes (E, or X without encoder_hid_proj). */
static inline int64_t kc_unet_text_width(const kc_unet_config *c) { return c->hid_dim ? c->hid_dim : c->cross_dim; }
/* Width of text_embeds (P); 0 without the text_time add embedding. */
static inline int64_t kc_unet_pooled_width(const kc_unet_config *c) {
    return c->add_text_time ? c->add_in_dim - 6 * c->add_time_dim : 0;
}

/* Parses unet/config.json (or an already parsed object; `what` names it in messages). Any value
 * that kolors.c does not implement is KC_ERR_UNSUPPORTED naming the key and the value. */
kc_status kc_unet_config_load(const char *path, kc_unet_config *cfg, kc_err *err);
kc_status kc_unet_config_parse(const cJSON *root, const char *what, kc_unet_config *cfg, kc_err *err);
/* The full-size Kolors configuration (kolors-model.md §1.6.3), for benchmarks and tests. */
void kc_unet_config_kolors(kc_unet_config *cfg);

/* Every tensor (name, shape) the config implies, in the upstream state_dict order. */
kc_status kc_unet_expected(const kc_unet_config *cfg, kc_expected_list *out, kc_err *err);
/* Parameters of the expected tensors. */
int64_t kc_unet_param_count(const kc_unet_config *cfg);
/* Multiply-adds of one forward (convolutions, linears, attention products) times 2. */
double kc_unet_flops(const kc_unet_config *cfg, int64_t N, int64_t H, int64_t W, int64_t T);

typedef struct kc_unet kc_unet;

/* Opens unet_dir: config.json + diffusion_pytorch_model[.<variant>].safetensors (variant may
 * be NULL: the full-precision file when present, else any variant found). *used_variant (may be
 * NULL) tells whether the variant file was used. pack_ex: see kc_unet_create. */
kc_status kc_unet_load(const char *unet_dir, const char *variant, const kc_exec *pack_ex, kc_unet **out,
                       int *used_variant, kc_err *err);
/* Binds a model over an existing store (takes ownership of ws, also on failure). With pack_ex
 * (NULL: none), the GEMM weights are first prepacked for pack_ex's bf16 GEMM (kc_op_prepack;
 * nothing happens when pack_ex runs fp32 or its table has no bf16 GEMM): a forward then never
 * converts or lays out weights again, and the file pages behind the packed ones are released,
 * so memory stays about the size of the stored weights. */
kc_status kc_unet_create(const kc_unet_config *cfg, kc_weights *ws, const kc_exec *pack_ex, kc_unet **out, kc_err *err);
/* Bytes of prepacked weights (0 without). */
size_t kc_unet_packed_bytes(const kc_unet *u);
void kc_unet_free(kc_unet *u);
const kc_unet_config *kc_unet_get_config(const kc_unet *u);
const kc_weights *kc_unet_weights(const kc_unet *u);

/* Debug taps (NCHW for images, [N, T, C] / [N, C] otherwise, like the goldens). */
typedef void (*kc_unet_tap_fn)(const char *name, const float *data, int ndim, const int64_t *shape, void *user);

/* Bytes of arena kc_unet_forward needs for a batch of N latents of H x W with T text tokens and
 * `with_taps` (one extra activation buffer for the NCHW copies). ex gives the thread count. */
kc_status kc_unet_arena_bytes(const kc_unet *u, const kc_exec *ex, int64_t N, int64_t H, int64_t W, int64_t T,
                              int with_taps, size_t *bytes, kc_err *err);

/* encoder_hid_proj: ehs [N, T, E] -> ctx [N, T, X]. Independent of t: compute once per prompt
 * and pass the result to every kc_unet_forward. Without encoder_hid_proj this is a copy. */
kc_status kc_unet_project_context(const kc_exec *ex, const kc_unet *u, const float *ehs, int64_t N, int64_t T,
                                  float *ctx, kc_unet_tap_fn tap, void *tap_user, kc_err *err);

/* The cross-attention keys and values of every transformer block depend only on the text:
 * computed once per prompt batch (kc_unet_precompute_kv) they save 2 matmuls of [N·T, X] x
 * [X, C] per block and step (10 % of the FLOPs of a 512² Kolors step, 2.5 % at 1024²) at the
 * cost of kc_unet_kv_floats floats (340 MB for Kolors, N = 2, T = 256). Results are
 * bit-identical to computing them inside the forward. */
int64_t kc_unet_kv_floats(const kc_unet *u, int64_t N, int64_t T);
kc_status kc_unet_precompute_kv(const kc_exec *ex, const kc_unet *u, const float *ctx, int64_t N, int64_t T, float *kv,
                                kc_err *err);

typedef struct {
    int64_t N, H, W, T;
    const float *sample;      /* [N, in_channels, H, W] NCHW */
    const float *timestep;    /* [N] */
    const float *ctx;         /* [N, T, X] from kc_unet_project_context */
    const float *text_embeds; /* [N, P] (unused without text_time) */
    const float *time_ids;    /* [N, 6] */
    const float *kv;          /* from kc_unet_precompute_kv for the same ctx, or NULL */
} kc_unet_input;

/* noise_pred [N, out_channels, H, W] NCHW. Activations come from `arena` (sized with
 * kc_unet_arena_bytes); it is rewound on return. */
kc_status kc_unet_forward(const kc_exec *ex, const kc_unet *u, const kc_unet_input *in, float *out, kc_arena *arena,
                          kc_unet_tap_fn tap, void *tap_user, kc_err *err);

/* Sinusoidal timestep embedding (§4.2), fp32: out[dim] for one value t. */
void kc_unet_sinusoid(float t, int64_t dim, int flip_sin_to_cos, double freq_shift, float *out);

#endif
