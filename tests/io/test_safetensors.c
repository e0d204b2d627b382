/* test_safetensors.c — reading the golden files, a write/read round trip, and hostile headers. */
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "io/safetensors.h"

static void test_golden(void) {
    const char *p = kc_test_data("goldens/tiny-kolors-a/vae.safetensors");
    kc_test_require_file(p);
    kc_safetensors st;
    kc_err err = {0};
    KC_CHECK(kc_st_open(&st, p, &err) == KC_OK, "open: %s", err.msg);
    const kc_st_entry *e = kc_st_find(&st, "decode.image");
    KC_CHECK(e && e->t.ndim == 4 && e->t.shape[1] == 3 && e->t.shape[2] == 64 && e->t.dtype == KC_DTYPE_F32,
             "decode.image [1,3,64,64] F32");
    KC_CHECK(kc_st_find(&st, "no.such.tensor") == NULL, "missing name");
    kc_st_close(&st);
}

static void test_roundtrip(void) {
    char path[600];
    snprintf(path, sizeof path, "%s/rt.safetensors", kc_test_tmpdir());
    float a[6];
    kc_fill_random(a, 6, 1, 1.0f);
    uint16_t h[3] = {0x3c00, 0x4000, 0xc000};
    kc_st_write_item items[2] = {
        {"a", {.dtype = KC_DTYPE_F32, .ndim = 2, .shape = {2, 3}, .data = a}},
        {"h", {.dtype = KC_DTYPE_F16, .ndim = 1, .shape = {3}, .data = h}},
    };
    kc_err err = {0};
    KC_CHECK(kc_st_write(path, items, 2, &err) == KC_OK, "write: %s", err.msg);
    kc_safetensors st;
    KC_CHECK(kc_st_open(&st, path, &err) == KC_OK, "reopen: %s", err.msg);
    const kc_st_entry *e = kc_st_find(&st, "a");
    KC_CHECK(e && memcmp(e->t.data, a, sizeof a) == 0, "a round-trips");
    e = kc_st_find(&st, "h");
    KC_CHECK(e && e->t.dtype == KC_DTYPE_F16 && memcmp(e->t.data, h, sizeof h) == 0, "h round-trips");
    kc_st_close(&st);
}

/* Builds a file image: u64 header length + header + data bytes. */
static int parse_buf(const char *hdr, uint64_t hlen_field, size_t data_bytes, kc_err *err) {
    size_t hl = strlen(hdr), n = 8 + hl + data_bytes;
    unsigned char *buf = calloc(1, n + 1);
    for (int i = 0; i < 8; i++) buf[i] = (unsigned char)(hlen_field >> (8 * i));
    memcpy(buf + 8, hdr, hl);
    kc_safetensors st;
    kc_err_clear(err);
    kc_status s = kc_st_parse(&st, buf, n, "mem.safetensors", err);
    if (s == KC_OK) kc_st_close(&st);
    free(buf);
    return s;
}

static void expect_bad(const char *what, const char *hdr, int64_t hlen, size_t data, const char *needle) {
    kc_err err;
    uint64_t hl = hlen < 0 ? strlen(hdr) : (uint64_t)hlen;
    int s = parse_buf(hdr, hl, data, &err);
    KC_CHECK(s != KC_OK && strstr(err.msg, needle) != NULL, "%s: status %d, message '%s' (wanted '%s')", what, s, err.msg,
             needle);
    if (s != KC_OK) printf("ok   refused %-28s %s\n", what, err.msg);
}

static void test_hostile(void) {
    kc_err err;
    KC_CHECK(parse_buf("{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 0, 8, &err) != KC_OK,
             "zero header length");
    KC_CHECK(parse_buf("{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 54, 8, &err) == KC_OK,
             "valid minimal file: %s", err.msg);
    expect_bad("header past EOF", "{}", 1u << 20, 0, "past the end");
    expect_bad("tensor past EOF", "{\"x\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", -1, 8, "truncated");
    expect_bad("size mismatch", "{\"x\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", -1, 8, "needs 12 bytes");
    expect_bad("negative dim", "{\"x\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", -1, 8, "negative");
    expect_bad("huge dims", "{\"x\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4294967296],\"data_offsets\":[0,8]}}", -1, 8, "overflows");
    expect_bad("overlap", "{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"y\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", -1, 8, "overlap");
    expect_bad("duplicate", "{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", -1, 8, "twice");
    expect_bad("bad dtype", "{\"x\":{\"dtype\":\"Q4\",\"shape\":[1],\"data_offsets\":[0,4]}}", -1, 4, "unsupported dtype");
    expect_bad("bad json", "{\"x\":{\"dtype\":", -1, 4, "invalid JSON");
    expect_bad("not object", "[1,2]", -1, 0, "not an object");
    expect_bad("reversed offsets", "{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,0]}}", -1, 4, "data_offsets");
    char deep[300];
    memset(deep, '[', 200);
    deep[0] = '{'; deep[1] = '"'; deep[2] = 'a'; deep[3] = '"'; deep[4] = ':';
    deep[200] = '\0';
    expect_bad("deep nesting", deep, -1, 0, "nested deeper");
    KC_CHECK(parse_buf("{}", 2, 0, &err) == KC_OK, "empty tensor list is valid");
    unsigned char tiny[4] = {1, 2, 3, 4};
    kc_safetensors st;
    kc_err_clear(&err);
    KC_CHECK(kc_st_parse(&st, tiny, 4, "tiny", &err) == KC_ERR_FORMAT, "4-byte file refused");
}

int main(void) {
    test_roundtrip();
    test_hostile();
    test_golden();
    return kc_test_finish();
}
