/* test_modeldir.c — layout resolution of both official layouts, config getters, architecture check. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "harness.h"
#include "io/arch.h"
#include "io/json.h"
#include "io/modeldir.h"
#include "io/safetensors.h"
#include "io/weights.h"

static void test_layouts(void) {
    const char *a = kc_test_data("models/tiny-kolors-a"), *o = kc_test_data("models/tiny-kolors-a-orig");
    kc_test_require_file(kc_test_data("models/tiny-kolors-a/model_index.json"));
    kc_modeldir d;
    kc_err err = {0};
    KC_CHECK(kc_modeldir_resolve(a, &d, &err) == KC_OK, "diffusers layout: %s", err.msg);
    KC_CHECK(d.layout == KC_LAYOUT_DIFFUSERS && strstr(d.tokenizer_model, "tokenizer/tokenizer.model"), "tokenizer in tokenizer/");
    KC_CHECK(d.force_zeros_for_empty_prompt == 0, "force_zeros_for_empty_prompt false");
    kc_err_clear(&err);
    KC_CHECK(kc_modeldir_resolve(o, &d, &err) == KC_OK, "original layout: %s", err.msg);
    KC_CHECK(d.layout == KC_LAYOUT_ORIGINAL && strstr(d.tokenizer_model, "text_encoder/tokenizer.model"), "tokenizer in text_encoder/");
    kc_err_clear(&err);
    KC_CHECK(kc_modeldir_resolve("/nonexistent/kolors", &d, &err) == KC_ERR_IO && strstr(err.msg, "not found"), "%s", err.msg);
    kc_err_clear(&err);
    KC_CHECK(kc_modeldir_resolve(kc_test_data("models"), &d, &err) != KC_OK && strstr(err.msg, "tokenizer.model"), "%s", err.msg);

    /* A folder whose model_index.json names another pipeline is refused with the class name. */
    char root[600], p[700];
    snprintf(root, sizeof root, "%s/badidx", kc_test_tmpdir());
    mkdir(root, 0700);
    const char *sub[] = {"tokenizer", "text_encoder", "unet", "vae", "scheduler"};
    for (int i = 0; i < 5; i++) { snprintf(p, sizeof p, "%s/%s", root, sub[i]); mkdir(p, 0700); }
    snprintf(p, sizeof p, "%s/tokenizer/tokenizer.model", root); fclose(fopen(p, "w"));
    snprintf(p, sizeof p, "%s/scheduler/scheduler_config.json", root); fclose(fopen(p, "w"));
    snprintf(p, sizeof p, "%s/model_index.json", root);
    FILE *f = fopen(p, "w");
    fputs("{\"_class_name\": \"FluxPipeline\"}", f);
    fclose(f);
    kc_err_clear(&err);
    KC_CHECK(kc_modeldir_resolve(root, &d, &err) == KC_ERR_UNSUPPORTED && strstr(err.msg, "FluxPipeline"), "%s", err.msg);
    f = fopen(p, "w");
    fputs("{\"_class_name\": \"KolorsPipeline\", \"text_encoder\": [\"transformers\", \"CLIPTextModel\"]}", f);
    fclose(f);
    kc_err_clear(&err);
    KC_CHECK(kc_modeldir_resolve(root, &d, &err) == KC_ERR_UNSUPPORTED && strstr(err.msg, "CLIPTextModel"), "%s", err.msg);
}

static void test_json(void) {
    cJSON *j;
    kc_err err = {0};
    const char *txt = "{\"a\": 3, \"b\": 2.5, \"c\": [1, 2, 3], \"d\": \"x\", \"e\": true, \"n\": null, \"big\": 1e300}";
    KC_CHECK(kc_json_parse(txt, strlen(txt), "t.json", &j, &err) == KC_OK, "parse");
    int64_t v, arr[4];
    int n, bv;
    double dv;
    const char *sv;
    KC_CHECK(kc_json_int(j, "a", 1, 0, 0, 10, "t.json", &v, &err) == KC_OK && v == 3, "int");
    KC_CHECK(kc_json_int(j, "b", 1, 0, 0, 10, "t.json", &v, &err) == KC_ERR_FORMAT && strstr(err.msg, "\"b\""), "non-integer: %s", err.msg);
    kc_err_clear(&err);
    KC_CHECK(kc_json_int(j, "a", 1, 0, 5, 10, "t.json", &v, &err) == KC_ERR_UNSUPPORTED && strstr(err.msg, "outside"), "range: %s", err.msg);
    kc_err_clear(&err);
    KC_CHECK(kc_json_int(j, "zz", 1, 0, 0, 10, "t.json", &v, &err) == KC_ERR_FORMAT && strstr(err.msg, "missing"), "missing: %s", err.msg);
    kc_err_clear(&err);
    KC_CHECK(kc_json_int(j, "n", 0, 7, 0, 10, "t.json", &v, &err) == KC_OK && v == 7, "null -> default");
    KC_CHECK(kc_json_int(j, "big", 1, 0, 0, 10, "t.json", &v, &err) == KC_ERR_FORMAT, "huge number");
    kc_err_clear(&err);
    KC_CHECK(kc_json_num(j, "b", 1, 0, "t.json", &dv, &err) == KC_OK && dv == 2.5, "num");
    KC_CHECK(kc_json_int_array(j, "c", 1, arr, 4, &n, 0, "t.json", &err) == KC_OK && n == 3 && arr[2] == 3, "array");
    KC_CHECK(kc_json_int_array(j, "c", 1, arr, 2, &n, 0, "t.json", &err) == KC_ERR_UNSUPPORTED, "array too long");
    kc_err_clear(&err);
    KC_CHECK(kc_json_int_array(j, "a", 1, arr, 4, &n, 3, "t.json", &err) == KC_OK && n == 3 && arr[1] == 3, "broadcast");
    KC_CHECK(kc_json_str(j, "d", 1, NULL, "t.json", &sv, &err) == KC_OK && !strcmp(sv, "x"), "str");
    KC_CHECK(kc_json_bool(j, "e", 1, 0, "t.json", &bv, &err) == KC_OK && bv == 1, "bool");
    KC_CHECK(kc_json_bool(j, "a", 1, 0, "t.json", &bv, &err) == KC_ERR_FORMAT, "bool type");
    cJSON_Delete(j);

    /* Python's json writes infinite floats as Infinity / -Infinity (diffusers' DPM configs:
     * "lambda_min_clipped": -Infinity): read as null, i.e. the key's default; inside strings the
     * text is untouched; NaN stays invalid. */
    const char *py = "{\"lambda_min_clipped\": -Infinity, \"x\": Infinity, \"s\": \"-Infinity\", \"a\": 1}";
    kc_err_clear(&err);
    KC_CHECK(kc_json_parse(py, strlen(py), "py.json", &j, &err) == KC_OK, "Python infinities: %s", err.msg);
    if (j) {
        KC_CHECK(kc_json_is_null(j, "lambda_min_clipped") && kc_json_is_null(j, "x"), "infinities read as null");
        KC_CHECK(kc_json_str(j, "s", 1, NULL, "py.json", &sv, &err) == KC_OK && !strcmp(sv, "-Infinity"),
                 "string left alone");
        KC_CHECK(kc_json_int(j, "a", 1, 0, 0, 10, "py.json", &v, &err) == KC_OK && v == 1, "rest parsed");
        cJSON_Delete(j);
    }
    const char *nan = "{\"a\": NaN}";
    kc_err_clear(&err);
    KC_CHECK(kc_json_parse(nan, strlen(nan), "nan.json", &j, &err) == KC_ERR_FORMAT && strstr(err.msg, "near byte 6"),
             "NaN refused with its offset: %s", err.msg);
}

static void test_arch(void) {
    /* A store with one right, one wrong-shaped and one unexpected tensor; one expected tensor missing. */
    char path[600];
    snprintf(path, sizeof path, "%s/arch.safetensors", kc_test_tmpdir());
    float buf[16];
    kc_fill_random(buf, 16, 3, 1.0f);
    kc_st_write_item it[3] = {
        {"good.weight", {.dtype = KC_DTYPE_F32, .ndim = 2, .shape = {2, 2}, .data = buf}},
        {"bad.weight", {.dtype = KC_DTYPE_F32, .ndim = 2, .shape = {2, 3}, .data = buf}},
        {"extra.weight", {.dtype = KC_DTYPE_F32, .ndim = 1, .shape = {4}, .data = buf}},
    };
    kc_err err = {0};
    KC_CHECK(kc_st_write(path, it, 3, &err) == KC_OK, "write");
    kc_weights *ws;
    kc_weights_new(&ws, &err);
    KC_CHECK(kc_weights_add_file(ws, path, &err) == KC_OK, "load: %s", err.msg);
    kc_expected_list l = {0};
    int64_t s22[2] = {2, 2}, s4[1] = {4};
    kc_expected_add(&l, 2, s22, &err, "good.weight");
    kc_expected_add(&l, 2, s22, &err, "bad.weight");
    kc_expected_add(&l, 1, s4, &err, "missing.%s", "bias");
    kc_arch_result r;
    char *rep = NULL;
    KC_CHECK(kc_arch_check(&l, ws, "test", NULL, 0, 5, &r, &rep, &err) == KC_OK, "check ran");
    printf("%s", rep);
    KC_CHECK(r.n_found == 2 && r.n_missing == 1 && r.n_shape == 1 && r.n_unexpected == 1, "counts");
    KC_CHECK(rep && strstr(rep, "missing.bias") && strstr(rep, "bad.weight: found [2, 3], config implies [2, 2]") &&
                 strstr(rep, "extra.weight"), "report names every problem");
    KC_CHECK(kc_arch_verdict(&r, rep, &err) == KC_ERR_SHAPE, "verdict fails");
    free(rep);
    kc_expected_free(&l);
    kc_weights_free(ws);
}

int main(void) {
    test_json();
    test_arch();
    test_layouts();
    return kc_test_finish();
}
