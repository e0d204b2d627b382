/* test_resize.c — kc_pipe_resize_lanczos against Pillow's Image.resize(size, Image.LANCZOS)
 * (resize_fixture.h, written by gen_resize_fixture.py): downscale, upscale, one axis only and a
 * large factor must be byte-identical, as diffusers' img2img preprocessing is. */
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "pipeline/pipeline.h"
#include "resize_fixture.h"

int main(void) {
    for (size_t i = 0; i < sizeof k_resize_cases / sizeof *k_resize_cases; i++) {
        int w = k_resize_cases[i].w, h = k_resize_cases[i].h;
        uint8_t *out = malloc((size_t)w * h * 3);
        kc_err err = {0};
        kc_status s = kc_pipe_resize_lanczos(k_resize_src, k_resize_src_w, k_resize_src_h, out, w, h, &err);
        KC_CHECK(s == KC_OK, "%dx%d -> %dx%d: %s", k_resize_src_w, k_resize_src_h, w, h, err.msg);
        int bad = -1;
        for (int j = 0; s == KC_OK && j < w * h * 3 && bad < 0; j++)
            if (out[j] != k_resize_cases[i].rgb[j]) bad = j;
        KC_CHECK(bad < 0, "%dx%d -> %dx%d differs from Pillow at byte %d: %d vs %d", k_resize_src_w, k_resize_src_h, w,
                 h, bad, bad < 0 ? 0 : out[bad], bad < 0 ? 0 : k_resize_cases[i].rgb[bad]);
        if (bad < 0 && s == KC_OK) printf("ok   %dx%d -> %dx%d identical to Pillow\n", k_resize_src_w, k_resize_src_h, w, h);
        free(out);
    }
    /* Same size is a copy; degenerate sizes are refused. */
    uint8_t copy[23 * 17 * 3];
    kc_err err = {0};
    KC_CHECK(kc_pipe_resize_lanczos(k_resize_src, 23, 17, copy, 23, 17, &err) == KC_OK &&
                 !memcmp(copy, k_resize_src, sizeof copy), "same size copies");
    KC_CHECK(kc_pipe_resize_lanczos(k_resize_src, 23, 17, copy, 0, 17, &err) == KC_ERR_ARG, "0 width refused");
    return kc_test_finish();
}
