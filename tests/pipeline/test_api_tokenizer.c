/* test_api_tokenizer.c — kolors_tokenize / kolors_detokenize through the public header on
 * tiny-kolors-a (whose tokenizer/tokenizer.model is the real ChatGLM3 one): the §2.4 arrays,
 * truncation fields, untouched tail of kolors_tokens, argument errors and the decode view. */
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "kolors.h"

int main(void) {
    const char *dir = kc_test_data("models/tiny-kolors-a");
    kc_test_require_file(kc_test_data("models/tiny-kolors-a/tokenizer/tokenizer.model"));
    kolors_params p;
    kolors_params_default(&p);
    p.model_dir = dir;
    kolors_model *m = NULL;
    kolors_error e = {0};
    if (kolors_model_open(&p, &m, &e)) {
        printf("FAIL open %s: %s\n", dir, e.message);
        return 1;
    }
    kolors_tokens *t = malloc(sizeof *t);
    memset(t, 0x5a, sizeof *t); /* the call must overwrite everything it reports */

    KC_CHECK(kolors_tokenize(m, "a photo of a cat", 16, KOLORS_MAX_LENGTH, t, &e) == KOLORS_OK, "tokenize: %s",
             e.message);
    static const int32_t tail[7] = {64790, 64792, 260, 4562, 290, 260, 4577};
    int ok = t->length == 256 && t->n_tokens == 7 && t->n_untruncated == 7 && !t->truncated &&
             !memcmp(t->input_ids + 249, tail, sizeof tail);
    for (int i = 0; i < 249; i++) ok &= t->input_ids[i] == 0 && t->attention_mask[i] == 0 && t->position_ids[i] == 0;
    for (int i = 249; i < 256; i++) ok &= t->attention_mask[i] == 1 && t->position_ids[i] == i - 249;
    for (int i = 256; i < 4096; i++) ok &= t->input_ids[i] == 0 && t->attention_mask[i] == 0 && t->position_ids[i] == 0;
    KC_CHECK(ok, "'a photo of a cat': [0]*249 + [gMASK sop 260 4562 290 260 4577], mask/positions, zero tail");

    char *text = NULL;
    KC_CHECK(kolors_detokenize(m, t->input_ids, 256, &text, &e) == KOLORS_OK && text &&
                 !strcmp(text, "[gMASK]sopa photo of a cat"),
             "detokenize the padded row: '%s'", text ? text : "(null)");
    kolors_free(text);

    const char *zh = "一张瓢虫的照片，微距，变焦，高质量，电影，拿着一个牌子，写着“可图”";
    KC_CHECK(kolors_tokenize(m, zh, strlen(zh), 256, t, &e) == KOLORS_OK && t->n_tokens == 27 &&
                 t->input_ids[229] == 64790 && t->input_ids[231] == 34346 && t->input_ids[255] == 30991,
             "Chinese prompt: n = 27, P = 229");

    /* Truncation reported through the struct. */
    char *longp = malloc(2000);
    size_t ll = 0;
    for (int i = 0; i < 300; i++) ll += (size_t)sprintf(longp + ll, "word ");
    KC_CHECK(kolors_tokenize(m, longp, ll, 256, t, &e) == KOLORS_OK && t->truncated && t->n_tokens == 256 &&
                 t->n_untruncated == 303 && t->input_ids[0] == 64790 && t->position_ids[255] == 255,
             "over-long prompt truncated to 256 (of %d)", t->n_untruncated);
    free(longp);

    /* The empty prompt (Kolors' default negative prompt), also as NULL with length 0. */
    KC_CHECK(kolors_tokenize(m, NULL, 0, 256, t, &e) == KOLORS_OK && t->n_tokens == 2 && t->input_ids[254] == 64790 &&
                 t->input_ids[255] == 64792 && t->position_ids[255] == 1 && t->attention_mask[253] == 0,
             "empty prompt");

    /* Errors: KOLORS_ERR_ARG with a message saying what is wrong. */
    KC_CHECK(kolors_tokenize(m, "ab\xC3", 3, 256, t, &e) == KOLORS_ERR_ARG && e.code == KOLORS_ERR_ARG &&
                 strstr(e.message, "UTF-8") && strstr(e.message, "byte offset 2"),
             "invalid UTF-8: '%s'", e.message);
    KC_CHECK(kolors_tokenize(m, "a", 1, 1, t, &e) == KOLORS_ERR_ARG && strstr(e.message, "max_length"),
             "max_length 1: '%s'", e.message);
    KC_CHECK(kolors_tokenize(m, "a", 1, 4097, t, &e) == KOLORS_ERR_ARG, "max_length 4097");
    KC_CHECK(kolors_tokenize(m, NULL, 3, 256, t, &e) == KOLORS_ERR_ARG, "NULL prompt with a length");
    KC_CHECK(kolors_tokenize(m, "a", 1, 256, NULL, &e) == KOLORS_ERR_ARG, "NULL out");
    KC_CHECK(kolors_tokenize(m, "a", 1, 256, t, NULL) == KOLORS_OK, "NULL error pointer is allowed");
    int32_t bad[2] = {260, 70000};
    KC_CHECK(kolors_detokenize(m, bad, 2, &text, &e) == KOLORS_ERR_ARG && text == NULL && strstr(e.message, "70000"),
             "detokenize out-of-range id: '%s'", e.message);
    KC_CHECK(kolors_detokenize(m, bad, -1, &text, &e) == KOLORS_ERR_ARG, "detokenize negative count");
    KC_CHECK(kolors_detokenize(m, NULL, 0, &text, &e) == KOLORS_OK && text && !strcmp(text, ""),
             "detokenize nothing = ''");
    kolors_free(text);

    free(t);
    kolors_model_free(m);
    return kc_test_finish();
}
