/* api_generate.c — PENDING (issue #5): the text-to-image pipeline. */
#include <string.h>

#include "api/model_internal.h"

static int pending(kolors_error *e, const char *what) {
    kc_err err = {0};
    kc_fail(&err, KC_ERR_UNSUPPORTED, "%s is not implemented yet", what);
    return kc_api_err(e, &err);
}
void kolors_gen_params_default(kolors_gen_params *g) {
    memset(g, 0, sizeof *g);
    g->width = g->height = 1024;
    g->steps = 50;
    g->cfg_scale = 5.0f;
    g->sampler = "euler";
    g->scheduler = "default";
    g->strength = 0.8f;
}
int kolors_generate(kolors_model *m, const kolors_gen_params *g, kolors_image *out, kolors_error *err) {
    (void)m; (void)g; (void)out; return pending(err, "generate");
}
