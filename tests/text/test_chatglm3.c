/* test_chatglm3.c — the ChatGLM3 text encoder (src/text/chatglm3.c) against the upstream
 * goldens of tiny-kolors-a (testdata/README.md §3), in both checkpoint layouts; batching; the
 * kolors-model.md §9 invariants; the expected-tensor list vs the real checkpoint's 200 names;
 * config refusals and shape errors. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "harness.h"
#include "io/json.h"
#include "text/chatglm3.h"

/* Golden tolerance: fp32 with another summation order; upstream fp32 vs fp64 differs by
 * 1.8e-6 at worst (README §6), so 1e-4 leaves room for fused multiply-adds and other exp/sin. */
#define TOL_GOLDEN 1e-4
/* Batch vs single runs, padded vs unpadded rows, pad rows vs each other: every output element is
 * computed from the same operands in the same order, so these agree to the last bit today; the
 * small slack allows a future kernel that blocks rows differently. */
#define TOL_SAME 1e-6

#define T_TOK 256
#define NPROMPTS 4

typedef struct {
    int64_t L, N, T, H;
    float *hs; /* [L+1][N*T*H] */
    int seen;
} taps;

static void on_tap(const char *name, const float *data, int ndim, const int64_t *shape, void *user) {
    taps *tp = user;
    const char *pre = "te.hidden_states.";
    if (strncmp(name, pre, strlen(pre)) != 0 || ndim != 3) return;
    int i = atoi(name + strlen(pre));
    if (i < 0 || i > tp->L || shape[0] != tp->N || shape[1] != tp->T || shape[2] != tp->H) return;
    memcpy(tp->hs + (size_t)i * (size_t)(tp->N * tp->T * tp->H), data, (size_t)(tp->N * tp->T * tp->H) * sizeof(float));
    tp->seen |= 1 << i;
}

typedef struct {
    int32_t ids[T_TOK], mask[T_TOK], pos[T_TOK];
} prompt_in;

static void load_ids(const kc_safetensors *st, const char *name, int32_t *dst) {
    int64_t n;
    float *f = kc_golden_f32(st, name, &n, NULL, NULL);
    KC_CHECK(n == T_TOK, "%s has %lld values", name, (long long)n);
    for (int64_t i = 0; i < T_TOK && i < n; i++) dst[i] = (int32_t)f[i];
    free(f);
}

static kc_status run(const kc_exec *ex, const kc_chatglm *g, int64_t N, int64_t T, const int32_t *ids,
                     const int32_t *mask, const int32_t *pos, kc_chatglm_output *out, kc_err *err) {
    kc_arena ar;
    size_t bytes = kc_chatglm_arena_bytes(&g->cfg, N, T);
    kc_status s = kc_arena_init(&ar, "text", bytes, err);
    if (s) return s;
    kc_chatglm_input in = {N, T, ids, mask, pos};
    s = kc_chatglm_forward(ex, g, &in, out, &ar, err);
    /* the arena is sized exactly enough: nothing is left allocated and nothing overflowed */
    KC_CHECK(ar.used == 0 && ar.high_water <= bytes, "arena used %zu high water %zu of %zu", ar.used, ar.high_water,
             bytes);
    kc_arena_free(&ar);
    return s;
}

/* Compares out[n] with golden "p<p>.<key>". */
static void cmp_golden(const kc_safetensors *st, const char *layout, int p, const char *key, const float *out,
                       int64_t n) {
    char nm[128], what[160];
    int64_t got;
    snprintf(nm, sizeof nm, "p%d.%s", p, key);
    snprintf(what, sizeof what, "%s %s", layout, nm);
    float *ref = kc_golden_f32(st, nm, &got, NULL, NULL);
    KC_CHECK(got == n && check_close(what, out, ref, n, TOL_GOLDEN), "%s", what);
    free(ref);
}

/* Golden comparison of one layout: taps, outputs, §9 (b) and (c), the last-row shortcut. */
static void check_goldens(const char *layout, const kc_exec *ex, const kc_chatglm *g, const kc_safetensors *st,
                          const prompt_in *pin) {
    const int64_t H = g->cfg.hidden, L = g->cfg.layers, TH = T_TOK * H;
    char nm[128], what[160];
    for (int p = 0; p < NPROMPTS; p++) {
        taps tp = {L, 1, T_TOK, H, malloc((size_t)((L + 1) * TH) * sizeof(float)), 0};
        float *pe = malloc((size_t)TH * sizeof(float)), *pooled = malloc((size_t)H * sizeof(float)),
              *last = malloc((size_t)TH * sizeof(float)), *pooled2 = malloc((size_t)H * sizeof(float)),
              *pe2 = malloc((size_t)TH * sizeof(float));
        kc_chatglm_output out = {pe, pooled, last, on_tap, &tp, "te."};
        kc_err err = {0};
        kc_status s = run(ex, g, 1, T_TOK, pin[p].ids, pin[p].mask, pin[p].pos, &out, &err);
        KC_CHECK(s == KC_OK, "%s p%d forward: %s", layout, p, err.msg);
        KC_CHECK(tp.seen == (1 << (L + 1)) - 1, "%s p%d: taps seen mask %x", layout, p, tp.seen);

        int64_t n;
        snprintf(nm, sizeof nm, "p%d.hidden_states", p);
        float *ref = kc_golden_f32(st, nm, &n, NULL, NULL);
        KC_CHECK(n == (L + 1) * TH, "%s has %lld values", nm, (long long)n);
        for (int64_t i = 0; i <= L && n == (L + 1) * TH; i++) {
            snprintf(what, sizeof what, "%s p%d hidden_states[%lld]", layout, p, (long long)i);
            KC_CHECK(check_close(what, tp.hs + i * TH, ref + i * TH, TH, TOL_GOLDEN), "%s", what);
        }
        /* §9 (c): pooled is the last layer's output at position 255, not normalised */
        snprintf(what, sizeof what, "%s p%d pooled == hidden_states[L][255]", layout, p);
        KC_CHECK(check_close(what, pooled, tp.hs + L * TH + (T_TOK - 1) * H, H, 0.0), "%s", what);
        /* §9 (b): all padding rows of every layer are equal */
        int64_t P = 0;
        while (P < T_TOK && pin[p].mask[P] == 0) P++;
        for (int64_t i = 0; i <= L && P > 1; i++)
            for (int64_t r = 1; r < P; r++) {
                const float *a = tp.hs + i * TH, *b = a + r * H;
                kc_cmp c = kc_compare(b, a, H);
                if (c.rel_l2 > TOL_SAME || c.nonfinite) {
                    KC_CHECK(0, "%s p%d layer %lld: pad row %lld differs from pad row 0 (rel %g)", layout, p,
                             (long long)i, (long long)r, c.rel_l2);
                    break;
                }
                if (r == P - 1) KC_CHECK(1, "pad rows");
            }
        free(ref);

        cmp_golden(st, layout, p, "prompt_embeds", pe, TH);
        cmp_golden(st, layout, p, "pooled_prompt_embeds", pooled, H);
        cmp_golden(st, layout, p, "last_hidden_state", last, TH);
        /* the last-row shortcut (no taps, no last_hidden) gives the same outputs */
        kc_chatglm_output out2 = {pe2, pooled2, NULL, NULL, NULL, NULL};
        s = run(ex, g, 1, T_TOK, pin[p].ids, pin[p].mask, pin[p].pos, &out2, &err);
        KC_CHECK(s == KC_OK, "%s p%d shortcut forward: %s", layout, p, err.msg);
        snprintf(what, sizeof what, "%s p%d shortcut vs full pooled", layout, p);
        KC_CHECK(check_close(what, pooled2, pooled, H, TOL_SAME), "%s", what);
        KC_CHECK(memcmp(pe2, pe, (size_t)TH * sizeof(float)) == 0, "%s p%d prompt_embeds differ with the shortcut",
                 layout, p);
        free(tp.hs); free(pe); free(pooled); free(last); free(pooled2); free(pe2);
    }
}

/* Cond and uncond prompts run as one batch: every row equals its single run. */
static void check_batch(const kc_exec *ex, const kc_chatglm *g, const prompt_in *pin) {
    const int64_t H = g->cfg.hidden, TH = T_TOK * H, N = NPROMPTS;
    int32_t *ids = malloc(sizeof(int32_t) * N * T_TOK), *mask = malloc(sizeof(int32_t) * N * T_TOK),
            *pos = malloc(sizeof(int32_t) * N * T_TOK);
    /* an order different from the goldens', so a row mix-up cannot pass */
    static const int order[NPROMPTS] = {2, 0, 3, 1};
    for (int64_t b = 0; b < N; b++) {
        memcpy(ids + b * T_TOK, pin[order[b]].ids, sizeof pin->ids);
        memcpy(mask + b * T_TOK, pin[order[b]].mask, sizeof pin->mask);
        memcpy(pos + b * T_TOK, pin[order[b]].pos, sizeof pin->pos);
    }
    float *pe = malloc((size_t)(N * TH) * sizeof(float)), *pooled = malloc((size_t)(N * H) * sizeof(float));
    float *pe1 = malloc((size_t)TH * sizeof(float)), *pooled1 = malloc((size_t)H * sizeof(float));
    kc_chatglm_output out = {pe, pooled, NULL, NULL, NULL, NULL};
    kc_err err = {0};
    KC_CHECK(run(ex, g, N, T_TOK, ids, mask, pos, &out, &err) == KC_OK, "batch forward: %s", err.msg);
    for (int64_t b = 0; b < N; b++) {
        const prompt_in *q = &pin[order[b]];
        kc_chatglm_output o1 = {pe1, pooled1, NULL, NULL, NULL, NULL};
        KC_CHECK(run(ex, g, 1, T_TOK, q->ids, q->mask, q->pos, &o1, &err) == KC_OK, "single: %s", err.msg);
        char what[96];
        snprintf(what, sizeof what, "batch row %lld (p%d) prompt_embeds", (long long)b, order[b]);
        KC_CHECK(check_close(what, pe + b * TH, pe1, TH, TOL_SAME), "%s", what);
        snprintf(what, sizeof what, "batch row %lld (p%d) pooled", (long long)b, order[b]);
        KC_CHECK(check_close(what, pooled + b * H, pooled1, H, TOL_SAME), "%s", what);
    }
    free(ids); free(mask); free(pos); free(pe); free(pooled); free(pe1); free(pooled1);
}

/* §9 (a): rows P..255 of a padded run equal an unpadded run of the n real tokens; also checks
 * that NULL mask / NULL positions mean "no padding" and "0..n-1". */
static void check_unpadded(const kc_exec *ex, const kc_chatglm *g, const prompt_in *p0) {
    const int64_t H = g->cfg.hidden, L = g->cfg.layers;
    int64_t P = 0;
    while (P < T_TOK && p0->mask[P] == 0) P++;
    const int64_t n = T_TOK - P;
    KC_CHECK(P > 0 && n > 2, "p0 should be padded (P = %lld)", (long long)P);
    taps full = {L, 1, T_TOK, H, malloc((size_t)((L + 1) * T_TOK * H) * sizeof(float)), 0};
    taps part = {L, 1, n, H, malloc((size_t)((L + 1) * n * H) * sizeof(float)), 0};
    kc_chatglm_output o1 = {NULL, NULL, NULL, on_tap, &full, "te."}, o2 = {NULL, NULL, NULL, on_tap, &part, "te."};
    kc_err err = {0};
    KC_CHECK(run(ex, g, 1, T_TOK, p0->ids, p0->mask, p0->pos, &o1, &err) == KC_OK, "%s", err.msg);
    KC_CHECK(run(ex, g, 1, n, p0->ids + P, NULL, NULL, &o2, &err) == KC_OK, "%s", err.msg);
    for (int64_t i = 0; i <= L; i++) {
        char what[96];
        snprintf(what, sizeof what, "padded rows vs unpadded run, hidden_states[%lld]", (long long)i);
        KC_CHECK(check_close(what, full.hs + (i * T_TOK + P) * H, part.hs + i * n * H, n * H, TOL_SAME), "%s", what);
    }
    free(full.hs);
    free(part.hs);
}

/* §9: RoPE θ_i = 10000^(-2i/64); at position 255 pair 0 turns by 255 rad and pair 31 by
 * 0.0340053 rad; dims 64..127 of each head pass through; pairs are interleaved (2i, 2i+1). */
static void check_rope(const kc_exec *ex) {
    enum { NH = 2, D = 128 };
    float x[2][NH * D];
    int32_t pos[2] = {255, 0};
    for (int r = 0; r < 2; r++)
        for (int i = 0; i < NH * D; i++) x[r][i] = (i % 2 == 0) ? 1.0f : 0.5f; /* pairs (1, 0.5) */
    kc_err err = {0};
    KC_CHECK(kc_op_rope_interleaved(ex, &x[0][0], 2, NH * D, NH, D, D / 2, pos, 10000.0f, &err) == KC_OK, "%s", err.msg);
    int bad = 0;
    for (int h = 0; h < NH; h++)
        for (int i = 0; i < D / 2; i++) {
            const float *v = &x[0][h * D + 2 * i];
            if (2 * i >= D / 2) { bad += v[0] != 1.0f || v[1] != 0.5f; continue; } /* pass-through half */
            double th = pow(10000.0, -2.0 * i / 64.0), a = 255.0 * th;
            if (i == 31) KC_CHECK(fabs(a - 0.0340053) < 1e-6, "pair 31 angle %.7f", a);
            double e0 = cos(a) - 0.5 * sin(a), e1 = 0.5 * cos(a) + sin(a);
            /* fp32 angle: 255·θ carries ~255·6e-8 rad of rounding */
            bad += fabs(v[0] - e0) > 3e-5 || fabs(v[1] - e1) > 3e-5;
        }
    KC_CHECK(bad == 0, "rope at position 255: %d values off", bad);
    for (int i = 0; i < NH * D; i++) bad += x[1][i] != ((i % 2 == 0) ? 1.0f : 0.5f);
    KC_CHECK(bad == 0, "rope at position 0 is not the identity");
}

/* Prefix-less names (a bare ChatGLMModel state dict, §1.7.1) bind and give the same result. */
static void check_bare_names(const kc_exec *ex, const kc_chatglm *g, const kc_safetensors *st, const prompt_in *p) {
    kc_weights *bare = NULL;
    kc_err err = {0};
    KC_CHECK(kc_weights_new(&bare, &err) == KC_OK, "%s", err.msg);
    const char *pre = "transformer.";
    for (int64_t i = 0; i < kc_weights_count(g->ws); i++) {
        const kc_weight_entry *e = kc_weights_entry(g->ws, i);
        const char *nm = strncmp(e->name, pre, strlen(pre)) ? e->name : e->name + strlen(pre);
        KC_CHECK(kc_weights_add_entry(bare, nm, &e->t, e->file, &err) == KC_OK, "%s", err.msg);
    }
    kc_chatglm b;
    KC_CHECK(kc_chatglm_bind(&b, &g->cfg, bare, &err) == KC_OK && !strcmp(b.prefix, ""), "bare bind: %s", err.msg);
    float *pooled = malloc((size_t)g->cfg.hidden * sizeof(float));
    kc_chatglm_output out = {NULL, pooled, NULL, NULL, NULL, NULL};
    KC_CHECK(run(ex, &b, 1, T_TOK, p->ids, p->mask, p->pos, &out, &err) == KC_OK, "%s", err.msg);
    cmp_golden(st, "bare names", 1, "pooled_prompt_embeds", pooled, g->cfg.hidden);
    free(pooled);
    kc_chatglm_free(&b);
    kc_weights_free(bare);
}

static void check_expected_list(const kc_chatglm_config *tiny) {
    const char *path = kc_test_data("real_layout/kolors_real_layout.json");
    kc_test_require_file(path);
    cJSON *root = NULL;
    kc_err err = {0};
    KC_CHECK(kc_json_load(path, &root, &err) == KC_OK, "%s", err.msg);
    if (!root) return;
    const cJSON *te = cJSON_GetObjectItemCaseSensitive(root, "text_encoder");
    const cJSON *cfgj = cJSON_GetObjectItemCaseSensitive(te, "config");
    const cJSON *names = cJSON_GetObjectItemCaseSensitive(te, "checkpoint_names");
    kc_chatglm_config c;
    KC_CHECK(kc_chatglm_config_parse(cfgj, "real config", &c, &err) == KC_OK, "%s", err.msg);
    KC_CHECK(c.hidden == 4096 && c.layers == 28 && c.heads == 32 && c.head_dim == 128 && c.kv_groups == 2 &&
             c.ffn == 13696 && c.vocab == 65024 && c.qkv_bias && c.post_layer_norm && c.eps == 1e-5f,
             "real config parsed wrongly");
    KC_CHECK(kc_chatglm_qkv_width(&c) == 4608, "qkv width %lld", (long long)kc_chatglm_qkv_width(&c));
    kc_expected_list l = {0};
    KC_CHECK(kc_chatglm_expected(&c, "transformer.", &l, &err) == KC_OK, "%s", err.msg);
    KC_CHECK(cJSON_IsArray(names) && cJSON_GetArraySize(names) == 200 && l.n == 200, "%lld expected, %d in json",
             (long long)l.n, cJSON_GetArraySize(names));
    int64_t i = 0, bad = 0, params = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, names) {
        const cJSON *nm = cJSON_GetObjectItemCaseSensitive(it, "name"), *sh = cJSON_GetObjectItemCaseSensitive(it, "shape");
        int ok = i < l.n && cJSON_IsString(nm) && !strcmp(nm->valuestring, l.v[i].name) &&
                 cJSON_GetArraySize(sh) == l.v[i].ndim;
        int64_t pc = 1;
        for (int d = 0; ok && d < l.v[i].ndim; d++) {
            ok = (int64_t)cJSON_GetArrayItem(sh, d)->valuedouble == l.v[i].shape[d];
            pc *= l.v[i].shape[d];
        }
        params += ok ? pc : 0;
        if (!ok && bad++ < 5) printf("  mismatch at %lld: json %s, ours %s\n", (long long)i, nm ? nm->valuestring : "?",
                                     i < l.n ? l.v[i].name : "(none)");
        i++;
    }
    KC_CHECK(bad == 0, "%lld names/shapes differ from the real checkpoint", (long long)bad);
    /* §9: 6 243 584 032 parameters including inv_freq */
    KC_CHECK(params == 6243584032LL, "parameter count %lld", (long long)params);
    kc_expected_free(&l);
    /* prefix-less names (bare ChatGLMModel state dict) */
    KC_CHECK(kc_chatglm_expected(tiny, "", &l, &err) == KC_OK && l.n == 25 &&
             !strcmp(l.v[0].name, "embedding.word_embeddings.weight"), "tiny bare list: %lld", (long long)l.n);
    kc_expected_free(&l);
    cJSON_Delete(root);
}

/* Each unsupported config value is refused with KC_ERR_UNSUPPORTED naming the key. */
static void check_bad_configs(const char *cfg_path) {
    static const struct {
        const char *key, *json;
        kc_status code;
    } cases[] = {
        {"rmsnorm", "false", KC_ERR_UNSUPPORTED},
        {"original_rope", "false", KC_ERR_UNSUPPORTED},
        {"add_bias_linear", "true", KC_ERR_UNSUPPORTED},
        {"apply_residual_connection_post_layernorm", "true", KC_ERR_UNSUPPORTED},
        {"quantization_bit", "4", KC_ERR_UNSUPPORTED},
        {"pre_seq_len", "128", KC_ERR_UNSUPPORTED},
        {"rope_ratio", "50", KC_ERR_UNSUPPORTED},
        {"model_type", "\"llama\"", KC_ERR_UNSUPPORTED},
        {"kv_channels", "18", KC_ERR_UNSUPPORTED},
        {"multi_query_group_num", "3", KC_ERR_FORMAT},
        {"hidden_size", "\"64\"", KC_ERR_FORMAT},
        {"num_layers", "0", KC_ERR_UNSUPPORTED}, /* kc_json_int: outside the supported range */
        {"layernorm_epsilon", "-1", KC_ERR_FORMAT},
        {"padded_vocab_size", NULL, KC_ERR_FORMAT}, /* NULL: key removed */
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        cJSON *root = NULL;
        kc_err err = {0};
        KC_CHECK(kc_json_load(cfg_path, &root, &err) == KC_OK, "%s", err.msg);
        if (!root) return;
        if (cases[i].json) {
            cJSON *v = cJSON_Parse(cases[i].json);
            if (cJSON_HasObjectItem(root, cases[i].key)) cJSON_ReplaceItemInObjectCaseSensitive(root, cases[i].key, v);
            else cJSON_AddItemToObject(root, cases[i].key, v);
        } else {
            cJSON_DeleteItemFromObjectCaseSensitive(root, cases[i].key);
        }
        kc_chatglm_config c;
        kc_status s = kc_chatglm_config_parse(root, "config.json", &c, &err);
        KC_CHECK(s == cases[i].code && strstr(err.msg, cases[i].key), "%s=%s: got %s \"%s\"", cases[i].key,
                 cases[i].json ? cases[i].json : "(absent)", kc_status_name(s), err.msg);
        cJSON_Delete(root);
    }
    /* the values a ChatGLM3 config may legitimately vary are accepted */
    cJSON *root = NULL;
    kc_err err = {0};
    kc_json_load(cfg_path, &root, &err);
    cJSON_ReplaceItemInObjectCaseSensitive(root, "torch_dtype", cJSON_CreateString("bfloat16"));
    cJSON_ReplaceItemInObjectCaseSensitive(root, "multi_query_attention", cJSON_CreateFalse());
    cJSON_ReplaceItemInObjectCaseSensitive(root, "apply_query_key_layer_scaling", cJSON_CreateFalse());
    kc_chatglm_config c;
    KC_CHECK(kc_chatglm_config_parse(root, "config.json", &c, &err) == KC_OK && c.kv_groups == c.heads &&
             !strcmp(c.torch_dtype, "bfloat16"), "variant config refused: %s", err.msg);
    cJSON_Delete(root);
}

/* A config that disagrees with the weights gives a shape error naming the tensor. */
static void check_bad_shapes(const kc_chatglm_config *cfg, kc_weights *ws) {
    kc_chatglm g;
    kc_err err = {0};
    kc_chatglm_config c = *cfg;
    c.ffn = cfg->ffn + 1;
    kc_status s = kc_chatglm_bind(&g, &c, ws, &err);
    KC_CHECK(s == KC_ERR_SHAPE && strstr(err.msg, "dense_h_to_4h") && strstr(err.msg, "[386, 64]"),
             "ffn mismatch: %s \"%s\"", kc_status_name(s), err.msg);
    c = *cfg;
    c.kv_groups = 1;
    kc_err_clear(&err);
    s = kc_chatglm_bind(&g, &c, ws, &err);
    KC_CHECK(s == KC_ERR_SHAPE && strstr(err.msg, "query_key_value.weight"), "kv groups mismatch: %s \"%s\"",
             kc_status_name(s), err.msg);
    c = *cfg;
    c.layers = cfg->layers + 1;
    kc_err_clear(&err);
    s = kc_chatglm_bind(&g, &c, ws, &err);
    KC_CHECK(s == KC_ERR_SHAPE && strstr(err.msg, "layers.3.input_layernorm") && strstr(err.msg, "missing"),
             "extra layer: %s \"%s\"", kc_status_name(s), err.msg);
}

int main(void) {
    const char *dir_a = kc_test_data("models/tiny-kolors-a/text_encoder");
    const char *gpath = kc_test_data("goldens/tiny-kolors-a/text_encoder.safetensors");
    char dir[4096], cfg_path[4200], dir_orig[4096];
    snprintf(dir, sizeof dir, "%s", dir_a);
    snprintf(dir_orig, sizeof dir_orig, "%s", kc_test_data("models/tiny-kolors-a-orig/text_encoder"));
    snprintf(cfg_path, sizeof cfg_path, "%s/config.json", dir);
    kc_test_require_file(cfg_path);
    kc_test_require_file(gpath);

    kc_exec ex;
    kc_exec_init(&ex, 2, KC_PREC_FP32);
    kc_err err = {0};
    kc_safetensors st;
    if (kc_st_open(&st, gpath, &err)) { printf("FAIL: %s\n", err.msg); return 1; }
    prompt_in pin[NPROMPTS];
    for (int p = 0; p < NPROMPTS; p++) {
        char nm[64];
        snprintf(nm, sizeof nm, "p%d.input_ids", p); load_ids(&st, nm, pin[p].ids);
        snprintf(nm, sizeof nm, "p%d.attention_mask", p); load_ids(&st, nm, pin[p].mask);
        snprintf(nm, sizeof nm, "p%d.position_ids", p); load_ids(&st, nm, pin[p].pos);
    }

    kc_chatglm *g = NULL;
    KC_CHECK(kc_chatglm_open(dir, &g, &err) == KC_OK, "open %s: %s", dir, err.msg);
    if (!g) return kc_test_finish();
    KC_CHECK(!strcmp(g->prefix, "transformer.") && g->cfg.layers == 3 && g->cfg.hidden == 64 &&
             g->embedding.dtype == KC_DTYPE_F16, "tiny model bound wrongly");
    check_goldens("diffusers", &ex, g, &st, pin);
    check_batch(&ex, g, pin);
    check_unpadded(&ex, g, &pin[0]);
    check_bare_names(&ex, g, &st, &pin[1]);
    check_rope(&ex);
    check_expected_list(&g->cfg);
    check_bad_configs(cfg_path);
    check_bad_shapes(&g->cfg, g->ws);
    {
        /* out-of-range ids and non-left-padding masks are refused, not read out of bounds */
        int32_t ids[4] = {64790, 64792, 65024, 5}, mask[4] = {1, 0, 1, 1};
        kc_chatglm_output o = {NULL, NULL, NULL, NULL, NULL, NULL};
        kc_err e2 = {0};
        KC_CHECK(run(&ex, g, 1, 4, ids, NULL, NULL, &o, &e2) == KC_ERR_ARG && strstr(e2.msg, "65024"), "%s", e2.msg);
        ids[2] = 7;
        kc_err_clear(&e2);
        KC_CHECK(run(&ex, g, 1, 4, ids, mask, NULL, &o, &e2) == KC_ERR_UNSUPPORTED && strstr(e2.msg, "left padding"),
                 "%s", e2.msg);
    }
    kc_chatglm_free(g);

    /* Original layout: pytorch_model.bin.index.json + two .bin shards with the same fp16 values. */
    char idx[4300];
    snprintf(idx, sizeof idx, "%s/pytorch_model.bin.index.json", dir_orig);
    FILE *f = fopen(idx, "rb");
    if (f) {
        fclose(f);
        g = NULL;
        kc_err_clear(&err);
        kc_status s = kc_chatglm_open(dir_orig, &g, &err);
        KC_CHECK(s == KC_OK, "open %s: %s", dir_orig, err.msg);
        if (g) check_goldens("original", &ex, g, &st, pin);
        kc_chatglm_free(g);
    } else {
        printf("note: %s absent; original layout not checked\n", idx);
    }
    kc_st_close(&st);
    return kc_test_finish();
}
