/* api_image.c — PENDING (issue #2, io): PNG/JPEG entry points. */
#include <stdlib.h>

#include "api/model_internal.h"

static int pending(kolors_error *e) {
    kc_err err = {0};
    kc_fail(&err, KC_ERR_UNSUPPORTED, "image I/O is not implemented yet");
    return kc_api_err(e, &err);
}
int kolors_image_write_png(const char *path, const kolors_image *img, int n_text, const char *const *keys,
                           const char *const *values, kolors_error *err) {
    (void)path; (void)img; (void)n_text; (void)keys; (void)values; return pending(err);
}
int kolors_image_read(const char *path, kolors_image *out, kolors_error *err) { (void)path; (void)out; return pending(err); }
void kolors_image_free(kolors_image *img) { if (img) { free(img->data); img->data = NULL; } }
