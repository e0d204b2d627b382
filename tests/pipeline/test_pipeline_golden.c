/* test_pipeline_golden.c — kolors_generate against the 8 end-to-end goldens of tiny-kolors-a
 * (diffusers KolorsPipeline / KolorsImg2ImgPipeline, testdata README §3 "pipeline_<case>"): every
 * sampler, with and without negative prompt, guidance 1 and 5, img2img. The pipeline's taps
 * ("pipeline.*") are compared stage by stage — prompt embeddings, U-Net inputs, noise predictions
 * and latents of every step, the img2img posterior draw — so a failure points at its stage; then
 * the final latents (rel-L2) and the 8-bit image (per channel). txt2img_euler also runs on the
 * original-layout copy of the model (tiny-kolors-a-orig). */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "kolors.h"
#include "pipeline/golden_cases.h"

/* Intermediate tensors: the goldens' own fp32-vs-fp64 spread is <= 1.1e-5 (README §6); ours
 * differ from torch's in summation order only, measured <= 9.6e-6 over all stages of the 8 cases and the original-layout run. */
#define TOL_STAGE 1e-4
/* End of the run (issue #5): final latents and decoded image within 1e-3 relative L2. */
#define TOL_FINAL 1e-3
/* 8-bit image: a few values sit on rounding boundaries (the reference's own fp32 vs fp64 runs
 * differ by 1), so allow 2 levels per channel. */
#define TOL_U8 2
/* Tables the pipeline copies (time ids, timesteps) and generator draws are exact. */
#define TOL_EXACT 0.0

/* ---- tap collection ---- */

#define MAX_TAPS 32
#define MAX_CALLS 16
typedef struct {
    char name[64];
    int calls;
    float *data[MAX_CALLS];
    int64_t numel;
} tap_rec;
static tap_rec g_taps[MAX_TAPS];
static int g_ntaps;

static void on_tap(const char *name, const float *data, int ndim, const int64_t *shape, void *user) {
    (void)user;
    if (strncmp(name, "pipeline.", 9) != 0) return;
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= shape[i];
    tap_rec *r = NULL;
    for (int i = 0; i < g_ntaps; i++)
        if (!strcmp(g_taps[i].name, name)) r = &g_taps[i];
    if (!r) {
        if (g_ntaps == MAX_TAPS) return;
        r = &g_taps[g_ntaps++];
        snprintf(r->name, sizeof r->name, "%s", name);
        r->numel = n;
    }
    if (r->calls == MAX_CALLS || r->numel != n) return;
    r->data[r->calls] = malloc((size_t)n * sizeof(float));
    memcpy(r->data[r->calls++], data, (size_t)n * sizeof(float));
}

static void taps_clear(void) {
    for (int i = 0; i < g_ntaps; i++)
        for (int c = 0; c < g_taps[i].calls; c++) free(g_taps[i].data[c]);
    memset(g_taps, 0, sizeof g_taps);
    g_ntaps = 0;
}

static const tap_rec *tap_get(const char *name) {
    for (int i = 0; i < g_ntaps; i++)
        if (!strcmp(g_taps[i].name, name)) return &g_taps[i];
    return NULL;
}

/* Compares tap `tap_name` (call `call`) with golden `gold` (slice `slice` of its first dim, or the
 * whole tensor when slice < 0). */
static void cmp(const char *case_name, const kc_safetensors *st, const char *gold, int slice, const char *tap_name,
                int call, double tol) {
    char label[160];
    if (slice >= 0) snprintf(label, sizeof label, "%s %s[%d]", case_name, gold, slice);
    else snprintf(label, sizeof label, "%s %s", case_name, gold);
    const tap_rec *r = tap_get(tap_name);
    if (!r || call >= r->calls) {
        KC_CHECK(0, "%s: the pipeline reported no '%s' (call %d)", label, tap_name, call);
        return;
    }
    int64_t n, shape[8];
    int nd;
    float *ref = kc_golden_f32(st, gold, &n, shape, &nd);
    const float *want = ref;
    if (slice >= 0) {
        n /= shape[0];
        want = ref + (int64_t)slice * n;
    }
    if (n != r->numel) KC_CHECK(0, "%s: %lld values reported, golden has %lld", label, (long long)r->numel, (long long)n);
    else if (tol == TOL_EXACT) {
        int64_t bad = -1;
        for (int64_t i = 0; i < n && bad < 0; i++)
            if (r->data[call][i] != want[i]) bad = i;
        KC_CHECK(bad < 0, "%s: not bit-exact, first difference at %lld: %.9g vs %.9g", label, (long long)bad,
                 bad < 0 ? 0.0 : (double)r->data[call][bad], bad < 0 ? 0.0 : (double)want[bad]);
    } else {
        check_close(label, r->data[call], want, n, tol);
    }
    free(ref);
}


static void run_case(kolors_model *m, const char *name, const cJSON *c) {
    char rel[256];
    const cJSON *file = cJSON_GetObjectItemCaseSensitive(c, "file");
    snprintf(rel, sizeof rel, "goldens/tiny-kolors-a/%s", cJSON_GetStringValue(file));
    kc_safetensors st;
    kc_err err = {0};
    if (kc_st_open(&st, kc_test_data(rel), &err)) {
        KC_CHECK(0, "%s: %s", name, err.msg);
        return;
    }
    const cJSON *neg = cJSON_GetObjectItemCaseSensitive(c, "negative_prompt");
    const cJSON *seed = cJSON_GetObjectItemCaseSensitive(c, "gen_seed");
    const cJSON *strength = cJSON_GetObjectItemCaseSensitive(c, "strength");
    kolors_gen_params g;
    kolors_gen_params_default(&g);
    g.prompt = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "prompt"));
    g.negative_prompt = cJSON_IsString(neg) ? neg->valuestring : NULL;
    g.steps = cJSON_GetObjectItemCaseSensitive(c, "steps")->valueint;
    g.cfg_scale = (float)cJSON_GetObjectItemCaseSensitive(c, "guidance")->valuedouble;
    g.width = cJSON_GetObjectItemCaseSensitive(c, "width")->valueint;
    g.height = cJSON_GetObjectItemCaseSensitive(c, "height")->valueint;
    g.sampler = golden_sampler_of(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "scheduler")));
    g.seed = cJSON_IsNumber(seed) ? (uint64_t)seed->valuedouble : 0;
    const int h = g.height / 8, w = g.width / 8;
    float *latents = malloc((size_t)(4 * h * w) * sizeof(float));
    g.final_latents = latents;
    float *noise = NULL;
    kolors_image init = {0};
    int img2img = cJSON_IsNumber(strength);
    if (img2img) {
        g.strength = (float)strength->valuedouble;
        int64_t n;
        float *u8 = kc_golden_f32(&st, "input_image_uint8", &n, NULL, NULL);
        init.width = g.width, init.height = g.height, init.channels = 3;
        init.data = malloc((size_t)n);
        for (int64_t i = 0; i < n; i++) init.data[i] = (uint8_t)u8[i];
        free(u8);
        g.init_image = &init;
    } else {
        noise = kc_golden_f32(&st, "initial_noise", NULL, NULL, NULL);
        g.init_noise = noise;
    }

    taps_clear();
    kolors_image img = {0};
    kolors_error e = {0};
    printf("-- %s: %s, %d steps, cfg %g, %s\n", name, g.sampler, g.steps, (double)g.cfg_scale,
           img2img ? "img2img" : "txt2img");
    /* On failure the stages that ran are still compared, to show where things went wrong. */
    int failed = kolors_generate(m, &g, &img, &e) != 0;
    KC_CHECK(!failed, "%s: kolors_generate failed: %s", name, e.message);
    int64_t S;
    float *ts = kc_golden_f32(&st, "timesteps", &S, NULL, NULL);
    free(ts);
    cmp(name, &st, "prompt_embeds", -1, "pipeline.prompt_embeds", 0, TOL_STAGE);
    cmp(name, &st, "add_text_embeds", -1, "pipeline.add_text_embeds", 0, TOL_STAGE);
    cmp(name, &st, "add_time_ids", -1, "pipeline.add_time_ids", 0, TOL_EXACT);
    cmp(name, &st, "timesteps", -1, "pipeline.timesteps", 0, TOL_EXACT);
    if (img2img) {
        cmp(name, &st, "i2i.preprocessed_image", -1, "pipeline.i2i.preprocessed_image", 0, TOL_STAGE);
        cmp(name, &st, "i2i.posterior_eps", -1, "pipeline.i2i.posterior_eps", 0, TOL_EXACT);
        cmp(name, &st, "i2i.image_latents_scaled", -1, "pipeline.i2i.image_latents_scaled", 0, TOL_STAGE);
        cmp(name, &st, "i2i.noise", -1, "pipeline.i2i.noise", 0, TOL_EXACT);
        cmp(name, &st, "i2i.noisy_latents", -1, "pipeline.i2i.noisy_latents", 0, TOL_STAGE);
    }
    for (int s = 0; s < (int)S; s++) {
        cmp(name, &st, "unet_inputs", s, "pipeline.unet_inputs", s, TOL_STAGE);
        cmp(name, &st, "noise_preds", s, "pipeline.noise_preds", s, TOL_STAGE);
        cmp(name, &st, "latents_per_step", s, "pipeline.latents_per_step", s, TOL_STAGE);
    }
    if (failed) goto out;
    cmp(name, &st, "final_latents", -1, "pipeline.final_latents", 0, TOL_FINAL);
    cmp(name, &st, "decoded_image", -1, "pipeline.decoded_image", 0, TOL_FINAL);
    {
        int64_t n;
        float *ref = kc_golden_f32(&st, "final_latents", &n, NULL, NULL);
        char label[160];
        snprintf(label, sizeof label, "%s final_latents (g.final_latents)", name);
        check_close(label, latents, ref, n, TOL_FINAL);
        free(ref);
        float *u8 = kc_golden_f32(&st, "image_uint8", &n, NULL, NULL);
        int worst = 0, differing = 0;
        KC_CHECK(img.width == g.width && img.height == g.height && img.channels == 3, "%s: image is %dx%dx%d", name,
                 img.width, img.height, img.channels);
        for (int64_t i = 0; i < n && img.data; i++) {
            int d = abs((int)img.data[i] - (int)u8[i]);
            worst = d > worst ? d : worst;
            differing += d != 0;
        }
        printf("%s %-40s max |diff| %d (tol %d), %d values differ\n", worst <= TOL_U8 ? "ok  " : "FAIL", name, worst,
               TOL_U8, differing);
        KC_CHECK(worst <= TOL_U8, "%s: image_uint8 differs by %d levels", name, worst);
        free(u8);
    }
out:
    kolors_image_free(&img);
    free(init.data);
    free(noise);
    free(latents);
    kc_st_close(&st);
}


int main(int argc, char **argv) {
    cJSON *root = golden_open_cases();
    kolors_params p;
    kolors_params_default(&p);
    p.model_dir = kc_test_data("models/tiny-kolors-a");
    p.precision = KOLORS_PRECISION_FP32;
    kolors_model *m = NULL;
    kolors_error e = {0};
    if (kolors_model_open(&p, &m, &e)) {
        printf("FAIL: open %s: %s\n", p.model_dir, e.message);
        return 1;
    }
    kolors_model_set_tap(m, on_tap, NULL);
    const cJSON *pipes = cJSON_GetObjectItemCaseSensitive(root, "pipelines");
    int ran = 0;
    for (const cJSON *c = pipes ? pipes->child : NULL; c; c = c->next) {
        if (argc > 1 && strcmp(argv[1], c->string)) continue; /* one case by name, for debugging */
        run_case(m, c->string, c);
        ran++;
    }
    KC_CHECK(ran == (argc > 1 ? 1 : 8), "ran %d pipeline cases", ran);
    taps_clear();
    kolors_model_free(m);
    /* The same weights in the original Kwai-Kolors/Kolors layout (.bin shards, tokenizer inside
     * text_encoder/) must give the same run. */
    p.model_dir = kc_test_data("models/tiny-kolors-a-orig");
    const cJSON *c0 = cJSON_GetObjectItemCaseSensitive(pipes, "txt2img_euler");
    /* Present in the test data, it must open: a broken .bin reader is a failure, not a note. */
    char orig_index[4200];
    snprintf(orig_index, sizeof orig_index, "%s/model_index.json", p.model_dir);
    FILE *orig_f = fopen(orig_index, "rb");
    if (orig_f) fclose(orig_f);
    if (argc == 1 && !orig_f) {
        printf("note: %s absent; original layout not checked\n", p.model_dir);
    } else if (argc == 1) {
        KC_CHECK(c0 != NULL, "cases.json has no txt2img_euler case");
        int orc = kolors_model_open(&p, &m, &e);
        KC_CHECK(orc == 0, "open %s: %s", p.model_dir, e.message);
        if (c0 && orc == 0) {
            kolors_model_set_tap(m, on_tap, NULL);
            run_case(m, "original-layout txt2img_euler", c0);
            taps_clear();
            kolors_model_free(m);
        }
    }
    cJSON_Delete(root);
    return kc_test_finish();
}
