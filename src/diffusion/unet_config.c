/* unet_config.c — unet/config.json -> kc_unet_config, the expected tensor list, parameter and
 * FLOP counts. Mirrors the constructor of diffusers UNet2DConditionModel (0.28-0.30): every key
 * that changes the computation is read; a value kolors.c does not implement is refused by name
 * (KC_ERR_UNSUPPORTED) rather than silently replaced by a default. Keys that do not affect
 * inference (sample_size, dropout, addition_embed_type_num_heads for text_time, _class_name,
 * _diffusers_version) are ignored.
 *
 * Dimension letters: see unet.h. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "diffusion/unet.h"
#include "io/json.h"

#define FAILU(...) kc_fail(err, KC_ERR_UNSUPPORTED, __VA_ARGS__)

/* Key must be absent or null. */
static kc_status need_null(const cJSON *root, const char *key, const char *what, kc_err *err) {
    if (kc_json_is_null(root, key)) return KC_OK;
    char *v = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(root, key));
    kc_status s = FAILU("%s: \"%s\": %s is not supported (only null)", what, key, v ? v : "?");
    cJSON_free(v);
    return s;
}

/* Key absent/null or false (a list of false is accepted too, as diffusers broadcasts bools). */
static kc_status need_false(const cJSON *root, const char *key, const char *what, kc_err *err) {
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!it || cJSON_IsNull(it) || cJSON_IsFalse(it)) return KC_OK;
    if (cJSON_IsArray(it)) {
        const cJSON *e;
        int ok = 1;
        cJSON_ArrayForEach(e, it) ok &= cJSON_IsFalse(e);
        if (ok) return KC_OK;
    }
    char *v = cJSON_PrintUnformatted(it);
    kc_status s = FAILU("%s: \"%s\": %s is not supported (only false)", what, key, v ? v : "?");
    cJSON_free(v);
    return s;
}

/* Optional string key that must equal one of the allowed values (NULL-terminated); absent/null
 * = dflt. */
static kc_status str_in(const cJSON *root, const char *key, const char *dflt, const char *const *allowed,
                        const char *what, const char **out, kc_err *err) {
    kc_status s = kc_json_str(root, key, 0, dflt, what, out, err);
    if (s) return s;
    if (!*out) return KC_OK;
    for (int i = 0; allowed[i]; i++)
        if (!strcmp(*out, allowed[i])) return KC_OK;
    return FAILU("%s: \"%s\": \"%s\" is not supported", what, key, *out);
}

/* Float key that must equal `want` (absent/null = want). */
static kc_status num_eq(const cJSON *root, const char *key, double want, const char *what, kc_err *err) {
    double v;
    kc_status s = kc_json_num(root, key, 0, want, what, &v, err);
    if (s) return s;
    if (v != want) return FAILU("%s: \"%s\": %g is not supported (only %g)", what, key, v, want);
    return KC_OK;
}

/* Per-block integer list (int broadcast) of exactly n entries, each in [lo, hi]. */
static kc_status block_ints(const cJSON *root, const char *key, int n, int64_t lo, int64_t hi, const char *what,
                            int64_t *vals, kc_err *err) {
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(root, key);
    if (it && cJSON_IsArray(it)) {
        const cJSON *e;
        cJSON_ArrayForEach(e, it) if (cJSON_IsArray(e)) return FAILU("%s: \"%s\": nested lists are not supported",
                                                                        what, key);
    }
    int cnt = 0;
    kc_status s = kc_json_int_array(root, key, 1, vals, KC_UNET_MAX_BLOCKS, &cnt, n, what, err);
    if (s) return s;
    if (cnt != n)
        return kc_fail(err, KC_ERR_FORMAT, "%s: \"%s\" has %d entries; block_out_channels has %d", what, key, cnt, n);
    for (int i = 0; i < n; i++)
        if (vals[i] < lo || vals[i] > hi)
            return FAILU("%s: \"%s\"[%d] = %lld is not in [%lld, %lld]", what, key, i, (long long)vals[i],
                         (long long)lo, (long long)hi);
    return KC_OK;
}

kc_status kc_unet_config_parse(const cJSON *root, const char *what, kc_unet_config *c, kc_err *err) {
    kc_status s;
    memset(c, 0, sizeof *c);
    const char *str;
    int64_t v;

    /* ---- block structure ---- */
    int nb = 0;
    if ((s = kc_json_int_array(root, "block_out_channels", 1, c->block_out, KC_UNET_MAX_BLOCKS, &nb, 0, what, err)))
        return s;
    if (nb < 1) return kc_fail(err, KC_ERR_FORMAT, "%s: \"block_out_channels\" is empty", what);
    c->nblocks = nb;
    if ((s = kc_json_int(root, "norm_num_groups", 0, 32, 1, 1024, what, &c->groups, err))) return s;
    for (int i = 0; i < nb; i++)
        if (c->block_out[i] < 1 || c->block_out[i] > 65536 || c->block_out[i] % c->groups)
            return FAILU("%s: \"block_out_channels\"[%d] = %lld must be in [1, 65536] and divisible by "
                         "norm_num_groups %lld",
                         what, i, (long long)c->block_out[i], (long long)c->groups);
    if ((s = block_ints(root, "layers_per_block", nb, 1, KC_UNET_MAX_LAYERS - 1, what, c->layers, err))) return s;
    if (kc_json_is_null(root, "transformer_layers_per_block")) {
        for (int i = 0; i < nb; i++) c->depth[i] = 1; /* diffusers default 1 */
    } else if ((s = block_ints(root, "transformer_layers_per_block", nb, 1, 1000, what, c->depth, err))) {
        return s;
    }
    if ((s = need_null(root, "reverse_transformer_layers_per_block", what, err))) return s;
    /* diffusers refuses num_attention_heads (a naming-compatibility guard) and takes the head
     * count from attention_head_dim; so do we. */
    if ((s = need_null(root, "num_attention_heads", what, err))) return s;
    if ((s = block_ints(root, "attention_head_dim", nb, 1, 65536, what, c->heads, err))) return s;

    const char *down[KC_UNET_MAX_BLOCKS], *up[KC_UNET_MAX_BLOCKS];
    int nd = 0, nu = 0;
    if ((s = kc_json_str_array(root, "down_block_types", 1, down, KC_UNET_MAX_BLOCKS, &nd, what, err))) return s;
    if ((s = kc_json_str_array(root, "up_block_types", 1, up, KC_UNET_MAX_BLOCKS, &nu, what, err))) return s;
    if (nd != nb || nu != nb)
        return kc_fail(err, KC_ERR_FORMAT, "%s: %d down / %d up block types for %d blocks", what, nd, nu, nb);
    for (int i = 0; i < nb; i++) {
        if (!strcmp(down[i], "CrossAttnDownBlock2D")) c->down_attn[i] = 1;
        else if (strcmp(down[i], "DownBlock2D")) return FAILU("%s: \"down_block_types\"[%d]: \"%s\" is not supported", what, i, down[i]);
        if (!strcmp(up[i], "CrossAttnUpBlock2D")) c->up_attn[i] = 1;
        else if (strcmp(up[i], "UpBlock2D")) return FAILU("%s: \"up_block_types\"[%d]: \"%s\" is not supported", what, i, up[i]);
    }
    static const char *const mid_ok[] = {"UNetMidBlock2DCrossAttn", NULL};
    if ((s = str_in(root, "mid_block_type", "UNetMidBlock2DCrossAttn", mid_ok, what, &str, err))) return s;
    if (!str) return FAILU("%s: \"mid_block_type\": null (no mid block) is not supported", what);
    for (int i = 0; i < nb; i++) {
        int attn = c->down_attn[i] || c->up_attn[nb - 1 - i] || i == nb - 1; /* mid uses the last */
        if (attn && c->block_out[i] % c->heads[i])
            return FAILU("%s: block %d: %lld channels are not divisible by %lld heads (\"attention_head_dim\")", what,
                         i, (long long)c->block_out[i], (long long)c->heads[i]);
    }

    /* ---- channels and text ---- */
    if ((s = kc_json_int(root, "in_channels", 1, 4, 1, 4096, what, &c->in_channels, err))) return s;
    if ((s = kc_json_int(root, "out_channels", 1, 4, 1, 4096, what, &c->out_channels, err))) return s;
    const cJSON *cad = cJSON_GetObjectItemCaseSensitive(root, "cross_attention_dim");
    if (cad && cJSON_IsArray(cad)) return FAILU("%s: \"cross_attention_dim\": a per-block list is not supported", what);
    if ((s = kc_json_int(root, "cross_attention_dim", 1, 1280, 1, 65536, what, &c->cross_dim, err))) return s;
    if ((s = kc_json_int(root, "encoder_hid_dim", 0, 0, 1, 65536, what, &c->hid_dim, err))) return s;
    static const char *const hid_ok[] = {"text_proj", NULL};
    if ((s = str_in(root, "encoder_hid_dim_type", NULL, hid_ok, what, &str, err))) return s;
    /* diffusers: encoder_hid_dim without a type means text_proj; a type without a dim is an error. */
    if (str && !c->hid_dim)
        return kc_fail(err, KC_ERR_FORMAT, "%s: \"encoder_hid_dim_type\" is \"%s\" but \"encoder_hid_dim\" is null",
                       what, str);

    /* ---- embeddings ---- */
    static const char *const tet_ok[] = {"positional", NULL};
    if ((s = str_in(root, "time_embedding_type", "positional", tet_ok, what, &str, err))) return s;
    if ((s = need_null(root, "time_embedding_dim", what, err))) return s;
    if ((s = need_null(root, "time_embedding_act_fn", what, err))) return s;
    if ((s = need_null(root, "timestep_post_act", what, err))) return s;
    if ((s = need_null(root, "time_cond_proj_dim", what, err))) return s;
    if ((s = need_null(root, "class_embed_type", what, err))) return s;
    if ((s = need_null(root, "num_class_embeds", what, err))) return s;
    if ((s = need_false(root, "class_embeddings_concat", what, err))) return s;
    if ((s = kc_json_bool(root, "flip_sin_to_cos", 0, 1, what, &c->flip_sin_to_cos, err))) return s;
    if ((s = kc_json_num(root, "freq_shift", 0, 0.0, what, &c->freq_shift, err))) return s;
    if (!isfinite(c->freq_shift) || c->freq_shift < 0 || c->freq_shift >= (double)(c->block_out[0] / 2))
        return FAILU("%s: \"freq_shift\": %g is not supported", what, c->freq_shift);
    c->temb_in = c->block_out[0];
    c->temb_dim = 4 * c->block_out[0];
    if (c->temb_in % 2) return FAILU("%s: odd block_out_channels[0] %lld (odd sinusoid width)", what, (long long)c->temb_in);

    static const char *const add_ok[] = {"text_time", NULL};
    if ((s = str_in(root, "addition_embed_type", NULL, add_ok, what, &str, err))) return s;
    c->add_text_time = str != NULL;
    if (c->add_text_time) {
        if ((s = kc_json_int(root, "addition_time_embed_dim", 1, 0, 2, 65536, what, &c->add_time_dim, err))) return s;
        if (c->add_time_dim % 2)
            return FAILU("%s: \"addition_time_embed_dim\": odd value %lld", what, (long long)c->add_time_dim);
        if ((s = kc_json_int(root, "projection_class_embeddings_input_dim", 1, 0, 1, 1 << 20, what, &c->add_in_dim,
                             err)))
            return s;
        if (c->add_in_dim <= 6 * c->add_time_dim)
            return kc_fail(err, KC_ERR_FORMAT,
                           "%s: \"projection_class_embeddings_input_dim\" %lld leaves no room for text_embeds next to "
                           "6 x addition_time_embed_dim %lld",
                           what, (long long)c->add_in_dim, (long long)c->add_time_dim);
    }

    /* ---- layers ---- */
    static const char *const act_ok[] = {"silu", "swish", NULL};
    if ((s = str_in(root, "act_fn", "silu", act_ok, what, &str, err))) return s;
    double eps;
    if ((s = kc_json_num(root, "norm_eps", 0, 1e-5, what, &eps, err))) return s;
    if (!(eps > 0 && eps < 1)) return FAILU("%s: \"norm_eps\": %g is not supported", what, eps);
    c->eps = (float)eps;
    if ((s = kc_json_int(root, "conv_in_kernel", 0, 3, 1, 7, what, &c->conv_in_k, err))) return s;
    if ((s = kc_json_int(root, "conv_out_kernel", 0, 3, 1, 7, what, &c->conv_out_k, err))) return s;
    if (c->conv_in_k % 2 == 0 || c->conv_out_k % 2 == 0)
        return FAILU("%s: even conv_in_kernel/conv_out_kernel (%lld/%lld) is not supported", what,
                     (long long)c->conv_in_k, (long long)c->conv_out_k);
    if ((s = kc_json_int(root, "downsample_padding", 0, 1, 0, 1, what, &v, err)))
        return s;
    c->downsample_padding = (int)v;
    if ((s = kc_json_bool(root, "use_linear_projection", 0, 0, what, &c->linear_proj, err))) return s;
    static const char *const shift_ok[] = {"default", NULL};
    if ((s = str_in(root, "resnet_time_scale_shift", "default", shift_ok, what, &str, err))) return s;
    if ((s = need_false(root, "resnet_skip_time_act", what, err))) return s;
    if ((s = num_eq(root, "resnet_out_scale_factor", 1.0, what, err))) return s;
    if ((s = num_eq(root, "mid_block_scale_factor", 1.0, what, err))) return s;
    if ((s = need_false(root, "center_input_sample", what, err))) return s;
    if ((s = need_false(root, "dual_cross_attention", what, err))) return s;
    if ((s = need_false(root, "only_cross_attention", what, err))) return s;
    if ((s = need_false(root, "mid_block_only_cross_attention", what, err))) return s;
    if ((s = need_null(root, "cross_attention_norm", what, err))) return s;
    static const char *const at_ok[] = {"default", NULL};
    if ((s = str_in(root, "attention_type", "default", at_ok, what, &str, err))) return s;
    /* upcast_attention only changes the dtype of the score computation; kolors.c always does it
     * in fp32, so true and false give the same result here. */
    int upcast;
    if ((s = kc_json_bool(root, "upcast_attention", 0, 0, what, &upcast, err))) return s;
    return KC_OK;
}

kc_status kc_unet_config_load(const char *path, kc_unet_config *cfg, kc_err *err) {
    cJSON *root = NULL;
    kc_status s = kc_json_load(path, &root, err);
    if (s) return s;
    s = kc_unet_config_parse(root, path, cfg, err);
    cJSON_Delete(root);
    return s;
}

void kc_unet_config_kolors(kc_unet_config *c) {
    memset(c, 0, sizeof *c);
    c->nblocks = 3;
    const int64_t bo[3] = {320, 640, 1280}, dp[3] = {1, 2, 10}, hd[3] = {5, 10, 20};
    for (int i = 0; i < 3; i++) {
        c->block_out[i] = bo[i];
        c->layers[i] = 2;
        c->depth[i] = dp[i];
        c->heads[i] = hd[i];
    }
    c->down_attn[1] = c->down_attn[2] = 1;
    c->up_attn[0] = c->up_attn[1] = 1;
    c->in_channels = c->out_channels = 4;
    c->cross_dim = 2048;
    c->hid_dim = 4096;
    c->temb_in = 320;
    c->temb_dim = 1280;
    c->add_text_time = 1;
    c->add_time_dim = 256;
    c->add_in_dim = 5632;
    c->groups = 32;
    c->eps = 1e-5f;
    c->flip_sin_to_cos = 1;
    c->conv_in_k = c->conv_out_k = 3;
    c->downsample_padding = 1;
    c->linear_proj = 1;
}

/* ---- architecture walk ---------------------------------------------------------------------
 * One description of the layer structure drives the expected list and the FLOP count, so the
 * two cannot disagree. Spatial size is only used for FLOPs. */

typedef struct {
    kc_expected_list *l; /* NULL when only counting */
    kc_err *err;
    kc_status s;
    double flops;
    int64_t N, H, W, T; /* current batch and spatial size (FLOP counting) */
    int64_t params;
} walker;

static void add(walker *w, int ndim, const int64_t *shape, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void add(walker *w, int ndim, const int64_t *shape, const char *fmt, ...) {
    if (w->s) return;
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= shape[i];
    w->params += n;
    if (!w->l) return;
    char name[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    w->s = kc_expected_add(w->l, ndim, shape, w->err, "%s", name);
}

static void w_norm(walker *w, const char *p, int64_t C) {
    add(w, 1, &C, "%s.weight", p);
    add(w, 1, &C, "%s.bias", p);
}
/* Linear over M rows. */
static void w_linear(walker *w, const char *p, int64_t out, int64_t in, int bias, double M) {
    int64_t sh[2] = {out, in};
    add(w, 2, sh, "%s.weight", p);
    if (bias) add(w, 1, &out, "%s.bias", p);
    w->flops += 2.0 * M * (double)out * (double)in;
}
/* Conv over Ho x Wo outputs. */
static void w_conv(walker *w, const char *p, int64_t out, int64_t in, int64_t k, int64_t Ho, int64_t Wo) {
    int64_t sh[4] = {out, in, k, k};
    add(w, 4, sh, "%s.weight", p);
    add(w, 1, &out, "%s.bias", p);
    w->flops += 2.0 * (double)w->N * (double)Ho * (double)Wo * (double)out * (double)in * (double)(k * k);
}

static void w_resnet(walker *w, const kc_unet_config *c, const char *p, int64_t cin, int64_t cout) {
    char q[512];
    snprintf(q, sizeof q, "%s.norm1", p); w_norm(w, q, cin);
    snprintf(q, sizeof q, "%s.conv1", p); w_conv(w, q, cout, cin, 3, w->H, w->W);
    snprintf(q, sizeof q, "%s.time_emb_proj", p); w_linear(w, q, cout, c->temb_dim, 1, (double)w->N);
    snprintf(q, sizeof q, "%s.norm2", p); w_norm(w, q, cout);
    snprintf(q, sizeof q, "%s.conv2", p); w_conv(w, q, cout, cout, 3, w->H, w->W);
    if (cin != cout) { snprintf(q, sizeof q, "%s.conv_shortcut", p); w_conv(w, q, cout, cin, 1, w->H, w->W); }
}

static void w_proj(walker *w, const kc_unet_config *c, const char *p, int64_t C, double M) {
    if (c->linear_proj) {
        w_linear(w, p, C, C, 1, M);
    } else {
        int64_t sh[4] = {C, C, 1, 1};
        add(w, 4, sh, "%s.weight", p);
        add(w, 1, &C, "%s.bias", p);
        w->flops += 2.0 * M * (double)C * (double)C;
    }
}

static void w_transformer(walker *w, const kc_unet_config *c, const char *p, int64_t C, int64_t depth) {
    char q[512];
    const double M = (double)w->N * (double)w->H * (double)w->W, Mt = (double)w->N * (double)w->T;
    const double S = (double)w->H * (double)w->W;
    snprintf(q, sizeof q, "%s.norm", p); w_norm(w, q, C);
    snprintf(q, sizeof q, "%s.proj_in", p); w_proj(w, c, q, C, M);
    for (int64_t k = 0; k < depth; k++) {
        char b[256];
        snprintf(b, sizeof b, "%s.transformer_blocks.%lld", p, (long long)k);
        snprintf(q, sizeof q, "%s.norm1", b); w_norm(w, q, C);
        snprintf(q, sizeof q, "%s.attn1.to_q", b); w_linear(w, q, C, C, 0, M);
        snprintf(q, sizeof q, "%s.attn1.to_k", b); w_linear(w, q, C, C, 0, M);
        snprintf(q, sizeof q, "%s.attn1.to_v", b); w_linear(w, q, C, C, 0, M);
        snprintf(q, sizeof q, "%s.attn1.to_out.0", b); w_linear(w, q, C, C, 1, M);
        w->flops += 2.0 * 2.0 * (double)w->N * S * S * (double)C; /* q·kᵀ and p·v */
        snprintf(q, sizeof q, "%s.norm2", b); w_norm(w, q, C);
        snprintf(q, sizeof q, "%s.attn2.to_q", b); w_linear(w, q, C, C, 0, M);
        snprintf(q, sizeof q, "%s.attn2.to_k", b); w_linear(w, q, C, c->cross_dim, 0, Mt);
        snprintf(q, sizeof q, "%s.attn2.to_v", b); w_linear(w, q, C, c->cross_dim, 0, Mt);
        snprintf(q, sizeof q, "%s.attn2.to_out.0", b); w_linear(w, q, C, C, 1, M);
        w->flops += 2.0 * 2.0 * (double)w->N * S * (double)w->T * (double)C;
        snprintf(q, sizeof q, "%s.norm3", b); w_norm(w, q, C);
        snprintf(q, sizeof q, "%s.ff.net.0.proj", b); w_linear(w, q, 8 * C, C, 1, M);
        snprintf(q, sizeof q, "%s.ff.net.2", b); w_linear(w, q, C, 4 * C, 1, M);
    }
    snprintf(q, sizeof q, "%s.proj_out", p); w_proj(w, c, q, C, M);
}

static void walk(walker *w, const kc_unet_config *c) {
    char p[128];
    const int nb = c->nblocks;
    const int64_t te = c->temb_dim;
    /* Spatial sizes per level (down path): level i runs at hs[i] x ws[i]. */
    int64_t hs[KC_UNET_MAX_BLOCKS + 1], ws[KC_UNET_MAX_BLOCKS + 1];
    hs[0] = w->H;
    ws[0] = w->W;
    for (int i = 0; i < nb; i++) {
        if (c->downsample_padding) { hs[i + 1] = (hs[i] + 2 - 3) / 2 + 1; ws[i + 1] = (ws[i] + 2 - 3) / 2 + 1; }
        else { hs[i + 1] = (hs[i] + 1 - 3) / 2 + 1; ws[i + 1] = (ws[i] + 1 - 3) / 2 + 1; }
    }
    const int64_t H0 = w->H, W0 = w->W;

    w_conv(w, "conv_in", c->block_out[0], c->in_channels, c->conv_in_k, H0, W0);
    w_linear(w, "time_embedding.linear_1", te, c->temb_in, 1, (double)w->N);
    w_linear(w, "time_embedding.linear_2", te, te, 1, (double)w->N);
    if (c->hid_dim) w_linear(w, "encoder_hid_proj", c->cross_dim, c->hid_dim, 1, (double)w->N * (double)w->T);
    if (c->add_text_time) {
        w_linear(w, "add_embedding.linear_1", te, c->add_in_dim, 1, (double)w->N);
        w_linear(w, "add_embedding.linear_2", te, te, 1, (double)w->N);
    }
    /* down blocks: attentions, resnets, downsamplers (module registration order) */
    int64_t ch = c->block_out[0];
    for (int i = 0; i < nb; i++) {
        const int64_t out = c->block_out[i];
        w->H = hs[i];
        w->W = ws[i];
        if (c->down_attn[i])
            for (int64_t j = 0; j < c->layers[i]; j++) {
                snprintf(p, sizeof p, "down_blocks.%d.attentions.%lld", i, (long long)j);
                w_transformer(w, c, p, out, c->depth[i]);
            }
        for (int64_t j = 0; j < c->layers[i]; j++) {
            snprintf(p, sizeof p, "down_blocks.%d.resnets.%lld", i, (long long)j);
            w_resnet(w, c, p, j == 0 ? ch : out, out);
        }
        if (i < nb - 1) {
            snprintf(p, sizeof p, "down_blocks.%d.downsamplers.0.conv", i);
            w_conv(w, p, out, out, 3, hs[i + 1], ws[i + 1]);
        }
        ch = out;
    }
    /* up blocks (registered before the mid block in the state dict) */
    int64_t prev = c->block_out[nb - 1];
    for (int i = 0; i < nb; i++) {
        const int lvl = nb - 1 - i; /* level this up block runs at */
        const int64_t out = c->block_out[lvl], in = c->block_out[lvl > 0 ? lvl - 1 : 0];
        const int64_t nl = c->layers[lvl] + 1;
        w->H = hs[lvl];
        w->W = ws[lvl];
        if (c->up_attn[i])
            for (int64_t j = 0; j < nl; j++) {
                snprintf(p, sizeof p, "up_blocks.%d.attentions.%lld", i, (long long)j);
                w_transformer(w, c, p, out, c->depth[lvl]);
            }
        for (int64_t j = 0; j < nl; j++) {
            const int64_t skip = j == nl - 1 ? in : out, rin = j == 0 ? prev : out;
            snprintf(p, sizeof p, "up_blocks.%d.resnets.%lld", i, (long long)j);
            w_resnet(w, c, p, rin + skip, out);
        }
        if (i < nb - 1) {
            snprintf(p, sizeof p, "up_blocks.%d.upsamplers.0.conv", i);
            w_conv(w, p, out, out, 3, hs[lvl - 1], ws[lvl - 1]);
        }
        prev = out;
    }
    /* mid block: attentions then resnets */
    const int64_t cm = c->block_out[nb - 1];
    w->H = hs[nb - 1];
    w->W = ws[nb - 1];
    w_transformer(w, c, "mid_block.attentions.0", cm, c->depth[nb - 1]);
    w_resnet(w, c, "mid_block.resnets.0", cm, cm);
    w_resnet(w, c, "mid_block.resnets.1", cm, cm);
    w->H = H0;
    w->W = W0;
    w_norm(w, "conv_norm_out", c->block_out[0]);
    w_conv(w, "conv_out", c->out_channels, c->block_out[0], c->conv_out_k, H0, W0);
}

kc_status kc_unet_expected(const kc_unet_config *cfg, kc_expected_list *out, kc_err *err) {
    walker w = {.l = out, .err = err, .N = 1, .H = 8, .W = 8, .T = 1};
    walk(&w, cfg);
    return w.s;
}

int64_t kc_unet_param_count(const kc_unet_config *cfg) {
    walker w = {.N = 1, .H = 8, .W = 8, .T = 1};
    walk(&w, cfg);
    return w.params;
}

double kc_unet_flops(const kc_unet_config *cfg, int64_t N, int64_t H, int64_t W, int64_t T) {
    walker w = {.N = N, .H = H, .W = W, .T = T};
    walk(&w, cfg);
    return w.flops;
}
