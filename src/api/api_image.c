/* api_image.c — kolors.h image entry points over io/image.c (8-bit RGB, row-major interleaved). */
#include <stdlib.h>

#include "api/model_internal.h"
#include "io/image.h"

int kolors_image_write_png(const char *path, const kolors_image *img, int n_text, const char *const *keys,
                           const char *const *values, kolors_error *err) {
    kc_err e = {0};
    if (!path || !img) {
        kc_fail(&e, KC_ERR_ARG, "kolors_image_write_png: path and image are required");
    } else if (img->channels != 3) {
        kc_fail(&e, KC_ERR_ARG, "%s: image has %d channels; only 3 (RGB) can be written", path, img->channels);
    } else {
        kc_png_write(path, img->width, img->height, img->data, n_text, keys, values, &e);
    }
    return kc_api_err(err, &e);
}

int kolors_image_read(const char *path, kolors_image *out, kolors_error *err) {
    kc_err e = {0};
    if (!out) {
        kc_fail(&e, KC_ERR_ARG, "kolors_image_read: no output image");
        return kc_api_err(err, &e);
    }
    out->width = out->height = out->channels = 0;
    out->data = NULL;
    if (!path) {
        kc_fail(&e, KC_ERR_ARG, "kolors_image_read: no path");
        return kc_api_err(err, &e);
    }
    int w = 0, h = 0;
    uint8_t *rgb = NULL;
    if (kc_image_read(path, &w, &h, &rgb, &e) == KC_OK) {
        out->width = w;
        out->height = h;
        out->channels = 3;
        out->data = rgb;
    }
    return kc_api_err(err, &e);
}

void kolors_image_free(kolors_image *img) {
    if (!img) return;
    free(img->data);
    img->data = NULL;
    img->width = img->height = img->channels = 0;
}
