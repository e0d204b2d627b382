/* golden_cases.h — reading goldens/<model>/cases.json (the pipeline cases) for the pipeline and
 * CLI tests. Header-only: static functions, included by each test that needs them. */
#ifndef KC_TESTS_GOLDEN_CASES_H
#define KC_TESTS_GOLDEN_CASES_H

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "io/json.h"

/* cases.json was written by Python's json module (it holds -Infinity for a scheduler key): the
 * project's own JSON reader takes that token as null, as it does for diffusers configs. */
static cJSON *golden_load_cases(const char *path) {
    cJSON *root = NULL;
    kc_err err = {0};
    if (kc_json_load(path, &root, &err)) printf("FAIL: %s\n", err.msg);
    return root;
}

/* The tiny-kolors-a pipeline cases: SKIP (exit 77) when cases.json or the model is absent,
 * exit 1 when cases.json cannot be read. */
static cJSON *golden_open_cases(void) {
    const char *cases_path = kc_test_data("goldens/tiny-kolors-a/cases.json");
    kc_test_require_file(cases_path);
    kc_test_require_file(kc_test_data("models/tiny-kolors-a/model_index.json"));
    cJSON *root = golden_load_cases(cases_path);
    if (!root) {
        printf("FAIL: cannot read %s\n", cases_path);
        exit(1);
    }
    return root;
}

/* diffusers scheduler class -> the sampler name of kolors.h / --sampling-method. */
static const char *golden_sampler_of(const char *cls) {
    if (!strcmp(cls, "EulerDiscreteScheduler")) return "euler";
    if (!strcmp(cls, "EulerAncestralDiscreteScheduler")) return "euler_a";
    if (!strcmp(cls, "DPMSolverMultistepScheduler")) return "dpm++2m";
    if (!strcmp(cls, "UniPCMultistepScheduler")) return "unipc";
    if (!strcmp(cls, "DDIMScheduler")) return "ddim";
    return cls;
}

#endif
