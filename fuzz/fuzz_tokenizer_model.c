/* fuzz_tokenizer_model.c — arbitrary bytes as a tokenizer.model (SentencePiece ModelProto).
 * Loading must fail cleanly (with a message) or give a tokenizer whose encode/decode stay in
 * bounds. Seeds: the real shared/models/tokenizer/tokenizer.model, its head and its tail. */
#include <stdlib.h>
#include <string.h>

#include "fuzz_entry.h"
#include "text/tokenizer.h"

int kc_fuzz_tokenizer_model(const uint8_t *data, size_t size) {
    kc_tokenizer *t = NULL;
    kc_err err = {0};
    if (kc_tokenizer_load_buffer(data, size, "fuzz.model", &t, &err) != KC_OK) {
        if (!err.msg[0]) __builtin_trap(); /* every refusal carries a message */
        return 0;
    }
    static const char text[] = "a photo of a cat, \xE7\x8C\xAB  12\t\n\xF0\x9F\x90\xB1";
    kc_tok_ids ids = {0};
    if (kc_tokenizer_encode(t, text, sizeof text - 1, 0, &ids, &err) == KC_OK) {
        for (int64_t i = 0; i < ids.n; i++)
            if (ids.ids[i] < 0 || ids.ids[i] >= kc_tokenizer_n_pieces(t)) __builtin_trap();
        char *back = NULL;
        if (kc_tokenizer_decode(t, ids.ids, ids.n, &back, NULL, &err) == KC_OK) free(back);
    }
    int32_t in[16], mask[16], pos[16];
    kc_glm_info info;
    kc_tokenizer_chatglm(t, text, sizeof text - 1, 16, in, mask, pos, &info, &err);
    kc_tok_ids_free(&ids);
    kc_tokenizer_free(t);
    return 0;
}
KC_FUZZ_MAIN(kc_fuzz_tokenizer_model)
