/* vae.c — see vae.h. Mirrors diffusers 0.30 AutoencoderKL (autoencoders/autoencoder_kl.py,
 * autoencoders/vae.py Encoder/Decoder, unets/unet_2d_blocks.py DownEncoderBlock2D /
 * UpDecoderBlock2D / UNetMidBlock2D, attention_processor.py Attention with
 * _from_deprecated_attn_block), channels-last.
 *
 * Dimension letters: h/w latent size, H/W image size, S pixels of the current level, C channels,
 * Z latent channels, f = 2^(blocks-1). Samples are processed one at a time (N loop outside). */
#include "diffusion/vae.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/checked.h"
#include "diffusion/nn.h"
#include "io/json.h"

/* ---- config ------------------------------------------------------------------------------ */

kc_status kc_vae_config_parse(const cJSON *root, const char *what, kc_vae_config *c, kc_err *err) {
    kc_status s;
    memset(c, 0, sizeof *c);
    c->eps = 1e-6f; /* Encoder/Decoder pass resnet_eps=1e-6 and GroupNorm eps=1e-6 literally */
    const char *cls = NULL, *act = NULL;
    if ((s = kc_json_str(root, "_class_name", 0, "AutoencoderKL", what, &cls, err))) return s;
    if (strcmp(cls, "AutoencoderKL") != 0)
        return kc_fail(err, KC_ERR_UNSUPPORTED, "%s: \"_class_name\" is \"%s\"; only AutoencoderKL is supported", what,
                       cls);
    if ((s = kc_json_str(root, "act_fn", 0, "silu", what, &act, err))) return s;
    if (strcmp(act, "silu") != 0)
        return kc_fail(err, KC_ERR_UNSUPPORTED, "%s: \"act_fn\" is \"%s\"; only \"silu\" is supported", what, act);
    int n = 0;
    if ((s = kc_json_int_array(root, "block_out_channels", 1, c->block_out, KC_VAE_MAX_BLOCKS, &n, 0, what, err)))
        return s;
    if (n < 1) return kc_fail(err, KC_ERR_FORMAT, "%s: \"block_out_channels\" is empty", what);
    c->nblocks = n;
    if ((s = kc_json_int(root, "layers_per_block", 0, 1, 1, KC_VAE_MAX_LAYERS - 1, what, &c->layers, err))) return s;
    if ((s = kc_json_int(root, "in_channels", 0, 3, 1, 64, what, &c->in_channels, err))) return s;
    if ((s = kc_json_int(root, "out_channels", 0, 3, 1, 64, what, &c->out_channels, err))) return s;
    if ((s = kc_json_int(root, "latent_channels", 0, 4, 1, 64, what, &c->latent_channels, err))) return s;
    if ((s = kc_json_int(root, "norm_num_groups", 0, 32, 1, 4096, what, &c->groups, err))) return s;
    if ((s = kc_json_int(root, "sample_size", 0, 32, 1, 1 << 20, what, &c->sample_size, err))) return s;
    for (int i = 0; i < n; i++) {
        if (c->block_out[i] < 1 || c->block_out[i] > 8192)
            return kc_fail(err, KC_ERR_FORMAT, "%s: \"block_out_channels\"[%d] = %lld is not in [1, 8192]", what, i,
                           (long long)c->block_out[i]);
        if (c->block_out[i] % c->groups != 0)
            return kc_fail(err, KC_ERR_UNSUPPORTED,
                           "%s: \"block_out_channels\"[%d] = %lld is not divisible by \"norm_num_groups\" %lld", what, i,
                           (long long)c->block_out[i], (long long)c->groups);
    }
    const char *types[KC_VAE_MAX_BLOCKS];
    int nt = 0;
    static const char *const keys[2] = {"down_block_types", "up_block_types"};
    static const char *const want[2] = {"DownEncoderBlock2D", "UpDecoderBlock2D"};
    for (int k = 0; k < 2; k++) {
        if ((s = kc_json_str_array(root, keys[k], 1, types, KC_VAE_MAX_BLOCKS, &nt, what, err))) return s;
        if (nt != n)
            return kc_fail(err, KC_ERR_FORMAT, "%s: \"%s\" has %d entries but \"block_out_channels\" has %d", what,
                           keys[k], nt, n);
        for (int i = 0; i < nt; i++)
            if (strcmp(types[i], want[k]) != 0)
                return kc_fail(err, KC_ERR_UNSUPPORTED, "%s: \"%s\"[%d] is \"%s\"; only \"%s\" is supported", what,
                               keys[k], i, types[i], want[k]);
    }
    if ((s = kc_json_bool(root, "mid_block_add_attention", 0, 1, what, &c->mid_attn, err))) return s;
    if ((s = kc_json_bool(root, "use_quant_conv", 0, 1, what, &c->quant_conv, err))) return s;
    if ((s = kc_json_bool(root, "use_post_quant_conv", 0, 1, what, &c->post_quant_conv, err))) return s;
    if ((s = kc_json_num(root, "scaling_factor", 0, 0.18215, what, &c->scaling_factor, err))) return s;
    if (!(c->scaling_factor > 0.0) || !isfinite(c->scaling_factor))
        return kc_fail(err, KC_ERR_FORMAT, "%s: \"scaling_factor\" must be a positive number", what);
    /* SD3/Flux-style latent normalisation: a different pipeline contract, not implemented. */
    static const char *const unsup[3] = {"shift_factor", "latents_mean", "latents_std"};
    for (int k = 0; k < 3; k++)
        if (!kc_json_is_null(root, unsup[k]))
            return kc_fail(err, KC_ERR_UNSUPPORTED,
                           "%s: \"%s\" is set; latent shift/normalisation is not supported (Kolors/SDXL leave it null)",
                           what, unsup[k]);
    /* force_upcast is ignored: kolors.c always computes the VAE in fp32 (kolors-model.md §5.5). */
    const int64_t ctop = c->block_out[n - 1];
    if (c->mid_attn && ctop > 1024)
        return kc_fail(err, KC_ERR_UNSUPPORTED, "%s: mid-block attention over %lld channels (at most 1024 supported)",
                       what, (long long)ctop);
    return KC_OK;
}

kc_status kc_vae_config_load(const char *path, kc_vae_config *cfg, kc_err *err) {
    cJSON *root = NULL;
    kc_status s = kc_json_load(path, &root, err);
    if (s) return s;
    s = kc_vae_config_parse(root, path, cfg, err);
    cJSON_Delete(root);
    return s;
}

void kc_vae_config_sdxl(kc_vae_config *c) {
    memset(c, 0, sizeof *c);
    c->nblocks = 4;
    c->block_out[0] = 128;
    c->block_out[1] = 256;
    c->block_out[2] = 512;
    c->block_out[3] = 512;
    c->layers = 2;
    c->in_channels = 3;
    c->out_channels = 3;
    c->latent_channels = 4;
    c->groups = 32;
    c->eps = 1e-6f;
    c->mid_attn = 1;
    c->quant_conv = 1;
    c->post_quant_conv = 1;
    c->scaling_factor = 0.13025;
    c->sample_size = 1024;
}

/* ---- expected tensors ---------------------------------------------------------------------- */

/* Attention tensor suffixes: new (diffusers >= 0.14) and old (AttentionBlock) spelling. Both are
 * accepted because which one the Kolors VAE file uses is unconfirmed (kolors-model.md §12.4). */
static const char *const k_attn_new[4] = {"to_q", "to_k", "to_v", "to_out.0"};
static const char *const k_attn_old[4] = {"query", "key", "value", "proj_attn"};

static kc_status exp_conv(kc_expected_list *l, const char *p, int64_t co, int64_t ci, int64_t k, kc_err *err) {
    int64_t ws[4] = {co, ci, k, k};
    kc_status s = kc_expected_add(l, 4, ws, err, "%s.weight", p);
    return s ? s : kc_expected_add(l, 1, &co, err, "%s.bias", p);
}
static kc_status exp_vec2(kc_expected_list *l, const char *p, int64_t c, kc_err *err) {
    kc_status s = kc_expected_add(l, 1, &c, err, "%s.weight", p);
    return s ? s : kc_expected_add(l, 1, &c, err, "%s.bias", p);
}
static kc_status exp_resnet(kc_expected_list *l, const char *p, int64_t ci, int64_t co, kc_err *err) {
    char b[256];
    kc_status s;
    snprintf(b, sizeof b, "%s.norm1", p);
    if ((s = exp_vec2(l, b, ci, err))) return s;
    snprintf(b, sizeof b, "%s.conv1", p);
    if ((s = exp_conv(l, b, co, ci, 3, err))) return s;
    snprintf(b, sizeof b, "%s.norm2", p);
    if ((s = exp_vec2(l, b, co, err))) return s;
    snprintf(b, sizeof b, "%s.conv2", p);
    if ((s = exp_conv(l, b, co, co, 3, err))) return s;
    if (ci != co) {
        snprintf(b, sizeof b, "%s.conv_shortcut", p);
        if ((s = exp_conv(l, b, co, ci, 1, err))) return s;
    }
    return KC_OK;
}
/* UNetMidBlock2D registers attentions before resnets, hence this order in the state dict. */
static kc_status exp_mid(const kc_vae_config *c, int old, kc_expected_list *l, const char *p, kc_err *err) {
    const int64_t C = c->block_out[c->nblocks - 1];
    char b[256];
    kc_status s;
    if (c->mid_attn) {
        snprintf(b, sizeof b, "%s.attentions.0.group_norm", p);
        if ((s = exp_vec2(l, b, C, err))) return s;
        for (int k = 0; k < 4; k++) {
            int64_t ws[2] = {C, C};
            const char *nm = old ? k_attn_old[k] : k_attn_new[k];
            if ((s = kc_expected_add(l, 2, ws, err, "%s.attentions.0.%s.weight", p, nm))) return s;
            if ((s = kc_expected_add(l, 1, &C, err, "%s.attentions.0.%s.bias", p, nm))) return s;
        }
    }
    for (int j = 0; j < 2; j++) {
        snprintf(b, sizeof b, "%s.resnets.%d", p, j);
        if ((s = exp_resnet(l, b, C, C, err))) return s;
    }
    return KC_OK;
}

kc_status kc_vae_expected(const kc_vae_config *c, int old, kc_expected_list *l, kc_err *err) {
    const int nb = c->nblocks;
    const int64_t ctop = c->block_out[nb - 1], Z = c->latent_channels;
    char b[256];
    kc_status s;
    /* Encoder */
    if ((s = exp_conv(l, "encoder.conv_in", c->block_out[0], c->in_channels, 3, err))) return s;
    for (int i = 0; i < nb; i++) {
        int64_t co = c->block_out[i], ci = i ? c->block_out[i - 1] : c->block_out[0];
        for (int j = 0; j < c->layers; j++) {
            snprintf(b, sizeof b, "encoder.down_blocks.%d.resnets.%d", i, j);
            if ((s = exp_resnet(l, b, j ? co : ci, co, err))) return s;
        }
        if (i < nb - 1) {
            snprintf(b, sizeof b, "encoder.down_blocks.%d.downsamplers.0.conv", i);
            if ((s = exp_conv(l, b, co, co, 3, err))) return s;
        }
    }
    if ((s = exp_mid(c, old, l, "encoder.mid_block", err))) return s;
    if ((s = exp_vec2(l, "encoder.conv_norm_out", ctop, err))) return s;
    if ((s = exp_conv(l, "encoder.conv_out", 2 * Z, ctop, 3, err))) return s;
    /* Decoder: up_blocks are registered before mid_block (Decoder.__init__ order). */
    if ((s = exp_conv(l, "decoder.conv_in", ctop, Z, 3, err))) return s;
    int64_t prev = ctop;
    for (int i = 0; i < nb; i++) {
        int64_t co = c->block_out[nb - 1 - i];
        for (int j = 0; j <= c->layers; j++) {
            snprintf(b, sizeof b, "decoder.up_blocks.%d.resnets.%d", i, j);
            if ((s = exp_resnet(l, b, j ? co : prev, co, err))) return s;
        }
        if (i < nb - 1) {
            snprintf(b, sizeof b, "decoder.up_blocks.%d.upsamplers.0.conv", i);
            if ((s = exp_conv(l, b, co, co, 3, err))) return s;
        }
        prev = co;
    }
    if ((s = exp_mid(c, old, l, "decoder.mid_block", err))) return s;
    if ((s = exp_vec2(l, "decoder.conv_norm_out", c->block_out[0], err))) return s;
    if ((s = exp_conv(l, "decoder.conv_out", c->out_channels, c->block_out[0], 3, err))) return s;
    if (c->quant_conv && (s = exp_conv(l, "quant_conv", 2 * Z, 2 * Z, 1, err))) return s;
    if (c->post_quant_conv && (s = exp_conv(l, "post_quant_conv", Z, Z, 1, err))) return s;
    return KC_OK;
}

int kc_vae_uses_old_attn_names(const kc_weights *ws) {
    return kc_weights_find(ws, "decoder.mid_block.attentions.0.query.weight") != NULL ||
           kc_weights_find(ws, "encoder.mid_block.attentions.0.query.weight") != NULL;
}

int64_t kc_vae_param_count(const kc_vae_config *c) {
    kc_expected_list l = {0};
    int64_t p = 0;
    if (kc_vae_expected(c, 0, &l, NULL) == KC_OK)
        for (int64_t i = 0; i < l.n; i++) {
            int64_t e = 1;
            for (int d = 0; d < l.v[i].ndim; d++) e *= l.v[i].shape[d];
            p += e;
        }
    kc_expected_free(&l);
    return p;
}

/* ---- FLOP counts ------------------------------------------------------------------------------ */

static double conv_fl(int64_t S, int64_t ci, int64_t co, int64_t k) { return 2.0 * (double)S * (double)(ci * co * k * k); }
static double resnet_fl(int64_t S, int64_t ci, int64_t co) {
    return conv_fl(S, ci, co, 3) + conv_fl(S, co, co, 3) + (ci != co ? conv_fl(S, ci, co, 1) : 0.0);
}
static double mid_fl(const kc_vae_config *c, int64_t S) {
    const int64_t C = c->block_out[c->nblocks - 1];
    double f = 2.0 * resnet_fl(S, C, C);
    if (c->mid_attn) f += 4.0 * conv_fl(S, C, C, 1) + 2.0 * 2.0 * (double)S * (double)S * (double)C;
    return f;
}

double kc_vae_decode_flops(const kc_vae_config *c, int64_t N, int64_t h, int64_t w) {
    const int nb = c->nblocks;
    const int64_t ctop = c->block_out[nb - 1], Z = c->latent_channels;
    int64_t S = h * w;
    double f = (c->post_quant_conv ? conv_fl(S, Z, Z, 1) : 0.0) + conv_fl(S, Z, ctop, 3) + mid_fl(c, S);
    int64_t prev = ctop;
    for (int i = 0; i < nb; i++) {
        int64_t co = c->block_out[nb - 1 - i];
        for (int j = 0; j <= c->layers; j++) f += resnet_fl(S, j ? co : prev, co);
        if (i < nb - 1) { S *= 4; f += conv_fl(S, co, co, 3); }
        prev = co;
    }
    f += conv_fl(S, c->block_out[0], c->out_channels, 3);
    return f * (double)N;
}

double kc_vae_encode_flops(const kc_vae_config *c, int64_t N, int64_t H, int64_t W) {
    const int nb = c->nblocks;
    const int64_t ctop = c->block_out[nb - 1], Z = c->latent_channels;
    int64_t S = H * W;
    double f = conv_fl(S, c->in_channels, c->block_out[0], 3);
    for (int i = 0; i < nb; i++) {
        int64_t co = c->block_out[i], ci = i ? c->block_out[i - 1] : c->block_out[0];
        for (int j = 0; j < c->layers; j++) f += resnet_fl(S, j ? co : ci, co);
        if (i < nb - 1) { S /= 4; f += conv_fl(S, co, co, 3); }
    }
    f += mid_fl(c, S) + conv_fl(S, ctop, 2 * Z, 3) + (c->quant_conv ? conv_fl(S, 2 * Z, 2 * Z, 1) : 0.0);
    return f * (double)N;
}

/* ---- model ------------------------------------------------------------------------------------ */

typedef struct {
    kc_resnet res[2];
    int has_attn;
    kc_norm group_norm;
    kc_layer to_q, to_k, to_v, to_out; /* linear [C, C] + bias */
    int64_t C;
} vae_mid;

struct kc_vae {
    kc_vae_config cfg;
    kc_weights *ws;
    size_t packed_bytes; /* weights prepacked for the bf16 GEMM (0: none) */
    int old_attn;
    /* encoder */
    kc_layer enc_conv_in;
    kc_resnet enc_res[KC_VAE_MAX_BLOCKS][KC_VAE_MAX_LAYERS];
    kc_downsample enc_down[KC_VAE_MAX_BLOCKS];
    vae_mid enc_mid;
    kc_norm enc_norm_out;
    kc_layer enc_conv_out, quant_conv;
    /* decoder */
    kc_layer post_quant_conv, dec_conv_in;
    vae_mid dec_mid;
    kc_resnet dec_res[KC_VAE_MAX_BLOCKS][KC_VAE_MAX_LAYERS];
    kc_upsample dec_up[KC_VAE_MAX_BLOCKS];
    kc_norm dec_norm_out;
    kc_layer dec_conv_out;
};

const kc_vae_config *kc_vae_get_config(const kc_vae *v) { return &v->cfg; }
const kc_weights *kc_vae_weights(const kc_vae *v) { return v->ws; }

static kc_status bind_mid(const kc_vae *v, vae_mid *m, const kc_weights *ws, const char *p, kc_err *err) {
    const kc_vae_config *c = &v->cfg;
    const int64_t C = c->block_out[c->nblocks - 1];
    char b[256];
    kc_status s;
    m->C = C;
    m->has_attn = c->mid_attn;
    for (int j = 0; j < 2; j++) {
        snprintf(b, sizeof b, "%s.resnets.%d", p, j);
        if ((s = kc_resnet_bind(&m->res[j], ws, b, C, C, 0, c->groups, c->eps, err))) return s;
    }
    if (!m->has_attn) return KC_OK;
    snprintf(b, sizeof b, "%s.attentions.0.group_norm", p);
    if ((s = kc_norm_bind(&m->group_norm, ws, b, C, err))) return s;
    const char *const *nm = v->old_attn ? k_attn_old : k_attn_new;
    kc_layer *dst[4] = {&m->to_q, &m->to_k, &m->to_v, &m->to_out};
    for (int k = 0; k < 4; k++) {
        snprintf(b, sizeof b, "%s.attentions.0.%s", p, nm[k]);
        if ((s = kc_linear_bind(dst[k], ws, b, C, C, 1, err))) return s;
    }
    return KC_OK;
}

static kc_status bind_all(kc_vae *v, kc_err *err) {
    const kc_vae_config *c = &v->cfg;
    const kc_weights *ws = v->ws;
    const int nb = c->nblocks;
    const int64_t ctop = c->block_out[nb - 1], Z = c->latent_channels;
    char b[256];
    kc_status s;
    v->old_attn = kc_vae_uses_old_attn_names(ws);
    if ((s = kc_conv_bind(&v->enc_conv_in, ws, "encoder.conv_in", c->block_out[0], c->in_channels, 3, err))) return s;
    for (int i = 0; i < nb; i++) {
        int64_t co = c->block_out[i], ci = i ? c->block_out[i - 1] : c->block_out[0];
        for (int j = 0; j < c->layers; j++) {
            snprintf(b, sizeof b, "encoder.down_blocks.%d.resnets.%d", i, j);
            if ((s = kc_resnet_bind(&v->enc_res[i][j], ws, b, j ? co : ci, co, 0, c->groups, c->eps, err))) return s;
        }
        if (i < nb - 1) {
            snprintf(b, sizeof b, "encoder.down_blocks.%d.downsamplers.0", i);
            if ((s = kc_downsample_bind(&v->enc_down[i], ws, b, co, 1, err))) return s;
        }
    }
    if ((s = bind_mid(v, &v->enc_mid, ws, "encoder.mid_block", err))) return s;
    if ((s = kc_norm_bind(&v->enc_norm_out, ws, "encoder.conv_norm_out", ctop, err))) return s;
    if ((s = kc_conv_bind(&v->enc_conv_out, ws, "encoder.conv_out", 2 * Z, ctop, 3, err))) return s;
    if (c->quant_conv && (s = kc_conv_bind(&v->quant_conv, ws, "quant_conv", 2 * Z, 2 * Z, 1, err))) return s;
    if (c->post_quant_conv && (s = kc_conv_bind(&v->post_quant_conv, ws, "post_quant_conv", Z, Z, 1, err))) return s;
    if ((s = kc_conv_bind(&v->dec_conv_in, ws, "decoder.conv_in", ctop, Z, 3, err))) return s;
    if ((s = bind_mid(v, &v->dec_mid, ws, "decoder.mid_block", err))) return s;
    int64_t prev = ctop;
    for (int i = 0; i < nb; i++) {
        int64_t co = c->block_out[nb - 1 - i];
        for (int j = 0; j <= c->layers; j++) {
            snprintf(b, sizeof b, "decoder.up_blocks.%d.resnets.%d", i, j);
            if ((s = kc_resnet_bind(&v->dec_res[i][j], ws, b, j ? co : prev, co, 0, c->groups, c->eps, err))) return s;
        }
        if (i < nb - 1) {
            snprintf(b, sizeof b, "decoder.up_blocks.%d.upsamplers.0", i);
            if ((s = kc_upsample_bind(&v->dec_up[i], ws, b, co, err))) return s;
        }
        prev = co;
    }
    if ((s = kc_norm_bind(&v->dec_norm_out, ws, "decoder.conv_norm_out", c->block_out[0], err))) return s;
    return kc_conv_bind(&v->dec_conv_out, ws, "decoder.conv_out", c->out_channels, c->block_out[0], 3, err);
}

kc_status kc_vae_create(const kc_vae_config *cfg, kc_weights *ws, const kc_exec *pack_ex, kc_vae **out, kc_err *err) {
    *out = NULL;
    kc_vae *v = calloc(1, sizeof *v);
    if (!v) {
        kc_weights_free(ws);
        return kc_fail(err, KC_ERR_NOMEM, "out of memory");
    }
    v->cfg = *cfg;
    v->ws = ws;
    kc_status s = KC_OK;
    if (pack_ex) { /* every VAE matrix sees a whole image's pixels: nothing skipped */
        kc_expected_list exp = {0};
        s = kc_vae_expected(cfg, kc_vae_uses_old_attn_names(ws), &exp, err);
        if (!s) s = kc_nn_prepack_expected(ws, pack_ex, &exp, NULL, &v->packed_bytes, err);
        kc_expected_free(&exp);
    }
    if (!s) s = bind_all(v, err);
    if (s) {
        kc_vae_free(v);
        return s;
    }
    *out = v;
    return KC_OK;
}

void kc_vae_free(kc_vae *v) {
    if (!v) return;
    kc_weights_free(v->ws);
    free(v);
}

size_t kc_vae_packed_bytes(const kc_vae *v) { return v->packed_bytes; }

kc_status kc_vae_load(const char *dir, const char *variant, const kc_exec *pack_ex, kc_vae **out, int *used_variant,
                      kc_err *err) {
    char path[4200];
    kc_vae_config cfg;
    *out = NULL;
    snprintf(path, sizeof path, "%s/config.json", dir);
    kc_status s = kc_vae_config_load(path, &cfg, err);
    if (s) return s;
    static const char *const bases[1] = {"diffusion_pytorch_model"};
    kc_weights *ws = NULL;
    if ((s = kc_weights_open_dir(dir, bases, 1, variant, &ws, used_variant, err))) return s;
    s = kc_vae_create(&cfg, ws, pack_ex, out, err);
    if (s) kc_err_prepend(err, "vae (%s)", dir);
    return s;
}

/* ---- tiling -------------------------------------------------------------------------------- */

kc_status kc_vae_tiling_resolve(int mode, int tile_size, int64_t h, int64_t w, kc_vae_tiling *t, kc_err *err) {
    memset(t, 0, sizeof *t);
    if (mode < -1 || mode > 1) return kc_fail(err, KC_ERR_ARG, "vae tiling mode %d is not -1 (auto), 0 (off) or 1 (on)", mode);
    if (tile_size != 0 && (tile_size < 8 || tile_size > 4096))
        return kc_fail(err, KC_ERR_ARG, "vae tile size %d latent pixels is not in [8, 4096]", tile_size);
    t->tile = tile_size ? tile_size : KC_VAE_DEFAULT_TILE;
    t->overlap = t->tile / 4 < 2 ? 2 : t->tile / 4;
    t->feather = 1;
    t->stats = KC_VAE_STATS_ESTIMATE;
    int on = mode == 1 || (mode == -1 && h * w > KC_VAE_AUTO_TILE_AREA);
    t->enabled = on && (h > t->tile || w > t->tile);
    return KC_OK;
}

int kc_vae_tile_grid(int64_t L, int64_t T, int64_t O, int64_t *starts, int cap, int64_t *len) {
    if (L <= T || T <= O || cap < 2) {
        starts[0] = 0;
        *len = L;
        return 1;
    }
    int64_t n = (L - O + (T - O) - 1) / (T - O);
    if (n > cap) n = cap;
    /* Shrink the tiles to the smallest equal length that still covers L with overlap >= O:
     * less recomputed overlap than fixed-size tiles. */
    int64_t len_ = (L + (n - 1) * O + n - 1) / n;
    if (len_ > L) len_ = L;
    for (int64_t k = 0; k < n; k++) starts[k] = (k * (L - len_) + (n - 1) / 2) / (n - 1);
    *len = len_;
    return (int)n;
}

#define MAX_TILES 1024
#define KC_PI 3.14159265358979323846

/* Normalised blend weights along one axis: wt[k*P + p] for tile k, tile-local position p in
 * output units (P = len*scale), so that sum over tiles covering a position is 1. Raised-cosine
 * ramps over each overlap with the neighbouring tiles (weight ~0 at a tile's inner edge, where
 * zero padding differs most), or a hard cut at the overlap middle. */
static void axis_weights(const int64_t *st, int n, int64_t len, int64_t L, int64_t scale, int feather, float *wt,
                         float *sum /* [L*scale] */) {
    const int64_t P = len * scale;
    for (int k = 0; k < n; k++) {
        const int64_t a = st[k] * scale, e = a + P;
        const int64_t lo = k > 0 ? st[k] * scale : a, hi = k > 0 ? (st[k - 1] * scale + P) : a; /* left overlap */
        const int64_t lo2 = k < n - 1 ? st[k + 1] * scale : e, hi2 = e;                          /* right overlap */
        for (int64_t p = 0; p < P; p++) {
            const int64_t x = a + p;
            double wgt = 1.0;
            if (k > 0 && x < hi) {
                double len_o = (double)(hi - lo), u = ((double)(x - lo) + 0.5) / len_o;
                wgt *= feather ? 0.5 - 0.5 * cos(KC_PI * u) : (u >= 0.5 ? 1.0 : 0.0);
            }
            if (k < n - 1 && x >= lo2) {
                double len_o = (double)(hi2 - lo2), u = ((double)(x - lo2) + 0.5) / len_o;
                wgt *= feather ? 0.5 + 0.5 * cos(KC_PI * u) : (u < 0.5 ? 1.0 : 0.0);
            }
            wt[k * P + p] = (float)wgt;
        }
    }
    for (int64_t x = 0; x < L * scale; x++) sum[x] = 0.0f;
    for (int k = 0; k < n; k++)
        for (int64_t p = 0; p < P; p++) sum[st[k] * scale + p] += wt[k * P + p];
    for (int k = 0; k < n; k++)
        for (int64_t p = 0; p < P; p++) {
            float s = sum[st[k] * scale + p];
            wt[k * P + p] = s > 0.0f ? wt[k * P + p] / s : 0.0f;
        }
}

/* ---- planning ------------------------------------------------------------------------------ */

static int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }

/* Scratch floats offered to one k x k kc_op_conv2d call (1x1 unpadded convs run as linears and
 * take none). ops.h states no figure: the current implicit-GEMM conv copies the reordered weight
 * [Cout, k*k*Cin] (stored dtype, <= 4 bytes) into the scratch when it fits and falls back to the
 * heap otherwise; the reference it replaced held one im2col row [Wo, Cin*k*k] per thread. Room
 * for either keeps both on the arena. */
static int64_t conv_scr(int64_t Wo, int64_t Cin, int64_t Cout, int64_t k, int nt) {
    if (k == 1) return 0;
    return Cin * k * k * max64(Wo * (int64_t)nt, Cout) + 32;
}
/* Alignment slack per buffer (kc_arena_floats aligns to 64 bytes) */
#define SLACK 32

typedef struct {
    int64_t act;     /* floats of each of the two ping-pong activation buffers */
    int64_t scratch; /* floats of scratch above them */
} plan;

static void plan_resnet(plan *p, int64_t S, int64_t Wd, int64_t ci, int64_t co, int nt) {
    p->act = max64(p->act, S * max64(ci, co));
    int64_t r = S * ci + S * co + co + 64 + 4 * SLACK + max64(conv_scr(Wd, ci, co, 3, nt), conv_scr(Wd, co, co, 3, nt));
    p->scratch = max64(p->scratch, r);
}
static void plan_mid(const kc_vae_config *c, plan *p, int64_t S, int64_t Wd, int nt) {
    const int64_t C = c->block_out[c->nblocks - 1];
    plan_resnet(p, S, Wd, C, C, nt);
    if (c->mid_attn) p->scratch = max64(p->scratch, 4 * S * C + 4 * SLACK);
}
/* Decoder tail (up blocks + conv_norm_out + conv_out) on a th x tw latent tile. */
static void plan_dec_tail(const kc_vae_config *c, plan *p, int64_t th, int64_t tw, int nt) {
    const int nb = c->nblocks;
    int64_t H = th, W = tw, prev = c->block_out[nb - 1];
    p->act = max64(p->act, H * W * prev);
    for (int i = 0; i < nb; i++) {
        int64_t co = c->block_out[nb - 1 - i];
        for (int j = 0; j <= c->layers; j++) plan_resnet(p, H * W, W, j ? co : prev, co, nt);
        if (i < nb - 1) {
            H *= 2;
            W *= 2;
            p->act = max64(p->act, H * W * co);
            p->scratch = max64(p->scratch, H * W * co + 2 * SLACK + conv_scr(W, co, co, 3, nt));
        }
        prev = co;
    }
    p->act = max64(p->act, H * W * c->out_channels);
    p->scratch = max64(p->scratch, conv_scr(W, c->block_out[0], c->out_channels, 3, nt) + SLACK);
}
/* Encoder head (conv_in + down blocks) on an H x W pixel tile. */
static void plan_enc_head(const kc_vae_config *c, plan *p, int64_t H, int64_t W, int nt) {
    const int nb = c->nblocks;
    p->act = max64(p->act, H * W * max64(c->in_channels, c->block_out[0]));
    p->scratch = max64(p->scratch, conv_scr(W, c->in_channels, c->block_out[0], 3, nt) + SLACK);
    for (int i = 0; i < nb; i++) {
        int64_t co = c->block_out[i], ci = i ? c->block_out[i - 1] : c->block_out[0];
        for (int j = 0; j < c->layers; j++) plan_resnet(p, H * W, W, j ? co : ci, co, nt);
        if (i < nb - 1) {
            H /= 2;
            W /= 2;
            p->scratch = max64(p->scratch, conv_scr(W, co, co, 3, nt) + SLACK);
        }
    }
}

static kc_status check_sizes(const kc_vae_config *c, int64_t N, int64_t h, int64_t w, kc_err *err) {
    const int64_t f = kc_vae_factor(c);
    if (N < 1 || h < 1 || w < 1)
        return kc_fail(err, KC_ERR_ARG, "vae: batch %lld and latent size %lldx%lld must be positive", (long long)N,
                       (long long)h, (long long)w);
    if (h * f > KC_VAE_MAX_SIDE || w * f > KC_VAE_MAX_SIDE)
        return kc_fail(err, KC_ERR_ARG, "vae: image size %lldx%lld exceeds the limit of %d pixels per side",
                       (long long)(h * f), (long long)(w * f), KC_VAE_MAX_SIDE);
    return KC_OK;
}

typedef struct {
    int ny, nx;
    int64_t sy[MAX_TILES], sx[MAX_TILES];
    int64_t th, tw; /* tile size in latent pixels */
} grid;

static void make_grid(const kc_vae_tiling *t, int64_t h, int64_t w, grid *g) {
    if (!t || !t->enabled) {
        g->ny = g->nx = 1;
        g->sy[0] = g->sx[0] = 0;
        g->th = h;
        g->tw = w;
        return;
    }
    g->ny = kc_vae_tile_grid(h, t->tile, t->overlap, g->sy, MAX_TILES, &g->th);
    g->nx = kc_vae_tile_grid(w, t->tile, t->overlap, g->sx, MAX_TILES, &g->tw);
}

/* Downsampling factor of the ESTIMATE pre-pass: the smallest >= 2 whose downsampled latent fits
 * one tile, so the pre-pass runs inside the tiles' plan. */
static int64_t prepass_factor(const grid *g, int64_t h, int64_t w) {
    int64_t d = 2;
    while (h / d > g->th || w / d > g->tw) d++;
    return d;
}

/* GroupNorm statistics slots (see "tiled GroupNorm statistics"): decoder tail (layers + 1)
 * resnets x 2 per up block + conv_norm_out; encoder head layers resnets x 2 per down block. */
static int dec_gn_slots(const kc_vae_config *c) { return c->nblocks * (int)(c->layers + 1) * 2 + 1; }
static int enc_gn_slots(const kc_vae_config *c) { return c->nblocks * (int)c->layers * 2; }
/* Arena floats of gn_slots_alloc: moments (3 doubles = 6 floats), mean and rstd per slot and
 * group, the use flags, alignment. */
static int64_t gn_slot_floats(int nslots, int64_t G) { return (int64_t)nslots * G * 8 + nslots + 4 * SLACK; }

static kc_status finish_bytes(int64_t floats, size_t *bytes, kc_err *err) {
    size_t b;
    if (floats < 0 || !kc_size_mul((size_t)floats, sizeof(float), &b) || !kc_size_add(b, 1 << 16, &b))
        return kc_fail(err, KC_ERR_ARG, "vae: arena size overflows");
    *bytes = b;
    return KC_OK;
}

kc_status kc_vae_decode_bytes(const kc_vae_config *c, const kc_exec *ex, int64_t N, int64_t h, int64_t w,
                              const kc_vae_tiling *t, int with_taps, size_t *bytes, kc_err *err) {
    kc_status s = check_sizes(c, N, h, w, err);
    if (s) return s;
    const int nt = ex->n_threads, nb = c->nblocks;
    const int64_t f = kc_vae_factor(c), ctop = c->block_out[nb - 1], Z = c->latent_channels, S = h * w;
    grid g;
    make_grid(t, h, w, &g);
    /* axis weights + their sums, the mid-block output M, then max(head, tiles) */
    int64_t fixed = (g.ny * g.th + g.nx * g.tw) * f + (h + w) * f + 2 * SLACK + S * ctop + SLACK;
    plan head = {S * ctop, 0};
    head.scratch = 2 * S * Z + 2 * SLACK + conv_scr(w, Z, ctop, 3, nt);
    plan_mid(c, &head, S, w, nt);
    int64_t head_f = head.act + SLACK + head.scratch;
    plan tail = {0, 0};
    plan_dec_tail(c, &tail, g.th, g.tw, nt);
    int64_t tail_f = 2 * (tail.act + SLACK) + tail.scratch;
    fixed += gn_slot_floats(dec_gn_slots(c), c->groups);
    int64_t taps = with_taps ? max64(tail.act, S * ctop) + SLACK : 0;
    return finish_bytes(fixed + max64(head_f, tail_f) + taps, bytes, err);
}

kc_status kc_vae_encode_bytes(const kc_vae_config *c, const kc_exec *ex, int64_t N, int64_t H, int64_t W,
                              const kc_vae_tiling *t, int with_taps, size_t *bytes, kc_err *err) {
    const int64_t f = kc_vae_factor(c);
    if (H % f || W % f)
        return kc_fail(err, KC_ERR_ARG, "vae encode: image size %lldx%lld is not a multiple of %lld", (long long)H,
                       (long long)W, (long long)f);
    const int64_t h = H / f, w = W / f, S = h * w;
    kc_status s = check_sizes(c, N, h, w, err);
    if (s) return s;
    const int nt = ex->n_threads, nb = c->nblocks;
    const int64_t ctop = c->block_out[nb - 1], Z = c->latent_channels;
    grid g;
    make_grid(t, h, w, &g);
    int64_t fixed = (g.ny * g.th + g.nx * g.tw) + (h + w) + 2 * SLACK + S * ctop + SLACK;
    plan head = {0, 0};
    plan_enc_head(c, &head, g.th * f, g.tw * f, nt);
    fixed += c->in_channels * (g.th * f) * (g.tw * f) + SLACK; /* ESTIMATE's downsampled image */
    int64_t head_f = 2 * (head.act + SLACK) + head.scratch;
    fixed += gn_slot_floats(enc_gn_slots(c), c->groups);
    plan tail = {S * ctop, 0};
    plan_mid(c, &tail, S, w, nt);
    tail.scratch = max64(tail.scratch, 2 * S * 2 * Z + 2 * SLACK + conv_scr(w, ctop, 2 * Z, 3, nt));
    int64_t tail_f = tail.act + SLACK + tail.scratch;
    int64_t taps = with_taps ? max64(head.act, S * ctop) + SLACK : 0;
    return finish_bytes(fixed + max64(head_f, tail_f) + taps, bytes, err);
}

/* ---- forward ------------------------------------------------------------------------------- */

typedef struct {
    kc_vae_tap_fn fn;
    void *user;
    float *buf;    /* NCHW copy */
    int64_t n, N;  /* current sample, batch: names get ".<n>" when N > 1 */
} tapper;

static void tap(tapper *tp, const kc_exec *ex, const char *name, const float *x, int64_t H, int64_t W, int64_t C) {
    (void)ex;
    if (!tp->fn) return;
    kc_nhwc_to_nchw(tp->buf, x, 1, C, H, W);
    int64_t shape[4] = {1, C, H, W};
    char full[96];
    if (tp->N > 1) snprintf(full, sizeof full, "%s.%lld", name, (long long)tp->n);
    else snprintf(full, sizeof full, "%s", name);
    tp->fn(full, tp->buf, 4, shape, tp->user);
}

/* VAEAttn (single head over all S pixels, kolors-model.md §5.1), in place on x [S, C]:
 * x += to_out(softmax(q kᵀ / sqrt(C)) v), q/k/v = Linear(GroupNorm(x)). */
static kc_status mid_attention(const kc_exec *ex, const kc_vae_config *c, const vae_mid *m, float *x, int64_t S,
                               kc_arena *a, kc_err *err) {
    const int64_t C = m->C;
    size_t mark = kc_arena_mark(a);
    kc_status s = KC_ERR_NOMEM;
    float *t = kc_arena_floats(a, (size_t)(S * C), err), *q = kc_arena_floats(a, (size_t)(S * C), err);
    float *k = kc_arena_floats(a, (size_t)(S * C), err), *v = kc_arena_floats(a, (size_t)(S * C), err);
    if (!t || !q || !k || !v) goto done;
    if ((s = kc_op_group_norm(ex, x, t, 1, S, C, c->groups, c->eps, &m->group_norm.weight, &m->group_norm.bias, 0, err)))
        goto done;
    if ((s = kc_op_linear(ex, t, S, C, &m->to_q.weight, kc_layer_bias(&m->to_q), q, 0, err))) goto done;
    if ((s = kc_op_linear(ex, t, S, C, &m->to_k.weight, kc_layer_bias(&m->to_k), k, 0, err))) goto done;
    if ((s = kc_op_linear(ex, t, S, C, &m->to_v.weight, kc_layer_bias(&m->to_v), v, 0, err))) goto done;
    kc_attn_args aa = {.q = q, .k = k, .v = v, .o = t, .N = 1, .Tq = S, .Tk = S, .NH = 1, .NKV = 1, .D = C,
                       .q_bs = S * C, .q_ts = C, .k_bs = S * C, .k_ts = C, .v_bs = S * C, .v_ts = C,
                       .o_bs = S * C, .o_ts = C, .scale = (float)(1.0 / sqrt((double)C)), .causal = 0, .pad = NULL};
    if ((s = kc_op_attention(ex, &aa, err))) goto done;
    s = kc_op_linear(ex, t, S, C, &m->to_out.weight, kc_layer_bias(&m->to_out), x, 1, err);
done:
    kc_arena_rewind(a, mark);
    return s;
}

/* UNetMidBlock2D: x (in *cur) -> resnet -> attention -> resnet; result in *cur again. */
static kc_status mid_forward(const kc_exec *ex, const kc_vae_config *c, const vae_mid *m, float *cur, float *other,
                             int64_t H, int64_t W, kc_arena *a, kc_err *err) {
    kc_status s;
    if ((s = kc_resnet_forward(ex, &m->res[0], cur, 1, H, W, NULL, other, a, err))) return s;
    if (m->has_attn && (s = mid_attention(ex, c, m, other, H * W, a, err))) return s;
    return kc_resnet_forward(ex, &m->res[1], other, 1, H, W, NULL, cur, a, err);
}

static void swap(float **a, float **b) {
    float *t = *a;
    *a = *b;
    *b = t;
}

/* ---- tiled GroupNorm statistics ------------------------------------------------------------- */

/* Core of tile k along one axis: [lo, hi). Neighbouring tiles' overlaps are split at their
 * middles, so the cores partition [0, L) and each pixel's statistics are counted exactly once. */
static void core_range(const int64_t *st, int n, int64_t len, int64_t L, int k, int64_t *lo, int64_t *hi) {
    *lo = k == 0 ? 0 : (st[k] + st[k - 1] + len) / 2;
    *hi = k == n - 1 ? L : (st[k + 1] + st[k] + len) / 2;
}

/* GroupNorm statistics slots of one sample: slot k = the k-th GroupNorm of the tiled part. */
typedef struct {
    kc_gn_moments *rec;  /* [nslots][G] merged over the tiles' cores in the current pass */
    float *mean, *rstd;  /* [nslots][G] whole-image statistics of the slots where use[k] */
    unsigned char *use;  /* [nslots] */
    int nslots;
    int64_t G;
} gn_slots;

static kc_status gn_slots_alloc(gn_slots *g, int nslots, int64_t G, kc_arena *a, kc_err *err) {
    const size_t n = (size_t)nslots * (size_t)G;
    g->nslots = nslots;
    g->G = G;
    g->rec = kc_arena_alloc(a, n * sizeof(kc_gn_moments), 64, err);
    g->mean = kc_arena_floats(a, n, err);
    g->rstd = kc_arena_floats(a, n, err);
    g->use = kc_arena_alloc(a, (size_t)nslots, 64, err);
    return g->rec && g->mean && g->rstd && g->use ? KC_OK : KC_ERR_NOMEM;
}

/* Slot k's recorded moments -> its whole-image statistics, used from now on. */
static void gn_slot_fix(gn_slots *gs, int k, float eps) {
    kc_gn_moments_finish(gs->rec + (int64_t)k * gs->G, gs->G, eps, gs->mean + (int64_t)k * gs->G,
                         gs->rstd + (int64_t)k * gs->G);
    gs->use[k] = 1;
}

/* The slots as seen by tile (ty, tx) in one pass; core rectangle at latent resolution scaled by
 * `scale` (decoder: 1 at the tail's input; encoder: f at the head's input). */
static kc_gn_seq gn_seq_for(const gn_slots *gs, int record, const grid *g, int64_t h, int64_t w, int ty, int tx,
                            int64_t scale) {
    kc_gn_seq q = {record ? gs->rec : NULL, gs->mean, gs->rstd, gs->G, gs->nslots, 0, gs->use, 0, 0, 0, 0};
    int64_t lo, hi;
    core_range(g->sy, g->ny, g->th, h, ty, &lo, &hi);
    q.y0 = (lo - g->sy[ty]) * scale;
    q.y1 = (hi - g->sy[ty]) * scale;
    core_range(g->sx, g->nx, g->tw, w, tx, &lo, &hi);
    q.x0 = (lo - g->sx[tx]) * scale;
    q.x1 = (hi - g->sx[tx]) * scale;
    return q;
}

/* The slots made exact by sequential statistics passes, in order (see KC_VAE_STATS_*): all for
 * EXACT; for the decoder's ESTIMATE, those of up blocks 0 and 1 (latent and 2x resolution: their
 * passes cost ~0.4x of a tail pass in all). Returns the count. */
static int exact_slots(const kc_vae_config *c, int stats, int decoder, int nslots, int *list) {
    int n = 0;
    if (stats == KC_VAE_STATS_EXACT) n = nslots;
    else if (stats == KC_VAE_STATS_ESTIMATE && decoder) n = (c->nblocks < 2 ? c->nblocks : 2) * (int)(c->layers + 1) * 2;
    if (n > nslots) n = nslots;
    for (int k = 0; k < n; k++) list[k] = k;
    return n;
}

static void seq_scale(kc_gn_seq *q, int up) {
    if (!q) return;
    if (up) { q->y0 *= 2; q->y1 *= 2; q->x0 *= 2; q->x1 *= 2; }
    else { q->y0 /= 2; q->y1 /= 2; q->x0 /= 2; q->x1 /= 2; }
}

/* Decoder up path on x [th, tw, Ctop] in *A (B is the other buffer): returns the image tile
 * [f·th, f·tw, out] (channels-last) in *res. seq: tiled GroupNorm statistics (NULL: the tile's
 * own). stop >= 0: a statistics pass, which returns (*res = NULL) as soon as GroupNorm slot
 * `stop` has been recorded. */
static kc_status dec_tail(const kc_exec *ex, const kc_vae *v, float *A, float *B, int64_t th, int64_t tw,
                          float **res, kc_arena *a, tapper *tp, kc_gn_seq *seq, int stop, kc_err *err) {
    const kc_vae_config *c = &v->cfg;
    const int nb = c->nblocks;
    float *cur = A, *oth = B;
    int64_t H = th, W = tw;
    kc_status s;
    char name[64];
    for (int i = 0; i < nb; i++) {
        for (int j = 0; j <= c->layers; j++) {
            if ((s = kc_resnet_forward_gn(ex, &v->dec_res[i][j], cur, 1, H, W, NULL, oth, a, seq, err))) return s;
            swap(&cur, &oth);
            if (stop >= 0 && seq && seq->k > stop) { *res = NULL; return KC_OK; }
        }
        if (i < nb - 1) {
            if ((s = kc_upsample_forward(ex, &v->dec_up[i], cur, 1, H, W, 2 * H, 2 * W, oth, a, err))) return s;
            swap(&cur, &oth);
            H *= 2;
            W *= 2;
            seq_scale(seq, 1);
        }
        snprintf(name, sizeof name, "decoder.up_block%d", i);
        tap(tp, ex, name, cur, H, W, c->block_out[nb - 1 - i]);
    }
    const int64_t C0 = c->block_out[0];
    if ((s = kc_gn_seq_norm(ex, seq, cur, cur, H, W, C0, c->groups, c->eps, &v->dec_norm_out, 1, err))) return s;
    *res = NULL;
    if (stop >= 0) return KC_OK;
    if ((s = kc_conv_same(ex, &v->dec_conv_out, cur, 1, H, W, C0, oth, 0, a, err))) return s;
    *res = oth;
    return KC_OK;
}

/* ESTIMATE pre-pass of the decoder: the tail run untiled, statistics only, on the mid-block output
 * M [h, w, Ctop] subsampled by d (nearest: the centre pixel of each d x d block) into A, every
 * GroupNorm's statistics recorded into gs->rec. Nearest keeps the activations' distribution; an
 * area average shrinks the variance of high-frequency content (noise latents: rel-L2 ~3). */
static kc_status dec_prepass(const kc_exec *ex, const kc_vae *v, const float *M, int64_t h, int64_t w, int64_t d,
                             float *A, float *B, gn_slots *gs, kc_arena *a, kc_err *err) {
    const int64_t C = v->cfg.block_out[v->cfg.nblocks - 1];
    const int64_t hd = h / d > 0 ? h / d : 1, wd = w / d > 0 ? w / d : 1;
    for (int64_t y = 0; y < hd; y++)
        for (int64_t x = 0; x < wd; x++) {
            int64_t sy = y * d + d / 2, sx = x * d + d / 2;
            if (sy >= h) sy = h - 1;
            if (sx >= w) sx = w - 1;
            memcpy(A + (y * wd + x) * C, M + (sy * w + sx) * C, (size_t)C * sizeof(float));
        }
    kc_gn_seq q = {gs->rec, NULL, NULL, gs->G, gs->nslots, 0, NULL, 0, hd, 0, wd};
    tapper none = {0};
    float *res;
    return dec_tail(ex, v, A, B, hd, wd, &res, a, &none, &q, gs->nslots - 1, err);
}

/* Encoder head (conv_in + down blocks) on the PH x PW pixel tile at (y0, x0) of the NCHW image
 * [IC, H, W]: the tile's [PH/f, PW/f, Ctop] in *res (A or B). seq as in dec_tail. */
static kc_status enc_head(const kc_exec *ex, const kc_vae *v, const float *img, int64_t H, int64_t W, int64_t y0,
                          int64_t x0, int64_t PH, int64_t PW, float *A, float *B, float **res, kc_arena *a, tapper *tp,
                          kc_gn_seq *seq, int stop, kc_err *err) {
    const kc_vae_config *c = &v->cfg;
    const int nb = c->nblocks;
    const int64_t IC = c->in_channels;
    kc_status s;
    /* NCHW image tile -> [PH, PW, IC] */
    for (int64_t y = 0; y < PH; y++)
        for (int64_t x = 0; x < PW; x++)
            for (int64_t ic = 0; ic < IC; ic++) B[(y * PW + x) * IC + ic] = img[(ic * H + y0 + y) * W + x0 + x];
    int64_t TH = PH, TW = PW;
    float *cur = A, *oth = B;
    if ((s = kc_conv_same(ex, &v->enc_conv_in, B, 1, TH, TW, IC, A, 0, a, err))) return s;
    tap(tp, ex, "encoder.conv_in", cur, TH, TW, c->block_out[0]);
    char name[64];
    for (int i = 0; i < nb; i++) {
        for (int j = 0; j < c->layers; j++) {
            if ((s = kc_resnet_forward_gn(ex, &v->enc_res[i][j], cur, 1, TH, TW, NULL, oth, a, seq, err))) return s;
            swap(&cur, &oth);
            if (stop >= 0 && seq && seq->k > stop) { *res = NULL; return KC_OK; }
        }
        if (i < nb - 1) {
            if ((s = kc_downsample_forward(ex, &v->enc_down[i], cur, 1, TH, TW, oth, a, err))) return s;
            swap(&cur, &oth);
            TH /= 2;
            TW /= 2;
            seq_scale(seq, 0);
        }
        snprintf(name, sizeof name, "encoder.down_block%d", i);
        tap(tp, ex, name, cur, TH, TW, c->block_out[i]);
    }
    *res = cur;
    return KC_OK;
}

/* ESTIMATE pre-pass of the encoder: the head run untiled, statistics only, on the image
 * [IC, H, W] subsampled by d (nearest, as dec_prepass; an area average also fails on noise
 * images here) to Hd x Wd, multiples of f, in D [IC, Hd, Wd]. */
static kc_status enc_prepass(const kc_exec *ex, const kc_vae *v, const float *img, int64_t H, int64_t W, int64_t d,
                             float *A, float *B, float *D, gn_slots *gs, kc_arena *a, kc_err *err) {
    const int64_t f = kc_vae_factor(&v->cfg), IC = v->cfg.in_channels;
    int64_t Hd = H / f / d * f, Wd = W / f / d * f;
    if (Hd < f) Hd = f;
    if (Wd < f) Wd = f;
    for (int64_t ic = 0; ic < IC; ic++)
        for (int64_t y = 0; y < Hd; y++)
            for (int64_t x = 0; x < Wd; x++) {
                int64_t sy = y * d + d / 2, sx = x * d + d / 2;
                D[(ic * Hd + y) * Wd + x] = img[(ic * H + (sy < H ? sy : H - 1)) * W + (sx < W ? sx : W - 1)];
            }
    kc_gn_seq q = {gs->rec, NULL, NULL, gs->G, gs->nslots, 0, NULL, 0, Hd, 0, Wd};
    tapper none = {0};
    float *res;
    return enc_head(ex, v, D, Hd, Wd, 0, 0, Hd, Wd, A, B, &res, a, &none, &q, gs->nslots - 1, err);
}

static kc_status validate_run(const kc_vae *v, const float *in, const float *out, kc_arena *arena, kc_err *err) {
    if (!v || !in || !out || !arena) return kc_fail(err, KC_ERR_ARG, "vae: NULL argument");
    return KC_OK;
}

kc_status kc_vae_decode(const kc_exec *ex, const kc_vae *v, const float *latents, int64_t N, int64_t h, int64_t w,
                        const kc_vae_tiling *t, float *image, kc_arena *arena, kc_vae_tap_fn tapfn, void *tap_user,
                        kc_err *err) {
    kc_status s = validate_run(v, latents, image, arena, err);
    if (s) return s;
    const kc_vae_config *c = &v->cfg;
    if ((s = check_sizes(c, N, h, w, err))) return s;
    const int nb = c->nblocks, nt = ex->n_threads;
    const int64_t f = kc_vae_factor(c), ctop = c->block_out[nb - 1], Z = c->latent_channels, S = h * w;
    const int64_t Ho = h * f, Wo = w * f, OC = c->out_channels;
    grid g;
    make_grid(t, h, w, &g);
    const int tiled = g.ny * g.nx > 1;
    const int stats = tiled ? t->stats : KC_VAE_STATS_TILE;
    int glob[KC_VAE_MAX_BLOCKS * (KC_VAE_MAX_LAYERS + 1) * 2 + 1];
    plan tail = {0, 0};
    plan_dec_tail(c, &tail, g.th, g.tw, nt);
    size_t mark0 = kc_arena_mark(arena);
    s = KC_ERR_NOMEM;
    tapper tp = {tapfn, tap_user, NULL, 0, N};
    gn_slots gs;
    if (gn_slots_alloc(&gs, dec_gn_slots(c), c->groups, arena, err)) goto done;
    const int nglob = exact_slots(c, stats, 1, gs.nslots, glob);
    float *wy = kc_arena_floats(arena, (size_t)(g.ny * g.th * f), err);
    float *wx = kc_arena_floats(arena, (size_t)(g.nx * g.tw * f), err);
    float *sum = kc_arena_floats(arena, (size_t)((h + w) * f), err);
    float *M = kc_arena_floats(arena, (size_t)(S * ctop), err);
    if (!wy || !wx || !sum || !M) goto done;
    if (tapfn && !(tp.buf = kc_arena_floats(arena, (size_t)max64(tail.act, S * ctop), err))) goto done;
    int feather = t ? t->feather : 1;
    axis_weights(g.sy, g.ny, g.th, h, f, feather, wy, sum);
    axis_weights(g.sx, g.nx, g.tw, w, f, feather, wx, sum);
    const size_t mark1 = kc_arena_mark(arena);
    for (int64_t n = 0; n < N; n++) {
        tp.n = n;
        /* head on the whole latent: post_quant_conv, conv_in, mid block -> M [h, w, Ctop] */
        kc_arena_rewind(arena, mark1);
        float *G = kc_arena_floats(arena, (size_t)(S * ctop), err);
        float *X = kc_arena_floats(arena, (size_t)(S * Z), err), *Y = kc_arena_floats(arena, (size_t)(S * Z), err);
        if (!G || !X || !Y) { s = KC_ERR_NOMEM; goto done; }
        kc_nchw_to_nhwc(X, latents + n * Z * S, 1, Z, h, w);
        if (c->post_quant_conv) {
            kc_exec x32;
            if ((s = kc_op_linear(kc_nn_layer_exec(ex, &v->post_quant_conv, &x32), X, S, Z, &v->post_quant_conv.weight,
                                  kc_layer_bias(&v->post_quant_conv), Y, 0, err)))
                goto done;
        } else {
            memcpy(Y, X, (size_t)(S * Z) * sizeof(float));
        }
        if ((s = kc_conv_same(ex, &v->dec_conv_in, Y, 1, h, w, Z, M, 0, arena, err))) goto done;
        tap(&tp, ex, "decoder.conv_in", M, h, w, ctop);
        kc_arena_rewind(arena, mark1);
        G = kc_arena_floats(arena, (size_t)(S * ctop), err);
        if (!G) { s = KC_ERR_NOMEM; goto done; }
        if ((s = mid_forward(ex, c, &v->dec_mid, M, G, h, w, arena, err))) goto done;
        tap(&tp, ex, "decoder.mid_block", M, h, w, ctop);
        kc_arena_rewind(arena, mark1);

        /* tail per tile, blended into the NCHW output. Tiled runs first settle the GroupNorm
         * statistics (KC_VAE_STATS_*): ESTIMATE's low-resolution pre-pass fills every slot, then
         * one statistics pass over all tiles per slot in exact_slots, in layer order: pass j
         * normalises slots glob[0..j) with their whole-image statistics (the others as the final
         * pass will), records the moments of the tiles' cores and stops after slot glob[j],
         * which is then exact. The last pass blends. */
        float *A = kc_arena_floats(arena, (size_t)tail.act, err), *B = kc_arena_floats(arena, (size_t)tail.act, err);
        if (!A || !B) { s = KC_ERR_NOMEM; goto done; }
        float *img = image + n * OC * Ho * Wo;
        memset(img, 0, (size_t)(OC * Ho * Wo) * sizeof(float));
        tapper tile_tp = tp;
        if (tiled) tile_tp.fn = NULL; /* per-tile up-block outputs are not the model's */
        const int64_t PH = g.th * f, PW = g.tw * f;
        const size_t nstat = (size_t)gs.nslots * (size_t)gs.G;
        memset(gs.use, 0, (size_t)gs.nslots);
        if (stats == KC_VAE_STATS_ESTIMATE) {
            memset(gs.rec, 0, nstat * sizeof *gs.rec);
            if ((s = dec_prepass(ex, v, M, h, w, prepass_factor(&g, h, w), A, B, &gs, arena, err))) goto done;
            for (int k = 0; k < gs.nslots; k++) gn_slot_fix(&gs, k, c->eps);
        }
        for (int j = 0; j <= nglob; j++) {
            const int last = j == nglob, target = last ? -1 : glob[j];
            if (!last) memset(gs.rec, 0, nstat * sizeof *gs.rec);
            for (int ty = 0; ty < g.ny; ty++)
                for (int tx = 0; tx < g.nx; tx++) {
                    for (int64_t y = 0; y < g.th; y++)
                        memcpy(A + y * g.tw * ctop, M + ((g.sy[ty] + y) * w + g.sx[tx]) * ctop,
                               (size_t)(g.tw * ctop) * sizeof(float));
                    kc_gn_seq q = gn_seq_for(&gs, !last, &g, h, w, ty, tx, 1);
                    float *res = NULL;
                    if ((s = dec_tail(ex, v, A, B, g.th, g.tw, &res, arena, &tile_tp, tiled ? &q : NULL, target, err)))
                        goto done;
                    if (!last) continue;
                    const float *wyt = wy + ty * PH, *wxt = wx + tx * PW;
                    for (int64_t oc = 0; oc < OC; oc++)
                        for (int64_t y = 0; y < PH; y++) {
                            float *row = img + (oc * Ho + g.sy[ty] * f + y) * Wo + g.sx[tx] * f;
                            const float *src = res + y * PW * OC + oc;
                            for (int64_t x = 0; x < PW; x++) row[x] += wyt[y] * wxt[x] * src[x * OC];
                        }
                }
            if (!last) gn_slot_fix(&gs, target, c->eps);
        }
    }
    s = KC_OK;
done:
    kc_arena_rewind(arena, mark0);
    return s;
}

kc_status kc_vae_encode(const kc_exec *ex, const kc_vae *v, const float *image, int64_t N, int64_t H, int64_t W,
                        const kc_vae_tiling *t, float *moments, kc_arena *arena, kc_vae_tap_fn tapfn, void *tap_user,
                        kc_err *err) {
    kc_status s = validate_run(v, image, moments, arena, err);
    if (s) return s;
    const kc_vae_config *c = &v->cfg;
    const int nb = c->nblocks, nt = ex->n_threads;
    const int64_t f = kc_vae_factor(c), ctop = c->block_out[nb - 1], Z = c->latent_channels, IC = c->in_channels;
    if (H % f || W % f)
        return kc_fail(err, KC_ERR_ARG, "vae encode: image size %lldx%lld is not a multiple of %lld", (long long)H,
                       (long long)W, (long long)f);
    const int64_t h = H / f, w = W / f, S = h * w;
    if ((s = check_sizes(c, N, h, w, err))) return s;
    grid g;
    make_grid(t, h, w, &g);
    const int tiled = g.ny * g.nx > 1;
    const int stats = tiled ? t->stats : KC_VAE_STATS_TILE;
    int glob[KC_VAE_MAX_BLOCKS * KC_VAE_MAX_LAYERS * 2];
    plan head = {0, 0};
    plan_enc_head(c, &head, g.th * f, g.tw * f, nt);
    size_t mark0 = kc_arena_mark(arena);
    s = KC_ERR_NOMEM;
    tapper tp = {tapfn, tap_user, NULL, 0, N};
    gn_slots gs;
    if (gn_slots_alloc(&gs, enc_gn_slots(c), c->groups, arena, err)) goto done;
    const int nglob = exact_slots(c, stats, 0, gs.nslots, glob);
    float *wy = kc_arena_floats(arena, (size_t)(g.ny * g.th), err);
    float *wx = kc_arena_floats(arena, (size_t)(g.nx * g.tw), err);
    float *sum = kc_arena_floats(arena, (size_t)(h + w), err);
    float *M = kc_arena_floats(arena, (size_t)(S * ctop), err);
    if (!wy || !wx || !sum || !M) goto done;
    if (tapfn && !(tp.buf = kc_arena_floats(arena, (size_t)max64(head.act, S * ctop), err))) goto done;
    int feather = t ? t->feather : 1;
    axis_weights(g.sy, g.ny, g.th, h, 1, feather, wy, sum);
    axis_weights(g.sx, g.nx, g.tw, w, 1, feather, wx, sum);
    const size_t mark1 = kc_arena_mark(arena);
    for (int64_t n = 0; n < N; n++) {
        tp.n = n;
        tapper tile_tp = tp;
        if (tiled) tile_tp.fn = NULL; /* per-tile down-block outputs are not the model's */
        kc_arena_rewind(arena, mark1);
        memset(M, 0, (size_t)(S * ctop) * sizeof(float));
        float *A = kc_arena_floats(arena, (size_t)head.act, err), *B = kc_arena_floats(arena, (size_t)head.act, err);
        if (!A || !B) { s = KC_ERR_NOMEM; goto done; }
        const float *img = image + n * IC * H * W;
        const size_t nstat = (size_t)gs.nslots * (size_t)gs.G;
        memset(gs.use, 0, (size_t)gs.nslots);
        if (stats == KC_VAE_STATS_ESTIMATE) {
            /* the subsampled image is at most one tile: PH x PW pixels */
            float *D = kc_arena_floats(arena, (size_t)(IC * g.th * f * g.tw * f), err);
            if (!D) { s = KC_ERR_NOMEM; goto done; }
            memset(gs.rec, 0, nstat * sizeof *gs.rec);
            if ((s = enc_prepass(ex, v, img, H, W, prepass_factor(&g, h, w), A, B, D, &gs, arena, err))) goto done;
            for (int k2 = 0; k2 < gs.nslots; k2++) gn_slot_fix(&gs, k2, c->eps);
        }
        for (int j = 0; j <= nglob; j++) { /* statistics passes, then the output pass (see decode) */
            const int last = j == nglob, target = last ? -1 : glob[j];
            if (!last) memset(gs.rec, 0, nstat * sizeof *gs.rec);
            for (int ty = 0; ty < g.ny; ty++)
                for (int tx = 0; tx < g.nx; tx++) {
                    kc_gn_seq q = gn_seq_for(&gs, !last, &g, h, w, ty, tx, f);
                    float *cur = NULL;
                    if ((s = enc_head(ex, v, img, H, W, g.sy[ty] * f, g.sx[tx] * f, g.th * f, g.tw * f, A, B, &cur,
                                      arena, &tile_tp, tiled ? &q : NULL, target, err)))
                        goto done;
                    if (!last) continue;
                    /* blend [th, tw, Ctop] into M */
                    const float *wyt = wy + ty * g.th, *wxt = wx + tx * g.tw;
                    for (int64_t y = 0; y < g.th; y++)
                        for (int64_t x = 0; x < g.tw; x++) {
                            const float wgt = wyt[y] * wxt[x];
                            float *dst = M + ((g.sy[ty] + y) * w + g.sx[tx] + x) * ctop;
                            const float *src = cur + (y * g.tw + x) * ctop;
                            for (int64_t ch = 0; ch < ctop; ch++) dst[ch] += wgt * src[ch];
                        }
                }
            if (!last) gn_slot_fix(&gs, target, c->eps);
        }
        /* tail on the whole latent: mid block, conv_norm_out + SiLU, conv_out, quant_conv */
        kc_arena_rewind(arena, mark1);
        float *G = kc_arena_floats(arena, (size_t)(S * ctop), err);
        if (!G) { s = KC_ERR_NOMEM; goto done; }
        if ((s = mid_forward(ex, c, &v->enc_mid, M, G, h, w, arena, err))) goto done;
        tap(&tp, ex, "encoder.mid_block", M, h, w, ctop);
        if ((s = kc_op_group_norm(ex, M, M, 1, S, ctop, c->groups, c->eps, &v->enc_norm_out.weight,
                                  &v->enc_norm_out.bias, 1, err)))
            goto done;
        float *X = kc_arena_floats(arena, (size_t)(S * 2 * Z), err), *Y = kc_arena_floats(arena, (size_t)(S * 2 * Z), err);
        if (!X || !Y) { s = KC_ERR_NOMEM; goto done; }
        if ((s = kc_conv_same(ex, &v->enc_conv_out, M, 1, h, w, ctop, X, 0, arena, err))) goto done;
        if (c->quant_conv) {
            kc_exec x32;
            if ((s = kc_op_linear(kc_nn_layer_exec(ex, &v->quant_conv, &x32), X, S, 2 * Z, &v->quant_conv.weight,
                                  kc_layer_bias(&v->quant_conv), Y, 0, err)))
                goto done;
        } else {
            memcpy(Y, X, (size_t)(S * 2 * Z) * sizeof(float));
        }
        kc_nhwc_to_nchw(moments + n * 2 * Z * S, Y, 1, 2 * Z, h, w);
    }
    s = KC_OK;
done:
    kc_arena_rewind(arena, mark0);
    return s;
}
