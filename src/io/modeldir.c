/* modeldir.c — see modeldir.h. */
#include "io/modeldir.h"

#include <stdio.h>
#include <string.h>

#include "core/mapfile.h"
#include "io/json.h"

const char *kc_layout_name(kc_layout l) {
    return l == KC_LAYOUT_ORIGINAL ? "original (Kwai-Kolors/Kolors)" : "diffusers (Kwai-Kolors/Kolors-diffusers)";
}

static void pjoin(char *dst, const char *a, const char *b) { snprintf(dst, KC_PATH_MAX, "%s/%s", a, b); }

/* model_index.json: the pipeline class and each component's (library, class) pair. */
static kc_status check_index(kc_modeldir *d, kc_err *err) {
    cJSON *j = NULL;
    kc_status s = kc_json_load(d->model_index, &j, err);
    if (s) return s;
    const char *cls = NULL;
    s = kc_json_str(j, "_class_name", 0, NULL, d->model_index, &cls, err);
    static const char *ok_cls[] = {"KolorsPipeline", "KolorsImg2ImgPipeline", "StableDiffusionXLPipeline",
                                   "StableDiffusionXLImg2ImgPipeline", "StableDiffusionXLInpaintPipeline"};
    if (!s && cls) {
        int ok = 0;
        for (size_t i = 0; i < sizeof ok_cls / sizeof *ok_cls; i++) ok |= strcmp(cls, ok_cls[i]) == 0;
        if (!ok)
            s = kc_fail(err, KC_ERR_UNSUPPORTED, "%s: pipeline class \"%s\" is not a Kolors pipeline", d->model_index, cls);
    }
    static const struct { const char *key, *cls; } comp[] = {
        {"text_encoder", "ChatGLMModel"}, {"tokenizer", "ChatGLMTokenizer"},
        {"unet", "UNet2DConditionModel"}, {"vae", "AutoencoderKL"}};
    for (size_t i = 0; !s && i < sizeof comp / sizeof *comp; i++) {
        const cJSON *it = cJSON_GetObjectItemCaseSensitive(j, comp[i].key);
        if (!it || cJSON_IsNull(it)) continue;
        const cJSON *c1 = cJSON_IsArray(it) ? cJSON_GetArrayItem(it, 1) : NULL;
        if (!cJSON_IsString(c1))
            s = kc_fail(err, KC_ERR_FORMAT, "%s: \"%s\" must be [library, class]", d->model_index, comp[i].key);
        else if (strcmp(c1->valuestring, comp[i].cls) != 0)
            s = kc_fail(err, KC_ERR_UNSUPPORTED, "%s: \"%s\" is a %s; kolors.c needs %s", d->model_index, comp[i].key,
                        c1->valuestring, comp[i].cls);
    }
    /* Recorded for `kolors info` only: the official repo's value is unconfirmed (kolors-model.md
     * §12.2: reported true by a third party) and Kolors' own scripts override it with false, which
     * is what the pipeline always does (the negative prompt is encoded, never zeroed). */
    if (!s) s = kc_json_bool(j, "force_zeros_for_empty_prompt", 0, 0, d->model_index, &d->force_zeros_for_empty_prompt, err);
    cJSON_Delete(j);
    return s;
}

kc_status kc_modeldir_resolve(const char *root, kc_modeldir *d, kc_err *err) {
    memset(d, 0, sizeof *d);
    if (!root || !*root) return kc_fail(err, KC_ERR_ARG, "no model folder given");
    if (strlen(root) > KC_PATH_MAX - 64) return kc_fail(err, KC_ERR_ARG, "model path is too long");
    if (!kc_dir_exists(root)) return kc_fail(err, KC_ERR_IO, "%s: model folder not found", root);
    snprintf(d->root, KC_PATH_MAX, "%s", root);
    pjoin(d->model_index, root, "model_index.json");
    if (!kc_file_exists(d->model_index)) d->model_index[0] = '\0';
    pjoin(d->text_encoder_dir, root, "text_encoder");
    pjoin(d->unet_dir, root, "unet");
    pjoin(d->vae_dir, root, "vae");
    pjoin(d->scheduler_config, root, "scheduler/scheduler_config.json");

    char tok_diff[KC_PATH_MAX], tok_orig[KC_PATH_MAX];
    pjoin(tok_diff, root, "tokenizer/tokenizer.model");
    pjoin(tok_orig, root, "text_encoder/tokenizer.model");
    if (kc_file_exists(tok_diff)) {
        d->layout = KC_LAYOUT_DIFFUSERS;
        snprintf(d->tokenizer_model, KC_PATH_MAX, "%s", tok_diff);
    } else if (kc_file_exists(tok_orig)) {
        d->layout = KC_LAYOUT_ORIGINAL;
        snprintf(d->tokenizer_model, KC_PATH_MAX, "%s", tok_orig);
    } else {
        return kc_fail(err, KC_ERR_IO,
                       "%s: no tokenizer.model found (looked in tokenizer/ for the diffusers layout and in "
                       "text_encoder/ for the original layout)", root);
    }
    static const char *need[] = {"text_encoder", "unet", "vae", "scheduler"};
    for (size_t i = 0; i < sizeof need / sizeof *need; i++) {
        char p[KC_PATH_MAX];
        pjoin(p, root, need[i]);
        if (!kc_dir_exists(p)) return kc_fail(err, KC_ERR_IO, "%s: component folder '%s/' is missing", root, need[i]);
    }
    if (!kc_file_exists(d->scheduler_config))
        return kc_fail(err, KC_ERR_IO, "%s: scheduler/scheduler_config.json is missing", root);
    if (d->model_index[0]) return check_index(d, err);
    return KC_OK;
}
