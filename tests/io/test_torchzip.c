/* test_torchzip.c — PyTorch zip checkpoints: the tiny ChatGLM shards against their safetensors
 * twin (bit-identical), hand-built and torch.save-written fixtures (F32/F16/BF16/I64, storage
 * offsets, shared storages, zip64, OrderedDict _metadata), and every corrupt or hostile fixture in
 * tests/io/corrupt/ (made by tests/io/make_corrupt.py) with its expected status and message. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/dtype.h"
#include "harness.h"
#include "io/pickle.h"
#include "io/safetensors.h"
#include "io/torchzip.h"
#include "io/weights.h"

static const char *fixture(const char *name) {
    static char buf[8][1024];
    static int k;
    const char *src = getenv("KOLORS_SOURCE_DIR");
    if (!src) kc_test_skip("KOLORS_SOURCE_DIR is not set (run through ctest)");
    char *b = buf[k++ % 8];
    snprintf(b, sizeof buf[0], "%s/tests/io/corrupt/%s", src, name);
    return b;
}

/* The tiny text encoder: two torch.save shards + index vs the safetensors conversion. */
static void test_real_shards(void) {
    const char *dir = kc_test_data("models/tiny-kolors-a-orig/text_encoder");
    const char *ref = kc_test_data("models/tiny-kolors-a/text_encoder/model.safetensors");
    kc_test_require_file(ref);
    kc_test_require_file(kc_test_data("models/tiny-kolors-a-orig/text_encoder/pytorch_model.bin.index.json"));
    const char *bases[] = {"model", "pytorch_model"};
    kc_weights *ws = NULL;
    kc_err err = {0};
    int used_var = -1;
    kc_status s = kc_weights_open_dir(dir, bases, 2, NULL, &ws, &used_var, &err);
    KC_CHECK(s == KC_OK, "open_dir %s: %s", dir, err.msg);
    if (s) return;
    kc_safetensors st;
    s = kc_st_open(&st, ref, &err);
    KC_CHECK(s == KC_OK, "open %s: %s", ref, err.msg);
    if (s) { kc_weights_free(ws); return; }
    KC_CHECK(kc_weights_count(ws) == 25 && st.n == 25, "25 tensors (got %lld, reference %lld)",
             (long long)kc_weights_count(ws), (long long)st.n);
    KC_CHECK(kc_weights_nfiles(ws) == 2, "two shard files mapped (got %d)", kc_weights_nfiles(ws));
    int same = 0;
    for (int64_t i = 0; i < st.n; i++) {
        const kc_st_entry *r = &st.entries[i];
        const kc_weight_entry *e = kc_weights_find(ws, r->name);
        if (!e) { KC_CHECK(0, "tensor %s missing from the .bin shards", r->name); continue; }
        int ok = e->t.dtype == r->t.dtype && e->t.ndim == r->t.ndim;
        for (int d = 0; ok && d < r->t.ndim; d++) ok = e->t.shape[d] == r->t.shape[d];
        ok = ok && memcmp(e->t.data, r->t.data, (size_t)r->nbytes) == 0;
        KC_CHECK(ok, "tensor %s: dtype/shape/bytes differ from the safetensors twin", r->name);
        same += ok;
    }
    printf("real shards: %d/%lld tensors bit-identical to %s\n", same, (long long)st.n, ref);
    kc_st_close(&st);
    kc_weights_free(ws);
}

static const kc_weight_entry *get(kc_weights *ws, const char *name, kc_dtype dt, int ndim, const int64_t *shape) {
    const kc_weight_entry *e = kc_weights_find(ws, name);
    int ok = e && e->t.dtype == dt && e->t.ndim == ndim;
    for (int d = 0; ok && d < ndim; d++) ok = e->t.shape[d] == shape[d];
    KC_CHECK(ok, "tensor '%s' present with the expected dtype %s and shape", name, kc_dtype_name(dt));
    return ok ? e : NULL;
}

static float f32_at(const void *p, int64_t i) {
    float v;
    memcpy(&v, (const char *)p + 4 * i, 4);
    return v;
}
static float f16_at(const void *p, int64_t i) {
    uint16_t v;
    memcpy(&v, (const char *)p + 2 * i, 2);
    return kc_f16_to_f32(v);
}
static float bf16_at(const void *p, int64_t i) {
    uint16_t v;
    memcpy(&v, (const char *)p + 2 * i, 2);
    uint32_t b = (uint32_t)v << 16;
    float f;
    memcpy(&f, &b, 4);
    return f;
}

static kc_weights *open_fixture(const char *name) {
    kc_weights *ws = NULL;
    kc_err err = {0};
    kc_status s = kc_weights_new(&ws, &err);
    if (!s) s = kc_weights_add_file(ws, fixture(name), &err);
    KC_CHECK(s == KC_OK, "%s opens: %s", name, err.msg);
    if (s) { kc_weights_free(ws); return NULL; }
    return ws;
}

/* The hand-built state dict of make_corrupt.py (values are exact in every dtype used). */
static void check_handmade(const char *file) {
    kc_weights *ws = open_fixture(file);
    if (!ws) return;
    KC_CHECK(kc_weights_count(ws) == 5, "%s: 5 tensors", file);
    int bad = 0;
    const kc_weight_entry *e = get(ws, "f32", KC_DTYPE_F32, 2, (int64_t[]){3, 4});
    for (int i = 0; e && i < 12; i++) bad += f32_at(e->t.data, i) != i * 0.5f - 2.0f;
    e = get(ws, "base", KC_DTYPE_F32, 1, (int64_t[]){20});
    for (int i = 0; e && i < 20; i++) bad += f32_at(e->t.data, i) != (float)i;
    const kc_weight_entry *v = get(ws, "view", KC_DTYPE_F32, 2, (int64_t[]){2, 3});
    for (int i = 0; v && i < 6; i++) bad += f32_at(v->t.data, i) != (float)(i + 5); /* storage_offset 5 */
    KC_CHECK(!e || !v || (const char *)v->t.data == (const char *)e->t.data + 20, "%s: view shares base's storage", file);
    e = get(ws, "h", KC_DTYPE_F16, 2, (int64_t[]){2, 3});
    for (int i = 0; e && i < 6; i++) bad += f16_at(e->t.data, i) != i * 0.25f - 0.5f;
    e = get(ws, "b", KC_DTYPE_BF16, 1, (int64_t[]){4});
    for (int i = 0; e && i < 4; i++) bad += bf16_at(e->t.data, i) != i * 2.0f - 3.0f;
    KC_CHECK(bad == 0, "%s: %d values differ from the generator's", file, bad);
    kc_weights_free(ws);
}

/* Written by torch.save itself (torch 1.13). */
static void check_torch_written(void) {
    kc_weights *ws = open_fixture("torch_linear.pt");
    if (ws) {
        int bad = 0;
        const kc_weight_entry *e = get(ws, "weight", KC_DTYPE_F32, 2, (int64_t[]){2, 3});
        for (int i = 0; e && i < 6; i++) bad += f32_at(e->t.data, i) != i * 0.5f - 1.0f;
        e = get(ws, "bias", KC_DTYPE_F32, 1, (int64_t[]){2});
        bad += e && (f32_at(e->t.data, 0) != 0.25f || f32_at(e->t.data, 1) != -0.75f);
        KC_CHECK(bad == 0 && kc_weights_count(ws) == 2, "torch_linear.pt: nn.Linear state_dict (with _metadata) values");
        kc_weights_free(ws);
    }
    ws = open_fixture("torch_mixed.pt");
    if (ws) {
        int bad = 0;
        const kc_weight_entry *e = get(ws, "bf16", KC_DTYPE_BF16, 1, (int64_t[]){8});
        for (int i = 0; e && i < 8; i++) bad += bf16_at(e->t.data, i) != (float)(i - 3);
        e = get(ws, "f16", KC_DTYPE_F16, 2, (int64_t[]){2, 3});
        for (int i = 0; e && i < 6; i++) bad += f16_at(e->t.data, i) != i * 0.25f;
        e = get(ws, "slice", KC_DTYPE_F32, 2, (int64_t[]){3, 2});
        for (int i = 0; e && i < 6; i++) bad += f32_at(e->t.data, i) != (float)(i + 4);
        e = get(ws, "big", KC_DTYPE_F32, 1, (int64_t[]){10});
        for (int i = 0; e && i < 10; i++) bad += f32_at(e->t.data, i) != (float)i;
        e = get(ws, "i64", KC_DTYPE_I64, 1, (int64_t[]){5});
        for (int i = 0; e && i < 5; i++) {
            int64_t x;
            memcpy(&x, (const char *)e->t.data + 8 * i, 8);
            bad += x != i;
        }
        e = get(ws, "scalar", KC_DTYPE_F32, 0, NULL);
        bad += e && f32_at(e->t.data, 0) != 2.5f;
        KC_CHECK(bad == 0, "torch_mixed.pt: %d values differ", bad);
        kc_weights_free(ws);
    }
}

typedef struct {
    const char *file;
    kc_status status;
    const char *needle; /* must appear in the message */
} bad_case;

static const bad_case bad_cases[] = {
    {"tz_hostile_os_system.pt", KC_ERR_FORMAT, "GLOBAL 'os.system' is not allowed"},
    {"tz_hostile_os_system.pt", KC_ERR_FORMAT, "pickle byte 2:"},
    {"tz_hostile_eval.pt", KC_ERR_FORMAT, "GLOBAL 'builtins.eval' is not allowed"},
    {"tz_unknown_opcode.pt", KC_ERR_FORMAT, "opcode 0x47 ('G') is not supported"},
    {"tz_unknown_opcode.pt", KC_ERR_FORMAT, "pickle byte 10:"},
    {"tz_inst_opcode.pt", KC_ERR_FORMAT, "opcode 0x69 ('i')"},
    {"tz_memo_bomb.pt", KC_ERR_FORMAT, "memo index 4294967295 exceeds the limit"},
    {"tz_memo_missing.pt", KC_ERR_FORMAT, "memo index 5 was never stored"},
    {"tz_no_stop.pt", KC_ERR_FORMAT, "without STOP"},
    {"tz_underflow.pt", KC_ERR_FORMAT, "no MARK"},
    {"tz_not_tensor.pt", KC_ERR_FORMAT, "value 'x' is not a tensor"},
    {"tz_storage_range.pt", KC_ERR_FORMAT, "tensor needs elements [15, 15 + 6) of storage '1' which has 20"},
    {"tz_noncontig.pt", KC_ERR_UNSUPPORTED, "non-contiguous"},
    {"torch_noncontig.pt", KC_ERR_UNSUPPORTED, "non-contiguous"},
    {"tz_missing_storage.pt", KC_ERR_FORMAT, "uses storage '9' but the archive has no entry 'archive/data/9'"},
    {"tz_storage_size.pt", KC_ERR_FORMAT, "storage '0' is 13 F32 elements but entry 'archive/data/0' holds 48 bytes"},
    {"tz_dtype_mismatch.pt", KC_ERR_FORMAT, "different types or sizes"},
    {"tz_bad_key.pt", KC_ERR_FORMAT, "storage key must be a short plain name"},
    {"tz_no_pkl.pt", KC_ERR_FORMAT, "no <folder>/data.pkl"},
    {"tz_outside_root.pt", KC_ERR_FORMAT, "entry 'evil/x' is outside the checkpoint folder 'archive/'"},
    {"tz_duplicate_entry.pt", KC_ERR_FORMAT, "entry 'archive/data/0' appears twice"},
    {"tz_deflated.pt", KC_ERR_UNSUPPORTED, "entry 'archive/data.pkl' is compressed (zip method 8, deflate)"},
    {"tz_pkl_crc.pt", KC_ERR_FORMAT, "archive/data.pkl: CRC-32 is"},
    {"tz_bigendian.pt", KC_ERR_UNSUPPORTED, "byte order"},
    {"tz_truncated.pt", KC_ERR_FORMAT, "no zip end-of-central-directory record"},
    {"tz_no_eocd.pt", KC_ERR_FORMAT, "no zip end-of-central-directory record"},
    {"tz_cd_offset.pt", KC_ERR_FORMAT, "central directory"},
    {"tz_local_offset.pt", KC_ERR_FORMAT, "no local header at byte 3"},
    {"tz_entry_size.pt", KC_ERR_FORMAT, "runs into the central directory"},
    {"st_good.safetensors", KC_ERR_FORMAT, "no zip end-of-central-directory record"},
};

static void test_bad_fixtures(void) {
    for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
        const bad_case *c = &bad_cases[i];
        kc_torchzip tz;
        kc_err err = {0};
        kc_status s = kc_torchzip_open(&tz, fixture(c->file), &err);
        if (s == KC_OK) kc_torchzip_close(&tz);
        KC_CHECK(s == c->status && strstr(err.msg, c->needle),
                 "%s: got %s '%s'; wanted %s containing '%s'", c->file, kc_status_name(s), err.msg,
                 kc_status_name(c->status), c->needle);
    }
    /* Through the store too: the path is named and nothing leaks (ASan build checks). */
    kc_weights *ws = NULL;
    kc_err err = {0};
    KC_CHECK(kc_weights_new(&ws, &err) == KC_OK, "new");
    kc_status s = kc_weights_add_file(ws, fixture("tz_hostile_os_system.pt"), &err);
    KC_CHECK(s == KC_ERR_FORMAT && strstr(err.msg, "tz_hostile_os_system.pt"), "store names the file: %s", err.msg);
    kc_weights_free(ws);
    ws = NULL;
    kc_err_clear(&err);
    KC_CHECK(kc_weights_new(&ws, &err) == KC_OK, "new");
    s = kc_weights_add_file(ws, fixture("torch_legacy.pt"), &err);
    KC_CHECK(s == KC_ERR_UNSUPPORTED && strstr(err.msg, "legacy (pre-1.6, non-zip) PyTorch checkpoint"),
             "legacy torch.save format refused with a hint: %s", err.msg);
    kc_weights_free(ws);
}

/* Every prefix of a good checkpoint is refused cleanly (no crash, no OK with garbage). */
static void test_truncations(void) {
    FILE *f = fopen(fixture("tz_good.pt"), "rb");
    KC_CHECK(f != NULL, "open tz_good.pt");
    if (!f) return;
    unsigned char buf[4096];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    int ok = 0, refused = 0;
    for (size_t len = 0; len < n; len++) {
        unsigned char *copy = malloc(len + 1); /* exact-size copy so ASan sees any overread */
        memcpy(copy, buf, len);
        kc_torchzip tz;
        kc_err err = {0};
        kc_status s = kc_torchzip_parse(&tz, copy, len, "trunc.pt", &err);
        if (s == KC_OK) { ok++; kc_torchzip_close(&tz); }
        else refused += err.msg[0] != '\0';
        free(copy);
    }
    KC_CHECK(ok == 0 && refused == (int)n, "all %zu truncations refused with a message (%d accepted)", n, ok);
    kc_torchzip tz;
    kc_err err = {0};
    KC_CHECK(kc_torchzip_parse(&tz, buf, n, "whole.pt", &err) == KC_OK && kc_torchzip_count(&tz) == 5,
             "whole buffer parses: %s", err.msg);
    kc_torchzip_close(&tz);
}

/* Direct unpickler checks: LONG1 sign extension, SHORT_BINUNICODE, and a NUL inside a key. */
static void test_pickle_direct(void) {
    kc_pickle_tensor *t = NULL;
    int64_t n = -1;
    kc_err err = {0};
    static const unsigned char empty[] = {0x80, 2, '}', '.'};
    KC_CHECK(kc_pickle_load_state_dict(empty, sizeof empty, "empty", &t, &n, &err) == KC_OK && n == 0,
             "empty dict: %s", err.msg);
    kc_pickle_free(t, n);
    static const unsigned char notdict[] = {0x80, 2, ']', '.'};
    KC_CHECK(kc_pickle_load_state_dict(notdict, sizeof notdict, "list", &t, &n, &err) == KC_ERR_FORMAT &&
                 strstr(err.msg, "holds no dict"), "a list is not a state dict: %s", err.msg);
    kc_err_clear(&err);
    static const unsigned char nulkey[] = {0x80, 2, '}', 0x8c, 3, 'a', 0, 'b', 'K', 1, 's', '.'};
    KC_CHECK(kc_pickle_load_state_dict(nulkey, sizeof nulkey, "nul", &t, &n, &err) == KC_ERR_FORMAT,
             "key with NUL refused: %s", err.msg);
    kc_err_clear(&err);
    static const unsigned char stack_left[] = {0x80, 2, '}', '}', '.'};
    KC_CHECK(kc_pickle_load_state_dict(stack_left, sizeof stack_left, "two", &t, &n, &err) == KC_ERR_FORMAT &&
                 strstr(err.msg, "unbalanced"), "two values at STOP refused: %s", err.msg);
}

int main(void) {
    test_pickle_direct();
    check_handmade("tz_good.pt");
    check_handmade("tz_good_zip64.pt");
    check_handmade("tz_good_byteorder.pt");
    check_torch_written();
    test_bad_fixtures();
    test_truncations();
    test_real_shards();
    return kc_test_finish();
}
