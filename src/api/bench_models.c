/* bench_models.c — random-weight models and reduced configurations for the benchmarks
 * (bench_internal.h). Moved here from bench/random_weights.h and the bench executables so that
 * `kolors bench` and bench/bench_*.c share one implementation. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "api/bench_internal.h"
#include "core/checked.h"

void kc_bench_fill(kc_bench_rng *r, float *x, int64_t n, float scale) {
    for (int64_t i = 0; i < n; i++) x[i] = scale * kc_bench_urand(r);
}

static int ends_with(const char *s, const char *suffix) {
    const size_t n = strlen(s), k = strlen(suffix);
    return n >= k && !strcmp(s + n - k, suffix);
}

kc_status kc_bench_random_weights(const kc_expected_list *l, kc_dtype dt, int shared, const char *skip,
                                  kc_weights **out, double *bytes, kc_err *err) {
    *out = NULL;
    if (dt != KC_DTYPE_F16 && dt != KC_DTYPE_BF16)
        return kc_fail(err, KC_ERR_ARG, "random weights are F16 or BF16, not %s", kc_dtype_name(dt));
    int64_t total = 0, biggest = 0;
    for (int64_t i = 0; i < l->n; i++) {
        if (skip && ends_with(l->v[i].name, skip)) continue;
        int64_t n = 1;
        for (int d = 0; d < l->v[i].ndim; d++)
            if (!kc_i64_mul(n, l->v[i].shape[d], &n)) return kc_fail(err, KC_ERR_ARG, "%s: size overflows", l->v[i].name);
        if (!kc_i64_add(total, n, &total)) return kc_fail(err, KC_ERR_ARG, "random weights: total size overflows");
        if (n > biggest) biggest = n;
    }
    if (bytes) *bytes = (double)total * 2;
    uint16_t *buf = shared ? calloc((size_t)biggest + 1, sizeof(uint16_t)) : malloc((size_t)total * sizeof(uint16_t) + 2);
    if (!buf) return kc_fail(err, KC_ERR_NOMEM, "out of memory for %.2f GB of random weights", (double)total * 2e-9);
    kc_weights *ws = NULL;
    kc_status s = kc_weights_new(&ws, err);
    if (s) {
        free(buf);
        return s;
    }
    if ((s = kc_weights_add_source(ws, buf, free, err))) {
        kc_weights_free(ws);
        return s;
    }
    /* Packed tensors' pages may be released as a model file's would be (kc_weights_prepare):
     * the benchmarks run only the precision the packs were made for, which never reads the
     * originals of packed weights again. */
    if (!shared && (s = kc_weights_add_releasable(ws, buf, (uint64_t)total * sizeof(uint16_t), err))) {
        kc_weights_free(ws);
        return s;
    }
    kc_bench_rng r = {0x9E3779B97F4A7C15ull};
    int64_t off = 0;
    for (int64_t i = 0; i < l->n; i++) {
        const kc_expected *e = &l->v[i];
        if (skip && ends_with(e->name, skip)) continue;
        kc_tensor t = {.dtype = dt, .ndim = e->ndim, .data = shared ? buf : buf + off};
        int64_t n = 1, fan = 1;
        for (int d = 0; d < e->ndim; d++) {
            t.shape[d] = e->shape[d];
            n *= e->shape[d];
            if (d) fan *= e->shape[d];
        }
        const int is_bias = ends_with(e->name, ".bias");
        const float sc = e->ndim >= 2 ? (strstr(e->name, "embedding") && e->ndim == 2 ? 1.0f : sqrtf(3.0f / (float)fan))
                         : is_bias  ? 0.05f
                                    : 0.1f;
        const float base = e->ndim == 1 && !is_bias ? 1.0f : 0.0f;
        uint16_t tab[4096];
        for (int k = 0; k < 4096; k++) {
            const float v = base + sc * kc_bench_urand(&r);
            tab[k] = dt == KC_DTYPE_BF16 ? kc_f32_to_bf16(v) : kc_f32_to_f16(v);
        }
        for (int64_t k = 0; k < n && !shared; k++) buf[off + k] = tab[kc_bench_next(&r) >> 52];
        if ((s = kc_weights_add_entry(ws, e->name, &t, "(random, in memory)", err))) {
            kc_weights_free(ws);
            return s;
        }
        off += n;
    }
    *out = ws;
    return KC_OK;
}

kc_status kc_bench_unet_reduce(kc_unet_config *cfg, int64_t depth, int64_t div, kc_err *err) {
    if (depth < 0 || div < 1) return kc_fail(err, KC_ERR_ARG, "depth %lld / width divisor %lld out of range", (long long)depth, (long long)div);
    for (int i = 0; i < cfg->nblocks; i++) {
        if (depth && cfg->depth[i] > depth) cfg->depth[i] = depth;
        if (div == 1) continue;
        if (cfg->block_out[i] % div)
            return kc_fail(err, KC_ERR_ARG, "width divisor %lld does not divide the %lld channels of block %d",
                           (long long)div, (long long)cfg->block_out[i], i);
        cfg->block_out[i] /= div;
        if (cfg->block_out[i] % 64 == 0) cfg->heads[i] = cfg->block_out[i] / 64;
        else
            while (cfg->heads[i] > 1 && cfg->block_out[i] % cfg->heads[i]) cfg->heads[i]--;
        if (cfg->block_out[i] < cfg->groups || cfg->block_out[i] % cfg->groups)
            return kc_fail(err, KC_ERR_ARG, "width divisor %lld leaves %lld channels in block %d (groups of %lld)",
                           (long long)div, (long long)cfg->block_out[i], i, (long long)cfg->groups);
    }
    cfg->temb_in = cfg->block_out[0];
    cfg->temb_dim = 4 * cfg->block_out[0];
    return KC_OK;
}

int64_t kc_bench_unet_transformer_blocks(const kc_unet_config *cfg) {
    const int B = cfg->nblocks;
    int64_t n = cfg->depth[B - 1]; /* mid block (UNetMidBlock2DCrossAttn) */
    for (int i = 0; i < B; i++) {
        if (cfg->down_attn[i]) n += cfg->layers[i] * cfg->depth[i];
        /* up block i counts from the deepest: reversed depth, one more layer than the down block */
        if (cfg->up_attn[i]) n += (cfg->layers[B - 1 - i] + 1) * cfg->depth[B - 1 - i];
    }
    return n;
}

kc_status kc_bench_vae_reduce(kc_vae_config *cfg, int64_t div, kc_err *err) {
    if (div < 1) return kc_fail(err, KC_ERR_ARG, "width divisor %lld out of range", (long long)div);
    for (int i = 0; i < cfg->nblocks && div > 1; i++) {
        if (cfg->block_out[i] % div || (cfg->block_out[i] / div) % cfg->groups)
            return kc_fail(err, KC_ERR_ARG, "width divisor %lld leaves %lld channels in VAE block %d (groups of %lld)",
                           (long long)div, (long long)cfg->block_out[i] / div, i, (long long)cfg->groups);
        cfg->block_out[i] /= div;
    }
    return KC_OK;
}

void kc_bench_chatglm3_6b(kc_chatglm_config *c, int64_t layers, int64_t vocab) {
    *c = (kc_chatglm_config){.hidden = 4096, .layers = layers, .heads = 32, .head_dim = 128, .kv_groups = 2,
                             .ffn = 13696, .vocab = vocab, .seq_length = 32768, .eps = 1e-5f, .multi_query = 1,
                             .qkv_bias = 1, .post_layer_norm = 1};
    strcpy(c->torch_dtype, "float16");
}

kc_status kc_bench_unet_random(const kc_unet_config *cfg, kc_dtype dt, int shared, const kc_exec *pack_ex, kc_unet **out,
                               double *bytes, kc_err *err) {
    kc_expected_list l = {0};
    kc_weights *ws = NULL;
    *out = NULL;
    kc_status s = kc_unet_expected(cfg, &l, err);
    if (!s) s = kc_bench_random_weights(&l, dt, shared, NULL, &ws, bytes, err);
    kc_expected_free(&l);
    return s ? s : kc_unet_create(cfg, ws, pack_ex, out, err);
}

kc_status kc_bench_vae_random(const kc_vae_config *cfg, kc_dtype dt, const kc_exec *pack_ex, kc_vae **out, double *bytes,
                              kc_err *err) {
    kc_expected_list l = {0};
    kc_weights *ws = NULL;
    *out = NULL;
    kc_status s = kc_vae_expected(cfg, 0, &l, err);
    if (!s) s = kc_bench_random_weights(&l, dt, 0, NULL, &ws, bytes, err);
    kc_expected_free(&l);
    return s ? s : kc_vae_create(cfg, ws, pack_ex, out, err);
}

kc_status kc_bench_chatglm_random(const kc_chatglm_config *cfg, kc_dtype dt, kc_chatglm *g, kc_weights **ws,
                                  double *bytes, kc_err *err) {
    kc_expected_list l = {0};
    *ws = NULL;
    kc_status s = kc_chatglm_expected(cfg, "", &l, err);
    if (!s) s = kc_bench_random_weights(&l, dt, 0, "output_layer.weight", ws, bytes, err);
    kc_expected_free(&l);
    if (!s && (s = kc_chatglm_bind(g, cfg, *ws, err))) {
        kc_weights_free(*ws);
        *ws = NULL;
    }
    return s;
}
