/* vae.h — diffusers AutoencoderKL as configured for Kolors / SDXL (kolors-model.md §1.6.4, §1.7.3,
 * §5): config parsing with every computation-relevant key validated, the expected tensor list,
 * weight binding in the stored dtype (fp32 arithmetic always, so the SDXL VAE's fp16 overflow
 * cannot happen), arena planning, and the channels-last decoder and encoder, untiled or tiled.
 *
 * Tiling (kolors-model.md §10 warns that GroupNorm statistics are per tile): only the
 * high-resolution part is tiled. The decoder runs post_quant_conv, conv_in and the mid block
 * (with its global attention and GroupNorms) on the whole latent — that part is small — then runs
 * the up blocks + conv_norm_out + conv_out on overlapping latent tiles of the mid-block output and
 * blends the decoded pixel tiles with normalised raised-cosine ramps over each overlap. The
 * encoder mirrors it: conv_in + down blocks on overlapping pixel tiles, blended at latent
 * resolution, then the mid block, conv_out and quant_conv on the whole latent. The GroupNorms of
 * the tiled layers normalise with whole-image statistics, estimated or exact (KC_VAE_STATS_*
 * below): the tiles record the moments of their cores (the tiles' overlaps split at the middle,
 * so each pixel counts once) and merge them. What remains of the difference to an untiled run
 * is zero padding at inner tile edges (plus the estimate's error); the ramps give an edge pixel
 * weight ~0, so it does not show as a seam (tests/diffusion/test_vae.c measures both). Tiling is
 * off by default up to 1024², so Kolors' native size always runs exactly.
 *
 * Dimension letters: N batch, h/w latent size, H/W image size (= f·h, f = 2^(blocks-1)), S = H*W,
 * C channels, Z latent channels, T tile size (latent pixels), O overlap (latent pixels). */
#ifndef KC_DIFFUSION_VAE_H
#define KC_DIFFUSION_VAE_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "core/arena.h"
#include "core/status.h"
#include "io/arch.h"
#include "io/weights.h"
#include "ops/ops.h"

#define KC_VAE_MAX_BLOCKS 6
#define KC_VAE_MAX_LAYERS 8
/* Largest image side accepted (pixels): 16384 (128x the 128-pixel tiny images, 16x 1024²). */
#define KC_VAE_MAX_SIDE 16384
/* Default tile size in latent pixels (512 image pixels) and the auto-tiling threshold: tiling is
 * switched on automatically when the latent has more than KC_VAE_AUTO_TILE_AREA pixels, i.e. for
 * images larger than Kolors' native 1024² (128² latents). Reason: an untiled 1024² decode needs
 * ~3.8 GB of fp32 activations (see kc_vae_decode_bytes) — acceptable on the machines Kolors runs
 * on — and tiling there would cost ~1.3-1.6x the convolution work for the overlaps, plus the
 * GroupNorm statistics passes (KC_VAE_STATS_ESTIMATE: ~+0.1-0.5x), and approximate; above 1024²
 * the untiled footprint grows with the area (2048²: ~15 GB) while a tiled run needs ~0.7 GB at
 * 1024² and ~1 GB at 2048² (the whole-latent mid block grows slowly: 512 floats per latent pixel). */
#define KC_VAE_DEFAULT_TILE 64
#define KC_VAE_AUTO_TILE_AREA (128 * 128)

typedef struct {
    int nblocks;                        /* len(block_out_channels) */
    int64_t block_out[KC_VAE_MAX_BLOCKS];
    int64_t layers;                     /* layers_per_block (decoder blocks have layers + 1) */
    int64_t in_channels, out_channels;  /* image channels (3) */
    int64_t latent_channels;            /* Z */
    int64_t groups;                     /* norm_num_groups */
    float eps;                          /* 1e-6: hard-coded in diffusers' Encoder/Decoder */
    int mid_attn;                       /* mid_block_add_attention */
    int quant_conv, post_quant_conv;    /* use_quant_conv / use_post_quant_conv */
    double scaling_factor;              /* informational here: callers scale latents */
    int64_t sample_size;                /* informational */
} kc_vae_config;

/* Spatial factor between image and latent: 2^(nblocks-1). */
static inline int64_t kc_vae_factor(const kc_vae_config *c) { return (int64_t)1 << (c->nblocks - 1); }

kc_status kc_vae_config_parse(const cJSON *root, const char *what, kc_vae_config *cfg, kc_err *err);
kc_status kc_vae_config_load(const char *path, kc_vae_config *cfg, kc_err *err);
/* The full-size SDXL / Kolors VAE (kolors-model.md §1.6.4), for benchmarks and tests. */
void kc_vae_config_sdxl(kc_vae_config *cfg);

/* Every tensor (name, shape) of the model in the upstream state_dict order. old_attn_names
 * selects the pre-0.14 diffusers spelling of the mid-block attention (query/key/value/proj_attn
 * instead of to_q/to_k/to_v/to_out.0). */
kc_status kc_vae_expected(const kc_vae_config *cfg, int old_attn_names, kc_expected_list *out, kc_err *err);
/* 1 when the store uses the old attention names (then kc_vae_expected(cfg, 1, ...) applies). */
int kc_vae_uses_old_attn_names(const kc_weights *ws);
int64_t kc_vae_param_count(const kc_vae_config *cfg);
/* Analytic FLOPs (2 x multiply-adds of convolutions, linears and attention products) of one
 * untiled decode of N latents h x w, and of one encode of N images H x W. */
double kc_vae_decode_flops(const kc_vae_config *cfg, int64_t N, int64_t h, int64_t w);
double kc_vae_encode_flops(const kc_vae_config *cfg, int64_t N, int64_t H, int64_t W);

typedef struct kc_vae kc_vae;

/* Opens vae_dir: config.json + diffusion_pytorch_model[.<variant>].safetensors. pack_ex: see
 * kc_vae_create. */
kc_status kc_vae_load(const char *vae_dir, const char *variant, const kc_exec *pack_ex, kc_vae **out, int *used_variant,
                      kc_err *err);
/* Binds a model over an existing store (takes ownership of ws, also on failure). Accepts both
 * attention spellings. With pack_ex (NULL: none) the convolution and attention weights are
 * first prepacked for its bf16 GEMM, as kc_unet_create does (a 1024^2 decode otherwise packs
 * each conv weight once per row chunk: ~4 times). */
kc_status kc_vae_create(const kc_vae_config *cfg, kc_weights *ws, const kc_exec *pack_ex, kc_vae **out, kc_err *err);
/* Bytes of prepacked weights (0 without). */
size_t kc_vae_packed_bytes(const kc_vae *v);
void kc_vae_free(kc_vae *v);
const kc_vae_config *kc_vae_get_config(const kc_vae *v);
const kc_weights *kc_vae_weights(const kc_vae *v);

/* GroupNorm statistics of the tiled layers (decoder up blocks + conv_norm_out, encoder down
 * blocks). Rel-L2 of tiled vs untiled output on the tiny model, measured with 16-latent tiles
 * (tests/diffusion/test_vae.c) and 32-latent tiles on 48x64 latents / 384x512 images, and run
 * time relative to an untiled run:
 *   TILE: each tile normalises with its own statistics, one pass (~1.3x). Fine on stationary
 *     content (noise: decode 0.13 / 0.07, encode 0.08 / 0.03), but a tile of sky is whitened
 *     like a tile of texture: 0.5-0.8 on smooth non-stationary images.
 *   ESTIMATE (default): one untiled pre-pass over the input subsampled (nearest, by the smallest
 *     factor >= 2 whose result fits one tile: no extra memory) records every GroupNorm's
 *     statistics; the decoder then makes the statistics of its two low-resolution up blocks
 *     exact (as EXACT does, cheap there). ~1.4x encode, ~1.8x decode. Smooth images 0.15-0.3,
 *     2-5x lower than TILE; noise 0.07-0.19, up to 2.5x higher than TILE (no large-scale
 *     structure for the pre-pass to capture).
 *   EXACT: one statistics pass over all tiles per GroupNorm layer, in layer order (each pass
 *     stops after its layer and normalises the earlier ones with their whole-image
 *     statistics), so every layer uses the untiled statistics and only zero padding at inner
 *     tile edges remains: 0.02-0.04 with 32-latent tiles (5-40x lower than TILE, 4-15x lower
 *     than ESTIMATE), 0.10-0.12 with 16-latent tiles; ~10x (decode) / ~17x (encode) run time.
 *     Cheaper exact schemes do not exist without keeping a whole layer's activations: layer
 *     k's statistics depend on layer k-1's, and reusing stale statistics of a previous pass
 *     for all layers at once (the obvious two-pass scheme) made the error worse, not smaller
 *     (decode 0.13 -> 0.15-0.21 on noise, 0.57 -> 0.68-0.82 on a smooth latent). */
enum { KC_VAE_STATS_TILE = 0, KC_VAE_STATS_ESTIMATE = 1, KC_VAE_STATS_EXACT = 2 };

/* Tiling of one run, in latent pixels. */
typedef struct {
    int enabled;
    int64_t tile;    /* T: largest tile side */
    int64_t overlap; /* O: smallest overlap between neighbouring tiles */
    int feather;     /* 1 = raised-cosine blend (default); 0 = hard cut at the overlap middle
                        (for tests that show what the blend buys) */
    int stats;       /* GroupNorm statistics of the tiled layers: KC_VAE_STATS_* */
} kc_vae_tiling;

/* mode: -1 auto, 0 off, 1 on; tile_size 0 = KC_VAE_DEFAULT_TILE. h, w: latent size. Overlap =
 * T/4 (at least 2 latent pixels = 16 image pixels), stats = KC_VAE_STATS_ESTIMATE. Tiling is
 * disabled when one tile covers the latent anyway. Fails (KC_ERR_ARG) on a tile size below 8 or
 * a mode outside {-1, 0, 1}. */
kc_status kc_vae_tiling_resolve(int mode, int tile_size, int64_t h, int64_t w, kc_vae_tiling *t, kc_err *err);

/* Tile starts along one axis of length L for tiles of at most T with overlap >= O: returns the
 * count n (<= cap) and writes starts[0..n) and the common tile length *len. */
int kc_vae_tile_grid(int64_t L, int64_t T, int64_t O, int64_t *starts, int cap, int64_t *len);

/* Debug taps (NCHW, like the reference modules' outputs). Untiled runs report
 * decoder.{conv_in, mid_block, up_block<i>} and encoder.{conv_in, down_block<i>, mid_block};
 * tiled runs report only the parts computed on the whole image. Each tap is [1, C, H, W]; with
 * N > 1 it fires once per sample, named "<name>.<sample>". */
typedef void (*kc_vae_tap_fn)(const char *name, const float *data, int ndim, const int64_t *shape, void *user);

/* Arena bytes for kc_vae_decode / kc_vae_encode. Samples are processed one at a time, so the
 * figure does not grow with N. ex gives the thread count (convolution scratch is per thread). */
kc_status kc_vae_decode_bytes(const kc_vae_config *cfg, const kc_exec *ex, int64_t N, int64_t h, int64_t w,
                              const kc_vae_tiling *t, int with_taps, size_t *bytes, kc_err *err);
kc_status kc_vae_encode_bytes(const kc_vae_config *cfg, const kc_exec *ex, int64_t N, int64_t H, int64_t W,
                              const kc_vae_tiling *t, int with_taps, size_t *bytes, kc_err *err);

/* latents [N, Z, h, w] NCHW (already divided by the scaling factor) -> image [N, out, f·h, f·w]
 * NCHW, unclamped. t may be NULL (untiled). The arena is rewound on return. */
kc_status kc_vae_decode(const kc_exec *ex, const kc_vae *v, const float *latents, int64_t N, int64_t h, int64_t w,
                        const kc_vae_tiling *t, float *image, kc_arena *arena, kc_vae_tap_fn tap, void *tap_user,
                        kc_err *err);
/* image [N, in, H, W] NCHW in [-1, 1], H and W multiples of f -> moments [N, 2Z, H/f, W/f] NCHW
 * (quant_conv output: mean = channels [0, Z), raw logvar = [Z, 2Z), not yet clamped). */
kc_status kc_vae_encode(const kc_exec *ex, const kc_vae *v, const float *image, int64_t N, int64_t H, int64_t W,
                        const kc_vae_tiling *t, float *moments, kc_arena *arena, kc_vae_tap_fn tap, void *tap_user,
                        kc_err *err);

#endif
