/* api_info.c — PENDING (issue #2): model report and architecture verdict. */
#include "api/model_internal.h"

int kolors_model_info(kolors_model *m, char **text, kolors_error *e) {
    (void)m; *text = NULL;
    kc_err err = {0};
    kc_fail(&err, KC_ERR_UNSUPPORTED, "info is not implemented yet");
    return kc_api_err(e, &err);
}
