/* api_vae.c — PENDING (issue #4): VAE entry points. */
#include "api/model_internal.h"

void kc_api_vae_free(kolors_model *m) { (void)m; }
static int pending(kolors_error *e) {
    kc_err err = {0};
    kc_fail(&err, KC_ERR_UNSUPPORTED, "vae is not implemented yet");
    return kc_api_err(e, &err);
}
int kolors_vae_decode(kolors_model *m, const float *latents, int n, int h, int w, float *image, kolors_error *err) {
    (void)m; (void)latents; (void)n; (void)h; (void)w; (void)image; return pending(err);
}
int kolors_vae_encode(kolors_model *m, const float *image, int n, int H, int W, float *mean, float *logvar, kolors_error *err) {
    (void)m; (void)image; (void)n; (void)H; (void)W; (void)mean; (void)logvar; return pending(err);
}
