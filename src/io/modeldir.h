/* modeldir.h — resolves a Kolors model folder in either official layout
 * (kolors-model.md §1.2-§1.3):
 *   original  (Kwai-Kolors/Kolors):           tokenizer files inside text_encoder/, text encoder as
 *                                             pytorch_model-0000N-of-00007.bin + index;
 *   diffusers (Kwai-Kolors/Kolors-diffusers): tokenizer/ folder, safetensors everywhere.
 * The tiny test models in shared/testdata use the same two layouts. */
#ifndef KC_IO_MODELDIR_H
#define KC_IO_MODELDIR_H

#include "core/status.h"

#define KC_PATH_MAX 4096

typedef enum { KC_LAYOUT_DIFFUSERS = 0, KC_LAYOUT_ORIGINAL = 1 } kc_layout;

typedef struct {
    kc_layout layout;
    char root[KC_PATH_MAX];
    char model_index[KC_PATH_MAX];      /* "" when absent */
    char tokenizer_model[KC_PATH_MAX];  /* .../tokenizer.model */
    char text_encoder_dir[KC_PATH_MAX];
    char unet_dir[KC_PATH_MAX];
    char vae_dir[KC_PATH_MAX];
    char scheduler_config[KC_PATH_MAX];
    int force_zeros_for_empty_prompt;   /* from model_index.json; informational (Kolors encodes "") */
} kc_modeldir;

const char *kc_layout_name(kc_layout l);
/* Fails with a message naming what is missing. Components may be checked individually later;
 * here only the folder structure and model_index.json (when present) are validated. */
kc_status kc_modeldir_resolve(const char *root, kc_modeldir *out, kc_err *err);

#endif
