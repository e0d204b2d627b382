/* test_mkdemo_layout.c — `kolors-mkdemo --list --full-size` names every tensor of the real Kolors
 * checkpoints with its exact shape (shared/testdata/real_layout/kolors_real_layout.json: text
 * encoder checkpoint names, U-Net and VAE state dicts; 2130 tensors), and nothing else. So the
 * full-size random model the generator writes loads like the real one, without writing 18 GB here. */
#include <libgen.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "io/json.h"

typedef struct {
    char comp[32], name[256], shape[96];
    int seen;
} entry;

#define MAX_REF 4096 /* the real layout has 2130 */
static entry *g_ref;
static int g_nref;

/* Adds the (name, shape) list of one component of the layout file. */
static void add_ref(const cJSON *root, const char *comp, const char *key) {
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(root, comp), key);
    const cJSON *e;
    cJSON_ArrayForEach(e, list) {
        if (g_nref >= MAX_REF) {
            KC_CHECK(0, "the layout file lists more than %d tensors", MAX_REF);
            return;
        }
        entry *r = &g_ref[g_nref++];
        snprintf(r->comp, sizeof r->comp, "%s", comp);
        snprintf(r->name, sizeof r->name, "%s", cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "name")));
        int o = snprintf(r->shape, sizeof r->shape, "[");
        const cJSON *d;
        int first = 1;
        cJSON_ArrayForEach(d, cJSON_GetObjectItemCaseSensitive(e, "shape")) {
            o += snprintf(r->shape + o, sizeof r->shape - (size_t)o, "%s%lld", first ? "" : ", ", (long long)d->valuedouble);
            first = 0;
        }
        snprintf(r->shape + o, sizeof r->shape - (size_t)o, "]");
    }
}

int main(void) {
    const char *cli = getenv("KOLORS_CLI");
    if (!cli || !*cli) kc_test_skip("KOLORS_CLI not set (run through ctest)");
    const char *layout = kc_test_data("real_layout/kolors_real_layout.json");
    kc_test_require_file(layout);
    char mk[4200], dir[4096];
    snprintf(dir, sizeof dir, "%s", cli);
    snprintf(mk, sizeof mk, "%s/tools/mkdemo/kolors-mkdemo", dirname(dir));
    kc_test_require_file(mk);

    cJSON *root = NULL;
    kc_err err = {0};
    if (kc_json_load(layout, &root, &err)) {
        printf("FAIL: %s\n", err.msg);
        return 1;
    }
    g_ref = calloc(MAX_REF, sizeof *g_ref);
    if (!g_ref) {
        printf("FAIL: out of memory\n");
        return 1;
    }
    add_ref(root, "text_encoder", "checkpoint_names");
    add_ref(root, "unet", "model_state_dict");
    add_ref(root, "vae", "model_state_dict");
    cJSON_Delete(root);
    KC_CHECK(g_nref == 2130, "the layout file lists %d tensors, expected 200 + 1682 + 248", g_nref);

    char cmd[4400];
    snprintf(cmd, sizeof cmd, "'%s' --list --full-size", mk);
    FILE *p = popen(cmd, "r");
    if (!p) {
        printf("FAIL: cannot run %s\n", cmd);
        return 1;
    }
    char line[1024];
    int n = 0, unexpected = 0, wrong_shape = 0;
    while (fgets(line, sizeof line, p)) {
        /* "unet/diffusion_pytorch_model.safetensors conv_in.weight F16 [320, 4, 3, 3]" */
        line[strcspn(line, "\n")] = 0;
        char *file = strtok(line, " "), *name = strtok(NULL, " "), *dtype = strtok(NULL, " "), *shape = strtok(NULL, "");
        if (!file || !name || !dtype || !shape) continue;
        n++;
        char comp[32];
        snprintf(comp, sizeof comp, "%.*s", (int)strcspn(file, "/"), file);
        entry *r = NULL;
        for (int i = 0; i < g_nref && !r; i++)
            if (!strcmp(g_ref[i].comp, comp) && !strcmp(g_ref[i].name, name)) r = &g_ref[i];
        if (!r) {
            if (unexpected++ < 5) printf("unexpected tensor %s %s\n", comp, name);
            continue;
        }
        r->seen++;
        if (strcmp(r->shape, shape) && wrong_shape++ < 5) printf("%s %s: shape %s, real %s\n", comp, name, shape, r->shape);
    }
    int rc = pclose(p);
    KC_CHECK(rc == 0, "kolors-mkdemo --list exited with %d", rc);
    int missing = 0;
    for (int i = 0; i < g_nref; i++)
        if (g_ref[i].seen != 1 && missing++ < 5) printf("missing or repeated: %s %s\n", g_ref[i].comp, g_ref[i].name);
    printf("%d tensors listed, %d in the real layout: %d unexpected, %d missing, %d wrong shapes\n", n, g_nref,
           unexpected, missing, wrong_shape);
    KC_CHECK(n == g_nref && !unexpected && !missing && !wrong_shape, "full-size layout matches the real one");
    free(g_ref);
    return kc_test_finish();
}
