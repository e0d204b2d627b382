/* kolors.h — the one public header of libkolors, a native C11 engine for Kolors
 * (ChatGLM3-conditioned SDXL-style latent diffusion).
 *
 * Conventions
 *  - Every fallible function returns 0 (KOLORS_OK) or a kolors_status, and fills the
 *    caller-provided kolors_error (which may be NULL) with a message that names the file,
 *    tensor, key or argument at fault. The library never exits, aborts or prints; diagnostics
 *    go to the log callback of kolors_params.
 *  - Memory returned by the library (strings, tensors, images) is released with the matching
 *    kolors_*_free function or kolors_free.
 *  - A kolors_model may be used by one thread at a time; distinct models are independent.
 *  - Tensors crossing this API are fp32, row-major, NCHW for images and latents (as PyTorch).
 */
#ifndef KOLORS_H
#define KOLORS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define KOLORS_VERSION "0.1.0"

typedef enum {
    KOLORS_OK = 0,
    KOLORS_ERR_IO,          /* a file could not be opened, read, mapped or written */
    KOLORS_ERR_FORMAT,      /* a file is not what it claims (truncated, corrupt, hostile) */
    KOLORS_ERR_UNSUPPORTED, /* valid input that kolors.c does not implement */
    KOLORS_ERR_SHAPE,       /* a tensor's dtype/shape does not match the config */
    KOLORS_ERR_ARG,         /* a bad argument: size, steps, prompt encoding, ... */
    KOLORS_ERR_NOMEM,       /* out of memory */
    KOLORS_ERR_CANCELLED,   /* the progress callback asked to stop */
    KOLORS_ERR_INTERNAL,    /* a bug in kolors.c */
} kolors_status;

typedef struct {
    int code;           /* kolors_status */
    char message[1024];
} kolors_error;

enum { KOLORS_LOG_ERROR = 0, KOLORS_LOG_WARN = 1, KOLORS_LOG_INFO = 2, KOLORS_LOG_DEBUG = 3 };
typedef void (*kolors_log_fn)(int level, const char *msg, void *user);

typedef enum {
    KOLORS_PRECISION_DEFAULT = 0, /* the fast path for this CPU: bf16 where it has AVX512-BF16, else fp32 */
    KOLORS_PRECISION_FP32 = 1,    /* fp32 arithmetic: reproduces the reference goldens */
    KOLORS_PRECISION_BF16 = 2,    /* bf16 products, fp32 accumulation; the few layers that transform the whole
                                     signal (conv_in/out, downsamplers, resnet shortcuts, the VAE's
                                     quant_conv / post_quant_conv) stay fp32 */
} kolors_precision;

/* ---- model ------------------------------------------------------------------------------ */

typedef struct {
    const char *model_dir;      /* a Kolors folder in either official layout */
    int n_threads;              /* 0 = number of physical cores */
    kolors_precision precision;
    const char *variant;        /* weights variant to prefer for unet/vae ("fp16"); NULL = the
                                   full-precision file when present, else any variant found */
    int vae_tiling;             /* -1 auto (on above a size where it saves memory), 0 off, 1 on */
    int vae_tile_size;          /* tile size in latent pixels (0 = default) */
    int vae_tile_stats;         /* GroupNorm statistics of tiled VAE runs: 0 = estimated by a
                                   low-resolution pass (default; ~1.5x the untiled time), 1 = exact,
                                   tiled == untiled up to tile-edge padding (~10x decode, ~17x
                                   encode), 2 = each tile its own (fastest; tiles of different
                                   content come out with different tone and contrast) */
    kolors_log_fn log;          /* NULL = silent */
    void *log_user;
    int log_level;              /* KOLORS_LOG_* ; messages above it are dropped */
} kolors_params;

typedef struct kolors_model kolors_model;

void kolors_params_default(kolors_params *p);
/* Resolves the folder layout and parses every config; weights are mapped lazily, per
 * component, on first use. */
int kolors_model_open(const kolors_params *p, kolors_model **out, kolors_error *err);
void kolors_model_free(kolors_model *m);
/* Human-readable report: layout, files per component, tensor counts, dtypes, parameter counts,
 * bytes on disk and the architecture verdict. Returns non-zero if any component fails the
 * architecture check (the report still describes it). *text is freed with kolors_free. */
int kolors_model_info(kolors_model *m, char **text, kolors_error *err);
/* Unmaps the text encoder's weights (called by the pipeline before denoising). */
void kolors_model_release_text_encoder(kolors_model *m);
void kolors_free(void *p);

/* Debug taps: named intermediate tensors (NCHW / [N,T,C] as the reference) reported during
 * forward passes. fn == NULL disables. */
typedef void (*kolors_tap_fn)(const char *name, const float *data, int ndim, const int64_t *shape, void *user);
void kolors_model_set_tap(kolors_model *m, kolors_tap_fn fn, void *user);

/* ---- text ------------------------------------------------------------------------------- */

#define KOLORS_MAX_LENGTH 256

typedef struct {
    int32_t input_ids[4096];
    int32_t attention_mask[4096];
    int32_t position_ids[4096];
    int length;       /* max_length the arrays were filled to */
    int n_tokens;     /* real tokens including the 2 prefix tokens */
    int n_untruncated;/* tokens the prompt would have had without truncation */
    int truncated;
} kolors_tokens;

/* Tokenizes one prompt (UTF-8, len bytes) exactly as Kolors does: [gMASK] sop + pieces,
 * truncated to max_length (<= 4096), left-padded with 0. Invalid UTF-8 is KOLORS_ERR_ARG. */
int kolors_tokenize(kolors_model *m, const char *prompt, size_t len, int max_length, kolors_tokens *out,
                    kolors_error *err);
/* Decodes ids back to text (for debugging); *text freed with kolors_free. */
int kolors_detokenize(kolors_model *m, const int32_t *ids, int n, char **text, kolors_error *err);

/* Hidden size of the text encoder (4096 for Kolors). */
int kolors_text_hidden_size(kolors_model *m, int *hidden, kolors_error *err);
/* Encodes n prompts as one batch: prompt_embeds [n, 256, H] (penultimate layer's output) and
 * pooled [n, H] (last layer's output at the last position), both before the final norm. */
int kolors_encode(kolors_model *m, int n, const char *const *prompts, float *prompt_embeds, float *pooled,
                  kolors_error *err);

/* ---- components ------------------------------------------------------------------------- */

typedef struct {
    int n, c, h, w;                     /* sample [n, c, h, w] */
    const float *sample;
    const float *timestep;              /* [n] */
    const float *encoder_hidden_states; /* [n, tokens, hidden] (ChatGLM penultimate states) */
    int tokens, hidden;
    const float *text_embeds;           /* [n, hidden] (pooled) */
    const float *time_ids;              /* [n, 6] */
} kolors_unet_inputs;

/* noise_pred [n, out_channels, h, w]. */
int kolors_unet_forward(kolors_model *m, const kolors_unet_inputs *in, float *noise_pred, kolors_error *err);
/* latents [n, 4, h, w] (already divided by the scaling factor) -> image [n, 3, 8h, 8w], unclamped. */
int kolors_vae_decode(kolors_model *m, const float *latents, int n, int h, int w, float *image, kolors_error *err);
/* image [n, 3, H, W] in [-1, 1] -> mean, logvar [n, 4, H/8, W/8] (logvar clamped to [-30, 20]). */
int kolors_vae_encode(kolors_model *m, const float *image, int n, int H, int W, float *mean, float *logvar,
                      kolors_error *err);

/* ---- tensors files (safetensors) --------------------------------------------------------- */

typedef enum { KOLORS_DTYPE_F32 = 1, KOLORS_DTYPE_F16, KOLORS_DTYPE_BF16, KOLORS_DTYPE_F64, KOLORS_DTYPE_I64,
               KOLORS_DTYPE_I32, KOLORS_DTYPE_I16, KOLORS_DTYPE_I8, KOLORS_DTYPE_U8, KOLORS_DTYPE_BOOL } kolors_dtype;

typedef struct {
    char *name;
    int dtype;          /* kolors_dtype */
    int ndim;
    int64_t shape[8];
    void *data;         /* owned copy */
} kolors_tensor;

/* Reads every tensor of a safetensors file (copies, stored dtype). */
int kolors_tensors_read(const char *path, kolors_tensor **out, int *n, kolors_error *err);
/* Finds `name` and returns it converted to fp32 (malloc'd, freed with kolors_free), checking the
 * rank (ndim_expected < 0 = any). shape receives the dims. */
int kolors_tensors_get_f32(const kolors_tensor *t, int n, const char *name, int ndim_expected, float **data,
                           int64_t shape[8], kolors_error *err);
int kolors_tensors_write(const char *path, const kolors_tensor *t, int n, kolors_error *err);
void kolors_tensors_free(kolors_tensor *t, int n);

/* torch.randn(shape, generator=torch.Generator().manual_seed(seed)) on the CPU, bit-exact. */
int kolors_randn(uint64_t seed, int64_t n, float *out, kolors_error *err);

/* ---- images ----------------------------------------------------------------------------- */

typedef struct {
    int width, height, channels; /* channels = 3 (RGB) */
    uint8_t *data;               /* row-major, interleaved */
} kolors_image;

/* Writes a PNG; each (key, value) pair becomes a tEXt/iTXt chunk (e.g. "parameters"). */
int kolors_image_write_png(const char *path, const kolors_image *img, int n_text, const char *const *keys,
                           const char *const *values, kolors_error *err);
/* Reads a PNG or JPEG as 8-bit RGB. */
int kolors_image_read(const char *path, kolors_image *out, kolors_error *err);
void kolors_image_free(kolors_image *img);

/* ---- generation ------------------------------------------------------------------------- */

/* Called with step 0 before the first denoising step, then after each step (n_steps = the steps
 * that run: int(steps * strength) for img2img); elapsed_s counts from the first step. Returns
 * non-zero to cancel (KOLORS_ERR_CANCELLED). */
typedef int (*kolors_progress_fn)(int step, int n_steps, double elapsed_s, void *user);

typedef struct {
    const char *prompt;
    const char *negative_prompt;  /* NULL = "" (encoded, not zeroed, as Kolors does) */
    int width, height;            /* multiples of 8; default 1024 x 1024 */
    int steps;                    /* default 50 */
    float cfg_scale;              /* default 5.0; <= 1 disables the unconditional pass */
    uint64_t seed;
    const char *sampler;          /* "euler" (default), "euler_a", "dpm++2m", "unipc", "ddim" */
    const char *scheduler;        /* "default" or "karras" (sigma spacing) */
    const kolors_image *init_image; /* img2img when non-NULL */
    float strength;               /* img2img: default 0.8 */
    const float *init_noise;      /* [1, 4, H/8, W/8] used instead of the seeded draw, or NULL */
    float *final_latents;         /* out: [1, 4, H/8, W/8] before the VAE, or NULL */
    kolors_progress_fn progress;
    void *progress_user;
} kolors_gen_params;

void kolors_gen_params_default(kolors_gen_params *g);
/* Generates one image into *out (free with kolors_image_free). */
int kolors_generate(kolors_model *m, const kolors_gen_params *g, kolors_image *out, kolors_error *err);

/* ---- benchmarks ------------------------------------------------------------------------- */

typedef enum {
    KOLORS_BENCH_UNET = 0,
    KOLORS_BENCH_TEXT_ENCODER = 1,
    KOLORS_BENCH_VAE_DECODE = 2,
    KOLORS_BENCH_VAE_ENCODE = 3,
} kolors_bench_workload;

typedef struct {
    int workload;               /* kolors_bench_workload */
    const char *model_dir;      /* real weights from this folder; NULL = random weights in memory of
                                   the full-size Kolors component (reduced by layers / width_div) */
    int width, height;          /* image pixels, multiples of 8 (unet, vae-*); default 1024 */
    int batch;                  /* default 2 (unet: one guided step; text: cond + uncond prompts); vae 1 */
    int tokens;                 /* text tokens (unet context, text encoder); default 256 */
    int repeat;                 /* timed runs (default 1); median and min are reported */
    int warmup;                 /* untimed runs before them (default 0) */
    int n_threads;              /* 0 = physical cores */
    kolors_precision precision; /* DEFAULT = bf16 products, the fast path */
    const char *isa;            /* kernel table ("ref", "avx2", "avx512", "avx512bf16"); NULL = best */
    int layers;                 /* reduced run: text encoder runs its first `layers` blocks, the U-Net
                                   caps every transformer depth at `layers`; 0 = all. The time is
                                   also projected to the full model by the FLOP ratio. */
    int width_div;              /* random weights only: channel widths / width_div (0 or 1 = full) */
    int weights_bf16;           /* random weights stored as BF16 instead of F16 */
    int vae_tiling;             /* -1 auto, 0 off, 1 on (vae-*) */
    int vae_tile_size;          /* tile side in latent pixels; 0 = default */
} kolors_bench_params;

typedef struct {
    const char *workload;       /* "unet", "text-encoder", "vae-decode", "vae-encode" */
    char shape[96];             /* e.g. "2x4x128x128 tokens 256" */
    char isa[16];               /* kernel table that ran */
    char precision[8];          /* "fp32" or "bf16" */
    char weights[8];            /* "random" or "model" */
    char dtype[8];              /* dtype of most weight bytes ("F16", "BF16", "F32") */
    int threads, repeats, warmup;
    double median_s, min_s, max_s;
    double gflop, gflops;       /* analytic work of one run (2 x multiply-adds) and its rate */
    int scaled;                 /* 1 when layers < the model's: the scaled_* figures project */
    double scale;               /* full-model FLOPs / measured FLOPs (1 when not scaled) */
    double scaled_median_s, scaled_gflop;
    int layers_run, layers_total; /* text: blocks; unet: transformer blocks; vae: 0 */
    int width_div;
    double setup_s;             /* weights generated or mapped, model bound */
    double weights_mb, arena_mb, peak_rss_mb;
    double mean_abs_out;        /* sanity: mean |output| of the last run */
    int finite;                 /* 1 when every output value was finite */
    double packed_mb;           /* weights prepacked for the GEMM (0 = none): U-Net at load (in setup_s);
                                   text encoder after its first run (prepack_s), as kolors_encode does */
    double first_s, prepack_s;  /* text encoder with warmup >= 1: the first (unpacked) run, the prepacking */
} kolors_bench_result;

void kolors_bench_params_default(kolors_bench_params *p);
/* Builds the component (random or from model_dir), runs it warmup + repeat times on random
 * inputs and measures. Prints nothing. */
int kolors_bench(const kolors_bench_params *p, kolors_bench_result *r, kolors_error *err);

#ifdef __cplusplus
}
#endif
#endif
