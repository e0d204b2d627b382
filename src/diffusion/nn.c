/* nn.c — see nn.h. Mirrors diffusers ResnetBlock2D / Downsample2D / Upsample2D. */
#include "diffusion/nn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int kc_nn_is_fp32_layer(const char *name) {
    static const char *const frag[] = {"conv_in.", "conv_out.", "conv_shortcut.", "downsamplers.", "quant_conv.",
                                       "post_quant_conv."};
    for (size_t i = 0; i < sizeof frag / sizeof frag[0]; i++)
        for (const char *p = strstr(name, frag[i]); p; p = strstr(p + 1, frag[i]))
            if (p == name || p[-1] == '.') return 1; /* whole path components only */
    return 0;
}

kc_status kc_layer_bind(kc_layer *l, const kc_weights *ws, const char *prefix, int ndim, const int64_t *shape,
                        int has_bias, kc_err *err) {
    memset(l, 0, sizeof *l);
    kc_status s = kc_weights_bindf(ws, &l->weight, err, ndim, shape, "%s.weight", prefix);
    char comp[512];
    snprintf(comp, sizeof comp, "%s.", prefix);
    l->fp32 = kc_nn_is_fp32_layer(comp);
    if (s || !has_bias) return s;
    return kc_weights_bindf(ws, &l->bias, err, 1, shape, "%s.bias", prefix);
}

kc_status kc_conv_bind(kc_layer *l, const kc_weights *ws, const char *prefix, int64_t cout, int64_t cin, int64_t k,
                       kc_err *err) {
    int64_t shape[4] = {cout, cin, k, k};
    return kc_layer_bind(l, ws, prefix, 4, shape, 1, err);
}

kc_status kc_linear_bind(kc_layer *l, const kc_weights *ws, const char *prefix, int64_t out, int64_t in, int has_bias,
                         kc_err *err) {
    int64_t shape[2] = {out, in};
    return kc_layer_bind(l, ws, prefix, 2, shape, has_bias, err);
}

kc_status kc_norm_bind(kc_norm *n, const kc_weights *ws, const char *prefix, int64_t C, kc_err *err) {
    kc_status s = kc_weights_bindf(ws, &n->weight, err, 1, &C, "%s.weight", prefix);
    if (s) return s;
    return kc_weights_bindf(ws, &n->bias, err, 1, &C, "%s.bias", prefix);
}

kc_status kc_conv_same(const kc_exec *ex, const kc_layer *l, const float *x, int64_t N, int64_t H, int64_t W,
                       int64_t Cin, float *y, int accumulate, kc_arena *scratch, kc_err *err) {
    int pad = (int)(l->weight.shape[2] / 2);
    kc_conv_params p = {1, pad, pad, pad, pad};
    kc_exec x32;
    return kc_op_conv2d(kc_nn_layer_exec(ex, l, &x32), x, N, H, W, Cin, &l->weight, kc_layer_bias(l), &p, y, NULL, NULL,
                        accumulate, scratch, err);
}

kc_status kc_resnet_bind(kc_resnet *r, const kc_weights *ws, const char *prefix, int64_t cin, int64_t cout,
                         int64_t temb_dim, int64_t groups, float eps, kc_err *err) {
    char p[512];
    kc_status s;
    memset(r, 0, sizeof *r);
    r->cin = cin;
    r->cout = cout;
    r->temb_dim = temb_dim;
    r->groups = groups;
    r->eps = eps;
    r->has_shortcut = cin != cout;
    snprintf(p, sizeof p, "%s.norm1", prefix);
    if ((s = kc_norm_bind(&r->norm1, ws, p, cin, err))) return s;
    snprintf(p, sizeof p, "%s.conv1", prefix);
    if ((s = kc_conv_bind(&r->conv1, ws, p, cout, cin, 3, err))) return s;
    if (temb_dim > 0) {
        snprintf(p, sizeof p, "%s.time_emb_proj", prefix);
        if ((s = kc_linear_bind(&r->time_emb_proj, ws, p, cout, temb_dim, 1, err))) return s;
    }
    snprintf(p, sizeof p, "%s.norm2", prefix);
    if ((s = kc_norm_bind(&r->norm2, ws, p, cout, err))) return s;
    snprintf(p, sizeof p, "%s.conv2", prefix);
    if ((s = kc_conv_bind(&r->conv2, ws, p, cout, cout, 3, err))) return s;
    if (r->has_shortcut) {
        snprintf(p, sizeof p, "%s.conv_shortcut", prefix);
        if ((s = kc_conv_bind(&r->conv_shortcut, ws, p, cout, cin, 1, err))) return s;
    }
    return KC_OK;
}

int64_t kc_resnet_scratch_floats(const kc_resnet *r, int64_t N, int64_t S) {
    /* normalised input [N,S,Cin] + hidden [N,S,Cout] + temb projection [N,Cout]. Conv scratch
     * (im2col) comes after these in the same arena; callers size it separately. */
    return N * S * r->cin + N * S * r->cout + N * r->cout + 64;
}

kc_status kc_gn_seq_norm(const kc_exec *ex, kc_gn_seq *seq, const float *x, float *y, int64_t H, int64_t W, int64_t C,
                         int64_t G, float eps, const kc_norm *nrm, int silu, kc_err *err) {
    if (!seq) return kc_op_group_norm(ex, x, y, 1, H * W, C, G, eps, &nrm->weight, &nrm->bias, silu, err);
    if (seq->k >= seq->nslots || G != seq->G)
        return kc_fail(err, KC_ERR_ARG, "group_norm statistics slot %d of %d (groups %lld, slots hold %lld)", seq->k,
                       seq->nslots, (long long)G, (long long)seq->G);
    const int64_t o = (int64_t)seq->k * G;
    const int use = seq->mean && seq->rstd && (!seq->use || seq->use[seq->k]);
    kc_gn_tile t = {seq->record ? seq->record + o : NULL, W, seq->y0, seq->y1, seq->x0, seq->x1,
                    use ? seq->mean + o : NULL, use ? seq->rstd + o : NULL};
    seq->k++;
    return kc_op_group_norm_tile(ex, x, y, 1, H * W, C, G, eps, &nrm->weight, &nrm->bias, silu, &t, err);
}

kc_status kc_resnet_forward(const kc_exec *ex, const kc_resnet *r, const float *x, int64_t N, int64_t H, int64_t W,
                            const float *temb_silu, float *out, kc_arena *scratch, kc_err *err) {
    return kc_resnet_forward_gn(ex, r, x, N, H, W, temb_silu, out, scratch, NULL, err);
}

/* GroupNorm of x [N, H, W, C] for a resnet: plain, or through seq (N == 1). */
static kc_status resnet_norm(const kc_exec *ex, const kc_resnet *r, kc_gn_seq *seq, const float *x, float *y, int64_t N,
                             int64_t H, int64_t W, int64_t C, const kc_norm *nrm, kc_err *err) {
    if (!seq) return kc_op_group_norm(ex, x, y, N, H * W, C, r->groups, r->eps, &nrm->weight, &nrm->bias, 1, err);
    if (N != 1) return kc_fail(err, KC_ERR_ARG, "resnet: tiled GroupNorm statistics need batch 1, got %lld", (long long)N);
    return kc_gn_seq_norm(ex, seq, x, y, H, W, C, r->groups, r->eps, nrm, 1, err);
}

kc_status kc_resnet_forward_gn(const kc_exec *ex, const kc_resnet *r, const float *x, int64_t N, int64_t H, int64_t W,
                               const float *temb_silu, float *out, kc_arena *scratch, kc_gn_seq *seq, kc_err *err) {
    const int64_t S = H * W, cin = r->cin, cout = r->cout;
    size_t mark = kc_arena_mark(scratch);
    kc_status s = KC_OK;
    float *t = kc_arena_floats(scratch, (size_t)(N * S * cin), err);
    float *h = kc_arena_floats(scratch, (size_t)(N * S * cout), err);
    if (!t || !h) { s = KC_ERR_NOMEM; goto done; }

    if ((s = resnet_norm(ex, r, seq, x, t, N, H, W, cin, &r->norm1, err))) goto done;
    if ((s = kc_conv_same(ex, &r->conv1, t, N, H, W, cin, h, 0, scratch, err))) goto done;
    if (r->temb_dim > 0) {
        float *tp = kc_arena_floats(scratch, (size_t)(N * cout), err);
        if (!tp) { s = KC_ERR_NOMEM; goto done; }
        if ((s = kc_op_linear(ex, temb_silu, N, r->temb_dim, &r->time_emb_proj.weight, kc_layer_bias(&r->time_emb_proj),
                              tp, 0, err)))
            goto done;
        for (int64_t n = 0; n < N; n++)
            for (int64_t i = 0; i < S; i++) {
                float *hp = h + (n * S + i) * cout;
                const float *b = tp + n * cout;
                for (int64_t c = 0; c < cout; c++) hp[c] += b[c];
            }
    }
    if ((s = resnet_norm(ex, r, seq, h, h, N, H, W, cout, &r->norm2, err))) goto done;
    if ((s = kc_conv_same(ex, &r->conv2, h, N, H, W, cout, out, 0, scratch, err))) goto done;
    if (r->has_shortcut) {
        kc_exec x32;
        s = kc_op_linear(kc_nn_layer_exec(ex, &r->conv_shortcut, &x32), x, N * S, cin, &r->conv_shortcut.weight,
                         kc_layer_bias(&r->conv_shortcut), out, 1, err);
    } else {
        kc_op_add(ex, out, out, x, N * S * cout);
    }
done:
    kc_arena_rewind(scratch, mark);
    return s;
}

kc_status kc_downsample_bind(kc_downsample *d, const kc_weights *ws, const char *prefix, int64_t C, int vae_padding,
                             kc_err *err) {
    char p[512];
    snprintf(p, sizeof p, "%s.conv", prefix);
    d->C = C;
    d->vae_padding = vae_padding;
    return kc_conv_bind(&d->conv, ws, p, C, C, 3, err);
}

void kc_downsample_out_size(const kc_downsample *d, int64_t H, int64_t W, int64_t *Ho, int64_t *Wo) {
    if (d->vae_padding) { *Ho = (H + 1 - 3) / 2 + 1; *Wo = (W + 1 - 3) / 2 + 1; }
    else { *Ho = (H + 2 - 3) / 2 + 1; *Wo = (W + 2 - 3) / 2 + 1; }
}

kc_status kc_downsample_forward(const kc_exec *ex, const kc_downsample *d, const float *x, int64_t N, int64_t H,
                                int64_t W, float *y, kc_arena *scratch, kc_err *err) {
    kc_conv_params p = d->vae_padding ? (kc_conv_params){2, 0, 0, 1, 1} : (kc_conv_params){2, 1, 1, 1, 1};
    kc_exec x32;
    return kc_op_conv2d(kc_nn_layer_exec(ex, &d->conv, &x32), x, N, H, W, d->C, &d->conv.weight, kc_layer_bias(&d->conv),
                        &p, y, NULL, NULL, 0, scratch, err);
}

kc_status kc_upsample_bind(kc_upsample *u, const kc_weights *ws, const char *prefix, int64_t C, kc_err *err) {
    char p[512];
    snprintf(p, sizeof p, "%s.conv", prefix);
    u->C = C;
    return kc_conv_bind(&u->conv, ws, p, C, C, 3, err);
}

kc_status kc_upsample_forward(const kc_exec *ex, const kc_upsample *u, const float *x, int64_t N, int64_t H,
                              int64_t W, int64_t Ho, int64_t Wo, float *y, kc_arena *scratch, kc_err *err) {
    size_t mark = kc_arena_mark(scratch);
    float *t = kc_arena_floats(scratch, (size_t)(N * Ho * Wo * u->C), err);
    if (!t) return KC_ERR_NOMEM;
    kc_op_upsample_nearest(ex, t, x, N, H, W, u->C, Ho, Wo);
    kc_status s = kc_conv_same(ex, &u->conv, t, N, Ho, Wo, u->C, y, 0, scratch, err);
    kc_arena_rewind(scratch, mark);
    return s;
}

typedef struct {
    const kc_exec *ex;
    const char *const *skip;    /* name fragments of layers left unpacked */
    const kc_expected **sorted; /* by name */
    int64_t n;
} expected_filter;

static int cmp_expected(const void *a, const void *b) {
    return strcmp((*(const kc_expected *const *)a)->name, (*(const kc_expected *const *)b)->name);
}

/* 1 when the config expects `name` with exactly t's shape. */
static int is_expected(void *user, const char *name, const kc_tensor *t) {
    const expected_filter *f = user;
    const kc_expected key = {.name = (char *)name}, *kp = &key;
    const kc_expected *const *hit = bsearch(&kp, f->sorted, (size_t)f->n, sizeof *f->sorted, cmp_expected);
    if (!hit || (*hit)->ndim != t->ndim) return 0;
    for (int d = 0; d < t->ndim; d++)
        if ((*hit)->shape[d] != t->shape[d]) return 0;
    return 1;
}

static kc_status prepack_if_expected(void *user, const char *name, kc_tensor *t, void **owned, size_t *bytes,
                                     kc_err *err) {
    const expected_filter *f = user;
    *owned = NULL;
    *bytes = 0;
    if (!is_expected(user, name, t) || kc_nn_is_fp32_layer(name)) return KC_OK;
    for (const char *const *k = f->skip; k && *k; k++)
        if (strstr(name, *k)) return KC_OK;
    return kc_op_prepack(f->ex, t, owned, bytes, err);
}

kc_status kc_nn_prepack_expected(kc_weights *ws, const kc_exec *ex, const kc_expected_list *exp, const char *const *skip,
                                 size_t *bytes, kc_err *err) {
    expected_filter f = {ex, skip, malloc((size_t)(exp->n ? exp->n : 1) * sizeof *f.sorted), exp->n};
    if (!f.sorted) return kc_fail(err, KC_ERR_NOMEM, "out of memory");
    for (int64_t i = 0; i < exp->n; i++) f.sorted[i] = &exp->v[i];
    qsort(f.sorted, (size_t)f.n, sizeof *f.sorted, cmp_expected);
    size_t packed = 0;
    kc_status s = kc_weights_prepare(ws, prepack_if_expected, kc_op_prepack_free, &f, &packed, err);
    if (!s && packed) s = kc_weights_detach_files(ws, is_expected, &f, err);
    if (bytes) *bytes = packed;
    free(f.sorted);
    return s;
}
