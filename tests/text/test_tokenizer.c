/* test_tokenizer.c — the ChatGLM3/Kolors tokenizer against the upstream Python goldens
 * (shared/testdata/tokenizer/tokenizer_cases.json, 200 prompts), the checklist values of
 * kolors-model.md §2 and §9, BPE tie-breaking on a hand-built model, decode round trips, invalid
 * UTF-8, hostile tokenizer.model files (truncated, bad varints, huge lengths, refused settings,
 * random byte flips) and the encoding speed of the longest golden prompt. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/mapfile.h"
#include "core/sysinfo.h"
#include "harness.h"
#include "io/json.h"
#include "text/tokenizer.h"

static kc_tokenizer *g_tok;

/* ---- helpers ---- */

static int encode(const kc_tokenizer *t, const char *s, size_t n, kc_tok_ids *ids) {
    kc_err err = {0};
    kc_status st = kc_tokenizer_encode(t, s, n, 0, ids, &err);
    if (st) printf("  encode error: %s\n", err.msg);
    return st;
}

static int ids_equal(const kc_tok_ids *v, const int32_t *want, int64_t n) {
    if (v->n != n) return 0;
    for (int64_t i = 0; i < n; i++)
        if (v->ids[i] != want[i]) return 0;
    return 1;
}

static void print_ids(const char *label, const int32_t *ids, int64_t n) {
    printf("  %s (%lld):", label, (long long)n);
    for (int64_t i = 0; i < n && i < 40; i++) printf(" %d", ids[i]);
    printf("%s\n", n > 40 ? " ..." : "");
}

static size_t unhex(const char *hex, char *out) {
    size_t n = strlen(hex) / 2;
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        sscanf(hex + 2 * i, "%2x", &v);
        out[i] = (char)v;
    }
    return n;
}

/* ---- §9 checklist on the real model ---- */

static void test_vocabulary(const kc_tokenizer *t) {
    KC_CHECK(kc_tokenizer_n_pieces(t) == 64789, "64789 pieces, got %d", kc_tokenizer_n_pieces(t));
    KC_CHECK(kc_tokenizer_vocab_size(t) == 64798, "vocab 64798 with the 9 ChatGLM ids");
    KC_CHECK(!strcmp(kc_tokenizer_piece(t, 30910), "\xE2\x96\x81"), "piece 30910 = U+2581");
    KC_CHECK(!strcmp(kc_tokenizer_piece(t, 13), "<0x0A>"), "piece 13 = <0x0A>");
    KC_CHECK(!strcmp(kc_tokenizer_piece(t, 259), "\xE2\x96\x81t"), "piece 259 = '▁t'");
    KC_CHECK(kc_tokenizer_score(t, 259) == 0.0f && signbit(kc_tokenizer_score(t, 259)), "piece 259 score -0.0");
    KC_CHECK(!strcmp(kc_tokenizer_piece(t, 64788), "\xE2\x96\x81" "attr"), "piece 64788 = '▁attr'");
    KC_CHECK(kc_tokenizer_score(t, 64788) == -64906.0f, "piece 64788 score -64906, got %g",
             kc_tokenizer_score(t, 64788));
    KC_CHECK(!strcmp(kc_tokenizer_piece(t, 0), "<unk>") && kc_tokenizer_piece_type(t, 0) == KC_PIECE_UNKNOWN,
             "id 0 <unk> UNKNOWN");
    KC_CHECK(kc_tokenizer_unk_id(t) == 0, "unk id 0");
    KC_CHECK(!strcmp(kc_tokenizer_piece(t, 1), "<s>") && kc_tokenizer_piece_type(t, 1) == KC_PIECE_CONTROL, "<s>");
    KC_CHECK(!strcmp(kc_tokenizer_piece(t, 2), "</s>") && kc_tokenizer_piece_type(t, 2) == KC_PIECE_CONTROL, "</s>");
    int bytes_ok = 1, normal_ok = 1, decreasing = 1;
    for (int b = 0; b < 256; b++) {
        char want[8];
        snprintf(want, sizeof want, "<0x%02X>", b);
        if (strcmp(kc_tokenizer_piece(t, 3 + b), want) || kc_tokenizer_piece_type(t, 3 + b) != KC_PIECE_BYTE)
            bytes_ok = 0;
    }
    for (int id = 259; id < 64789; id++) {
        if (kc_tokenizer_piece_type(t, id) != KC_PIECE_NORMAL) normal_ok = 0;
        if (id > 259 && !(kc_tokenizer_score(t, id) < kc_tokenizer_score(t, id - 1))) decreasing = 0;
    }
    KC_CHECK(bytes_ok, "ids 3..258 are <0x00>..<0xFF> of type BYTE");
    KC_CHECK(normal_ok, "ids 259..64788 are NORMAL");
    KC_CHECK(decreasing, "scores strictly decrease with id from 259 on");
    KC_CHECK(kc_tokenizer_special_id(t, KC_GLM_GMASK) == 64790 && kc_tokenizer_special_id(t, KC_GLM_SOP) == 64792 &&
                 kc_tokenizer_special_id(t, KC_GLM_MASK) == 64789 &&
                 kc_tokenizer_special_id(t, KC_GLM_OBSERVATION) == 64797,
             "ChatGLM special ids 64789..64797");
    KC_CHECK(!strcmp(kc_tokenizer_piece(t, 64790), "[gMASK]") && !strcmp(kc_tokenizer_piece(t, 64792), "sop"),
             "special names");
    KC_CHECK(kc_tokenizer_piece(t, 64798) == NULL && kc_tokenizer_piece(t, -1) == NULL, "out-of-range piece");
    KC_CHECK(kc_tokenizer_piece_id(t, "\xE2\x96\x81\xE2\x96\x81", 6) == 265, "'▁▁' = 265");
    KC_CHECK(kc_tokenizer_piece_id(t, "\xE2\x96\x81\xE2\x96\x81\xE2\x96\x81", 9) == 2951, "'▁▁▁' = 2951");
    KC_CHECK(kc_tokenizer_piece_id(t, "no-such-piece", 13) == -1, "absent piece");
}

/* ---- the 13 examples of kolors-model.md §2.3 ---- */

static void test_spec_examples(const kc_tokenizer *t) {
    static const struct {
        const char *text;
        int n;
        int32_t ids[32];
    } ex[] = {
        {"", 0, {0}},
        {" ", 1, {265}},
        {"a", 1, {260}},
        {"a photo of a cat", 5, {260, 4562, 290, 260, 4577}},
        {"hello world", 2, {24954, 993}},
        {"Hello  World ", 4, {13755, 265, 14104, 30910}},
        {"12345", 6, {30910, 30939, 30943, 30966, 30972, 30970}},
        {"tab\tx", 3, {9151, 12, 30948}},
        {"\n", 2, {30910, 13}},
        {"\xF0\xA0\x80\x80", 5, {30910, 243, 163, 131, 131}},
        {"一张瓢虫的照片，微距，变焦，高质量，电影，拿着一个牌子，写着“可图”", 25,
         {34346, 54940, 59450, 56395, 39094, 31123, 55072, 55634, 31123, 54848, 55723, 31123, 32742,
          31123, 31867, 31123, 36860, 31623, 49127, 31123, 44857, 30989, 54568, 54959, 30991}},
        {"<s></s><unk>", 7, {906, 30917, 6029, 30917, 6144, 3013, 30994}},
        {"[gMASK]sop", 8, {790, 30927, 30944, 2080, 30984, 30996, 30917, 404}},
    };
    kc_tok_ids ids = {0};
    for (size_t i = 0; i < sizeof ex / sizeof *ex; i++) {
        int ok = encode(t, ex[i].text, strlen(ex[i].text), &ids) == KC_OK && ids_equal(&ids, ex[i].ids, ex[i].n);
        KC_CHECK(ok, "§2.3 example %zu '%s'", i, ex[i].text);
        if (!ok) print_ids("got", ids.ids, ids.n);
    }
    /* §2.4 / §9: the full arrays for "" and "a photo of a cat". */
    int32_t in[256], mask[256], pos[256];
    kc_glm_info info;
    kc_err err = {0};
    KC_CHECK(kc_tokenizer_chatglm(t, "", 0, 256, in, mask, pos, &info, &err) == KC_OK, "chatglm '': %s", err.msg);
    int ok = info.n_tokens == 2 && !info.truncated && in[254] == 64790 && in[255] == 64792 && pos[254] == 0 &&
             pos[255] == 1 && mask[254] == 1 && mask[255] == 1;
    for (int i = 0; i < 254; i++) ok &= in[i] == 0 && mask[i] == 0 && pos[i] == 0;
    KC_CHECK(ok, "empty prompt: [0]*254 + [64790, 64792], positions ..0,1");
    KC_CHECK(kc_tokenizer_chatglm(t, "a photo of a cat", 16, 256, in, mask, pos, &info, &err) == KC_OK, "chatglm");
    static const int32_t tail[7] = {64790, 64792, 260, 4562, 290, 260, 4577};
    ok = info.n_tokens == 7 && !memcmp(in + 249, tail, sizeof tail) && in[248] == 0 && mask[248] == 0 &&
         mask[249] == 1 && pos[249] == 0 && pos[255] == 6;
    KC_CHECK(ok, "'a photo of a cat': n=7, P=249");
    kc_tok_ids_free(&ids);
}

/* ---- all 200 goldens ---- */

typedef struct {
    char *text;
    size_t len;
    int32_t in[256], mask[256], pos[256];
    int n_tokens, n_untrunc, truncated;
    int n_pieces;
    const cJSON *pieces;
} golden;

static int get_i32_array(const cJSON *c, const char *key, int32_t *out, int n) {
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(c, key);
    if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) != n) return 0;
    int i = 0;
    const cJSON *x;
    cJSON_ArrayForEach(x, a) out[i++] = (int32_t)x->valuedouble;
    return 1;
}

static void test_goldens(const kc_tokenizer *t) {
    const char *path = kc_test_data("tokenizer/tokenizer_cases.json");
    kc_test_require_file(path);
    cJSON *root = NULL;
    kc_err err = {0};
    if (kc_json_load(path, &root, &err)) {
        KC_CHECK(0, "load %s: %s", path, err.msg);
        return;
    }
    const cJSON *cases = cJSON_GetObjectItemCaseSensitive(root, "cases");
    KC_CHECK(cJSON_GetArraySize(cases) == 200, "200 cases");
    int n_ok = 0, n_pieces_ok = 0, n_rt_ok = 0, n_case = 0, n_trunc = 0;
    kc_tok_ids ids = {0};
    const cJSON *c;
    cJSON_ArrayForEach(c, cases) {
        golden g = {0};
        const char *hex = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "prompt_utf8_hex"));
        int id = (int)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(c, "id"));
        g.text = malloc(hex ? strlen(hex) / 2 + 1 : 1);
        g.len = hex ? unhex(hex, g.text) : 0;
        g.text[g.len] = 0;
        int arrays = get_i32_array(c, "input_ids", g.in, 256) && get_i32_array(c, "attention_mask", g.mask, 256) &&
                     get_i32_array(c, "position_ids", g.pos, 256);
        g.n_tokens = (int)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(c, "num_tokens"));
        g.n_untrunc = (int)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(c, "num_tokens_untruncated"));
        g.truncated = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(c, "truncated"));
        g.pieces = cJSON_GetObjectItemCaseSensitive(c, "pieces");
        n_case++;
        n_trunc += g.truncated;

        int32_t in[256], mask[256], pos[256];
        kc_glm_info info = {0};
        kc_err_clear(&err);
        kc_status st = kc_tokenizer_chatglm(t, g.text, g.len, 256, in, mask, pos, &info, &err);
        int ok = hex && arrays && st == KC_OK && !memcmp(in, g.in, sizeof in) && !memcmp(mask, g.mask, sizeof mask) &&
                 !memcmp(pos, g.pos, sizeof pos) && info.n_tokens == g.n_tokens && info.n_untruncated == g.n_untrunc &&
                 info.truncated == g.truncated;
        n_ok += ok;
        if (!ok) {
            printf("FAIL case %d (%s): status %d %s; n %d/%d untrunc %d/%d\n", id, hex, st, err.msg, info.n_tokens,
                   g.n_tokens, info.n_untruncated, g.n_untrunc);
            print_ids("want", g.in + 256 - g.n_tokens, g.n_tokens);
            print_ids("got ", in + 256 - info.n_tokens, info.n_tokens);
        }
        /* Pieces (the sentencepiece pieces of the untruncated prompt, as strings). */
        int pok = encode(t, g.text, g.len, &ids) == KC_OK;
        int np = cJSON_GetArraySize(g.pieces);
        if (pok && np != ids.n) pok = 0;
        const cJSON *p;
        int k = 0;
        if (pok)
            cJSON_ArrayForEach(p, g.pieces) {
                const char *want = cJSON_GetStringValue(p);
                const char *got = kc_tokenizer_piece(t, ids.ids[k++]);
                if (!want || !got || strcmp(want, got)) {
                    printf("FAIL case %d piece %d: want '%s' got '%s'\n", id, k - 1, want ? want : "?",
                           got ? got : "?");
                    pok = 0;
                    break;
                }
            }
        else printf("FAIL case %d pieces: want %d got %lld\n", id, np, (long long)ids.n);
        n_pieces_ok += pok;
        /* decode(encode(s)) == s for every valid UTF-8 s without a literal U+2581 (that one is
         * the escaped space, so it decodes to ' ' — lossy in sentencepiece too). */
        char *back = NULL;
        size_t blen = 0;
        char *want = malloc(g.len + 1);
        size_t wl = 0;
        for (size_t i = 0; i < g.len; i++) {
            if (i + 3 <= g.len && !memcmp(g.text + i, "\xE2\x96\x81", 3)) want[wl++] = ' ', i += 2;
            else want[wl++] = g.text[i];
        }
        int rok = kc_tokenizer_decode(t, ids.ids, ids.n, &back, &blen, &err) == KC_OK && blen == wl &&
                  !memcmp(back, want, wl);
        free(want);
        if (!rok) printf("FAIL case %d round trip: got '%s'\n", id, back ? back : "(null)");
        n_rt_ok += rok;
        free(back);
        free(g.text);
    }
    KC_CHECK(n_ok == 200, "ids/mask/positions/counts exact on %d of %d goldens", n_ok, n_case);
    KC_CHECK(n_pieces_ok == 200, "pieces exact on %d of %d goldens", n_pieces_ok, n_case);
    KC_CHECK(n_rt_ok == 200, "decode(encode(s)) == s on %d of %d goldens", n_rt_ok, n_case);
    KC_CHECK(n_trunc == 9, "9 goldens are truncated (%d)", n_trunc);
    printf("goldens: %d/%d exact, %d/%d pieces, %d/%d round trips\n", n_ok, n_case, n_pieces_ok, n_case, n_rt_ok,
           n_case);
    kc_tok_ids_free(&ids);
    cJSON_Delete(root);
}

/* ---- edge cases of the wrapper and the encoder ---- */

static void test_edges(const kc_tokenizer *t) {
    kc_err err = {0};
    kc_glm_info info;
    int32_t in[4096], mask[4096], pos[4096];
    kc_tok_ids ids = {0};

    /* Whitespace only: runs are kept ("   " -> dummy + 3 = '▁▁▁▁'). */
    KC_CHECK(encode(t, "   ", 3, &ids) == KC_OK && ids.n == 1 &&
                 !strcmp(kc_tokenizer_piece(t, ids.ids[0]), "\xE2\x96\x81\xE2\x96\x81\xE2\x96\x81\xE2\x96\x81"),
             "three spaces -> one '▁▁▁▁' piece");
    /* 40 spaces: no piece longer than 16 '▁', so several pieces, all whitespace. */
    char sp[41];
    memset(sp, ' ', 40);
    sp[40] = 0;
    KC_CHECK(encode(t, sp, 40, &ids) == KC_OK && ids.n == 3, "41 '▁' -> 16+16+9, got %lld pieces", (long long)ids.n);

    /* Over-long: max_length 2 keeps only the prefix; 3 keeps one piece. */
    const char *cat = "a photo of a cat";
    KC_CHECK(kc_tokenizer_chatglm(t, cat, 16, 2, in, mask, pos, &info, &err) == KC_OK && info.n_tokens == 2 &&
                 info.truncated && info.n_untruncated == 7 && in[0] == 64790 && in[1] == 64792 && pos[1] == 1,
             "max_length 2: prefix only, truncated");
    KC_CHECK(kc_tokenizer_chatglm(t, cat, 16, 3, in, mask, pos, &info, &err) == KC_OK && info.n_tokens == 3 &&
                 in[2] == 260 && mask[0] == 1,
             "max_length 3: first piece kept");
    KC_CHECK(kc_tokenizer_chatglm(t, cat, 16, 7, in, mask, pos, &info, &err) == KC_OK && !info.truncated &&
                 info.n_tokens == 7 && in[0] == 64790,
             "exactly max_length tokens: not truncated, no padding");
    KC_CHECK(kc_tokenizer_chatglm(t, cat, 16, 1, in, mask, pos, &info, &err) == KC_ERR_ARG &&
                 strstr(err.msg, "max_length"),
             "max_length 1 refused: %s", err.msg);
    kc_err_clear(&err);
    KC_CHECK(kc_tokenizer_chatglm(t, cat, 16, 4097, in, mask, pos, &info, &err) == KC_ERR_ARG, "max_length 4097");
    /* A long prompt at max_length 4096 is not truncated. */
    char *longp = malloc(3000);
    size_t ll = 0;
    for (int i = 0; i < 300; i++) ll += (size_t)sprintf(longp + ll, "cat dog ");
    /* 300 x "cat dog " = 600 word pieces + the trailing '▁'. */
    KC_CHECK(kc_tokenizer_chatglm(t, longp, ll, 4096, in, mask, pos, &info, &err) == KC_OK && !info.truncated &&
                 info.n_tokens == 603 && pos[4095] == 602 && in[4096 - 603] == 64790 && mask[4096 - 604] == 0 &&
                 in[4095] == 30910,
             "601 pieces at max_length 4096: n=%d", info.n_tokens);
    free(longp);

    /* NUL inside the prompt is ordinary text (byte fallback <0x00> = 3). */
    KC_CHECK(encode(t, "a\0b", 3, &ids) == KC_OK && ids.n == 3 && ids.ids[1] == 3, "embedded NUL -> <0x00>");

    /* Mixed script + emoji + ZWJ: byte fallback for characters without a piece. */
    const char *mix = "猫 cat \xF0\x9F\x90\xB1\xE2\x80\x8D!";
    KC_CHECK(encode(t, mix, strlen(mix), &ids) == KC_OK, "mixed encodes");
    char *back = NULL;
    KC_CHECK(kc_tokenizer_decode(t, ids.ids, ids.n, &back, NULL, &err) == KC_OK && !strcmp(back, mix),
             "mixed round trip");
    free(back);

    /* Decoding the padded ChatGLM array: pads invisible, special names shown. */
    KC_CHECK(kc_tokenizer_chatglm(t, cat, 16, 256, in, mask, pos, &info, &err) == KC_OK, "chatglm");
    KC_CHECK(kc_tokenizer_decode(t, in, 256, &back, NULL, &err) == KC_OK && !strcmp(back, "[gMASK]sopa photo of a cat"),
             "decode padded: '%s'", back ? back : "");
    free(back);
    /* Byte pieces that are not valid UTF-8 decode to U+FFFD; a split 4-byte run is joined. */
    int32_t bad[3] = {3 + 0xFF, 3 + 'A', 30910};
    KC_CHECK(kc_tokenizer_decode(t, bad, 3, &back, NULL, &err) == KC_OK && !strcmp(back, "\xEF\xBF\xBD" "A "),
             "bad byte -> U+FFFD: '%s'", back ? back : "");
    free(back);
    int32_t *run = malloc(400 * sizeof *run);
    for (int i = 0; i < 100; i++) { /* 100 x U+1F431 as byte pieces crosses the 64-byte run buffer */
        run[4 * i] = 3 + 0xF0, run[4 * i + 1] = 3 + 0x9F, run[4 * i + 2] = 3 + 0x90, run[4 * i + 3] = 3 + 0xB1;
    }
    size_t blen = 0;
    int rok = kc_tokenizer_decode(t, run, 400, &back, &blen, &err) == KC_OK && blen == 400;
    for (size_t i = 0; rok && i < 400; i += 4) rok = !memcmp(back + i, "\xF0\x9F\x90\xB1", 4);
    KC_CHECK(rok, "long byte run decodes intact");
    free(back);
    free(run);
    int32_t oob[2] = {5, 64798};
    kc_err_clear(&err);
    KC_CHECK(kc_tokenizer_decode(t, oob, 2, &back, NULL, &err) == KC_ERR_ARG && strstr(err.msg, "index 1"),
             "decode out-of-range id: %s", err.msg);
    kc_tok_ids_free(&ids);
}

static void test_invalid_utf8(const kc_tokenizer *t) {
    static const struct {
        const char *s;
        size_t len, off;
        const char *what;
    } bad[] = {
        {"ab\xFF" "cd", 5, 2, "0xFF"},
        {"a\xC0\x80", 3, 1, "overlong NUL"},
        {"\xE0\x80\xAF", 3, 0, "overlong 3-byte"},
        {"xy\xED\xA0\x80", 5, 2, "surrogate"},
        {"\xF4\x90\x80\x80", 4, 0, "above U+10FFFF"},
        {"cat\xE4\xB8", 5, 3, "truncated at end"},
        {"\x80", 1, 0, "lone continuation"},
        {"ok \xF0\x9F\x90", 6, 3, "truncated emoji"},
    };
    kc_tok_ids ids = {0};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        kc_err err = {0};
        char want[64];
        snprintf(want, sizeof want, "byte offset %zu", bad[i].off);
        kc_status st = kc_tokenizer_encode(t, bad[i].s, bad[i].len, 0, &ids, &err);
        KC_CHECK(st == KC_ERR_ARG && strstr(err.msg, want) && strstr(err.msg, "UTF-8"), "%s: %d '%s'", bad[i].what,
                 st, err.msg);
    }
    /* Lenient mode = sentencepiece's normaliser: each malformed byte becomes U+FFFD. */
    kc_tok_ids ref = {0};
    kc_err err = {0};
    KC_CHECK(kc_tokenizer_encode(t, "a\xFF\xFE" "b", 4, KC_TOK_REPLACE_INVALID_UTF8, &ids, &err) == KC_OK &&
                 kc_tokenizer_encode(t, "a\xEF\xBF\xBD\xEF\xBF\xBD" "b", 8, 0, &ref, &err) == KC_OK &&
                 ids.n == ref.n && !memcmp(ids.ids, ref.ids, (size_t)ids.n * sizeof *ids.ids),
             "lenient: malformed bytes encode as U+FFFD");
    /* The wrapper (the API path) refuses it too. */
    int32_t in[8], mask[8], pos[8];
    kc_glm_info info;
    KC_CHECK(kc_tokenizer_chatglm(t, "\xFF", 1, 8, in, mask, pos, &info, &err) == KC_ERR_ARG, "wrapper refuses");
    kc_tok_ids_free(&ids);
    kc_tok_ids_free(&ref);
}

/* ---- a hand-built model: protobuf writer ---- */

typedef struct {
    uint8_t *p;
    size_t n, cap;
} buf;

static void put(buf *b, const void *s, size_t n) {
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
}
static void put_varint(buf *b, uint64_t v) {
    do {
        uint8_t c = (uint8_t)(v & 0x7f);
        v >>= 7;
        if (v) c |= 0x80;
        put(b, &c, 1);
    } while (v);
}
static void put_vfield(buf *b, int field, uint64_t v) {
    put_varint(b, (uint64_t)field << 3 | 0);
    put_varint(b, v);
}
static void put_lfield(buf *b, int field, const void *s, size_t n) {
    put_varint(b, (uint64_t)field << 3 | 2);
    put_varint(b, n);
    put(b, s, n);
}

typedef struct {
    int model_type, byte_fallback, remove_extra_ws, treat_suffix;
    const char *norm_name;
    int charsmap_bytes;
    int drop_byte;           /* a BYTE piece to omit, or -1 */
    int dup_piece, no_unk, nan_score, user_defined;
    int add_dummy_prefix;
} spec;

/* Vocabulary: <unk> <s> </s>, 256 byte pieces, then normal pieces with the given scores. */
static buf build_model(const spec *sp, const char *const *normal, const float *scores, int n_normal) {
    buf m = {0};
    for (int i = 0; i < 3 + 256 + n_normal; i++) {
        buf p = {0};
        char txt[64];
        float score = 0;
        int type = 1;
        if (i == 0) snprintf(txt, sizeof txt, "<unk>"), type = sp->no_unk ? 3 : 2;
        else if (i < 3) snprintf(txt, sizeof txt, i == 1 ? "<s>" : "</s>"), type = 3;
        else if (i < 259) {
            if (i - 3 == sp->drop_byte) continue;
            snprintf(txt, sizeof txt, "<0x%02X>", i - 3), type = 6;
        } else {
            snprintf(txt, sizeof txt, "%s", normal[i - 259]);
            score = scores[i - 259];
            if (sp->nan_score && i == 259) score = NAN;
            if (sp->user_defined && i == 259) type = 4;
        }
        put_lfield(&p, 1, txt, strlen(txt));
        put_varint(&p, 2 << 3 | 5);
        put(&p, &score, 4); /* little-endian host assumed (x86/arm) */
        if (type != 1) put_vfield(&p, 3, (uint64_t)type);
        put_lfield(&m, 1, p.p, p.n);
        if (sp->dup_piece && i == 259) put_lfield(&m, 1, p.p, p.n);
        free(p.p);
    }
    buf tr = {0};
    put_lfield(&tr, 2, "test", 4);
    if (sp->model_type) put_vfield(&tr, 3, (uint64_t)sp->model_type);
    put_vfield(&tr, 4, 32000);
    put_vfield(&tr, 24, (uint64_t)sp->treat_suffix);
    put_vfield(&tr, 25, 1);
    put_vfield(&tr, 35, (uint64_t)sp->byte_fallback);
    put_lfield(&m, 2, tr.p, tr.n);
    buf no = {0};
    put_lfield(&no, 1, sp->norm_name, strlen(sp->norm_name));
    char cm[16] = {1, 2, 3};
    put_lfield(&no, 2, cm, (size_t)sp->charsmap_bytes);
    put_vfield(&no, 3, (uint64_t)sp->add_dummy_prefix);
    if (sp->remove_extra_ws >= 0) put_vfield(&no, 4, (uint64_t)sp->remove_extra_ws);
    put_lfield(&m, 3, no.p, no.n);
    free(tr.p);
    free(no.p);
    return m;
}

static const spec k_good = {.model_type = 2, .byte_fallback = 1, .norm_name = "identity", .drop_byte = -1,
                            .add_dummy_prefix = 1};

/* Encodes `text` with a model of the given normal pieces and returns the pieces joined by '|'. */
static void seg(const char *const *normal, const float *scores, int n, int dummy, const char *text, char *out,
                size_t cap) {
    spec sp = k_good;
    sp.add_dummy_prefix = dummy;
    buf m = build_model(&sp, normal, scores, n);
    kc_tokenizer *t = NULL;
    kc_err err = {0};
    out[0] = 0;
    if (kc_tokenizer_load_buffer(m.p, m.n, "hand.model", &t, &err)) {
        snprintf(out, cap, "load error: %.200s", err.msg);
        free(m.p);
        return;
    }
    kc_tok_ids ids = {0};
    if (kc_tokenizer_encode(t, text, strlen(text), 0, &ids, &err) == KC_OK)
        for (int64_t i = 0; i < ids.n; i++) {
            strncat(out, kc_tokenizer_piece(t, ids.ids[i]), cap - strlen(out) - 1);
            if (i + 1 < ids.n) strncat(out, "|", cap - strlen(out) - 1);
        }
    kc_tok_ids_free(&ids);
    kc_tokenizer_free(t);
    free(m.p);
}

static void test_bpe_rules(void) {
    char got[256];
    /* Highest score first: 'bc' (-1) beats 'ab' (-2) although 'ab' is further left. */
    const char *v1[] = {"a", "b", "c", "ab", "bc"};
    float s1[] = {-10, -10, -10, -2, -1};
    seg(v1, s1, 5, 0, "abc", got, sizeof got);
    KC_CHECK(!strcmp(got, "a|bc"), "score order: '%s'", got);
    /* Equal scores (same piece at several places): the leftmost pair merges first. */
    const char *v2[] = {"a", "aa"};
    float s2[] = {-10, -1};
    seg(v2, s2, 2, 0, "aaa", got, sizeof got);
    KC_CHECK(!strcmp(got, "aa|a"), "tie -> leftmost: '%s'", got);
    seg(v2, s2, 2, 0, "aaaaa", got, sizeof got);
    KC_CHECK(!strcmp(got, "aa|aa|a"), "tie chain: '%s'", got);
    /* Merges chain: after 'ab', the new pair 'ab'+'c' is considered. */
    const char *v3[] = {"a", "b", "c", "ab", "abc", "bc"};
    float s3[] = {-10, -10, -10, -1, -3, -2};
    seg(v3, s3, 6, 0, "abc", got, sizeof got);
    KC_CHECK(!strcmp(got, "abc"), "chained merge: '%s'", got);
    /* Dummy prefix and whitespace escaping; an unknown character falls back to bytes. */
    const char *v4[] = {"\xE2\x96\x81", "x", "\xE2\x96\x81x"};
    float s4[] = {-5, -5, -1};
    seg(v4, s4, 3, 1, "x x?", got, sizeof got);
    KC_CHECK(!strcmp(got, "\xE2\x96\x81x|\xE2\x96\x81x|<0x3F>"), "dummy prefix + byte fallback: '%s'", got);
    seg(v4, s4, 3, 0, "x x", got, sizeof got);
    KC_CHECK(!strcmp(got, "x|\xE2\x96\x81x"), "add_dummy_prefix false: '%s'", got);
    /* A concatenation that spells a CONTROL piece is not a merge: '<s' + '>' stays split. */
    const char *v5[] = {"<", "s", ">", "<s"};
    float s5[] = {-5, -5, -5, -1};
    seg(v5, s5, 4, 0, "<s>", got, sizeof got);
    KC_CHECK(!strcmp(got, "<s|>"), "no merge into a control piece: '%s'", got);
}

/* ---- hostile / unsupported model files ---- */

static void expect_refused(const char *what, const buf *m, kc_status want, const char *needle) {
    kc_tokenizer *t = NULL;
    kc_err err = {0};
    kc_status st = kc_tokenizer_load_buffer(m->p, m->n, "bad.model", &t, &err);
    KC_CHECK(st == want && t == NULL && strstr(err.msg, needle) && strstr(err.msg, "bad.model"),
             "%s: status %d (want %d), '%s' (want '%s')", what, st, want, err.msg, needle);
    kc_tokenizer_free(t);
}

static void test_hostile_synthetic(void) {
    const char *v[] = {"a", "b", "ab"};
    float s[] = {-1, -2, -0.5f};
    buf m = build_model(&k_good, v, s, 3);
    kc_tokenizer *t = NULL;
    kc_err err = {0};
    KC_CHECK(kc_tokenizer_load_buffer(m.p, m.n, "good.model", &t, &err) == KC_OK, "hand model loads: %s", err.msg);
    kc_tokenizer_free(t);
    free(m.p);

    struct {
        const char *what;
        spec sp;
        kc_status st;
        const char *needle;
    } cases[] = {
        {"unigram", {.model_type = 1, .byte_fallback = 1, .norm_name = "identity", .drop_byte = -1},
         KC_ERR_UNSUPPORTED, "UNIGRAM"},
        {"model_type absent (default UNIGRAM)", {.byte_fallback = 1, .norm_name = "identity", .drop_byte = -1},
         KC_ERR_UNSUPPORTED, "only BPE"},
        {"nfkc", {.model_type = 2, .byte_fallback = 1, .norm_name = "nmt_nfkc", .drop_byte = -1}, KC_ERR_UNSUPPORTED,
         "identity"},
        {"charsmap", {.model_type = 2, .byte_fallback = 1, .norm_name = "identity", .charsmap_bytes = 3,
                      .drop_byte = -1}, KC_ERR_UNSUPPORTED, "precompiled_charsmap 3 bytes"},
        {"remove_extra_ws", {.model_type = 2, .byte_fallback = 1, .norm_name = "identity", .remove_extra_ws = 1,
                             .drop_byte = -1}, KC_ERR_UNSUPPORTED, "remove_extra_whitespaces"},
        {"remove_extra_ws absent", {.model_type = 2, .byte_fallback = 1, .norm_name = "identity",
                                    .remove_extra_ws = -1, .drop_byte = -1}, KC_ERR_UNSUPPORTED, "default true"},
        {"no byte_fallback", {.model_type = 2, .norm_name = "identity", .drop_byte = -1}, KC_ERR_UNSUPPORTED,
         "byte_fallback"},
        {"ws suffix", {.model_type = 2, .byte_fallback = 1, .treat_suffix = 1, .norm_name = "identity",
                       .drop_byte = -1}, KC_ERR_UNSUPPORTED, "treat_whitespace_as_suffix"},
        {"missing byte", {.model_type = 2, .byte_fallback = 1, .norm_name = "identity", .drop_byte = 0x41},
         KC_ERR_FORMAT, "<0x41> is missing"},
        {"duplicate", {.model_type = 2, .byte_fallback = 1, .norm_name = "identity", .drop_byte = -1,
                       .dup_piece = 1}, KC_ERR_FORMAT, "defined twice"},
        {"no unk", {.model_type = 2, .byte_fallback = 1, .norm_name = "identity", .drop_byte = -1, .no_unk = 1},
         KC_ERR_FORMAT, "UNKNOWN"},
        {"nan score", {.model_type = 2, .byte_fallback = 1, .norm_name = "identity", .drop_byte = -1,
                       .nan_score = 1}, KC_ERR_FORMAT, "non-finite score"},
        {"user defined", {.model_type = 2, .byte_fallback = 1, .norm_name = "identity", .drop_byte = -1,
                          .user_defined = 1}, KC_ERR_UNSUPPORTED, "USER_DEFINED"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        m = build_model(&cases[i].sp, v, s, 3);
        expect_refused(cases[i].what, &m, cases[i].st, cases[i].needle);
        free(m.p);
    }

    /* Raw wire-format damage. */
    buf b = {0};
    static const uint8_t ten_ff[11] = {0x0a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    put(&b, ten_ff, sizeof ten_ff);
    expect_refused("unterminated varint", &b, KC_ERR_FORMAT, "varint");
    b.n = 0;
    static const uint8_t over64[11] = {0x0a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f};
    put(&b, over64, sizeof over64);
    expect_refused("varint over 64 bits", &b, KC_ERR_FORMAT, "longer than 64 bits at byte offset 1");
    b.n = 0;
    put_varint(&b, 1 << 3 | 2);
    put_varint(&b, (uint64_t)1 << 62);
    put(&b, "xx", 2);
    expect_refused("huge length", &b, KC_ERR_FORMAT, "runs past the end");
    b.n = 0;
    put_varint(&b, 1 << 3 | 3);
    expect_refused("group wire type", &b, KC_ERR_FORMAT, "wire type 3");
    b.n = 0;
    put_varint(&b, 0);
    expect_refused("field 0", &b, KC_ERR_FORMAT, "field number 0");
    b.n = 0;
    put_vfield(&b, 1, 5);
    expect_refused("pieces as varint", &b, KC_ERR_FORMAT, "wire type 0");
    b.n = 0;
    expect_refused("empty file", &b, KC_ERR_FORMAT, "no pieces");
    put_vfield(&b, 7, 1);
    expect_refused("no pieces", &b, KC_ERR_FORMAT, "no pieces");
    free(b.p);
}

static uint8_t *find_bytes(uint8_t *hay, size_t n, const char *needle, size_t m) {
    for (size_t i = 0; i + m <= n; i++)
        if (!memcmp(hay + i, needle, m)) return hay + i;
    return NULL;
}

static uint64_t rng_next(uint64_t *s) {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* The real file, damaged: every truncation and random byte flips must fail cleanly or load a
 * consistent model (never crash; ASan/UBSan builds check the memory side). */
static void test_hostile_real(const char *path) {
    char *data = NULL;
    size_t n = 0;
    kc_err err = {0};
    if (kc_read_file(path, 64u << 20, &data, &n, &err)) {
        KC_CHECK(0, "read %s: %s", path, err.msg);
        return;
    }
    uint8_t *copy = malloc(n);
    /* Truncations: the head, the middle, inside the specs at the end. */
    size_t cuts[] = {1, 2, 3, 7, 16, 100, 1000, n / 2, n / 2 + 1, n - 300, n - 250, n - 100, n - 40, n - 10, n - 1};
    int trunc_ok = 1;
    for (size_t i = 0; i < sizeof cuts / sizeof *cuts; i++) {
        kc_tokenizer *t = NULL;
        kc_err_clear(&err);
        kc_status st = kc_tokenizer_load_buffer(data, cuts[i], "cut.model", &t, &err);
        /* A cut at a field boundary leaves a well-formed prefix without the specs. */
        if (st != KC_ERR_FORMAT || t || !strstr(err.msg, "cut.model") ||
            !(strstr(err.msg, "byte offset") || strstr(err.msg, "no trainer_spec"))) {
            printf("  cut at %zu: status %d '%s'\n", cuts[i], st, err.msg);
            trunc_ok = 0;
        }
        kc_tokenizer_free(t);
    }
    KC_CHECK(trunc_ok, "truncated files fail with the file name and a byte offset");

    /* The normaliser name patched to a same-length non-identity name. */
    memcpy(copy, data, n);
    uint8_t *id = find_bytes(copy + n - 400, 400, "identity", 8);
    KC_CHECK(id != NULL, "normalizer name found near the end");
    if (id) {
        memcpy(id, "nmt_nfkc", 8);
        buf b = {copy, n, n};
        expect_refused("real file with nmt_nfkc", &b, KC_ERR_UNSUPPORTED, "identity");
    }
    /* model_type 2 -> 1 (field 3 varint: bytes 0x18 0x02, in trainer_spec after the pieces). */
    memcpy(copy, data, n);
    uint8_t *mt = find_bytes(copy + n - 300, 300, "english_32k_bpe\x18\x02", 17);
    KC_CHECK(mt != NULL, "model_type found");
    if (mt) {
        mt[16] = 1;
        buf b = {copy, n, n};
        expect_refused("real file as UNIGRAM", &b, KC_ERR_UNSUPPORTED, "UNIGRAM");
    }

    /* Random byte flips. */
    uint64_t rs = 0x9E3779B97F4A7C15ull;
    int loaded = 0, refused = 0;
    for (int it = 0; it < 40; it++) {
        memcpy(copy, data, n);
        int flips = 1 + (int)(rng_next(&rs) % 4);
        for (int k = 0; k < flips; k++) {
            size_t at = (size_t)(rng_next(&rs) % n);
            if (it % 2) at = n - 1 - (size_t)(rng_next(&rs) % 2000); /* half of them in the spec/tail */
            copy[at] = (uint8_t)rng_next(&rs);
        }
        kc_tokenizer *t = NULL;
        kc_err_clear(&err);
        if (kc_tokenizer_load_buffer(copy, n, "flip.model", &t, &err) == KC_OK) {
            loaded++;
            kc_tok_ids ids = {0};
            const char *p = "a cat 猫 \xF0\x9F\x90\xB1 12";
            if (kc_tokenizer_encode(t, p, strlen(p), 0, &ids, &err) == KC_OK) {
                int in_range = 1;
                for (int64_t i = 0; i < ids.n; i++) in_range &= ids.ids[i] >= 0 && ids.ids[i] < kc_tokenizer_n_pieces(t);
                if (!in_range) printf("  flip %d: id out of range\n", it);
                KC_CHECK(in_range, "damaged-but-valid model encodes in range");
            }
            kc_tok_ids_free(&ids);
            kc_tokenizer_free(t);
        } else {
            refused++;
            if (!err.msg[0]) KC_CHECK(0, "refusal without a message");
        }
    }
    printf("byte flips: %d loaded, %d refused\n", loaded, refused);
    free(copy);
    free(data);
}

/* ---- speed ---- */

static double time_encode(const kc_tokenizer *t, const char *text, size_t len, int reps, kc_tok_ids *ids) {
    kc_err err = {0};
    double t0 = kc_time_now();
    for (int r = 0; r < reps; r++) kc_tokenizer_encode(t, text, len, 0, ids, &err);
    return (kc_time_now() - t0) / reps;
}

static void test_speed(const kc_tokenizer *t) {
    const char *path = kc_test_data("tokenizer/tokenizer_cases.json");
    cJSON *root = NULL;
    kc_err err = {0};
    if (kc_json_load(path, &root, &err)) return;
    /* The longest golden in bytes (case 117) and in tokens (case 120: 1203 before truncation). */
    const cJSON *c, *by_bytes = NULL, *by_tokens = NULL;
    size_t best_b = 0;
    double best_t = 0;
    cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(root, "cases")) {
        const char *hex = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "prompt_utf8_hex"));
        double nt = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(c, "num_tokens_untruncated"));
        if (hex && strlen(hex) > best_b) best_b = strlen(hex), by_bytes = c;
        if (nt > best_t) best_t = nt, by_tokens = c;
    }
    kc_tok_ids ids = {0};
    char *text = NULL;
    size_t len = 0;
    double dt = 0;
    for (int k = 0; k < 2; k++) {
        const cJSON *g = k ? by_bytes : by_tokens;
        const char *hex = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(g, "prompt_utf8_hex"));
        free(text);
        text = malloc(strlen(hex) / 2 + 1);
        len = unhex(hex, text);
        dt = time_encode(t, text, len, 200, &ids);
        printf("speed: longest golden in %s (case %d, %zu bytes -> %lld pieces): %.1f us per encode, %.2f M "
               "pieces/s, %.1f MB/s\n",
               k ? "bytes" : "tokens", (int)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(g, "id")), len,
               (long long)ids.n, dt * 1e6, ids.n / dt * 1e-6, len / dt * 1e-6);
    }
    /* 64x the longest-in-bytes text (many merges): time must grow ~linearly, not quadratically. */
    size_t big_len = len * 64;
    char *big = malloc(big_len);
    for (int k = 0; k < 64; k++) memcpy(big + (size_t)k * len, text, len);
    double dt_big = 1e30; /* best of 3: a preempted run on a busy machine must not fail the check */
    for (int r = 0; r < 3; r++) {
        double d = time_encode(t, big, big_len, 1, &ids);
        if (d < dt_big) dt_big = d;
    }
    KC_CHECK(ids.n > 0, "big encode");
    printf("speed: %zu bytes -> %lld pieces in %.2f ms (%.1fx the time for 64x the text)\n", big_len,
           (long long)ids.n, dt_big * 1e3, dt_big / dt);
    /* Generous: n log n growth is ~64-100x; an O(n^2) loop would be ~4000x. Timer noise on a busy
     * machine is the reason for the margin. */
    KC_CHECK(dt_big / dt < 1000, "near-linear scaling (%.0fx for 64x the text)", dt_big / dt);
    kc_tok_ids_free(&ids);
    free(big);
    free(text);
    cJSON_Delete(root);
}

int main(void) {
    const char *path = kc_test_shared("models/tokenizer/tokenizer.model");
    test_bpe_rules();
    test_hostile_synthetic();
    kc_test_require_file(path);
    kc_err err = {0};
    if (kc_tokenizer_load(path, &g_tok, &err)) {
        printf("FAIL load %s: %s\n", path, err.msg);
        return 1;
    }
    test_vocabulary(g_tok);
    test_spec_examples(g_tok);
    test_goldens(g_tok);
    test_edges(g_tok);
    test_invalid_utf8(g_tok);
    test_hostile_real(path);
    test_speed(g_tok);
    kc_tokenizer_free(g_tok);
    return kc_test_finish();
}
