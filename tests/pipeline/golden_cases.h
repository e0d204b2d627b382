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

/* cases.json was written by Python's json module, which spells infinities -Infinity (a scheduler
 * config key); JSON has no such token, so they become out-of-range numbers before parsing. */
static cJSON *golden_load_cases(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = n >= 0 ? malloc((size_t)n + 1) : NULL, *o = n >= 0 ? malloc((size_t)n * 2 + 16) : NULL; /* NaN -> null grows by 1 */
    if (!b || !o) {
        fclose(f);
        free(b);
        free(o);
        return NULL;
    }
    size_t got = fread(b, 1, (size_t)n, f);
    fclose(f);
    char *w = o;
    for (size_t i = 0; i < got;) {
        if (!strncmp(b + i, "Infinity", 8)) { memcpy(w, "1e999", 5); w += 5; i += 8; }
        else if (!strncmp(b + i, "NaN", 3)) { memcpy(w, "null", 4); w += 4; i += 3; }
        else *w++ = b[i++];
    }
    cJSON *root = NULL;
    kc_err err = {0};
    if (kc_json_parse(o, (size_t)(w - o), path, &root, &err)) printf("FAIL: %s\n", err.msg);
    free(b);
    free(o);
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
