/* api_unet.c — PENDING (issue #4): U-Net entry points. */
#include "api/model_internal.h"

void kc_api_unet_free(kolors_model *m) { (void)m; }
int kolors_unet_forward(kolors_model *m, const kolors_unet_inputs *in, float *noise_pred, kolors_error *e) {
    (void)m; (void)in; (void)noise_pred;
    kc_err err = {0};
    kc_fail(&err, KC_ERR_UNSUPPORTED, "unet is not implemented yet");
    return kc_api_err(e, &err);
}
