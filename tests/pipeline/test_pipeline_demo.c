/* test_pipeline_demo.c — kolors_generate on the embedded demo model (models/demo, written by
 * tools/mkdemo; needs nothing outside the repository): every sampler runs, a seed is
 * deterministic and another seed differs, img2img and guidance 1 run; and every invalid request
 * is refused with a message naming the parameter before any work starts (no pipeline tap fires). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/model_internal.h" /* to see that the text encoder is unloaded while denoising */
#include "harness.h"
#include "kolors.h"
#include "pipeline/pipeline.h"

static int g_tap_calls;
static void on_tap(const char *name, const float *data, int ndim, const int64_t *shape, void *user) {
    (void)data, (void)ndim, (void)shape, (void)user;
    if (!strncmp(name, "pipeline.", 9)) g_tap_calls++;
}

typedef struct {
    kolors_model *m;
    int calls, glm_loaded, cancel_at, last_step, n_steps;
} progress_probe;

/* Called before the first and after every denoising step: records whether the text encoder's
 * weights are still bound. */
static int on_progress(int step, int n_steps, double elapsed, void *user) {
    progress_probe *p = user;
    (void)elapsed;
    p->calls++;
    p->glm_loaded += p->m->glm != NULL;
    p->last_step = step;
    p->n_steps = n_steps;
    return p->cancel_at && step >= p->cancel_at;
}

/* Is the U-Net loaded right after encoding (prompt embeddings) and right before the VAE decode? */
static int g_unet_loaded_at_encode = -1, g_unet_loaded_at_decode = -1, g_glm_loaded_at_encode = -1;
static void on_tap_order(const char *name, const float *data, int ndim, const int64_t *shape, void *user) {
    (void)data, (void)ndim, (void)shape;
    if (!strcmp(name, "pipeline.prompt_embeds")) {
        g_unet_loaded_at_encode = ((kolors_model *)user)->unet != NULL;
        g_glm_loaded_at_encode = ((kolors_model *)user)->glm != NULL;
    }
    if (!strcmp(name, "pipeline.vae_decode_input")) g_unet_loaded_at_decode = ((kolors_model *)user)->unet != NULL;
}

static const char *demo_dir(void) {
    static char buf[4096];
    const char *src = getenv("KOLORS_SOURCE_DIR");
    snprintf(buf, sizeof buf, "%s/models/demo", src && *src ? src : ".");
    return buf;
}

static void small(kolors_gen_params *g) {
    kolors_gen_params_default(g);
    g->prompt = "a red apple on a wooden table";
    g->width = 64;
    g->height = 64;
    g->steps = 3;
    g->seed = 11;
}

/* Expects refusal with KOLORS_ERR_ARG, a message containing `needle`, and no work done. */
static void expect_refused(kolors_model *m, const kolors_gen_params *g, const char *needle, const char *what) {
    kolors_image img = {0};
    kolors_error e = {0};
    g_tap_calls = 0;
    int rc = kolors_generate(m, g, &img, &e);
    KC_CHECK(rc == KOLORS_ERR_ARG && strstr(e.message, needle) && g_tap_calls == 0 && !img.data,
             "%s: expected KOLORS_ERR_ARG mentioning '%s' before any work; got rc %d, \"%s\", %d taps", what, needle,
             rc, e.message, g_tap_calls);
    if (rc == KOLORS_ERR_ARG) printf("ok   refused %-32s %s\n", what, e.message);
    kolors_image_free(&img);
}

static int generate(kolors_model *m, const kolors_gen_params *g, kolors_image *img, const char *what) {
    kolors_error e = {0};
    int rc = kolors_generate(m, g, img, &e);
    KC_CHECK(rc == 0, "%s: %s", what, e.message);
    return rc;
}

static int distinct_values(const kolors_image *img) {
    int seen[256] = {0}, n = 0;
    for (int i = 0; i < img->width * img->height * 3; i++)
        if (!seen[img->data[i]]++) n++;
    return n;
}

/* Pieces with known answers: Python's int(steps * strength) with the strength as typed, and the
 * 8-bit conversion's clamping and round-half-to-even. */
static void test_pieces(void) {
    static const struct { int steps; float strength; int want; } c[] = {
        {5, 0.6f, 3}, {6, 0.6f, 3}, {100, 0.29f, 28}, {10, 0.3f, 3}, {50, 0.3f, 15}, {50, 1.0f, 50}, {3, 0.1f, 0},
        {1000, 0.7f, 700},
    };
    for (size_t i = 0; i < sizeof c / sizeof *c; i++) {
        int got = kc_pipe_img2img_steps(c[i].steps, c[i].strength);
        KC_CHECK(got == c[i].want, "int(%d * %g) = %d, expected %d as Python", c[i].steps, (double)c[i].strength, got,
                 c[i].want);
    }
    /* [1, 3, 1, 2]: channel planes of 2 pixels. 0 -> 127.5 -> 128 (even); 1/255 - 1 -> v*255 = 0.5 -> 0. */
    float dec[6] = {0.0f, 5.0f, -5.0f, NAN, 1.0f, 1.0f / 255.0f - 1.0f};
    uint8_t rgb[6];
    kc_pipe_to_uint8(dec, 1, 2, rgb);
    KC_CHECK(rgb[0] == 128 && rgb[3] == 255 && rgb[1] == 0 && rgb[4] == 0 && rgb[2] == 255,
             "uint8 conversion: got %d %d %d %d %d %d", rgb[0], rgb[1], rgb[2], rgb[3], rgb[4], rgb[5]);
    float back[6];
    uint8_t px[6] = {0, 255, 128, 1, 2, 254};
    kc_pipe_from_uint8(px, 1, 2, back);
    KC_CHECK(back[0] == -1.0f && back[2] == 1.0f, "uint8 -> [-1, 1]: %g %g", (double)back[0], (double)back[2]);
}

int main(void) {
    test_pieces();
    char idx[4200];
    snprintf(idx, sizeof idx, "%s/model_index.json", demo_dir());
    kc_test_require_file(idx);
    kolors_params p;
    kolors_params_default(&p);
    p.model_dir = demo_dir();
    p.n_threads = 2;
    kolors_model *m = NULL;
    kolors_error e = {0};
    if (kolors_model_open(&p, &m, &e)) {
        printf("FAIL: open %s: %s\n", p.model_dir, e.message);
        return 1;
    }
    kolors_model_set_tap(m, on_tap, NULL);

    /* ---- refusals ---- */
    kolors_gen_params g;
    float noise[4 * 8 * 8];
    kc_fill_random(noise, 4 * 8 * 8, 3, 1.0f);
    uint8_t pixels[64 * 64 * 3];
    for (int i = 0; i < 64 * 64 * 3; i++) pixels[i] = (uint8_t)(i * 37);
    kolors_image init = {64, 64, 3, pixels}, init_empty = {0, 64, 3, pixels}, init_72 = {72, 40, 3, pixels};
    small(&g), g.width = 100;              expect_refused(m, &g, "multiples of 8", "width 100");
    small(&g), g.height = 0;               expect_refused(m, &g, "multiples of 8", "height 0");
    small(&g), g.width = 8;                expect_refused(m, &g, "outside", "width 8");
    small(&g), g.height = 8192;            expect_refused(m, &g, "outside", "height 8192");
    small(&g), g.steps = 0;                expect_refused(m, &g, "steps", "steps 0");
    small(&g), g.steps = 5000;             expect_refused(m, &g, "steps", "steps 5000");
    small(&g), g.cfg_scale = NAN;          expect_refused(m, &g, "cfg", "cfg NaN");
    small(&g), g.cfg_scale = -1.0f;        expect_refused(m, &g, "cfg", "cfg -1");
    small(&g), g.cfg_scale = 1000.0f;      expect_refused(m, &g, "cfg", "cfg 1000");
    small(&g), g.sampler = "bogus";        expect_refused(m, &g, "bogus", "sampler bogus");
    small(&g), g.scheduler = "bogus";      expect_refused(m, &g, "bogus", "scheduler bogus");
    small(&g), g.sampler = "ddim", g.scheduler = "karras"; expect_refused(m, &g, "Karras", "ddim + karras");
    small(&g), g.prompt = NULL;            expect_refused(m, &g, "prompt", "prompt NULL");
    small(&g), g.init_image = &init, g.strength = 0.0f;  expect_refused(m, &g, "strength", "strength 0");
    small(&g), g.init_image = &init, g.strength = 1.5f;  expect_refused(m, &g, "strength", "strength 1.5");
    small(&g), g.init_image = &init, g.strength = 0.1f;  expect_refused(m, &g, "0 denoising steps", "strength 0.1 x 3 steps");
    small(&g), g.init_image = &init_empty; expect_refused(m, &g, "init image", "init image 0x64");
    small(&g), g.init_image = &init, g.init_noise = noise; expect_refused(m, &g, "init_noise", "init_noise + init image");

    /* ---- runs ---- */
    kolors_image a = {0}, b = {0}, c = {0};
    small(&g);
    float lat_a[4 * 8 * 8], lat_b[4 * 8 * 8];
    g.final_latents = lat_a;
    if (!generate(m, &g, &a, "demo seed 11")) {
        KC_CHECK(a.width == 64 && a.height == 64 && a.channels == 3, "image is %dx%dx%d", a.width, a.height, a.channels);
        KC_CHECK(distinct_values(&a) > 16, "image has only %d distinct values", distinct_values(&a));
        int finite = 1;
        for (int i = 0; i < 4 * 8 * 8; i++) finite &= isfinite(lat_a[i]) != 0;
        KC_CHECK(finite, "final latents are finite");
    }
    g.final_latents = lat_b;
    if (!generate(m, &g, &b, "demo seed 11 again") && a.data)
        KC_CHECK(!memcmp(a.data, b.data, 64 * 64 * 3) && !memcmp(lat_a, lat_b, sizeof lat_a),
                 "the same seed gives the same image and latents");
    small(&g), g.seed = 12;
    if (!generate(m, &g, &c, "demo seed 12") && a.data)
        KC_CHECK(memcmp(a.data, c.data, 64 * 64 * 3) != 0, "another seed gives another image");
    kolors_image_free(&b);
    kolors_image_free(&c);

    static const char *samplers[][2] = {{"euler_a", "default"}, {"dpm++2m", "default"}, {"dpm++2m", "karras"},
                                        {"unipc", "default"},   {"ddim", "default"},    {"euler", "karras"}};
    for (size_t i = 0; i < sizeof samplers / sizeof *samplers; i++) {
        small(&g), g.sampler = samplers[i][0], g.scheduler = samplers[i][1];
        char what[64];
        snprintf(what, sizeof what, "demo %s/%s", samplers[i][0], samplers[i][1]);
        kolors_image x = {0};
        if (!generate(m, &g, &x, what)) {
            KC_CHECK(distinct_values(&x) > 16, "%s: image has only %d distinct values", what, distinct_values(&x));
            printf("ok   %s\n", what);
        }
        kolors_image_free(&x);
    }
    small(&g), g.cfg_scale = 1.0f, g.negative_prompt = "ignored without guidance";
    kolors_image x = {0};
    generate(m, &g, &x, "demo cfg 1");
    kolors_image_free(&x);
    if (a.data) {
        small(&g), g.init_image = &a, g.strength = 0.5f, g.steps = 4;
        kolors_image i1 = {0}, i2 = {0};
        if (!generate(m, &g, &i1, "demo img2img") && !generate(m, &g, &i2, "demo img2img again"))
            KC_CHECK(!memcmp(i1.data, i2.data, 64 * 64 * 3), "img2img is deterministic for a seed");
        kolors_image_free(&i1);
        kolors_image_free(&i2);
        /* An init image of another size is resized to the requested one. */
        g.init_image = &init_72;
        if (!generate(m, &g, &i1, "demo img2img from 72x40"))
            KC_CHECK(i1.width == 64 && i1.height == 64, "img2img output is %dx%d", i1.width, i1.height);
        kolors_image_free(&i1);
    }
    /* Progress: step 0 then once per step, text encoder released before denoising, cancel honoured. */
    progress_probe probe = {.m = m};
    small(&g), g.progress = on_progress, g.progress_user = &probe;
    kolors_image y = {0};
    if (!generate(m, &g, &y, "demo with progress"))
        KC_CHECK(probe.calls == 4 && probe.last_step == 3 && probe.n_steps == 3 && probe.glm_loaded == 0,
                 "progress: %d calls, last %d/%d, text encoder loaded during %d steps", probe.calls, probe.last_step,
                 probe.n_steps, probe.glm_loaded);
    kolors_image_free(&y);
    probe = (progress_probe){.m = m, .cancel_at = 2};
    int rc = kolors_generate(m, &g, &y, &e);
    KC_CHECK(rc == KOLORS_ERR_CANCELLED && probe.calls == 3 && !y.data, "cancel at step 2: rc %d after %d calls (%s)",
             rc, probe.calls, e.message);
    kolors_image_free(&y);

    kolors_image_free(&a);
    kolors_model_free(m);

    /* A scheduler config kolors.c does not implement is refused before the text encoder runs. */
    {
        char dir[600], sub[700], target[4300];
        snprintf(dir, sizeof dir, "%s/vpred", kc_test_tmpdir());
        mkdir(dir, 0700);
        static const char *parts[] = {"model_index.json", "text_encoder", "tokenizer", "unet", "vae"};
        for (size_t i = 0; i < sizeof parts / sizeof *parts; i++) {
            snprintf(sub, sizeof sub, "%s/%s", dir, parts[i]);
            snprintf(target, sizeof target, "%s/%s", demo_dir(), parts[i]);
            if (symlink(target, sub) != 0) printf("note: symlink %s failed\n", sub);
        }
        snprintf(sub, sizeof sub, "%s/scheduler", dir);
        mkdir(sub, 0700);
        snprintf(sub, sizeof sub, "%s/scheduler/scheduler_config.json", dir);
        FILE *f = fopen(sub, "w");
        if (f) {
            fputs("{\"_class_name\": \"EulerDiscreteScheduler\", \"num_train_timesteps\": 1100, \"beta_start\": 0.00085,"
                  " \"beta_end\": 0.014, \"beta_schedule\": \"scaled_linear\", \"prediction_type\": \"v_prediction\","
                  " \"timestep_spacing\": \"leading\", \"steps_offset\": 1}\n", f);
            fclose(f);
        }
        kolors_params pv = p;
        pv.model_dir = dir;
        if (kolors_model_open(&pv, &m, &e) == 0) {
            kolors_model_set_tap(m, on_tap, NULL);
            small(&g);
            g_tap_calls = 0;
            int rc2 = kolors_generate(m, &g, &y, &e);
            KC_CHECK(rc2 != 0 && strstr(e.message, "prediction_type") && g_tap_calls == 0,
                     "v_prediction scheduler: rc %d, \"%s\", %d taps before the refusal", rc2, e.message, g_tap_calls);
            kolors_image_free(&y);
            kolors_model_free(m);
        } else {
            KC_CHECK(0, "open %s: %s", dir, e.message);
        }
    }

    /* Memory order on a fresh model: the U-Net's weights are loaded neither while the text encoder's
     * are nor during the VAE decode. */
    if (kolors_model_open(&p, &m, &e) == 0) {
        kolors_model_set_tap(m, on_tap_order, m);
        small(&g);
        generate(m, &g, &y, "fresh model");
        KC_CHECK(g_unet_loaded_at_encode == 0, "U-Net loaded while the prompts were encoded (%d)", g_unet_loaded_at_encode);
        KC_CHECK(g_unet_loaded_at_decode == 0, "U-Net still loaded at the VAE decode (%d)", g_unet_loaded_at_decode);
        KC_CHECK(g_glm_loaded_at_encode == 1, "the first run encoded with the text encoder (%d)", g_glm_loaded_at_encode);
        kolors_image_free(&y);
        /* The same prompts again (another seed): embeddings reused, the text encoder is not loaded. */
        g.seed = 99;
        generate(m, &g, &y, "fresh model, same prompts");
        KC_CHECK(g_glm_loaded_at_encode == 0, "same prompts: text encoder loaded again (%d)", g_glm_loaded_at_encode);
        kolors_image_free(&y);
        g.prompt = "another prompt";
        generate(m, &g, &y, "fresh model, new prompt");
        KC_CHECK(g_glm_loaded_at_encode == 1, "new prompt: the text encoder did not run (%d)", g_glm_loaded_at_encode);
        kolors_image_free(&y);
        kolors_model_free(m);
    }
    return kc_test_finish();
}
