/* api_tokenizer.c — kolors_tokenize / kolors_detokenize and the lazily loaded tokenizer of a
 * model (its tokenizer.model in tokenizer/ or text_encoder/, as resolved by kc_modeldir). */
#include <string.h>

#include "api/model_internal.h"
#include "text/tokenizer.h"

kc_status kc_api_tokenizer(kolors_model *m, struct kc_tokenizer **out, kc_err *err) {
    *out = NULL;
    if (!m->tok) {
        kc_status st = kc_tokenizer_load_dir(&m->dir, &m->tok, err);
        if (st) return st;
        kc_log(&m->log, KC_LOG_DEBUG, "tokenizer %s: %d pieces + %d ChatGLM special ids", m->dir.tokenizer_model,
               kc_tokenizer_n_pieces(m->tok), KC_GLM_N_SPECIAL);
    }
    *out = m->tok;
    return KC_OK;
}

void kc_api_tokenizer_free(kolors_model *m) {
    kc_tokenizer_free(m->tok);
    m->tok = NULL;
}

int kolors_tokenize(kolors_model *m, const char *prompt, size_t len, int max_length, kolors_tokens *out,
                    kolors_error *error) {
    kc_err err = {0};
    if (!m || !out || (!prompt && len)) {
        kc_fail(&err, KC_ERR_ARG, "kolors_tokenize: %s is NULL", !m ? "model" : !out ? "out" : "prompt");
        return kc_api_err(error, &err);
    }
    /* kolors_tokens holds 4096 ids per array: the API limit and the library limit coincide. */
    _Static_assert(sizeof out->input_ids / sizeof out->input_ids[0] == KC_TOKENIZER_MAX_LENGTH,
                   "kolors_tokens arrays must hold KC_TOKENIZER_MAX_LENGTH ids");
    struct kc_tokenizer *t;
    if (kc_api_tokenizer(m, &t, &err)) return kc_api_err(error, &err);
    kc_glm_info info;
    memset(out, 0, sizeof *out); /* entries past max_length stay 0 */
    if (kc_tokenizer_chatglm(t, prompt ? prompt : "", len, max_length, out->input_ids, out->attention_mask,
                             out->position_ids, &info, &err))
        return kc_api_err(error, &err);
    out->length = max_length;
    out->n_tokens = info.n_tokens;
    out->n_untruncated = info.n_untruncated;
    out->truncated = info.truncated;
    if (info.truncated)
        kc_log(&m->log, KC_LOG_DEBUG, "prompt truncated from %d to %d tokens", info.n_untruncated, info.n_tokens);
    return KOLORS_OK;
}

int kolors_detokenize(kolors_model *m, const int32_t *ids, int n, char **text, kolors_error *error) {
    kc_err err = {0};
    if (text) *text = NULL;
    if (!m || !text || (!ids && n) || n < 0) {
        kc_fail(&err, KC_ERR_ARG, "kolors_detokenize: %s", n < 0 ? "negative id count" : "NULL argument");
        return kc_api_err(error, &err);
    }
    struct kc_tokenizer *t;
    if (kc_api_tokenizer(m, &t, &err)) return kc_api_err(error, &err);
    if (kc_tokenizer_decode(t, ids, n, text, NULL, &err)) return kc_api_err(error, &err);
    return KOLORS_OK;
}
