/* test_api_inputs.c — inputs the library refuses at its boundary instead of computing garbage:
 * non-finite latents/images for the VAE (NaN in would be NaN out, silently), an unknown
 * vae_tile_stats, and a KOLORS_ISA value that names no kernel table (a typo must not silently
 * run another table). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "kolors.h"

int main(void) {
    kc_test_require_file(kc_test_data("models/tiny-kolors-a/model_index.json"));
    kolors_params p;
    kolors_params_default(&p);
    p.model_dir = kc_test_data("models/tiny-kolors-a");
    p.n_threads = 1;
    kolors_model *m = NULL;
    kolors_error e = {0};
    if (kolors_model_open(&p, &m, &e)) {
        printf("FAIL: open: %s\n", e.message);
        return 1;
    }
    float lat[4 * 8 * 8], img[3 * 64 * 64], mean[4 * 8 * 8], logvar[4 * 8 * 8];
    kc_fill_random(lat, 4 * 8 * 8, 1, 1.0f);
    KC_CHECK(kolors_vae_decode(m, lat, 1, 8, 8, img, &e) == 0, "finite latents decode: %s", e.message);
    lat[77] = NAN;
    memset(&e, 0, sizeof e);
    int rc = kolors_vae_decode(m, lat, 1, 8, 8, img, &e);
    KC_CHECK(rc == KOLORS_ERR_ARG && strstr(e.message, "latents element 77 is NaN"), "NaN latents: rc %d '%s'", rc,
             e.message);
    kc_fill_random(img, 3 * 64 * 64, 2, 1.0f);
    img[5] = -INFINITY;
    memset(&e, 0, sizeof e);
    rc = kolors_vae_encode(m, img, 1, 64, 64, mean, logvar, &e);
    KC_CHECK(rc == KOLORS_ERR_ARG && strstr(e.message, "image element 5 is infinite"), "Inf image: rc %d '%s'", rc,
             e.message);
    kolors_model_free(m);

    /* a vae_tile_stats outside {0, 1, 2} is refused by name, not mapped to some mode */
    p.vae_tile_stats = 5;
    memset(&e, 0, sizeof e);
    KC_CHECK(kolors_model_open(&p, &m, &e) == 0, "open: %s", e.message);
    kc_fill_random(lat, 4 * 8 * 8, 1, 1.0f);
    rc = m ? kolors_vae_decode(m, lat, 1, 8, 8, img, &e) : -1;
    KC_CHECK(rc == KOLORS_ERR_ARG && strstr(e.message, "vae_tile_stats 5"), "bad vae_tile_stats: rc %d '%s'", rc,
             e.message);
    kolors_model_free(m);
    p.vae_tile_stats = 0;

    setenv("KOLORS_ISA", "avx9", 1);
    memset(&e, 0, sizeof e);
    rc = kolors_model_open(&p, &m, &e);
    KC_CHECK(rc == KOLORS_ERR_ARG && strstr(e.message, "KOLORS_ISA=avx9"), "KOLORS_ISA typo: rc %d '%s'", rc, e.message);
    if (rc == 0) kolors_model_free(m);
    setenv("KOLORS_ISA", "ref", 1);
    memset(&e, 0, sizeof e);
    rc = kolors_model_open(&p, &m, &e);
    KC_CHECK(rc == 0, "KOLORS_ISA=ref accepted: %s", e.message);
    if (rc == 0) kolors_model_free(m);
    unsetenv("KOLORS_ISA");
    return kc_test_finish();
}
