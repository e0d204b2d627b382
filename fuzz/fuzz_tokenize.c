/* fuzz_tokenize.c — arbitrary bytes as a prompt for the real ChatGLM3 tokenizer, found at
 * $KOLORS_TOKENIZER_MODEL, else <$KOLORS_SHARED or $KOLORS_SHARED_DEFAULT>/models/tokenizer/
 * tokenizer.model (loaded once; without it the target does nothing). Checks: invalid UTF-8 is
 * refused exactly when the validator says so; ids are in range; the ChatGLM arrays are consistent;
 * decode(encode(s)) == s for valid UTF-8 without a literal U+2581 (which decodes to ' ' by
 * design); the lenient mode (sentencepiece's U+FFFD replacement) accepts everything. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_entry.h"
#include "text/tokenizer.h"

static kc_tokenizer *real_tokenizer(void) {
    static kc_tokenizer *tok;
    static int tried;
    if (tried) return tok;
    tried = 1;
    char path[4096];
    const char *p = getenv("KOLORS_TOKENIZER_MODEL");
    const char *shared = getenv("KOLORS_SHARED");
    if (!shared || !*shared) shared = getenv("KOLORS_SHARED_DEFAULT");
    if (!p || !*p) {
        if (!shared || !*shared) return NULL;
        snprintf(path, sizeof path, "%s/models/tokenizer/tokenizer.model", shared);
        p = path;
    }
    kc_err err = {0};
    if (kc_tokenizer_load(p, &tok, &err)) tok = NULL;
    return tok;
}

int kc_fuzz_tokenize(const uint8_t *data, size_t size) {
    kc_tokenizer *t = real_tokenizer();
    if (!t || size > KC_TOKENIZER_MAX_TEXT_BYTES) return 0;
    const char *s = (const char *)data;
    kc_tok_ids ids = {0};
    kc_err err = {0};
    int64_t bad = kc_utf8_first_invalid(s, size);
    kc_status st = kc_tokenizer_encode(t, s, size, 0, &ids, &err);
    if ((bad >= 0) != (st == KC_ERR_ARG)) __builtin_trap();
    if (st == KC_OK) {
        for (int64_t i = 0; i < ids.n; i++)
            if (ids.ids[i] < 0 || ids.ids[i] >= kc_tokenizer_n_pieces(t)) __builtin_trap();
        char *back = NULL;
        size_t blen = 0;
        if (kc_tokenizer_decode(t, ids.ids, ids.n, &back, &blen, &err) != KC_OK) __builtin_trap();
        int has_ws = 0;
        for (size_t i = 0; i + 3 <= size; i++)
            if (!memcmp(s + i, "\xE2\x96\x81", 3)) has_ws = 1;
        if (!has_ws && (blen != size || memcmp(back, s, size))) __builtin_trap();
        free(back);
        int max_length = 2 + (size ? data[0] % 64 : 0);
        int32_t in[66], mask[66], pos[66];
        kc_glm_info info;
        if (kc_tokenizer_chatglm(t, s, size, max_length, in, mask, pos, &info, &err) != KC_OK) __builtin_trap();
        int pad = max_length - info.n_tokens;
        if (info.n_untruncated != ids.n + 2 || pad < 0 || in[pad] != kc_tokenizer_special_id(t, KC_GLM_GMASK) ||
            pos[max_length - 1] != info.n_tokens - 1 || (pad > 0 && mask[pad - 1] != 0))
            __builtin_trap();
    }
    if (kc_tokenizer_encode(t, s, size, KC_TOK_REPLACE_INVALID_UTF8, &ids, &err) != KC_OK) __builtin_trap();
    kc_tok_ids_free(&ids);
    return 0;
}
KC_FUZZ_MAIN(kc_fuzz_tokenize)
