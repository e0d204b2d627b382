/* api_info.c — kolors_model_info: what `kolors info` prints. For every component: its files and
 * sizes, tensor count, dtypes, parameter count, bytes, and the architecture verdict (the
 * tensors its config implies vs the tensors its files hold, io/arch.h). A broken component is
 * described and the report goes on to the next one; the return value says whether all passed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/model_internal.h"
#include "core/mapfile.h"
#include "core/strbuf.h"
#include "diffusion/unet.h"
#include "diffusion/vae.h"
#include "io/arch.h"
#include "io/json.h"
#include "io/weights.h"
#include "text/chatglm3.h"
#include "text/tokenizer.h"

/* 6243584032 -> "6,243,584,032" */
static const char *grouped(char *buf, size_t cap, unsigned long long v) {
    char tmp[32];
    int n = snprintf(tmp, sizeof tmp, "%llu", v), o = 0;
    for (int i = 0; i < n && (size_t)o + 2 < cap; i++) {
        if (i && (n - i) % 3 == 0) buf[o++] = ',';
        buf[o++] = tmp[i];
    }
    buf[o] = '\0';
    return buf;
}

static const char *base_name(const char *p) {
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

/* Files, counts and the verdict of one component's weights. Returns 1 when it passes. */
static int report_weights(kc_strbuf *t, const char *component, const kc_weights *ws, const kc_expected_list *exp,
                          const char *prefix, int optional_prefix) {
    char g1[40], g2[40];
    uint64_t disk = 0;
    kc_strbuf_printf(t, "  files:\n");
    for (int i = 0; i < kc_weights_nfiles(ws); i++) {
        kc_strbuf_printf(t, "    %-52s %s bytes\n", base_name(kc_weights_file(ws, i)),
                grouped(g1, sizeof g1, kc_weights_file_size(ws, i)));
        disk += kc_weights_file_size(ws, i);
    }
    kc_arch_result r;
    char *rep = NULL;
    kc_err err = {0};
    if (kc_arch_check(exp, ws, component, prefix, optional_prefix, 8, &r, &rep, &err)) {
        kc_strbuf_printf(t, "  architecture: check failed: %s\n", err.msg);
        return 0;
    }
    kc_strbuf_printf(t, "  tensors: %lld (dtypes %s), %s parameters, %s bytes of tensor data, %s bytes on disk\n",
            (long long)kc_weights_count(ws), r.dtypes[0] ? r.dtypes : "-", grouped(g1, sizeof g1, (unsigned long long)r.params),
            grouped(g2, sizeof g2, r.bytes), grouped((char[40]){0}, 40, disk));
    int ok = !(r.n_missing || r.n_unexpected || r.n_shape || r.n_dtype);
    kc_strbuf_printf(t, "  architecture: %s — %s", ok ? "OK" : "MISMATCH", rep);
    free(rep);
    return ok;
}

static int component_failed(kc_strbuf *t, const kc_err *err) {
    kc_strbuf_printf(t, "  error: %s\n", err->msg);
    return 0;
}

static int info_text_encoder(kolors_model *m, kc_strbuf *t) {
    kc_err err = {0};
    char cfgp[KC_PATH_MAX + 16];
    snprintf(cfgp, sizeof cfgp, "%s/config.json", m->dir.text_encoder_dir);
    kc_chatglm_config c;
    kc_strbuf_printf(t, "text_encoder: %s\n", m->dir.text_encoder_dir);
    if (kc_chatglm_config_load(cfgp, &c, &err)) return component_failed(t, &err);
    kc_strbuf_printf(t, "  ChatGLM3: %lld layers, hidden %lld, %lld heads x %lld, %lld kv groups, ffn %lld, vocab %lld\n",
            (long long)c.layers, (long long)c.hidden, (long long)c.heads, (long long)c.head_dim,
            (long long)c.kv_groups, (long long)c.ffn, (long long)c.vocab);
    const char *bases[] = {"model", "pytorch_model"};
    kc_weights *ws = NULL;
    if (kc_weights_open_dir(m->dir.text_encoder_dir, bases, 2, NULL, &ws, NULL, &err)) return component_failed(t, &err);
    /* Official shards carry the "transformer." prefix; a bare ChatGLMModel state dict does not. */
    const char *prefix = kc_weights_find(ws, "transformer.embedding.word_embeddings.weight") ? "transformer." : "";
    kc_expected_list exp = {0};
    int ok = 0;
    if (kc_chatglm_expected(&c, prefix, &exp, &err)) ok = component_failed(t, &err);
    else ok = report_weights(t, "text_encoder", ws, &exp, NULL, 0);
    kc_expected_free(&exp);
    kc_weights_free(ws);
    return ok;
}

static int info_unet(kolors_model *m, kc_strbuf *t) {
    kc_err err = {0};
    char cfgp[KC_PATH_MAX + 16];
    snprintf(cfgp, sizeof cfgp, "%s/config.json", m->dir.unet_dir);
    kc_unet_config c;
    kc_strbuf_printf(t, "unet: %s\n", m->dir.unet_dir);
    if (kc_unet_config_load(cfgp, &c, &err)) return component_failed(t, &err);
    kc_strbuf_printf(t, "  UNet2DConditionModel: in %lld, out %lld, blocks", (long long)c.in_channels, (long long)c.out_channels);
    for (int i = 0; i < c.nblocks; i++) kc_strbuf_printf(t, " %lld", (long long)c.block_out[i]);
    kc_strbuf_printf(t, ", cross-attention %lld, text %lld\n", (long long)c.cross_dim, (long long)kc_unet_text_width(&c));
    const char *bases[] = {"diffusion_pytorch_model"};
    kc_weights *ws = NULL;
    int used = 0;
    if (kc_weights_open_dir(m->dir.unet_dir, bases, 1, m->params.variant, &ws, &used, &err))
        return component_failed(t, &err);
    kc_expected_list exp = {0};
    int ok = 0;
    if (kc_unet_expected(&c, &exp, &err)) ok = component_failed(t, &err);
    else ok = report_weights(t, "unet", ws, &exp, NULL, 0);
    kc_expected_free(&exp);
    kc_weights_free(ws);
    return ok;
}

static int info_vae(kolors_model *m, kc_strbuf *t) {
    kc_err err = {0};
    char cfgp[KC_PATH_MAX + 16];
    snprintf(cfgp, sizeof cfgp, "%s/config.json", m->dir.vae_dir);
    kc_vae_config c;
    kc_strbuf_printf(t, "vae: %s\n", m->dir.vae_dir);
    if (kc_vae_config_load(cfgp, &c, &err)) return component_failed(t, &err);
    const char *bases[] = {"diffusion_pytorch_model"};
    kc_weights *ws = NULL;
    int used = 0;
    if (kc_weights_open_dir(m->dir.vae_dir, bases, 1, m->params.variant, &ws, &used, &err))
        return component_failed(t, &err);
    /* Older diffusers files spell the mid-block attention query/key/value/proj_attn. */
    int old_names = kc_weights_find(ws, "encoder.mid_block.attentions.0.query.weight") != NULL;
    kc_expected_list exp = {0};
    int ok = 0;
    if (kc_vae_expected(&c, old_names, &exp, &err)) ok = component_failed(t, &err);
    else ok = report_weights(t, "vae", ws, &exp, NULL, 0);
    kc_expected_free(&exp);
    kc_weights_free(ws);
    return ok;
}

static int info_tokenizer(kolors_model *m, kc_strbuf *t) {
    kc_err err = {0};
    kc_tokenizer *tok = NULL;
    char g[40];
    kc_strbuf_printf(t, "tokenizer: %s\n", m->dir.tokenizer_model);
    if (kc_tokenizer_load_dir(&m->dir, &tok, &err)) return component_failed(t, &err);
    kc_mapfile mf;
    uint64_t size = 0;
    if (kc_mapfile_open(&mf, m->dir.tokenizer_model, NULL) == KC_OK) { size = mf.size; kc_mapfile_close(&mf); }
    kc_strbuf_printf(t, "  SentencePiece BPE: %d pieces + ChatGLM specials (vocab %d), %s bytes\n", kc_tokenizer_n_pieces(tok),
            kc_tokenizer_vocab_size(tok), grouped(g, sizeof g, size));
    kc_tokenizer_free(tok);
    return 1;
}

static int info_scheduler(kolors_model *m, kc_strbuf *t) {
    kc_err err = {0};
    cJSON *j = NULL;
    kc_strbuf_printf(t, "scheduler: %s\n", m->dir.scheduler_config);
    if (kc_json_load(m->dir.scheduler_config, &j, &err)) return component_failed(t, &err);
    const char *cls = NULL, *sched = NULL, *spacing = NULL, *pred = NULL;
    int64_t steps = 0;
    double b0 = 0, b1 = 0;
    kc_json_str(j, "_class_name", 0, "?", "scheduler", &cls, &err);
    kc_json_str(j, "beta_schedule", 0, "linear", "scheduler", &sched, &err);
    kc_json_str(j, "timestep_spacing", 0, "leading", "scheduler", &spacing, &err);
    kc_json_str(j, "prediction_type", 0, "epsilon", "scheduler", &pred, &err);
    kc_json_int(j, "num_train_timesteps", 0, 1000, 1, 100000, "scheduler", &steps, &err);
    kc_json_num(j, "beta_start", 0, 0.0001, "scheduler", &b0, &err);
    kc_json_num(j, "beta_end", 0, 0.02, "scheduler", &b1, &err);
    int ok = err.code == KC_OK;
    if (ok)
        kc_strbuf_printf(t, "  %s: %lld training steps, %s betas %g -> %g, %s spacing, %s prediction\n", cls, (long long)steps,
                sched, b0, b1, spacing, pred);
    else
        component_failed(t, &err);
    cJSON_Delete(j);
    return ok;
}

int kolors_model_info(kolors_model *m, char **out, kolors_error *error) {
    kc_strbuf t = {0};
    if (out) *out = NULL;
    if (!m || !out) return kc_api_err(error, &(kc_err){KC_ERR_ARG, "kolors_model_info: NULL model or out"});
    kc_strbuf_printf(&t, "model: %s\nlayout: %s\n", m->dir.root, kc_layout_name(m->dir.layout));
    if (m->dir.model_index[0])
        kc_strbuf_printf(&t, "model_index.json: force_zeros_for_empty_prompt %s (kolors.c always encodes the negative prompt)\n",
                m->dir.force_zeros_for_empty_prompt ? "true" : "false");
    int failed = 0;
    failed += !info_tokenizer(m, &t);
    failed += !info_scheduler(m, &t);
    failed += !info_text_encoder(m, &t);
    failed += !info_unet(m, &t);
    failed += !info_vae(m, &t);
    kc_strbuf_printf(&t, "verdict: %s\n", failed ? "PROBLEMS FOUND (see above)" : "OK — every component matches its config");
    if (!t.s || t.oom) {
        free(t.s);
        return kc_api_err(error, &(kc_err){KC_ERR_NOMEM, "out of memory"});
    }
    *out = t.s;
    if (failed) {
        kc_err err = {0};
        kc_fail(&err, KC_ERR_SHAPE, "%s: %d component%s failed the check (details above)", m->dir.root, failed,
                failed > 1 ? "s" : "");
        return kc_api_err(error, &err);
    }
    return 0;
}
