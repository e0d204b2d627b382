/* api_text.c — PENDING (issue #3): ChatGLM3 encoder entry points. */
#include "api/model_internal.h"

static int pending(kolors_error *e, const char *what) {
    kc_err err = {0};
    kc_fail(&err, KC_ERR_UNSUPPORTED, "%s is not implemented yet", what);
    return kc_api_err(e, &err);
}
void kc_api_text_free(kolors_model *m) { (void)m; }
void kolors_model_release_text_encoder(kolors_model *m) { (void)m; }
int kolors_text_hidden_size(kolors_model *m, int *hidden, kolors_error *err) { (void)m; (void)hidden; return pending(err, "text encoder"); }
int kolors_encode(kolors_model *m, int n, const char *const *prompts, float *pe, float *pooled, kolors_error *err) {
    (void)m; (void)n; (void)prompts; (void)pe; (void)pooled; return pending(err, "encode");
}
