/* api_text.c — the ChatGLM3 text encoder behind kolors.h: lazy loading, kolors_encode
 * (tokenize as Kolors does, then one batched forward), release and hidden size. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/model_internal.h"
#include "core/sysinfo.h"
#include "text/chatglm3.h"

#define KC_ENCODE_MAX_BATCH 1024 /* refuses absurd n before any allocation */

kc_status kc_api_chatglm(kolors_model *m, struct kc_chatglm **out, kc_err *err) {
    if (!m->glm) {
        double t0 = kc_time_now();
        kc_status s = kc_chatglm_open(m->dir.text_encoder_dir, &m->glm, err);
        if (s) {
            kc_err_prepend(err, "loading the text encoder");
            return s;
        }
        const kc_chatglm_config *c = &m->glm->cfg;
        kc_log(&m->log, KC_LOG_INFO,
               "text encoder: ChatGLM %lld layers, hidden %lld, %lld heads / %lld kv groups, %s weights, %d file(s) "
               "mapped in %.2f s", (long long)c->layers, (long long)c->hidden, (long long)c->heads,
               (long long)c->kv_groups, kc_dtype_name(m->glm->embedding.dtype), kc_weights_nfiles(m->glm->ws),
               kc_time_now() - t0);
    }
    *out = m->glm;
    return KC_OK;
}

void kc_api_text_free(kolors_model *m) {
    kc_chatglm_free(m->glm);
    m->glm = NULL;
    m->glm_runs = 0;
}

void kolors_model_release_text_encoder(kolors_model *m) {
    if (m) kc_api_text_free(m);
}

int kolors_text_hidden_size(kolors_model *m, int *hidden, kolors_error *error) {
    kc_err err = {0};
    if (!m || !hidden) return kc_api_err(error, &(kc_err){KC_ERR_ARG, "kolors_text_hidden_size: NULL argument"});
    if (m->glm) {
        *hidden = (int)m->glm->cfg.hidden;
        return 0;
    }
    /* the config is enough: no need to map 12 GB of weights to answer this */
    char path[KC_PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/config.json", m->dir.text_encoder_dir);
    kc_chatglm_config c;
    if (kc_chatglm_config_load(path, &c, &err)) return kc_api_err(error, &err);
    *hidden = (int)c.hidden;
    return 0;
}

int kolors_encode(kolors_model *m, int n, const char *const *prompts, float *prompt_embeds, float *pooled,
                  kolors_error *error) {
    kc_err err = {0};
    if (!m || !prompts || (!prompt_embeds && !pooled))
        return kc_api_err(error, &(kc_err){KC_ERR_ARG, "kolors_encode: NULL model, prompts or outputs"});
    if (n < 1 || n > KC_ENCODE_MAX_BATCH) {
        kc_fail(&err, KC_ERR_ARG, "kolors_encode: %d prompts; expected 1..%d", n, KC_ENCODE_MAX_BATCH);
        return kc_api_err(error, &err);
    }
    for (int i = 0; i < n; i++)
        if (!prompts[i]) {
            kc_fail(&err, KC_ERR_ARG, "kolors_encode: prompt %d is NULL", i);
            return kc_api_err(error, &err);
        }
    struct kc_chatglm *g;
    if (kc_api_chatglm(m, &g, &err)) return kc_api_err(error, &err);

    const int64_t T = KOLORS_MAX_LENGTH, N = n;
    kolors_tokens *tok = malloc(sizeof *tok);
    int32_t *ids = malloc((size_t)(3 * N * T) * sizeof(int32_t));
    kc_arena ar = {0};
    int rc = 0;
    if (!tok || !ids) {
        rc = kc_api_err(error, &(kc_err){KC_ERR_NOMEM, "out of memory"});
        goto done;
    }
    int32_t *mask = ids + N * T, *pos = mask + N * T;
    double t0 = kc_time_now();
    for (int64_t b = 0; b < N; b++) {
        /* Kolors: tokenizer(prompt, padding="max_length", max_length=256, truncation=True) */
        if ((rc = kolors_tokenize(m, prompts[b], strlen(prompts[b]), (int)T, tok, error))) goto done;
        memcpy(ids + b * T, tok->input_ids, (size_t)T * sizeof(int32_t));
        memcpy(mask + b * T, tok->attention_mask, (size_t)T * sizeof(int32_t));
        memcpy(pos + b * T, tok->position_ids, (size_t)T * sizeof(int32_t));
        if (tok->truncated)
            kc_log(&m->log, KC_LOG_WARN, "prompt %lld has %d tokens; only the first %lld are used", (long long)b,
                   tok->n_untruncated, (long long)T);
    }
    size_t bytes = kc_chatglm_arena_bytes(&g->cfg, N, T);
    if (!bytes) {
        kc_fail(&err, KC_ERR_ARG, "kolors_encode: batch of %d prompts is too large", n);
        rc = kc_api_err(error, &err);
        goto done;
    }
    if (kc_arena_init(&ar, "text encoder", bytes, &err)) {
        rc = kc_api_err(error, &err);
        goto done;
    }
    /* The first forward after loading packs the weights on the fly (as cheap as packing them
     * ahead); a second one means the encoder is being reused (a server, several prompts):
     * prepack once, every later forward skips the conversion. */
    if (m->glm_runs++ == 1) {
        double tp = kc_time_now();
        if (kc_chatglm_prepack(g, &m->ex, &err)) {
            rc = kc_api_err(error, &err);
            goto done;
        }
        if (g->packed_bytes)
            kc_log(&m->log, KC_LOG_INFO, "text encoder reused: %.0f MB of weights prepacked as bf16 in %.2f s",
                   (double)g->packed_bytes / 1e6, kc_time_now() - tp);
    }
    kc_chatglm_input in = {N, T, ids, mask, pos};
    kc_chatglm_output out = {prompt_embeds, pooled, NULL, m->tap, m->tap_user, "text_encoder."};
    if (kc_chatglm_forward(&m->ex, g, &in, &out, &ar, &err)) {
        rc = kc_api_err(error, &err);
        goto done;
    }
    kc_log(&m->log, KC_LOG_INFO, "encoded %d prompt(s) in %.2f s (%.1f GFLOP/s, %d thread(s))", n,
           kc_time_now() - t0, kc_chatglm_flops(&g->cfg, N, T) / (kc_time_now() - t0) * 1e-9, m->ex.n_threads);
done:
    kc_arena_free(&ar);
    free(ids);
    free(tok);
    return rc;
}
