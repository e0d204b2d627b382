/* test_weights.c — the weights store: sharded index JSON (good, hostile shard names, missing
 * shard, tensor in the wrong shard, duplicates) and component-folder resolution (fp16 variant
 * preferred when asked, plain fallback, fp16 fallback when nothing plain exists, PyTorch .bin). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "harness.h"
#include "io/safetensors.h"
#include "io/weights.h"

static char tmp[700];

static void write_text(const char *name, const char *text) {
    char p[900];
    snprintf(p, sizeof p, "%s/%s", tmp, name);
    FILE *f = fopen(p, "wb");
    KC_CHECK(f != NULL, "create %s", p);
    if (!f) return;
    fputs(text, f);
    fclose(f);
}

static float xa[4], ya[3], za[2];

static void write_shard(const char *name, int nitems, const char *const *names, float *const *data, const int *len) {
    char p[900];
    snprintf(p, sizeof p, "%s/%s", tmp, name);
    kc_st_write_item it[4];
    for (int i = 0; i < nitems; i++) {
        it[i].name = names[i];
        it[i].t = (kc_tensor){.dtype = KC_DTYPE_F32, .ndim = 1, .shape = {len[i]}, .data = data[i]};
    }
    kc_err err = {0};
    KC_CHECK(kc_st_write(p, it, nitems, &err) == KC_OK, "write %s: %s", p, err.msg);
}

/* Opens <tmp>/<index> into a fresh store; returns the status, message in err. */
static kc_status try_index(const char *index_json, kc_err *err, int64_t *count) {
    write_text("idx.json", index_json);
    char p[900];
    snprintf(p, sizeof p, "%s/idx.json", tmp);
    kc_weights *ws = NULL;
    kc_err_clear(err);
    kc_status s = kc_weights_new(&ws, err);
    if (!s) s = kc_weights_add_index(ws, p, err);
    if (count) *count = s ? -1 : kc_weights_count(ws);
    kc_weights_free(ws);
    return s;
}

static void expect_index(const char *what, const char *json, kc_status want, const char *needle) {
    kc_err err;
    kc_status s = try_index(json, &err, NULL);
    KC_CHECK(s == want && strstr(err.msg, needle), "%s: got %s '%s'; wanted %s containing '%s'", what,
             kc_status_name(s), err.msg, kc_status_name(want), needle);
}

static void test_index(void) {
    kc_fill_random(xa, 4, 1, 1.0f);
    kc_fill_random(ya, 3, 2, 1.0f);
    kc_fill_random(za, 2, 3, 1.0f);
    write_shard("a.safetensors", 2, (const char *[]){"x", "y"}, (float *[]){xa, ya}, (int[]){4, 3});
    write_shard("b.safetensors", 1, (const char *[]){"z"}, (float *[]){za}, (int[]){2});
    write_shard("dup.safetensors", 1, (const char *[]){"x"}, (float *[]){xa}, (int[]){4});

    kc_err err;
    int64_t n = 0;
    kc_status s = try_index("{\"metadata\":{\"total_size\":36},\"weight_map\":{\"x\":\"a.safetensors\","
                            "\"y\":\"a.safetensors\",\"z\":\"b.safetensors\"}}", &err, &n);
    KC_CHECK(s == KC_OK && n == 3, "good index: %s (%lld tensors)", err.msg, (long long)n);

    expect_index("parent dir", "{\"weight_map\":{\"x\":\"../a.safetensors\"}}", KC_ERR_FORMAT,
                 "shard name \"../a.safetensors\" must be a plain file name");
    expect_index("sub dir", "{\"weight_map\":{\"x\":\"sub/a.safetensors\"}}", KC_ERR_FORMAT, "must be a plain file name");
    expect_index("absolute", "{\"weight_map\":{\"x\":\"/etc/passwd\"}}", KC_ERR_FORMAT, "must be a plain file name");
    expect_index("dotdot", "{\"weight_map\":{\"x\":\"..\"}}", KC_ERR_FORMAT, "must be a plain file name");
    expect_index("empty name", "{\"weight_map\":{\"x\":\"\"}}", KC_ERR_FORMAT, "must be a plain file name");
    expect_index("missing shard", "{\"weight_map\":{\"x\":\"a.safetensors\",\"q\":\"c.safetensors\"}}", KC_ERR_IO,
                 "c.safetensors: cannot open");
    expect_index("wrong shard",
                 "{\"weight_map\":{\"x\":\"a.safetensors\",\"y\":\"b.safetensors\",\"z\":\"b.safetensors\"}}",
                 KC_ERR_FORMAT, "tensor 'y' is listed for b.safetensors but was found in a.safetensors");
    expect_index("absent tensor", "{\"weight_map\":{\"x\":\"a.safetensors\",\"w\":\"a.safetensors\"}}", KC_ERR_FORMAT,
                 "tensor 'w' is listed for a.safetensors but that shard does not contain it");
    expect_index("duplicate across shards", "{\"weight_map\":{\"x\":\"a.safetensors\",\"q\":\"dup.safetensors\"}}",
                 KC_ERR_FORMAT, "tensor 'x' is stored twice");
    expect_index("no weight_map", "{\"metadata\":{}}", KC_ERR_FORMAT, "\"weight_map\" is missing");
    expect_index("empty weight_map", "{\"weight_map\":{}}", KC_ERR_FORMAT, "\"weight_map\" is empty");
    expect_index("non-string shard", "{\"weight_map\":{\"x\":3}}", KC_ERR_FORMAT, "weight_map[\"x\"] is not a file name");
    expect_index("not json", "{\"weight_map\":", KC_ERR_FORMAT, "idx.json");
    expect_index("shard is the index", "{\"weight_map\":{\"x\":\"idx.json\"}}", KC_ERR_FORMAT, "idx.json");
}

static int first_dtype(kc_weights *ws) { return kc_weights_count(ws) ? (int)kc_weights_entry(ws, 0)->t.dtype : -1; }

static int ends_with(const char *s, const char *suf) {
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcmp(s + a - b, suf) == 0;
}

static void test_variants_real(void) {
    const char *unet = kc_test_data("models/tiny-kolors-a-orig/unet");
    kc_test_require_file(kc_test_data("models/tiny-kolors-a-orig/unet/diffusion_pytorch_model.fp16.safetensors"));
    const char *bases[] = {"diffusion_pytorch_model"};
    kc_weights *ws = NULL;
    kc_err err = {0};
    int used = -1;
    KC_CHECK(kc_weights_open_dir(unet, bases, 1, "fp16", &ws, &used, &err) == KC_OK, "unet fp16: %s", err.msg);
    if (ws) {
        KC_CHECK(used == 1 && kc_weights_nfiles(ws) == 1 && ends_with(kc_weights_file(ws, 0), ".fp16.safetensors") &&
                     first_dtype(ws) == KC_DTYPE_F16,
                 "fp16 requested: the .fp16 file is used (used=%d, dtype %d)", used, first_dtype(ws));
        kc_weights_free(ws);
    }
    ws = NULL;
    KC_CHECK(kc_weights_open_dir(unet, bases, 1, NULL, &ws, &used, &err) == KC_OK, "unet plain: %s", err.msg);
    if (ws) {
        KC_CHECK(used == 0 && ends_with(kc_weights_file(ws, 0), "/diffusion_pytorch_model.safetensors") &&
                     first_dtype(ws) == KC_DTYPE_F32,
                 "no variant requested: the plain file is used (used=%d, dtype %d)", used, first_dtype(ws));
        kc_weights_free(ws);
    }
    ws = NULL;
    const char *vae = kc_test_data("models/tiny-kolors-a-orig/vae");
    KC_CHECK(kc_weights_open_dir(vae, bases, 1, "fp16", &ws, &used, &err) == KC_OK, "vae: %s", err.msg);
    if (ws) {
        KC_CHECK(used == 0, "vae has no fp16 file: plain used (used=%d)", used);
        kc_weights_free(ws);
    }
    ws = NULL;
    kc_err_clear(&err);
    KC_CHECK(kc_weights_open_dir(vae, bases, 1, "../x", &ws, &used, &err) == KC_ERR_ARG && ws == NULL,
             "variant with '/' refused: %s", err.msg);
}

static void test_variants_tmp(void) {
    char d[800], p[900];
    snprintf(d, sizeof d, "%s/onlyfp16", tmp);
    mkdir(d, 0755);
    snprintf(p, sizeof p, "%s/diffusion_pytorch_model.fp16.safetensors", d);
    uint16_t h[2] = {0x3c00, 0xc000};
    kc_st_write_item it = {"w", {.dtype = KC_DTYPE_F16, .ndim = 1, .shape = {2}, .data = h}};
    kc_err err = {0};
    KC_CHECK(kc_st_write(p, &it, 1, &err) == KC_OK, "write: %s", err.msg);
    const char *bases[] = {"diffusion_pytorch_model"};
    kc_weights *ws = NULL;
    int used = -1;
    KC_CHECK(kc_weights_open_dir(d, bases, 1, NULL, &ws, &used, &err) == KC_OK && used == 1,
             "only an fp16 file: used as the fallback (used=%d): %s", used, err.msg);
    kc_weights_free(ws);

    /* Nothing there: the message lists what was looked for. */
    snprintf(d, sizeof d, "%s/empty", tmp);
    mkdir(d, 0755);
    ws = NULL;
    kc_err_clear(&err);
    KC_CHECK(kc_weights_open_dir(d, bases, 1, "fp16", &ws, &used, &err) == KC_ERR_IO &&
                 strstr(err.msg, "diffusion_pytorch_model.fp16.safetensors") && strstr(err.msg, "pytorch_model.bin"),
             "empty folder message lists candidates: %s", err.msg);

    /* A single pytorch_model.bin (zip checkpoint) is found after the safetensors candidates. */
    const char *src = getenv("KOLORS_SOURCE_DIR");
    if (!src) return;
    snprintf(d, sizeof d, "%s/bin", tmp);
    mkdir(d, 0755);
    char from[900];
    snprintf(from, sizeof from, "%s/tests/io/corrupt/tz_good.pt", src);
    snprintf(p, sizeof p, "%s/pytorch_model.bin", d);
    FILE *fi = fopen(from, "rb"), *fo = fopen(p, "wb");
    KC_CHECK(fi && fo, "copy %s", from);
    if (fi && fo) {
        char buf[4096];
        size_t n;
        while ((n = fread(buf, 1, sizeof buf, fi)) > 0) fwrite(buf, 1, n, fo);
    }
    if (fi) fclose(fi);
    if (fo) fclose(fo);
    const char *tb[] = {"model", "pytorch_model"};
    ws = NULL;
    KC_CHECK(kc_weights_open_dir(d, tb, 2, NULL, &ws, &used, &err) == KC_OK && kc_weights_count(ws) == 5 && used == 0,
             "pytorch_model.bin found: %s", err.msg);
    kc_weights_free(ws);
}

int main(void) {
    snprintf(tmp, sizeof tmp, "%s", kc_test_tmpdir());
    test_index();
    test_variants_tmp();
    test_variants_real();
    return kc_test_finish();
}
