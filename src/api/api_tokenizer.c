/* api_tokenizer.c — PENDING (issue #3): tokenizer entry points. */
#include "api/model_internal.h"

static int pending(kolors_error *e, const char *what) {
    kc_err err = {0};
    kc_fail(&err, KC_ERR_UNSUPPORTED, "%s is not implemented yet", what);
    return kc_api_err(e, &err);
}
void kc_api_tokenizer_free(kolors_model *m) { (void)m; }
int kolors_tokenize(kolors_model *m, const char *prompt, size_t len, int max_length, kolors_tokens *out, kolors_error *err) {
    (void)m; (void)prompt; (void)len; (void)max_length; (void)out; return pending(err, "tokenize");
}
int kolors_detokenize(kolors_model *m, const int32_t *ids, int n, char **text, kolors_error *err) {
    (void)m; (void)ids; (void)n; (void)text; return pending(err, "detokenize");
}
