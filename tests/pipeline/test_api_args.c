/* test_api_args.c — NULL and out-of-range arguments to the public entry points of kolors.h give
 * KOLORS_ERR_ARG with a message naming the function, never a crash (the library must not take a
 * caller's process down), and the void functions accept NULL like free(). No model data is needed:
 * every call is refused before a folder is read. */
#include <string.h>

#include "harness.h"
#include "kolors.h"

/* rc must be KOLORS_ERR_ARG and the message must name the function. */
static void refused(const char *what, int rc, const kolors_error *e, const char *fn) {
    KC_CHECK(rc == KOLORS_ERR_ARG && strstr(e->message, fn), "%s: rc %d, message '%s' (expected ERR_ARG naming %s)",
             what, rc, e->message, fn);
}

int main(void) {
    kolors_error e;
    kolors_params p;
    kolors_params_default(&p);
    p.model_dir = kc_test_tmpdir();
    kolors_model *m = (kolors_model *)&p; /* any non-NULL value: it must be overwritten */

    memset(&e, 0, sizeof e);
    refused("model_open(NULL params)", kolors_model_open(NULL, &m, &e), &e, "kolors_model_open");
    KC_CHECK(m == NULL, "model_open(NULL params) sets *out to NULL");
    memset(&e, 0, sizeof e);
    refused("model_open(NULL out)", kolors_model_open(&p, NULL, &e), &e, "kolors_model_open");
    KC_CHECK(kolors_model_open(NULL, NULL, NULL) == KOLORS_ERR_ARG, "NULL error pointer accepted");

    memset(&e, 0, sizeof e);
    char *text = (char *)&p;
    refused("model_info(NULL model)", kolors_model_info(NULL, &text, &e), &e, "kolors_model_info");
    KC_CHECK(text == NULL, "model_info(NULL model) sets *text to NULL");

    kolors_tensor *t = NULL;
    int n = -1;
    memset(&e, 0, sizeof e);
    refused("tensors_read(NULL path)", kolors_tensors_read(NULL, &t, &n, &e), &e, "kolors_tensors_read");
    memset(&e, 0, sizeof e);
    refused("tensors_read(NULL out)", kolors_tensors_read("x.safetensors", NULL, &n, &e), &e, "kolors_tensors_read");

    memset(&e, 0, sizeof e);
    refused("encode(NULL model)", kolors_encode(NULL, 1, NULL, NULL, NULL, &e), &e, "kolors_encode");
    memset(&e, 0, sizeof e);
    refused("generate(NULL model)", kolors_generate(NULL, NULL, NULL, &e), &e, "kolors_generate");
    memset(&e, 0, sizeof e);
    refused("randn(n < 0)", kolors_randn(1, -1, NULL, &e), &e, "kolors_randn");

    /* void entry points: NULL is a no-op */
    kolors_model_set_tap(NULL, NULL, NULL);
    kolors_model_release_text_encoder(NULL);
    kolors_model_free(NULL);
    kolors_tensors_free(NULL, 0);
    kolors_free(NULL);
    return kc_test_finish();
}
