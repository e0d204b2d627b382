/* fuzz_image.c — PNG/JPEG decoding through io/image.c (libpng/libjpeg error hooks, size limits). */
#include <stdlib.h>

#include "fuzz_entry.h"
#include "io/image.h"

int kc_fuzz_image(const uint8_t *data, size_t size) {
    int w = 0, h = 0;
    uint8_t *rgb = NULL;
    kc_err err = {0};
    if (kc_image_decode(data, size, "fuzz.img", &w, &h, &rgb, &err) == KC_OK)
        kc_fuzz_touch(rgb, (uint64_t)w * (uint64_t)h * 3);
    free(rgb);
    return 0;
}
KC_FUZZ_MAIN(kc_fuzz_image)
