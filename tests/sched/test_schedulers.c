/* test_schedulers.c — src/sched against diffusers 0.30.3 (goldens/tiny-kolors-a/schedulers.safetensors
 * and cases.json → schedulers): training tables, timesteps (exact) and sigmas for N in {1, 2, 25, 50},
 * init_noise_sigma, and the step loops S.loopN (N = 2, 10): scale_model_input and prev_sample per
 * step given the stored model outputs (and Euler a's stored step noise). Also: Karras spacing vs
 * the worked numbers of kolors-model.md §6.3/§6.5 (computed there from the reference), add_noise
 * and the img2img truncation vs the img2img pipeline golden, generator consumption of the steps,
 * and refusals of unsupported config values. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "harness.h"
#include "io/json.h"
#include "karras_fixture.h"
#include "sched/schedule.h"

/* Tables are float32 computed the reference's way; measured rel-L2 0 (bit-identical) for every
 * table; the bound leaves room for another libm's log/pow in the float64 parts. */
#define TOL_TABLE 1e-6
/* One step from the reference's own sample is a few float32 ops per element; Euler, Euler a and
 * DDIM measured bit-identical, DPM++ / UniPC worst rel-L2 1.0e-7 (their coefficients go through
 * logf/expf/expm1f and a 2x2 solve); 10x headroom for another libm. */
#define TOL_STEP 1e-6
/* The spec prints 6-8 significant digits. */
#define TOL_SPEC 2e-6

static const char *k_classes[] = {"EulerDiscreteScheduler", "EulerAncestralDiscreteScheduler",
                                  "DPMSolverMultistepScheduler", "DDIMScheduler", "UniPCMultistepScheduler"};

static kc_safetensors g_st;
static cJSON *g_cases;
static kc_sched_config g_cfg;

static float *golden(const char *fmt, const char *a, int b, int64_t *numel) {
    char name[256];
    if (b >= 0) snprintf(name, sizeof name, fmt, a, b);
    else snprintf(name, sizeof name, fmt, a);
    return kc_golden_f32(&g_st, name, numel, NULL, NULL);
}

static kc_sampler *make(const char *cls, int n, int karras) {
    kc_err err = {0};
    kc_sampler_kind kind;
    kc_sampler *s = NULL;
    if (kc_sampler_kind_from_name(cls, &g_cfg, &kind, &err) || kc_sampler_create(&g_cfg, kind, n, karras, &s, &err)) {
        KC_CHECK(0, "%s N=%d: %s", cls, n, err.msg);
        return NULL;
    }
    return s;
}

static double case_init_noise_sigma(const char *cls, int n) {
    const cJSON *sc = cJSON_GetObjectItemCaseSensitive(g_cases, "schedulers");
    sc = cJSON_GetObjectItemCaseSensitive(sc, "schedulers");
    sc = cJSON_GetObjectItemCaseSensitive(sc, cls);
    sc = cJSON_GetObjectItemCaseSensitive(sc, "steps");
    char key[16];
    snprintf(key, sizeof key, "%d", n);
    sc = cJSON_GetObjectItemCaseSensitive(sc, key);
    sc = cJSON_GetObjectItemCaseSensitive(sc, "init_noise_sigma");
    return cJSON_IsNumber(sc) ? sc->valuedouble : NAN;
}

static void test_tables(const char *cls) {
    int64_t nb, na;
    float *betas = golden("%s.betas", cls, -1, &nb);
    float *ac = golden("%s.alphas_cumprod", cls, -1, &na);
    KC_CHECK(nb == g_cfg.num_train_timesteps && na == nb, "%s: table length %lld", cls, (long long)nb);
    float *mine = malloc((size_t)nb * sizeof *mine);
    kc_sched_betas(&g_cfg, mine);
    char nm[128];
    snprintf(nm, sizeof nm, "%s.betas", cls);
    KC_CHECK(check_close(nm, mine, betas, nb, TOL_TABLE), "%s", nm);
    kc_sampler *s = make(cls, 25, 0);
    if (s) {
        snprintf(nm, sizeof nm, "%s.alphas_cumprod", cls);
        KC_CHECK(check_close(nm, kc_sampler_alphas_cumprod(s), ac, na, TOL_TABLE), "%s", nm);
        /* the schedule values of kolors-model.md §6.1 */
        KC_CHECK(fabs(kc_sampler_alphas_cumprod(s)[1099] - 0.001182656) < 2e-9, "abar_1099 = %.9g",
                 kc_sampler_alphas_cumprod(s)[1099]);
        kc_sampler_free(s);
    }
    free(mine);
    free(betas);
    free(ac);
}

static void test_timesteps(const char *cls) {
    static const int ns[] = {1, 2, 25, 50};
    int ddim = !strcmp(cls, "DDIMScheduler");
    for (size_t j = 0; j < sizeof ns / sizeof *ns; j++) {
        int n = ns[j];
        kc_sampler *s = make(cls, n, 0);
        if (!s) continue;
        int64_t nt;
        float *ts = golden("%s.%d.timesteps", cls, n, &nt);
        int same = nt == n;
        for (int k = 0; same && k < n; k++) same = kc_sampler_timestep(s, k) == ts[k];
        KC_CHECK(same, "%s N=%d: timesteps differ (first %g vs %g)", cls, n, kc_sampler_timestep(s, 0), ts[0]);
        if (!ddim) {
            int64_t ns_;
            float *sg = golden("%s.%d.sigmas", cls, n, &ns_);
            char nm[128];
            snprintf(nm, sizeof nm, "%s.%d.sigmas", cls, n);
            KC_CHECK(ns_ == n + 1 && check_close(nm, kc_sampler_sigmas(s), sg, ns_, TOL_TABLE), "%s", nm);
            KC_CHECK(kc_sampler_sigmas(s)[n] == 0.0f, "%s: final sigma 0", nm);
            free(sg);
        } else {
            KC_CHECK(kc_sampler_sigmas(s) == NULL, "DDIM has no sigma table");
        }
        double ins = case_init_noise_sigma(cls, n);
        float mine = kc_sampler_init_noise_sigma(s);
        KC_CHECK(fabs(mine - ins) <= 1e-6 * fabs(ins), "%s N=%d: init_noise_sigma %.9g vs %.9g", cls, n, mine, ins);
        free(ts);
        kc_sampler_free(s);
    }
}

static void test_loop(const char *cls, int n) {
    int anc = !strcmp(cls, "EulerAncestralDiscreteScheduler");
    int64_t nn, nmo, nsi, nps, nts, nsn = 0;
    float *noise = golden("%s.loop%d.noise", cls, n, &nn);
    float *mo = golden("%s.loop%d.model_outputs", cls, n, &nmo);
    float *si = golden("%s.loop%d.scaled_model_inputs", cls, n, &nsi);
    float *ps = golden("%s.loop%d.prev_samples", cls, n, &nps);
    float *ts = golden("%s.loop%d.timesteps", cls, n, &nts);
    float *sn = anc ? golden("%s.loop%d.step_noise", cls, n, &nsn) : NULL;
    KC_CHECK(nmo == n * nn && nsi == nmo && nps == nmo && nts == n && (!anc || nsn == nmo), "%s loop%d shapes", cls, n);
    kc_sampler *s = make(cls, n, 0);
    float *x = malloc((size_t)nn * sizeof *x), *xin = malloc((size_t)nn * sizeof *xin);
    if (s && x && xin) {
        float ins = kc_sampler_init_noise_sigma(s);
        for (int64_t i = 0; i < nn; i++) x[i] = noise[i] * ins;
        for (int k = 0; k < n; k++) {
            char nm[160];
            KC_CHECK(kc_sampler_timestep(s, k) == ts[k], "%s loop%d t_%d", cls, n, k);
            kc_sampler_scale_model_input(s, k, x, xin, nn);
            snprintf(nm, sizeof nm, "%s.loop%d.scaled_model_inputs[%d]", cls, n, k);
            KC_CHECK(check_close(nm, xin, si + k * nn, nn, TOL_STEP), "%s", nm);
            kc_err err = {0};
            kc_status st = kc_sampler_step_with_noise(s, k, mo + k * nn, x, nn, anc ? sn + k * nn : NULL, &err);
            KC_CHECK(st == KC_OK, "%s step %d: %s", cls, k, err.msg);
            snprintf(nm, sizeof nm, "%s.loop%d.prev_samples[%d]", cls, n, k);
            KC_CHECK(check_close(nm, x, ps + k * nn, nn, TOL_STEP), "%s", nm);
            /* continue from the reference's sample so one step's error does not hide another's */
            memcpy(x, ps + k * nn, (size_t)nn * sizeof *x);
        }
    }
    kc_sampler_free(s);
    free(x);
    free(xin);
    free(noise);
    free(mo);
    free(si);
    free(ps);
    free(ts);
    free(sn);
}

/* Karras spacing: worked numbers of kolors-model.md §6.3 (Euler) and §6.5 (DPM++), which were
 * computed with the reference, so they are independent of this implementation. */
static void test_karras(void) {
    kc_sampler *s = make("euler", 25, 1);
    if (s) {
        const float *sg = kc_sampler_sigmas(s);
        static const double want_s[] = {21.783838, 18.292133, 15.291577};
        static const double want_s_end[] = {0.091729, 0.062264, 0.041315};
        static const double want_t[] = {1057.000, 1030.297, 1001.826};
        static const double want_t_end[] = {8.632, 3.533, 1.000};
        for (int i = 0; i < 3; i++) {
            KC_CHECK(fabs(sg[i] - want_s[i]) <= TOL_SPEC * want_s[i] + 1e-6, "euler karras sigma[%d] %.7f vs %.6f", i,
                     sg[i], want_s[i]);
            KC_CHECK(fabs(sg[22 + i] - want_s_end[i]) <= 1e-6, "euler karras sigma[%d] %.7f vs %.6f", 22 + i,
                     sg[22 + i], want_s_end[i]);
            KC_CHECK(fabs(kc_sampler_timestep(s, i) - want_t[i]) <= 1e-3, "euler karras t[%d] %.4f vs %.3f", i,
                     kc_sampler_timestep(s, i), want_t[i]);
            KC_CHECK(fabs(kc_sampler_timestep(s, 22 + i) - want_t_end[i]) <= 1e-3, "euler karras t[%d] %.4f vs %.3f",
                     22 + i, kc_sampler_timestep(s, 22 + i), want_t_end[i]);
        }
        KC_CHECK(sg[25] == 0.0f, "euler karras final sigma 0");
        /* init_noise_sigma follows the (Karras) sigmas: sqrt(max^2 + 1) */
        KC_CHECK(fabsf(kc_sampler_init_noise_sigma(s) - sqrtf(sg[0] * sg[0] + 1)) < 1e-5, "euler karras init sigma");
        kc_sampler_free(s);
    }
    s = make("dpm++2m", 25, 1);
    if (s) {
        static const int want_t[25] = {1099, 1072, 1044, 1013, 980, 945, 906, 864, 817, 766, 708, 644, 572,
                                       493,  408,  319,  234,  159, 98,  55,  28,  13,  5,   2,   0};
        int same = 1;
        for (int i = 0; i < 25; i++) same &= kc_sampler_timestep(s, i) == (float)want_t[i];
        KC_CHECK(same, "dpm++ karras N=25 timesteps");
        const float *sg = kc_sampler_sigmas(s);
        static const double want_s[] = {29.061245, 24.145195, 19.959904};
        static const double want_s_end[] = {0.073033, 0.046853, 0.029168};
        for (int i = 0; i < 3; i++) {
            KC_CHECK(fabs(sg[i] - want_s[i]) <= TOL_SPEC * want_s[i] + 1e-6, "dpm karras sigma[%d] %.7f", i, sg[i]);
            KC_CHECK(fabs(sg[22 + i] - want_s_end[i]) <= 1e-6, "dpm karras sigma[%d] %.7f", 22 + i, sg[22 + i]);
        }
        KC_CHECK(sg[25] == 0.0f && kc_sampler_init_noise_sigma(s) == 1.0f, "dpm karras final sigma / init sigma");
        kc_sampler_free(s);
    }
    s = make("dpm++2m", 50, 1);
    if (s) {
        const float *sg = kc_sampler_sigmas(s);
        static const double want_s[] = {29.061245, 26.555832, 24.237886};
        static const double want_s_end[] = {0.046417, 0.036937, 0.029168};
        for (int i = 0; i < 3; i++) {
            KC_CHECK(fabs(sg[i] - want_s[i]) <= TOL_SPEC * want_s[i] + 1e-6, "dpm50 karras sigma[%d] %.7f", i, sg[i]);
            KC_CHECK(fabs(sg[47 + i] - want_s_end[i]) <= 1e-6, "dpm50 karras sigma[%d] %.7f", 47 + i, sg[47 + i]);
        }
        KC_CHECK(kc_sampler_timestep(s, 0) == 1099 && kc_sampler_timestep(s, 1) == 1086 &&
                     kc_sampler_timestep(s, 2) == 1073 && kc_sampler_timestep(s, 47) == 2 &&
                     kc_sampler_timestep(s, 48) == 1 && kc_sampler_timestep(s, 49) == 0,
                 "dpm++ karras N=50 timesteps");
        kc_sampler_free(s);
    }
    /* UniPC takes Karras like DPM++ (same table); Euler a and DDIM refuse it */
    s = make("unipc", 25, 1);
    if (s) {
        KC_CHECK(kc_sampler_timestep(s, 0) == 1099 && kc_sampler_timestep(s, 24) == 0, "unipc karras timesteps");
        kc_sampler_free(s);
    }
}

/* Full Karras tables vs karras_fixture.h (torch + numpy, the reference's libraries). Sigmas are
 * float64 formulas rounded to float32 on both sides; fractional Euler timesteps go through a
 * float32 log table (numpy's float32 log vs ours may differ by an ulp): measured max |dt| below. */
#define TOL_KARRAS_T 2.5e-4 /* measured 6.1e-5 for Euler N=25 (1 float32 ulp at t ~ 1000), 0 for DPM */
static void test_karras_fixture(void) {
    static const struct {
        const char *sampler;
        int n;
        const double *sig, *t;
    } cases[] = {
        {"euler", 25, karras_euler25_sigmas, karras_euler25_t},
        {"dpm++2m", 25, karras_dpm25_sigmas, karras_dpm25_t},
        {"dpm++2m", 50, karras_dpm50_sigmas, karras_dpm50_t},
        {"unipc", 25, karras_dpm25_sigmas, karras_dpm25_t},
    };
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        kc_sampler *s = make(cases[c].sampler, cases[c].n, 1);
        if (!s) continue;
        int n = cases[c].n;
        float ref[64];
        for (int i = 0; i <= n; i++) ref[i] = (float)cases[c].sig[i];
        char nm[64];
        snprintf(nm, sizeof nm, "karras %s N=%d sigmas", cases[c].sampler, n);
        KC_CHECK(check_close(nm, kc_sampler_sigmas(s), ref, n + 1, TOL_TABLE), "%s", nm);
        double worst = 0;
        for (int i = 0; i < n; i++) {
            double d = fabs(kc_sampler_timestep(s, i) - cases[c].t[i]);
            worst = d > worst ? d : worst;
        }
        printf("  karras %s N=%d: max |t - t_ref| = %.3g\n", cases[c].sampler, n, worst);
        KC_CHECK(worst <= TOL_KARRAS_T, "karras %s N=%d timesteps: max diff %g", cases[c].sampler, n, worst);
        kc_sampler_free(s);
    }
}

/* Non-Karras worked numbers of the spec (Euler N = 50 / 25, DPM N = 25) as an extra anchor. */
static void test_spec_numbers(void) {
    kc_sampler *s = make("euler", 50, 0);
    if (s) {
        KC_CHECK(fabsf(kc_sampler_sigmas(s)[0] - 25.281366f) < 5e-5 && fabsf(kc_sampler_init_noise_sigma(s) - 25.301136f) < 5e-5,
                 "euler N=50 sigma_0 %.6f init %.6f", kc_sampler_sigmas(s)[0], kc_sampler_init_noise_sigma(s));
        kc_sampler_free(s);
    }
    s = make("dpm++2m", 25, 0);
    if (s) {
        KC_CHECK(kc_sampler_timestep(s, 0) == 1051 && kc_sampler_timestep(s, 24) == 43 &&
                     fabsf(kc_sampler_sigmas(s)[0] - 20.933342f) < 5e-5,
                 "dpm N=25 t %g..%g sigma %.6f", kc_sampler_timestep(s, 0), kc_sampler_timestep(s, 24),
                 kc_sampler_sigmas(s)[0]);
        kc_sampler_free(s);
    }
}

/* add_noise and the img2img truncation against the img2img pipeline golden (Euler, 5 steps,
 * strength 0.6 → t_start 2 → timesteps 441, 221, 1). */
static void test_img2img(void) {
    const char *path = kc_test_data("goldens/tiny-kolors-a/pipeline_img2img_euler.safetensors");
    kc_safetensors st;
    kc_err err = {0};
    if (kc_st_open(&st, path, &err)) {
        KC_CHECK(0, "%s: %s", path, err.msg);
        return;
    }
    int t_start = kc_sched_img2img_start(5, 0.6);
    KC_CHECK(t_start == 2, "img2img t_start %d", t_start);
    KC_CHECK(kc_sched_img2img_start(50, 0.3) == 35 && kc_sched_img2img_start(25, 0.999) == 1 &&
                 kc_sched_img2img_start(6, 0.6) == 3 && kc_sched_img2img_start(10, 1.0) == 0 &&
                 kc_sched_img2img_start(10, 0.0) == 10,
             "img2img truncation (int(N*strength) as Python)");
    int64_t n, nt;
    float *z0 = kc_golden_f32(&st, "i2i.image_latents_scaled", &n, NULL, NULL);
    float *noise = kc_golden_f32(&st, "i2i.noise", NULL, NULL, NULL);
    float *want = kc_golden_f32(&st, "i2i.noisy_latents", NULL, NULL, NULL);
    float *ts = kc_golden_f32(&st, "timesteps", &nt, NULL, NULL);
    kc_sampler *s = make("euler", 5, 0);
    if (s) {
        for (int k = 0; k < nt; k++)
            KC_CHECK(kc_sampler_timestep(s, t_start + k) == ts[k], "img2img timestep %d", k);
        float *out = malloc((size_t)n * sizeof *out);
        kc_sampler_add_noise(s, t_start, z0, noise, out, n);
        KC_CHECK(check_close("i2i.noisy_latents", out, want, n, TOL_STEP), "euler add_noise");
        free(out);
        kc_sampler_free(s);
    }
    free(z0);
    free(noise);
    free(want);
    free(ts);
    kc_st_close(&st);
}

/* add_noise of the VP samplers: sqrt(abar) x0 + sqrt(1 - abar) n (DDIM) and alpha x0 + sigma_t n
 * (DPM++/UniPC) agree at integer timesteps; the Euler form is the VE view of the same point. */
static void test_add_noise_forms(void) {
    kc_sampler *d = make("ddim", 25, 0), *p = make("dpm++2m", 24, 0), *e = make("euler", 25, 0);
    if (!d || !p || !e) goto out;
    float x0[64], nz[64], a[64], b[64], c[64];
    kc_fill_random(x0, 64, 11, 1.0f);
    kc_fill_random(nz, 64, 12, 1.0f);
    /* DDIM N=25 t_1 = 1013; DPM N=24 (ratio 44) t_1 = 1013 too; Euler N=25 t_1 = 1013 */
    KC_CHECK(kc_sampler_timestep(d, 1) == 1013 && kc_sampler_timestep(p, 1) == 1013 && kc_sampler_timestep(e, 1) == 1013,
             "shared timestep 1013");
    kc_sampler_add_noise(d, 1, x0, nz, a, 64);
    kc_sampler_add_noise(p, 1, x0, nz, b, 64);
    kc_sampler_add_noise(e, 1, x0, nz, c, 64);
    float abar = kc_sampler_alphas_cumprod(d)[1013];
    for (int i = 0; i < 64; i++) c[i] *= sqrtf(abar); /* VE -> VP */
    KC_CHECK(check_close("add_noise ddim vs dpm", a, b, 64, 1e-6), "VP forms agree");
    KC_CHECK(check_close("add_noise ddim vs euler*sqrt(abar)", a, c, 64, 1e-6), "VE form agrees");
out:
    kc_sampler_free(d);
    kc_sampler_free(p);
    kc_sampler_free(e);
}

/* Generator use: Euler draws and discards randn(n) per step, Euler a uses it, DPM++ draws nothing. */
static void test_rng_consumption(void) {
    enum { N = 256 };
    float x[N], eps[N], probe[N], ref[N];
    kc_fill_random(eps, N, 3, 1.0f);
    for (int kind = 0; kind < 3; kind++) {
        const char *nm = kind == 0 ? "euler" : kind == 1 ? "euler_a" : "dpm++2m";
        kc_sampler *s = make(nm, 3, 0);
        if (!s) continue;
        kc_rng r, r2;
        kc_rng_seed(&r, 99);
        kc_rng_seed(&r2, 99);
        kc_fill_random(x, N, 4, 5.0f);
        kc_err err = {0};
        KC_CHECK(kc_sampler_step(s, 0, eps, x, N, &r, &err) == KC_OK, "%s step: %s", nm, err.msg);
        kc_rng_randn(&r, probe, N);
        if (kind < 2) kc_rng_randn(&r2, ref, N); /* what the step should have consumed */
        kc_rng_randn(&r2, ref, N);
        KC_CHECK(!memcmp(probe, ref, sizeof probe), "%s consumes %s randn(n) per step", nm, kind < 2 ? "one" : "no");
        kc_sampler_free(s);
    }
    /* euler_a: stepping with the generator equals stepping with the same draws given explicitly */
    kc_sampler *a = make("euler_a", 3, 0), *b = make("euler_a", 3, 0);
    if (a && b) {
        float xa[N], xb[N], z[N];
        kc_fill_random(xa, N, 5, 5.0f);
        memcpy(xb, xa, sizeof xa);
        kc_rng r;
        kc_rng_seed(&r, 7);
        kc_err err = {0};
        kc_sampler_step(a, 0, eps, xa, N, &r, &err);
        kc_rng_seed(&r, 7);
        kc_rng_randn(&r, z, N);
        kc_sampler_step_with_noise(b, 0, eps, xb, N, z, &err);
        KC_CHECK(!memcmp(xa, xb, sizeof xa), "euler_a step with generator == with its draws");
        KC_CHECK(kc_sampler_step(a, 1, eps, xa, N, NULL, &err) == KC_ERR_ARG && strstr(err.msg, "generator"),
                 "euler_a without a generator is refused: %s", err.msg);
    }
    kc_sampler_free(a);
    kc_sampler_free(b);
}

static void expect_refusal(const char *json, const char *sampler, int karras, kc_status code, const char *needle) {
    cJSON *root;
    kc_err err = {0};
    kc_status st = kc_json_parse(json, strlen(json), "scheduler_config.json", &root, &err);
    if (st) {
        KC_CHECK(0, "bad test JSON %s: %s", json, err.msg);
        return;
    }
    kc_sched_config c;
    st = kc_sched_config_parse(root, "scheduler_config.json", &c, &err);
    kc_sampler_kind kind;
    if (!st) st = kc_sampler_kind_from_name(sampler, &c, &kind, &err);
    kc_sampler *s = NULL;
    if (!st) st = kc_sampler_create(&c, kind, 10, karras, &s, &err);
    KC_CHECK(st == code && strstr(err.msg, needle), "%s / %s: want %s naming '%s', got %s: %s", json,
             sampler ? sampler : "default", kc_status_name(code), needle, kc_status_name(st), err.msg);
    kc_sampler_free(s);
    cJSON_Delete(root);
}

static void test_refusals(void) {
    const kc_status U = KC_ERR_UNSUPPORTED, A = KC_ERR_ARG;
    expect_refusal("{\"beta_schedule\": \"squaredcos_cap_v2\"}", "euler", 0, U, "beta_schedule");
    expect_refusal("{\"prediction_type\": \"v_prediction\"}", "euler", 0, U, "prediction_type");
    expect_refusal("{\"timestep_spacing\": \"karras\"}", "euler", 0, U, "timestep_spacing");
    expect_refusal("{\"rescale_betas_zero_snr\": true}", "euler", 0, U, "rescale_betas_zero_snr");
    expect_refusal("{\"trained_betas\": [0.1, 0.2]}", "euler", 0, U, "trained_betas");
    expect_refusal("{\"interpolation_type\": \"log_linear\"}", "euler", 0, U, "interpolation_type");
    expect_refusal("{\"timestep_type\": \"continuous\"}", "euler", 0, U, "timestep_type");
    expect_refusal("{\"final_sigmas_type\": \"sigma_min\"}", "dpm++2m", 0, U, "final_sigmas_type");
    expect_refusal("{\"thresholding\": true}", "ddim", 0, U, "thresholding");
    expect_refusal("{\"clip_sample\": true}", "ddim", 0, U, "clip_sample");
    expect_refusal("{\"algorithm_type\": \"sde-dpmsolver++\"}", "dpm++2m", 0, U, "algorithm_type");
    expect_refusal("{\"solver_type\": \"heun\"}", "dpm++2m", 0, U, "solver_type");
    expect_refusal("{\"solver_order\": 3}", "unipc", 0, U, "solver_order");
    expect_refusal("{\"use_lu_lambdas\": true}", "dpm++2m", 0, U, "use_lu_lambdas");
    expect_refusal("{\"predict_x0\": false}", "unipc", 0, U, "predict_x0");
    expect_refusal("{\"disable_corrector\": [0]}", "unipc", 0, U, "disable_corrector");
    expect_refusal("{\"_class_name\": \"PNDMScheduler\"}", NULL, 0, U, "PNDMScheduler");
    expect_refusal("{\"_class_name\": \"EulerDiscreteScheduler\"}", "heun", 0, A, "heun");
    expect_refusal("{\"timestep_spacing\": \"leading\"}", "euler_a", 1, U, "Karras");
    expect_refusal("{\"timestep_spacing\": \"leading\"}", "ddim", 1, U, "Karras");
    expect_refusal("{\"num_train_timesteps\": 0}", "euler", 0, U, "num_train_timesteps");
    /* keys a class does not read are ignored, as diffusers' from_config does */
    cJSON *root;
    kc_err err = {0};
    const char *j = "{\"thresholding\": true, \"clip_sample\": true, \"algorithm_type\": \"dpmsolver\"}";
    kc_sched_config c;
    kc_sampler *s = NULL;
    int ok = !kc_json_parse(j, strlen(j), "cfg", &root, &err) && !kc_sched_config_parse(root, "cfg", &c, &err) &&
             !kc_sampler_create(&c, KC_SAMPLER_EULER, 10, 0, &s, &err);
    KC_CHECK(ok, "euler ignores DDIM/DPM-only keys: %s", err.msg);
    kc_sampler_free(s);
    cJSON_Delete(root);
    /* reset: a second run on the same sampler repeats the first bit for bit (UniPC has the most state) */
    s = make("unipc", 5, 0);
    if (s) {
        float x1[32], x2[32], e[32];
        kc_fill_random(e, 32, 8, 1.0f);
        kc_fill_random(x1, 32, 9, 3.0f);
        memcpy(x2, x1, sizeof x1);
        kc_err er = {0};
        for (int k = 0; k < 5; k++) kc_sampler_step(s, k, e, x1, 32, NULL, &er);
        kc_sampler_reset(s);
        for (int k = 0; k < 5; k++) kc_sampler_step(s, k, e, x2, 32, NULL, &er);
        KC_CHECK(er.code == KC_OK && !memcmp(x1, x2, sizeof x1), "reset repeats the run: %s", er.msg);
        kc_sampler_free(s);
    }
    /* steps and order of calls */
    s = NULL;
    KC_CHECK(kc_sampler_create(&g_cfg, KC_SAMPLER_EULER, 0, 0, &s, &err) == KC_ERR_ARG, "0 steps refused");
    err.code = KC_OK;
    err.msg[0] = '\0';
    KC_CHECK(kc_sampler_create(&g_cfg, KC_SAMPLER_EULER, 1101, 0, &s, &err) == KC_ERR_ARG, "1101 steps refused");
    s = make("dpm++2m", 4, 0);
    if (s) {
        float x[16], e[16];
        kc_fill_random(x, 16, 1, 1.0f);
        kc_fill_random(e, 16, 2, 1.0f);
        kc_err e2 = {0};
        KC_CHECK(kc_sampler_step(s, 1, e, x, 16, NULL, &e2) == KC_OK, "start at k=1 (img2img)");
        kc_err e3 = {0};
        KC_CHECK(kc_sampler_step(s, 3, e, x, 16, NULL, &e3) == KC_ERR_ARG, "skipping a step refused");
        kc_err e4 = {0};
        KC_CHECK(kc_sampler_step(s, 2, e, x, 8, NULL, &e4) == KC_ERR_ARG, "changing n refused");
        kc_sampler_free(s);
    }
}

/* Trailing / linspace spacings (not used by Kolors): the formulas of diffusers, spot values. */
static void test_other_spacings(void) {
    kc_sched_config c = g_cfg;
    kc_sampler *s = NULL;
    kc_err err = {0};
    c.spacing = KC_SPACING_TRAILING;
    if (!kc_sampler_create(&c, KC_SAMPLER_EULER, 4, 0, &s, &err)) {
        /* np.arange(1100, 0, -275).round() - 1 = 1099, 824, 549, 274; init sigma = max sigma */
        KC_CHECK(kc_sampler_timestep(s, 0) == 1099 && kc_sampler_timestep(s, 3) == 274, "euler trailing");
        KC_CHECK(kc_sampler_init_noise_sigma(s) == kc_sampler_sigmas(s)[0], "trailing init_noise_sigma = max sigma");
        kc_sampler_free(s);
    } else KC_CHECK(0, "trailing: %s", err.msg);
    /* an empty config takes the class defaults: T 1000, linear betas, steps_offset 0, spacing
     * "leading" for DDIM and "linspace" for the others */
    cJSON *empty;
    kc_sched_config d;
    if (!kc_json_parse("{}", 2, "{}", &empty, &err) && !kc_sched_config_parse(empty, "{}", &d, &err)) {
        if (!kc_sampler_create(&d, KC_SAMPLER_DDIM, 10, 0, &s, &err)) {
            KC_CHECK(kc_sampler_timestep(s, 0) == 900 && kc_sampler_timestep(s, 9) == 0, "DDIM default spacing leading");
            kc_sampler_free(s);
        }
        if (!kc_sampler_create(&d, KC_SAMPLER_EULER, 10, 0, &s, &err)) {
            KC_CHECK(kc_sampler_timestep(s, 0) == 999 && kc_sampler_timestep(s, 1) == 888 && kc_sampler_timestep(s, 9) == 0,
                     "Euler default spacing linspace");
            KC_CHECK(kc_sampler_init_noise_sigma(s) == kc_sampler_sigmas(s)[0], "linspace init_noise_sigma = max sigma");
            kc_sampler_free(s);
        }
        cJSON_Delete(empty);
    }
    KC_CHECK(err.code == KC_OK, "empty config: %s", err.msg);
    c.spacing = KC_SPACING_LINSPACE;
    if (!kc_sampler_create(&c, KC_SAMPLER_DPMPP_2M, 4, 0, &s, &err)) {
        /* np.linspace(0, 1099, 5).round()[::-1][:-1] = 1099, 824, 550 (549.5 -> even), 275 (274.75) */
        KC_CHECK(kc_sampler_timestep(s, 0) == 1099 && kc_sampler_timestep(s, 1) == 824 &&
                     kc_sampler_timestep(s, 2) == 550 && kc_sampler_timestep(s, 3) == 275,
                 "dpm linspace %g %g %g %g", kc_sampler_timestep(s, 0), kc_sampler_timestep(s, 1),
                 kc_sampler_timestep(s, 2), kc_sampler_timestep(s, 3));
        kc_sampler_free(s);
    } else KC_CHECK(0, "linspace: %s", err.msg);
}

/* cases.json carries Python's non-JSON token -Infinity (DPM's lambda_min_clipped): the project's
 * JSON reader takes it as null, i.e. the -inf default (io/json.c). */
static kc_status load_cases(const char *path, cJSON **out, kc_err *err) { return kc_json_load(path, out, err); }

/* The samplers inside the recorded pipeline runs (pipeline_<case>.safetensors): from the initial
 * latents, per step the U-Net input (scale_model_input of the CFG-doubled latents), the guided
 * noise u + g (c - u) from the recorded raw U-Net outputs, and the latents after each step.
 * Euler a draws its step noise from a generator seeded with the case's gen_seed, as the pipeline
 * does; img2img starts at k = t_start from the recorded noisy latents. */
static void test_pipeline_loops(void) {
    static const char *k_cases[] = {"txt2img_euler",       "txt2img_euler_noneg", "txt2img_euler_nocfg",
                                    "txt2img_dpmpp",       "txt2img_unipc",       "txt2img_ddim",
                                    "txt2img_euler_ancestral", "img2img_euler"};
    const cJSON *pipes = cJSON_GetObjectItemCaseSensitive(g_cases, "pipelines");
    for (size_t c = 0; c < sizeof k_cases / sizeof *k_cases; c++) {
        const cJSON *pc = cJSON_GetObjectItemCaseSensitive(pipes, k_cases[c]);
        const cJSON *jcls = cJSON_GetObjectItemCaseSensitive(pc, "scheduler");
        const cJSON *jsteps = cJSON_GetObjectItemCaseSensitive(pc, "steps");
        const cJSON *jg = cJSON_GetObjectItemCaseSensitive(pc, "guidance");
        const cJSON *jseed = cJSON_GetObjectItemCaseSensitive(pc, "gen_seed");
        const cJSON *jstr = cJSON_GetObjectItemCaseSensitive(pc, "strength");
        if (!cJSON_IsString(jcls) || !cJSON_IsNumber(jsteps) || !cJSON_IsNumber(jg)) {
            KC_CHECK(0, "cases.json pipelines.%s incomplete", k_cases[c]);
            continue;
        }
        char rel[160];
        snprintf(rel, sizeof rel, "goldens/tiny-kolors-a/pipeline_%s.safetensors", k_cases[c]);
        kc_safetensors st;
        kc_err err = {0};
        if (kc_st_open(&st, kc_test_data(rel), &err)) {
            KC_CHECK(0, "%s: %s", rel, err.msg);
            continue;
        }
        int steps = jsteps->valueint, img2img = cJSON_IsNumber(jstr);
        float g = (float)jg->valuedouble;
        int64_t shp[8], nin, nlat, nts;
        int nd;
        float *unet_in = kc_golden_f32(&st, "unet_inputs", &nin, shp, &nd);
        float *preds = kc_golden_f32(&st, "noise_preds", NULL, NULL, NULL);
        float *lat = kc_golden_f32(&st, "latents_per_step", &nlat, NULL, NULL);
        float *ts = kc_golden_f32(&st, "timesteps", &nts, NULL, NULL);
        const int64_t S = shp[0], B = shp[1], n = nin / (S * B);
        float *x = kc_golden_f32(&st, img2img ? "i2i.noisy_latents" : "initial_noise", NULL, NULL, NULL);
        kc_sampler *s = make(jcls->valuestring, steps, 0);
        float *xin = malloc((size_t)(B * n) * sizeof *xin), *eps = malloc((size_t)n * sizeof *eps);
        kc_rng rng;
        kc_rng_seed(&rng, cJSON_IsNumber(jseed) ? (uint64_t)jseed->valuedouble : 0);
        if (cJSON_IsNumber(jseed) && img2img) { /* the posterior eps and the add_noise noise come first */
            kc_rng_randn(&rng, eps, n);
            kc_rng_randn(&rng, eps, n);
        }
        int k0 = img2img ? kc_sched_img2img_start(steps, jstr->valuedouble) : 0;
        KC_CHECK(s && S == steps - k0 && nts == S, "%s: %lld steps recorded, %d - %d expected", k_cases[c], (long long)S,
                 steps, k0);
        if (s && S == steps - k0) {
            if (!img2img) {
                float ins = kc_sampler_init_noise_sigma(s);
                for (int64_t i = 0; i < n; i++) x[i] *= ins;
            }
            for (int64_t j = 0; j < S; j++) {
                int k = k0 + (int)j;
                char nm[160];
                KC_CHECK(kc_sampler_timestep(s, k) == ts[j], "%s: t_%d %g vs %g", k_cases[c], k, kc_sampler_timestep(s, k),
                         ts[j]);
                for (int64_t b = 0; b < B; b++) memcpy(xin + b * n, x, (size_t)n * sizeof *x);
                kc_sampler_scale_model_input(s, k, xin, xin, B * n);
                snprintf(nm, sizeof nm, "%s.unet_inputs[%lld]", k_cases[c], (long long)j);
                KC_CHECK(check_close(nm, xin, unet_in + j * B * n, B * n, TOL_STEP), "%s", nm);
                const float *p = preds + j * B * n;
                for (int64_t i = 0; i < n; i++) eps[i] = B == 2 ? p[i] + g * (p[n + i] - p[i]) : p[i];
                kc_status stt = kc_sampler_step(s, k, eps, x, n, &rng, &err);
                KC_CHECK(stt == KC_OK, "%s step %d: %s", k_cases[c], k, err.msg);
                snprintf(nm, sizeof nm, "%s.latents_per_step[%lld]", k_cases[c], (long long)j);
                KC_CHECK(check_close(nm, x, lat + j * n, n, TOL_STEP), "%s", nm);
            }
        }
        kc_sampler_free(s);
        free(xin);
        free(eps);
        free(unet_in);
        free(preds);
        free(lat);
        free(ts);
        free(x);
        kc_st_close(&st);
    }
}

int main(void) {
    const char *gpath = kc_test_data("goldens/tiny-kolors-a/schedulers.safetensors");
    const char *cpath = kc_test_data("goldens/tiny-kolors-a/cases.json");
    const char *cfgpath = kc_test_data("models/tiny-kolors-a/scheduler/scheduler_config.json");
    kc_test_require_file(gpath);
    kc_test_require_file(cpath);
    kc_test_require_file(cfgpath);
    kc_err err = {0};
    if (kc_st_open(&g_st, gpath, &err) || load_cases(cpath, &g_cases, &err) ||
        kc_sched_config_load(cfgpath, &g_cfg, &err)) {
        printf("FAIL: %s\n", err.msg);
        return 1;
    }
    for (size_t i = 0; i < sizeof k_classes / sizeof *k_classes; i++) {
        test_tables(k_classes[i]);
        test_timesteps(k_classes[i]);
        test_loop(k_classes[i], 2);
        test_loop(k_classes[i], 10);
    }
    test_spec_numbers();
    test_karras();
    test_karras_fixture();
    test_img2img();
    test_pipeline_loops();
    test_add_noise_forms();
    test_rng_consumption();
    test_refusals();
    test_other_spacings();
    kc_st_close(&g_st);
    cJSON_Delete(g_cases);
    return kc_test_finish();
}
