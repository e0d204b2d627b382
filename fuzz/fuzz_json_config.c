/* fuzz_json_config.c — config/index JSON: the depth-limited parse, then the typed getters the
 * config loaders use, on the keys of a diffusers U-Net / ChatGLM config and an index file. */
#include "fuzz_entry.h"
#include "io/json.h"

int kc_fuzz_json_config(const uint8_t *data, size_t size) {
    cJSON *root = NULL;
    kc_err err = {0};
    if (kc_json_parse((const char *)data, size, "fuzz.json", &root, &err) != KC_OK) return 0;
    int64_t v, arr[16];
    double d;
    int b, n;
    const char *s, *strs[16];
    static const char *ints[] = {"in_channels", "num_layers", "hidden_size", "cross_attention_dim", "sample_size"};
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
        kc_err_clear(&err);
        kc_json_int(root, ints[i], 0, 4, 1, 1 << 20, "fuzz.json", &v, &err);
    }
    kc_err_clear(&err);
    kc_json_int_array(root, "block_out_channels", 0, arr, 16, &n, 0, "fuzz.json", &err);
    kc_err_clear(&err);
    kc_json_int_array(root, "attention_head_dim", 0, arr, 16, &n, 4, "fuzz.json", &err);
    kc_err_clear(&err);
    kc_json_num(root, "layernorm_epsilon", 0, 1e-5, "fuzz.json", &d, &err);
    kc_err_clear(&err);
    kc_json_bool(root, "add_qkv_bias", 0, 0, "fuzz.json", &b, &err);
    kc_err_clear(&err);
    kc_json_str(root, "_class_name", 0, NULL, "fuzz.json", &s, &err);
    kc_err_clear(&err);
    kc_json_str_array(root, "down_block_types", 0, strs, 16, &n, "fuzz.json", &err);
    const cJSON *wm = cJSON_GetObjectItemCaseSensitive(root, "weight_map");
    const cJSON *it;
    unsigned acc = 0;
    if (cJSON_IsObject(wm))
        cJSON_ArrayForEach(it, wm) if (cJSON_IsString(it)) acc += kc_fuzz_touch(it->valuestring, 1);
    (void)acc;
    cJSON_Delete(root);
    return 0;
}
KC_FUZZ_MAIN(kc_fuzz_json_config)
