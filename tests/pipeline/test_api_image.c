/* test_api_image.c — kolors_image_write_png / kolors_image_read / kolors_image_free through the
 * public header: RGB round trip with a UTF-8 "parameters" chunk, argument errors with codes and
 * messages, NULL error pointers, and kolors_image_free leaving an empty image. (The PNG/JPEG
 * details are tested under tests/io/test_image.c.) */
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "kolors.h"

int main(void) {
    char path[900];
    snprintf(path, sizeof path, "%s/api.png", kc_test_tmpdir());
    enum { W = 19, H = 11 };
    uint8_t px[W * H * 3];
    for (int i = 0; i < W * H * 3; i++) px[i] = (uint8_t)(i * 7 + 3);
    kolors_image img = {W, H, 3, px};
    const char *keys[] = {"parameters"};
    const char *vals[] = {"可爱的猫\nSteps: 25, Sampler: Euler, Seed: 1"};
    kolors_error e = {0};
    KC_CHECK(kolors_image_write_png(path, &img, 1, keys, vals, &e) == KOLORS_OK, "write: %s", e.message);

    kolors_image back;
    memset(&back, 0x5a, sizeof back); /* the call must set every field */
    KC_CHECK(kolors_image_read(path, &back, &e) == KOLORS_OK, "read: %s", e.message);
    KC_CHECK(back.width == W && back.height == H && back.channels == 3 && back.data &&
                 memcmp(back.data, px, sizeof px) == 0, "pixels and size round-trip");
    kolors_image_free(&back);
    KC_CHECK(back.data == NULL && back.width == 0 && back.channels == 0, "free leaves an empty image");
    kolors_image_free(&back); /* twice is harmless */
    kolors_image_free(NULL);

    kolors_image gray = {W, H, 1, px};
    KC_CHECK(kolors_image_write_png(path, &gray, 0, NULL, NULL, &e) == KOLORS_ERR_ARG && strstr(e.message, "channels"),
             "1-channel write refused: %s", e.message);
    const char *badkey[] = {"bad  key"};
    KC_CHECK(kolors_image_write_png(path, &img, 1, badkey, vals, &e) == KOLORS_ERR_ARG, "bad key: %s", e.message);
    KC_CHECK(kolors_image_write_png(path, &img, 1, badkey, vals, NULL) == KOLORS_ERR_ARG, "NULL error pointer is fine");
    memset(&back, 0x5a, sizeof back);
    KC_CHECK(kolors_image_read("/nonexistent/x.png", &back, &e) == KOLORS_ERR_IO && back.data == NULL &&
                 back.width == 0, "missing file: %s", e.message);
    KC_CHECK(kolors_image_read(path, NULL, &e) == KOLORS_ERR_ARG, "NULL output refused");
    return kc_test_finish();
}
