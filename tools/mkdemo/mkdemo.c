/* mkdemo.c — writes the embedded demo model (models/demo/): a tiny random-weight Kolors model in
 * the official Kwai-Kolors/Kolors-diffusers layout, made entirely by this program.
 *
 *   model_index.json, scheduler/scheduler_config.json (the Kolors scheduler settings, spec §1.6.5)
 *   text_encoder/config.json + model.safetensors      ChatGLM3 topology at tiny sizes, fp16
 *   tokenizer/tokenizer.model + tokenizer_config.json a small SentencePiece BPE ModelProto written
 *                                                     here (byte-fallback pieces + a few hundred
 *                                                     pieces), never a copy of the real tokenizer
 *   unet/config.json + diffusion_pytorch_model.safetensors   SDXL topology at tiny sizes, fp32
 *   vae/config.json + diffusion_pytorch_model.safetensors    SDXL VAE topology at tiny sizes, fp32
 *
 * The weights are random (a fixed splitmix64 stream), so the files are byte-identical from run to
 * run and the images the model makes are meaningless noise. Tensor names and shapes follow the
 * diffusers / ChatGLM state dicts exactly as kolors-model.md §1.7 lists them (tests/cli/mkdemo.sh
 * checks them with `kolors info`, and the --full-size list against the real layout).
 *
 * Usage: kolors-mkdemo OUT_DIR [--like-tiny-a | --full-size], kolors-mkdemo --list [...]
 *   --like-tiny-a  the dimensions of shared/testdata/models/tiny-kolors-a
 *   --full-size    the real Kolors dimensions (8.9 G parameters written as ~18 GB; the data is generated
 *                  while writing, so memory stays small), for full-size memory/speed runs of generate
 *   --list         print every tensor (file, name, dtype, shape) and write nothing (tests compare the
 *                  full-size list with the real layout without writing 18 GB) */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "core/dtype.h"

/* ---- dimensions ---------------------------------------------------------------------------- */

typedef struct {
    /* text encoder (ChatGLM3) */
    int glm_hidden, glm_heads, glm_kv, glm_groups, glm_ffn, glm_layers;
    /* unet: three blocks as SDXL (Down, CrossAttnDown, CrossAttnDown) */
    int unet_ch[3], unet_heads[3], unet_tlpb[3], unet_groups, unet_cross, unet_time_id_dim;
    /* vae: four blocks as SDXL */
    int vae_ch[4], vae_groups;
    kc_dtype unet_dtype, vae_dtype; /* the text encoder is always fp16, as Kolors ships it */
} dims;

static const dims k_demo = {
    .glm_hidden = 32, .glm_heads = 2, .glm_kv = 16, .glm_groups = 1, .glm_ffn = 64, .glm_layers = 2,
    .unet_ch = {16, 32, 32}, .unet_heads = {1, 2, 2}, .unet_tlpb = {1, 1, 1}, .unet_groups = 8,
    .unet_cross = 32, .unet_time_id_dim = 8,
    .vae_ch = {8, 16, 16, 16}, .vae_groups = 4, .unet_dtype = KC_DTYPE_F32, .vae_dtype = KC_DTYPE_F32,
};
/* The tiny-kolors-a test model's dimensions (its configs in shared/testdata). */
static const dims k_tiny_a = {
    .glm_hidden = 64, .glm_heads = 4, .glm_kv = 16, .glm_groups = 2, .glm_ffn = 192, .glm_layers = 3,
    .unet_ch = {32, 64, 64}, .unet_heads = {2, 4, 4}, .unet_tlpb = {1, 1, 2}, .unet_groups = 8,
    .unet_cross = 32, .unet_time_id_dim = 8,
    .vae_ch = {16, 32, 32, 32}, .vae_groups = 8, .unet_dtype = KC_DTYPE_F32, .vae_dtype = KC_DTYPE_F32,
};
/* The real Kolors sizes (kolors-model.md §1.6: ChatGLM3-6B, SDXL U-Net with the 4096-wide text
 * projection, SDXL VAE): 8.9 G parameters, 17.8 GB on disk with the U-Net in fp16 as its fp16
 * variant. For memory and speed measurements of `kolors generate` at full size. */
static const dims k_full = {
    .glm_hidden = 4096, .glm_heads = 32, .glm_kv = 128, .glm_groups = 2, .glm_ffn = 13696, .glm_layers = 28,
    .unet_ch = {320, 640, 1280}, .unet_heads = {5, 10, 20}, .unet_tlpb = {1, 2, 10}, .unet_groups = 32,
    .unet_cross = 2048, .unet_time_id_dim = 256,
    .vae_ch = {128, 256, 512, 512}, .vae_groups = 32, .unet_dtype = KC_DTYPE_F16, .vae_dtype = KC_DTYPE_F32,
};

#define LAYERS_PER_BLOCK 2

/* ---- deterministic random numbers (splitmix64) ------------------------------------------------ */

static uint64_t g_state = 0x6b6f6c6f72732e63ull; /* "kolors.c" */
static double urand(void) { /* [0, 1) */
    uint64_t z = (g_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return (double)(z >> 11) * (1.0 / 9007199254740992.0);
}
static float sym(double a) { return (float)((2.0 * urand() - 1.0) * a); }

/* ---- tensor list --------------------------------------------------------------------------- */

/* A tensor to write: its data is generated while the file is written (the full-size text encoder
 * is 12 GB), from one random stream in tensor order, so the bytes do not depend on buffering. */
typedef struct {
    char name[200];
    int ndim;
    int64_t shape[4];
    kc_dtype dtype;
    int init;        /* INIT_* */
    int64_t fan_in;
} tens;

typedef struct {
    tens *v;
    int n, cap;
    kc_dtype dtype; /* storage dtype of this component */
} tlist;

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "kolors-mkdemo: error: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

enum { INIT_WEIGHT, INIT_BIAS, INIT_NORM, INIT_EMBED, INIT_INV_FREQ };

/* Adds a tensor with the given init. Weights: U(-1/sqrt(fan_in), +) as PyTorch's default Linear /
 * Conv init (keeps activations O(1) through the random network); biases small; norm scales near 1. */
static void add(tlist *l, int init, int ndim, const int64_t *shape, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static void add(tlist *l, int init, int ndim, const int64_t *shape, const char *fmt, ...) {
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 256;
        l->v = realloc(l->v, (size_t)l->cap * sizeof *l->v);
        if (!l->v) die("out of memory");
    }
    tens *t = &l->v[l->n++];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t->name, sizeof t->name, fmt, ap);
    va_end(ap);
    t->ndim = ndim;
    int64_t numel = 1, fan_in = 1;
    for (int i = 0; i < ndim; i++) {
        t->shape[i] = shape[i];
        numel *= shape[i];
        if (i > 0) fan_in *= shape[i];
    }
    (void)numel;
    t->dtype = l->dtype;
    t->init = init;
    t->fan_in = fan_in;
}

/* Values [i0, i0 + n) of tensor t into out (its dtype). INIT_INV_FREQ (RoPE inverse frequencies,
 * kv/4 values 1/10000^(2i/(kv/2)) as the reference stores them) still draws one number per value
 * so that the stream stays aligned whatever the tensor list holds. */
static void fill(const tens *t, int64_t i0, int64_t n, int64_t kv, void *out) {
    double a = t->init == INIT_WEIGHT ? 1.0 / sqrt((double)t->fan_in) : t->init == INIT_EMBED ? 1.0 : 0.1;
    for (int64_t i = 0; i < n; i++) {
        float v = sym(a);
        if (t->init == INIT_NORM) v += 1.0f;
        if (t->init == INIT_INV_FREQ) v = (float)(1.0 / pow(10000.0, (double)(2 * (i0 + i)) / (double)(kv / 2)));
        if (t->dtype == KC_DTYPE_F16) {
            uint16_t h = kc_f32_to_f16(v);
            memcpy((char *)out + 2 * i, &h, 2);
        } else {
            memcpy((char *)out + 4 * i, &v, 4);
        }
    }
}

#define SHAPE(...) ((const int64_t[]){__VA_ARGS__})

static void linear(tlist *l, int64_t out, int64_t in, int bias, const char *prefix) {
    add(l, INIT_WEIGHT, 2, SHAPE(out, in), "%s.weight", prefix);
    if (bias) add(l, INIT_BIAS, 1, SHAPE(out), "%s.bias", prefix);
}
static void conv(tlist *l, int64_t out, int64_t in, int64_t k, const char *prefix) {
    add(l, INIT_WEIGHT, 4, SHAPE(out, in, k, k), "%s.weight", prefix);
    add(l, INIT_BIAS, 1, SHAPE(out), "%s.bias", prefix);
}
static void norm(tlist *l, int64_t c, const char *prefix) {
    add(l, INIT_NORM, 1, SHAPE(c), "%s.weight", prefix);
    add(l, INIT_BIAS, 1, SHAPE(c), "%s.bias", prefix);
}
static const char *cat(const char *a, const char *b) {
    static char buf[8][512];
    static int k;
    char *s = buf[k++ & 7];
    snprintf(s, 512, "%s.%s", a, b);
    return s;
}

/* ResnetBlock2D (time_emb_dim 0 = VAE variant without time projection). */
static void resnet(tlist *l, const char *p, int64_t in, int64_t out, int64_t temb) {
    norm(l, in, cat(p, "norm1"));
    conv(l, out, in, 3, cat(p, "conv1"));
    if (temb) linear(l, out, temb, 1, cat(p, "time_emb_proj"));
    norm(l, out, cat(p, "norm2"));
    conv(l, out, out, 3, cat(p, "conv2"));
    if (in != out) conv(l, out, in, 1, cat(p, "conv_shortcut"));
}

/* Transformer2DModel with use_linear_projection, `depth` BasicTransformerBlocks (GEGLU FF). */
static void transformer(tlist *l, const char *p, int64_t c, int64_t cross, int depth) {
    char b[200];
    norm(l, c, cat(p, "norm"));
    linear(l, c, c, 1, cat(p, "proj_in"));
    for (int d = 0; d < depth; d++) {
        snprintf(b, sizeof b, "%s.transformer_blocks.%d", p, d);
        char q[300];
        norm(l, c, cat(b, "norm1"));
        snprintf(q, sizeof q, "%s.attn1", b);
        linear(l, c, c, 0, cat(q, "to_q"));
        linear(l, c, c, 0, cat(q, "to_k"));
        linear(l, c, c, 0, cat(q, "to_v"));
        linear(l, c, c, 1, cat(q, "to_out.0"));
        norm(l, c, cat(b, "norm2"));
        snprintf(q, sizeof q, "%s.attn2", b);
        linear(l, c, c, 0, cat(q, "to_q"));
        linear(l, c, cross, 0, cat(q, "to_k"));
        linear(l, c, cross, 0, cat(q, "to_v"));
        linear(l, c, c, 1, cat(q, "to_out.0"));
        norm(l, c, cat(b, "norm3"));
        linear(l, 8 * c, c, 1, cat(b, "ff.net.0.proj"));
        linear(l, c, 4 * c, 1, cat(b, "ff.net.2"));
    }
    linear(l, c, c, 1, cat(p, "proj_out"));
}

/* UNet2DConditionModel, SDXL block types (kolors-model.md §1.7.2, §4.6). */
static void build_unet(tlist *l, const dims *d) {
    char p[256];
    const int *ch = d->unet_ch;
    int64_t temb = 4 * ch[0];
    int64_t proj_in = d->glm_hidden + 6 * d->unet_time_id_dim;
    conv(l, ch[0], 4, 3, "conv_in");
    linear(l, temb, ch[0], 1, "time_embedding.linear_1");
    linear(l, temb, temb, 1, "time_embedding.linear_2");
    linear(l, temb, proj_in, 1, "add_embedding.linear_1");
    linear(l, temb, temb, 1, "add_embedding.linear_2");
    linear(l, d->unet_cross, d->glm_hidden, 1, "encoder_hid_proj");
    for (int b = 0; b < 3; b++) {
        int64_t in = b ? ch[b - 1] : ch[0], out = ch[b];
        for (int r = 0; r < LAYERS_PER_BLOCK; r++) {
            snprintf(p, sizeof p, "down_blocks.%d.resnets.%d", b, r);
            resnet(l, p, r ? out : in, out, temb);
            if (b > 0) {
                snprintf(p, sizeof p, "down_blocks.%d.attentions.%d", b, r);
                transformer(l, p, out, d->unet_cross, d->unet_tlpb[b]);
            }
        }
        if (b < 2) {
            snprintf(p, sizeof p, "down_blocks.%d.downsamplers.0.conv", b);
            conv(l, out, out, 3, p);
        }
    }
    resnet(l, "mid_block.resnets.0", ch[2], ch[2], temb);
    transformer(l, "mid_block.attentions.0", ch[2], d->unet_cross, d->unet_tlpb[2]);
    resnet(l, "mid_block.resnets.1", ch[2], ch[2], temb);
    int rc[3] = {ch[2], ch[1], ch[0]}, rt[3] = {d->unet_tlpb[2], d->unet_tlpb[1], d->unet_tlpb[0]};
    for (int b = 0; b < 3; b++) {
        int64_t prev = b ? rc[b - 1] : rc[0], out = rc[b], in = rc[b < 2 ? b + 1 : 2];
        for (int r = 0; r <= LAYERS_PER_BLOCK; r++) {
            int64_t skip = r == LAYERS_PER_BLOCK ? in : out;
            int64_t rin = r == 0 ? prev : out;
            snprintf(p, sizeof p, "up_blocks.%d.resnets.%d", b, r);
            resnet(l, p, rin + skip, out, temb);
            if (b < 2) {
                snprintf(p, sizeof p, "up_blocks.%d.attentions.%d", b, r);
                transformer(l, p, out, d->unet_cross, rt[b]);
            }
        }
        if (b < 2) {
            snprintf(p, sizeof p, "up_blocks.%d.upsamplers.0.conv", b);
            conv(l, out, out, 3, p);
        }
    }
    norm(l, ch[0], "conv_norm_out");
    conv(l, 4, ch[0], 3, "conv_out");
}

static void vae_attn(tlist *l, const char *p, int64_t c) {
    norm(l, c, cat(p, "group_norm"));
    linear(l, c, c, 1, cat(p, "to_q"));
    linear(l, c, c, 1, cat(p, "to_k"));
    linear(l, c, c, 1, cat(p, "to_v"));
    linear(l, c, c, 1, cat(p, "to_out.0"));
}

/* AutoencoderKL, SDXL block types (kolors-model.md §1.7.3, §5). */
static void build_vae(tlist *l, const dims *d) {
    char p[256];
    const int *ch = d->vae_ch;
    conv(l, ch[0], 3, 3, "encoder.conv_in");
    for (int b = 0; b < 4; b++) {
        int64_t in = b ? ch[b - 1] : ch[0], out = ch[b];
        for (int r = 0; r < LAYERS_PER_BLOCK; r++) {
            snprintf(p, sizeof p, "encoder.down_blocks.%d.resnets.%d", b, r);
            resnet(l, p, r ? out : in, out, 0);
        }
        if (b < 3) {
            snprintf(p, sizeof p, "encoder.down_blocks.%d.downsamplers.0.conv", b);
            conv(l, out, out, 3, p);
        }
    }
    resnet(l, "encoder.mid_block.resnets.0", ch[3], ch[3], 0);
    vae_attn(l, "encoder.mid_block.attentions.0", ch[3]);
    resnet(l, "encoder.mid_block.resnets.1", ch[3], ch[3], 0);
    norm(l, ch[3], "encoder.conv_norm_out");
    conv(l, 8, ch[3], 3, "encoder.conv_out");
    conv(l, 8, 8, 1, "quant_conv");
    conv(l, 4, 4, 1, "post_quant_conv");
    conv(l, ch[3], 4, 3, "decoder.conv_in");
    resnet(l, "decoder.mid_block.resnets.0", ch[3], ch[3], 0);
    vae_attn(l, "decoder.mid_block.attentions.0", ch[3]);
    resnet(l, "decoder.mid_block.resnets.1", ch[3], ch[3], 0);
    int rc[4] = {ch[3], ch[2], ch[1], ch[0]};
    for (int b = 0; b < 4; b++) {
        int64_t prev = b ? rc[b - 1] : rc[0], out = rc[b];
        for (int r = 0; r <= LAYERS_PER_BLOCK; r++) {
            snprintf(p, sizeof p, "decoder.up_blocks.%d.resnets.%d", b, r);
            resnet(l, p, r ? out : prev, out, 0);
        }
        if (b < 3) {
            snprintf(p, sizeof p, "decoder.up_blocks.%d.upsamplers.0.conv", b);
            conv(l, out, out, 3, p);
        }
    }
    norm(l, ch[0], "decoder.conv_norm_out");
    conv(l, 3, ch[0], 3, "decoder.conv_out");
}

/* ChatGLMModel state dict with the checkpoint's "transformer." prefix (§1.7.1). */
static void build_text_encoder(tlist *l, const dims *d, int64_t vocab) {
    char p[256];
    int64_t h = d->glm_hidden, qkv = (int64_t)(d->glm_heads + 2 * d->glm_groups) * d->glm_kv;
    add(l, INIT_EMBED, 2, SHAPE(vocab, h), "transformer.embedding.word_embeddings.weight");
    for (int i = 0; i < d->glm_layers; i++) {
        snprintf(p, sizeof p, "transformer.encoder.layers.%d", i);
        add(l, INIT_NORM, 1, SHAPE(h), "%s.input_layernorm.weight", p);
        linear(l, qkv, h, 1, cat(p, "self_attention.query_key_value"));
        linear(l, h, (int64_t)d->glm_heads * d->glm_kv, 0, cat(p, "self_attention.dense"));
        add(l, INIT_NORM, 1, SHAPE(h), "%s.post_attention_layernorm.weight", p);
        linear(l, 2 * d->glm_ffn, h, 0, cat(p, "mlp.dense_h_to_4h"));
        linear(l, h, d->glm_ffn, 0, cat(p, "mlp.dense_4h_to_h"));
    }
    add(l, INIT_NORM, 1, SHAPE(h), "transformer.encoder.final_layernorm.weight");
    add(l, INIT_WEIGHT, 2, SHAPE(vocab, h), "transformer.output_layer.weight");
    /* RoPE inverse frequencies, as the reference stores them: 1/10000^(2i/rot), rot = kv/2. */
    add(l, INIT_INV_FREQ, 1, SHAPE(d->glm_kv / 4), "transformer.rotary_pos_emb.inv_freq");
}

static int64_t numel_of(const tens *t) {
    int64_t n = 1;
    for (int i = 0; i < t->ndim; i++) n *= t->shape[i];
    return n;
}

/* Writes a safetensors file with the header kc_st_write would write (same JSON, 8-byte padding),
 * generating each tensor's data in chunks. With `list` set, prints "file name dtype shape" lines
 * instead and writes nothing. Returns the bytes of tensor data. */
static const char *path_of(const char *rel);
static int64_t write_tensors(const tlist *l, const char *rel, int64_t kv, int list) {
    const char *path = list ? rel : path_of(rel);
    int64_t off = 0;
    cJSON *root = cJSON_CreateObject();
    cJSON *meta = cJSON_AddObjectToObject(root, "__metadata__");
    cJSON_AddStringToObject(meta, "format", "pt");
    for (int i = 0; i < l->n; i++) {
        const tens *t = &l->v[i];
        int64_t nb = numel_of(t) * (int64_t)kc_dtype_size(t->dtype);
        cJSON *e = cJSON_AddObjectToObject(root, t->name);
        cJSON_AddStringToObject(e, "dtype", kc_dtype_name(t->dtype));
        cJSON *sh = cJSON_AddArrayToObject(e, "shape");
        for (int d = 0; d < t->ndim; d++) cJSON_AddItemToArray(sh, cJSON_CreateNumber((double)t->shape[d]));
        cJSON *o = cJSON_AddArrayToObject(e, "data_offsets");
        cJSON_AddItemToArray(o, cJSON_CreateNumber((double)off));
        cJSON_AddItemToArray(o, cJSON_CreateNumber((double)(off + nb)));
        off += nb;
        if (list) {
            printf("%s %s %s [", path, t->name, kc_dtype_name(t->dtype));
            for (int d = 0; d < t->ndim; d++) printf("%s%lld", d ? ", " : "", (long long)t->shape[d]);
            printf("]\n");
        }
    }
    char *hdr = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    if (!hdr) die("out of memory");
    if (list) {
        free(hdr);
        return off;
    }
    FILE *f = fopen(path, "wb");
    if (!f) die("%s: cannot create: %s", path, strerror(errno));
    size_t hl = strlen(hdr), padded = (hl + 7) & ~(size_t)7;
    unsigned char lenb[8];
    for (int i = 0; i < 8; i++) lenb[i] = (unsigned char)((uint64_t)padded >> (8 * i));
    int ok = fwrite(lenb, 1, 8, f) == 8 && fwrite(hdr, 1, hl, f) == hl;
    for (size_t i = hl; ok && i < padded; i++) ok = fputc(' ', f) != EOF;
    free(hdr);
    enum { CHUNK = 1 << 20 };
    void *chunk = malloc((size_t)CHUNK * 4);
    if (!chunk) die("out of memory");
    for (int i = 0; ok && i < l->n; i++) {
        const tens *t = &l->v[i];
        int64_t n = numel_of(t);
        size_t es = kc_dtype_size(t->dtype);
        for (int64_t i0 = 0; ok && i0 < n; i0 += CHUNK) {
            int64_t m = n - i0 < CHUNK ? n - i0 : CHUNK;
            fill(t, i0, m, kv, chunk);
            ok = fwrite(chunk, es, (size_t)m, f) == (size_t)m;
        }
    }
    free(chunk);
    if (fclose(f) != 0 || !ok) die("%s: write failed: %s", path, strerror(errno));
    return off;
}

static void free_list(tlist *l) {
    free(l->v);
    memset(l, 0, sizeof *l);
}

/* ---- the tokenizer (SentencePiece ModelProto, kolors-model.md §2.1-2.2) ----------------------- */

typedef struct {
    unsigned char *b;
    size_t n, cap;
} buf;

static void put(buf *o, const void *p, size_t n) {
    if (o->n + n > o->cap) {
        o->cap = (o->cap + n) * 2;
        o->b = realloc(o->b, o->cap);
        if (!o->b) die("out of memory");
    }
    memcpy(o->b + o->n, p, n);
    o->n += n;
}
static void varint(buf *o, uint64_t v) {
    unsigned char c;
    do {
        c = (unsigned char)(v & 0x7f);
        v >>= 7;
        if (v) c |= 0x80;
        put(o, &c, 1);
    } while (v);
}
static void field_varint(buf *o, int field, int64_t v) {
    varint(o, (uint64_t)field << 3 | 0);
    varint(o, (uint64_t)v); /* negative int32 values are sign-extended to 10 bytes, as protobuf does */
}
static void field_bytes(buf *o, int field, const void *p, size_t n) {
    varint(o, (uint64_t)field << 3 | 2);
    varint(o, n);
    put(o, p, n);
}
static void field_float(buf *o, int field, float f) {
    varint(o, (uint64_t)field << 3 | 5);
    uint32_t u;
    memcpy(&u, &f, 4);
    unsigned char le[4] = {(unsigned char)u, (unsigned char)(u >> 8), (unsigned char)(u >> 16), (unsigned char)(u >> 24)};
    put(o, le, 4);
}

enum { PIECE_NORMAL = 1, PIECE_UNKNOWN = 2, PIECE_CONTROL = 3, PIECE_BYTE = 6 };

typedef struct {
    char **s;
    int n, cap;
} strset;

static int strset_has(const strset *s, const char *p) {
    for (int i = 0; i < s->n; i++)
        if (!strcmp(s->s[i], p)) return 1;
    return 0;
}
static void strset_add(strset *s, const char *p) {
    if (strset_has(s, p)) return;
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 512;
        s->s = realloc(s->s, (size_t)s->cap * sizeof *s->s);
        if (!s->s) die("out of memory");
    }
    s->s[s->n] = strdup(p);
    if (!s->s[s->n]) die("out of memory");
    s->n++;
}

#define SPACE "\xe2\x96\x81" /* U+2581, SentencePiece's escaped space */

/* Adds "▁word" and every shorter prefix of it, shortest first, so that each piece can be built
 * by one BPE merge of two existing pieces (prefix + next character). */
static void add_word(strset *s, const char *w) {
    char piece[128];
    size_t n = strlen(w);
    for (size_t k = 1; k <= n && k + 4 < sizeof piece; k++) {
        if (((unsigned char)w[k - 1] & 0xc0) == 0x80 && k < n) continue; /* whole UTF-8 chars only */
        if (k < n && ((unsigned char)w[k] & 0xc0) == 0x80) continue;
        snprintf(piece, sizeof piece, SPACE "%.*s", (int)k, w);
        strset_add(s, piece);
    }
}

/* Normal pieces, in order of decreasing score. */
static void normal_pieces(strset *s) {
    strset_add(s, SPACE);
    for (int c = 33; c < 127; c++) {
        char one[2] = {(char)c, 0};
        strset_add(s, one);
    }
    for (int c = 'a'; c <= 'z'; c++) {
        char two[8];
        snprintf(two, sizeof two, SPACE "%c", c);
        strset_add(s, two);
    }
    static const char *words[] = {
        "the", "and", "of", "with", "in", "on", "at", "a", "an", "photo", "painting", "oil", "style", "portrait",
        "cat", "dog", "bird", "horse", "house", "tree", "flower", "mountain", "river", "lake", "sea", "sky",
        "cloud", "sun", "sunset", "night", "city", "street", "light", "red", "blue", "green", "yellow", "white",
        "black", "girl", "boy", "man", "woman", "old", "young", "cute", "beautiful", "high", "low", "quality",
        "blurry", "detailed", "realistic", "landscape", "forest", "snow", "rain", "water", "table", "wooden",
        "apple", "cup", "book", "car", "window", "garden", "lighthouse", "cliff", "dusk", "sailor", "astronaut",
        "watermark", "text", "cartoon", "anime", "art", "digital", "masterpiece", "best", "ugly", "bad",
    };
    for (size_t i = 0; i < sizeof words / sizeof *words; i++) add_word(s, words[i]);
    /* Common CJK characters as single pieces, then a few two-character words. */
    static const char *cjk =
        "一的是不了人我在有他这中大来上国个到说们为子和你地出道也时年得就那要下以生会自着去之过家学对可她里后小么心多天"
        "而能好都然没日于起还发成事只作当想看文无开手十用主行方又如前所本见经头面公同三已老从动两长知民样现分将外但身些"
        "猫狗马鸟花树山水河湖海云雨雪风光影夜景城市街房屋窗台红黄蓝绿白黑色画油墨风格质量高低模糊美丽可爱小猫阳光毛";
    for (const char *p = cjk; *p;) {
        int len = ((unsigned char)*p >= 0xf0) ? 4 : ((unsigned char)*p >= 0xe0) ? 3 : ((unsigned char)*p >= 0xc0) ? 2 : 1;
        char ch[8] = {0};
        memcpy(ch, p, (size_t)len);
        strset_add(s, ch);
        char sp[16];
        snprintf(sp, sizeof sp, SPACE "%s", ch);
        if (p == cjk) strset_add(s, sp); /* "▁一" */
        p += len;
    }
    static const char *pairs[] = {"油画", "风格", "质量", "高质", "模糊", "可爱", "阳光", "夜景", "城市", "红色", "房子"};
    for (size_t i = 0; i < sizeof pairs / sizeof *pairs; i++) strset_add(s, pairs[i]);
}

/* Writes tokenizer.model (path NULL: writes nothing); returns the number of pieces (the
 * SentencePiece vocab size). */
static int write_tokenizer(const char *path) {
    buf o = {0}, m = {0};
    int n = 0;
    /* id 0 <unk> UNKNOWN, 1 <s>, 2 </s> CONTROL, 3..258 <0xXX> BYTE (spec §2.1) */
    static const struct { const char *s; int type; } special[] = {
        {"<unk>", PIECE_UNKNOWN}, {"<s>", PIECE_CONTROL}, {"</s>", PIECE_CONTROL}};
    for (int i = 0; i < 3; i++) {
        m.n = 0;
        field_bytes(&m, 1, special[i].s, strlen(special[i].s));
        field_float(&m, 2, 0.0f);
        field_varint(&m, 3, special[i].type);
        field_bytes(&o, 1, m.b, m.n);
        n++;
    }
    for (int b = 0; b < 256; b++) {
        char s[8];
        snprintf(s, sizeof s, "<0x%02X>", b);
        m.n = 0;
        field_bytes(&m, 1, s, strlen(s));
        field_float(&m, 2, 0.0f);
        field_varint(&m, 3, PIECE_BYTE);
        field_bytes(&o, 1, m.b, m.n);
        n++;
    }
    strset pieces = {0};
    normal_pieces(&pieces);
    for (int i = 0; i < pieces.n; i++) {
        m.n = 0;
        field_bytes(&m, 1, pieces.s[i], strlen(pieces.s[i]));
        field_float(&m, 2, (float)-i); /* strictly decreasing with id, as the real model */
        /* type omitted = NORMAL, as in the real file */
        field_bytes(&o, 1, m.b, m.n);
        n++;
        free(pieces.s[i]);
    }
    free(pieces.s);
    /* trainer_spec: model_type BPE, vocab_size, split_digits, byte_fallback, unk/bos/eos/pad ids */
    m.n = 0;
    field_varint(&m, 3, 2);
    field_varint(&m, 4, n);
    field_varint(&m, 25, 1);
    field_varint(&m, 35, 1);
    field_varint(&m, 40, 0);
    field_varint(&m, 41, 1);
    field_varint(&m, 42, 2);
    field_varint(&m, 43, -1);
    field_bytes(&o, 2, m.b, m.n);
    /* normalizer_spec: identity, no charsmap, add_dummy_prefix, keep extra spaces, escape spaces */
    m.n = 0;
    field_bytes(&m, 1, "identity", 8);
    field_bytes(&m, 2, "", 0);
    field_varint(&m, 3, 1);
    field_varint(&m, 4, 0);
    field_varint(&m, 5, 1);
    field_bytes(&o, 3, m.b, m.n);
    if (path) {
        FILE *f = fopen(path, "wb");
        if (!f || fwrite(o.b, 1, o.n, f) != o.n || fclose(f) != 0) die("%s: cannot write: %s", path, strerror(errno));
    }
    free(o.b);
    free(m.b);
    return n;
}

/* ---- files --------------------------------------------------------------------------------- */

static char g_root[3000];
static int g_list; /* --list: print the tensors, write nothing */

static const char *path_of(const char *rel) {
    static char p[4096];
    snprintf(p, sizeof p, "%s/%s", g_root, rel);
    return p;
}
/* Creates g_root/rel and any missing parent folder. */
static void mkdir_p(const char *rel) {
    if (g_list) return;
    char p[4096];
    snprintf(p, sizeof p, "%s", path_of(rel));
    for (char *s = p + 1; *s; s++) {
        if (*s != '/') continue;
        *s = 0;
        if (mkdir(p, 0755) != 0 && errno != EEXIST) die("%s: cannot create: %s", p, strerror(errno));
        *s = '/';
    }
    if (mkdir(p, 0755) != 0 && errno != EEXIST) die("%s: cannot create: %s", p, strerror(errno));
}
static void write_text(const char *rel, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void write_text(const char *rel, const char *fmt, ...) {
    if (g_list) return;
    const char *p = path_of(rel);
    FILE *f = fopen(p, "w");
    if (!f) die("%s: cannot create: %s", p, strerror(errno));
    va_list ap;
    va_start(ap, fmt);
    vfprintf(f, fmt, ap);
    va_end(ap);
    if (fclose(f) != 0) die("%s: write failed", p);
}

static const char *int_list(const int *v, int n) {
    static char b[4][64];
    static int k;
    char *s = b[k++ & 3];
    int o = 0;
    for (int i = 0; i < n; i++) o += snprintf(s + o, 64 - (size_t)o, "%s%d", i ? ", " : "", v[i]);
    return s;
}

int main(int argc, char **argv) {
    const dims *d = &k_demo;
    const char *out = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--like-tiny-a")) d = &k_tiny_a;
        else if (!strcmp(argv[i], "--full-size")) d = &k_full;
        else if (!strcmp(argv[i], "--list")) g_list = 1;
        else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            printf("usage: kolors-mkdemo OUT_DIR [--like-tiny-a | --full-size]\n"
                   "       kolors-mkdemo --list [--like-tiny-a | --full-size]\n\n"
                   "Writes a random-weight Kolors model (Kolors-diffusers layout, own tokenizer) into OUT_DIR:\n"
                   "by default the tiny demo model of models/demo (3.3 MB).\n"
                   "  --like-tiny-a  the sizes of the tiny-kolors-a test model\n"
                   "  --full-size    the real Kolors sizes (8.9 G parameters, ~18 GB written; for memory and\n"
                   "                 speed measurements of kolors generate)\n"
                   "  --list         print every tensor (file, name, dtype, shape) instead of writing\n");
            return 0;
        } else if (argv[i][0] == '-') die("unknown option '%s' (try --help)", argv[i]);
        else out = argv[i];
    }
    if (!out && !g_list) die("usage: kolors-mkdemo OUT_DIR [--like-tiny-a | --full-size] (try --help)");
    if (out && strlen(out) >= sizeof g_root) die("output path too long");
    if (out) strcpy(g_root, out);
    mkdir_p("");
    mkdir_p("scheduler");
    mkdir_p("text_encoder");
    mkdir_p("tokenizer");
    mkdir_p("unet");
    mkdir_p("vae");

    write_text("model_index.json",
               "{\n  \"_class_name\": \"KolorsPipeline\",\n  \"_diffusers_version\": \"0.30.3\",\n"
               "  \"_kolors_c_note\": \"demo model written by tools/mkdemo: random weights, its images are noise\",\n"
               "  \"feature_extractor\": [null, null],\n  \"force_zeros_for_empty_prompt\": false,\n"
               "  \"image_encoder\": [null, null],\n  \"scheduler\": [\"diffusers\", \"EulerDiscreteScheduler\"],\n"
               "  \"text_encoder\": [\"kolors\", \"ChatGLMModel\"],\n  \"tokenizer\": [\"kolors\", \"ChatGLMTokenizer\"],\n"
               "  \"unet\": [\"diffusers\", \"UNet2DConditionModel\"],\n  \"vae\": [\"diffusers\", \"AutoencoderKL\"]\n}\n");
    /* The Kolors scheduler settings (kolors-model.md §1.6.5 / §6). */
    write_text("scheduler/scheduler_config.json",
               "{\n  \"_class_name\": \"EulerDiscreteScheduler\",\n  \"_diffusers_version\": \"0.30.3\",\n"
               "  \"beta_end\": 0.014,\n  \"beta_schedule\": \"scaled_linear\",\n  \"beta_start\": 0.00085,\n"
               "  \"clip_sample\": false,\n  \"dynamic_thresholding_ratio\": 0.995,\n  \"final_sigmas_type\": \"zero\",\n"
               "  \"interpolation_type\": \"linear\",\n  \"num_train_timesteps\": 1100,\n"
               "  \"prediction_type\": \"epsilon\",\n  \"rescale_betas_zero_snr\": false,\n"
               "  \"sample_max_value\": 1.0,\n  \"set_alpha_to_one\": false,\n  \"sigma_max\": null,\n"
               "  \"sigma_min\": null,\n  \"skip_prk_steps\": true,\n  \"steps_offset\": 1,\n"
               "  \"thresholding\": false,\n  \"timestep_spacing\": \"leading\",\n  \"timestep_type\": \"discrete\",\n"
               "  \"trained_betas\": null,\n  \"use_karras_sigmas\": false\n}\n");

    int n_pieces = write_tokenizer(g_list ? NULL : path_of("tokenizer/tokenizer.model"));
    write_text("tokenizer/tokenizer_config.json",
               "{\n  \"name_or_path\": \"kolors.c demo tokenizer (tools/mkdemo)\",\n  \"remove_space\": false,\n"
               "  \"do_lower_case\": false,\n  \"tokenizer_class\": \"ChatGLMTokenizer\",\n  \"padding_side\": \"left\"\n}\n");

    /* ChatGLM appends 9 special ids after the SentencePiece pieces (§2.4); the embedding table is
     * padded to a multiple of 64 rows as padded_vocab_size is in the real config. The tiny-a
     * variant keeps the real 65024 rows so its shapes match that model. */
    int64_t vocab = d != &k_demo ? 65024 : ((n_pieces + 9 + 63) / 64) * 64;
    write_text("text_encoder/config.json",
               "{\n  \"_name_or_path\": \"kolors.c demo text encoder (tools/mkdemo)\",\n  \"model_type\": \"chatglm\",\n"
               "  \"architectures\": [\"ChatGLMModel\"],\n  \"add_bias_linear\": false,\n  \"add_qkv_bias\": true,\n"
               "  \"apply_query_key_layer_scaling\": true,\n  \"apply_residual_connection_post_layernorm\": false,\n"
               "  \"attention_dropout\": 0.0,\n  \"attention_softmax_in_fp32\": true,\n  \"bias_dropout_fusion\": true,\n"
               "  \"ffn_hidden_size\": %d,\n  \"fp32_residual_connection\": false,\n  \"hidden_dropout\": 0.0,\n"
               "  \"hidden_size\": %d,\n  \"kv_channels\": %d,\n  \"layernorm_epsilon\": 1e-05,\n"
               "  \"multi_query_attention\": true,\n  \"multi_query_group_num\": %d,\n  \"num_attention_heads\": %d,\n"
               "  \"num_layers\": %d,\n  \"original_rope\": true,\n  \"padded_vocab_size\": %lld,\n"
               "  \"post_layer_norm\": true,\n  \"rmsnorm\": true,\n  \"seq_length\": 32768,\n  \"use_cache\": true,\n"
               "  \"torch_dtype\": \"float16\",\n  \"transformers_version\": \"4.30.2\",\n"
               "  \"tie_word_embeddings\": false,\n  \"eos_token_id\": 2,\n  \"pad_token_id\": 0\n}\n",
               d->glm_ffn, d->glm_hidden, d->glm_kv, d->glm_groups, d->glm_heads, d->glm_layers, (long long)vocab);
    tlist te = {.dtype = KC_DTYPE_F16};
    build_text_encoder(&te, d, vocab);
    int64_t bytes = write_tensors(&te, "text_encoder/model.safetensors", d->glm_kv, g_list);

    int proj_dim = d->glm_hidden + 6 * d->unet_time_id_dim;
    write_text("unet/config.json",
               "{\n  \"_class_name\": \"UNet2DConditionModel\",\n  \"_diffusers_version\": \"0.30.3\",\n"
               "  \"act_fn\": \"silu\",\n  \"addition_embed_type\": \"text_time\",\n"
               "  \"addition_embed_type_num_heads\": 64,\n  \"addition_time_embed_dim\": %d,\n"
               "  \"attention_head_dim\": [%s],\n  \"attention_type\": \"default\",\n  \"block_out_channels\": [%s],\n"
               "  \"center_input_sample\": false,\n  \"class_embed_type\": null,\n  \"class_embeddings_concat\": false,\n"
               "  \"conv_in_kernel\": 3,\n  \"conv_out_kernel\": 3,\n  \"cross_attention_dim\": %d,\n"
               "  \"cross_attention_norm\": null,\n"
               "  \"down_block_types\": [\"DownBlock2D\", \"CrossAttnDownBlock2D\", \"CrossAttnDownBlock2D\"],\n"
               "  \"downsample_padding\": 1,\n  \"dropout\": 0.0,\n  \"dual_cross_attention\": false,\n"
               "  \"encoder_hid_dim\": %d,\n  \"encoder_hid_dim_type\": \"text_proj\",\n  \"flip_sin_to_cos\": true,\n"
               "  \"freq_shift\": 0,\n  \"in_channels\": 4,\n  \"layers_per_block\": %d,\n"
               "  \"mid_block_only_cross_attention\": null,\n  \"mid_block_scale_factor\": 1,\n"
               "  \"mid_block_type\": \"UNetMidBlock2DCrossAttn\",\n  \"norm_eps\": 1e-05,\n  \"norm_num_groups\": %d,\n"
               "  \"num_attention_heads\": null,\n  \"num_class_embeds\": null,\n  \"only_cross_attention\": false,\n"
               "  \"out_channels\": 4,\n  \"projection_class_embeddings_input_dim\": %d,\n"
               "  \"resnet_out_scale_factor\": 1.0,\n  \"resnet_skip_time_act\": false,\n"
               "  \"resnet_time_scale_shift\": \"default\",\n  \"reverse_transformer_layers_per_block\": null,\n"
               "  \"sample_size\": 128,\n  \"time_cond_proj_dim\": null,\n  \"time_embedding_act_fn\": null,\n"
               "  \"time_embedding_dim\": null,\n  \"time_embedding_type\": \"positional\",\n"
               "  \"timestep_post_act\": null,\n  \"transformer_layers_per_block\": [%s],\n"
               "  \"up_block_types\": [\"CrossAttnUpBlock2D\", \"CrossAttnUpBlock2D\", \"UpBlock2D\"],\n"
               "  \"upcast_attention\": false,\n  \"use_linear_projection\": true\n}\n",
               d->unet_time_id_dim, int_list(d->unet_heads, 3), int_list(d->unet_ch, 3), d->unet_cross, d->glm_hidden,
               LAYERS_PER_BLOCK, d->unet_groups, proj_dim, int_list(d->unet_tlpb, 3));
    tlist un = {.dtype = d->unet_dtype};
    build_unet(&un, d);
    bytes += write_tensors(&un, "unet/diffusion_pytorch_model.safetensors", 0, g_list);

    write_text("vae/config.json",
               "{\n  \"_class_name\": \"AutoencoderKL\",\n  \"_diffusers_version\": \"0.30.3\",\n  \"act_fn\": \"silu\",\n"
               "  \"block_out_channels\": [%s],\n"
               "  \"down_block_types\": [\"DownEncoderBlock2D\", \"DownEncoderBlock2D\", \"DownEncoderBlock2D\", "
               "\"DownEncoderBlock2D\"],\n"
               "  \"force_upcast\": true,\n  \"in_channels\": 3,\n  \"latent_channels\": 4,\n  \"latents_mean\": null,\n"
               "  \"latents_std\": null,\n  \"layers_per_block\": %d,\n  \"mid_block_add_attention\": true,\n"
               "  \"norm_num_groups\": %d,\n  \"out_channels\": 3,\n  \"sample_size\": 1024,\n"
               "  \"scaling_factor\": 0.13025,\n  \"shift_factor\": null,\n"
               "  \"up_block_types\": [\"UpDecoderBlock2D\", \"UpDecoderBlock2D\", \"UpDecoderBlock2D\", "
               "\"UpDecoderBlock2D\"],\n"
               "  \"use_post_quant_conv\": true,\n  \"use_quant_conv\": true\n}\n",
               int_list(d->vae_ch, 4), LAYERS_PER_BLOCK, d->vae_groups);
    tlist va = {.dtype = d->vae_dtype};
    build_vae(&va, d);
    bytes += write_tensors(&va, "vae/diffusion_pytorch_model.safetensors", 0, g_list);

    if (!g_list)
        printf("wrote %s: %d tokenizer pieces, text encoder %d tensors, unet %d tensors, vae %d tensors, %.1f MB of "
               "weights\n", g_root, n_pieces, te.n, un.n, va.n, (double)bytes / 1e6);
    free_list(&te);
    free_list(&un);
    free_list(&va);
    return 0;
}
