/* schedule.c — scheduler_config.json, the training tables, the timestep/sigma tables of each
 * sampler for N steps, and the kc_sampler object (see schedule.h). Mirrors diffusers 0.30.3:
 * SchedulerMixin configs, the __init__ of the five scheduler classes (betas, alphas_cumprod) and
 * their set_timesteps, scale_model_input, add_noise; the step functions live one per file.
 *
 * Letters: T training timesteps, N inference steps, k step index, n latent elements. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/json.h"
#include "sched/sampler_internal.h"

/* ---------------------------------------------------------------------------------------------
 * Config */

void kc_sched_config_kolors(kc_sched_config *c) {
    memset(c, 0, sizeof *c);
    snprintf(c->class_name, sizeof c->class_name, "EulerDiscreteScheduler");
    c->num_train_timesteps = 1100;
    c->beta_start = 0.00085;
    c->beta_end = 0.014;
    c->beta_schedule = KC_BETA_SCALED_LINEAR;
    c->spacing = KC_SPACING_LEADING;
    c->spacing_set = 1;
    c->steps_offset = 1;
    c->solver_order = -1;
    c->use_lu_lambdas = 0;
    c->predict_x0 = 1;
    c->lower_order_final = 1;
}

/* Copies string key `key` (or dflt) into buf; refuses values longer than the buffer. */
static kc_status get_str(const cJSON *root, const char *key, const char *dflt, const char *what, char *buf, size_t cap,
                         kc_err *err) {
    const char *v;
    kc_status s = kc_json_str(root, key, 0, dflt, what, &v, err);
    if (s) return s;
    if (strlen(v) >= cap)
        return kc_fail(err, KC_ERR_UNSUPPORTED, "%s: \"%s\": unsupported value \"%.60s\"", what, key, v);
    snprintf(buf, cap, "%s", v);
    return KC_OK;
}

/* Refuses key when its value (a string) is not `want`. */
static kc_status want_str(const cJSON *root, const char *key, const char *want, const char *what, const char *why,
                          kc_err *err) {
    char v[64];
    kc_status s = get_str(root, key, want, what, v, sizeof v, err);
    if (s) return s;
    if (strcmp(v, want))
        return kc_fail(err, KC_ERR_UNSUPPORTED, "%s: \"%s\": \"%s\" is not supported (only \"%s\"%s)", what, key, v,
                       want, why);
    return KC_OK;
}

/* Refuses key when it is true. */
static kc_status want_false(const cJSON *root, const char *key, const char *what, const char *why, kc_err *err) {
    int v;
    kc_status s = kc_json_bool(root, key, 0, 0, what, &v, err);
    if (s) return s;
    if (v) return kc_fail(err, KC_ERR_UNSUPPORTED, "%s: \"%s\": true is not supported (%s)", what, key, why);
    return KC_OK;
}

kc_status kc_sched_config_parse(const struct cJSON *root, const char *what, kc_sched_config *c, kc_err *err) {
    kc_status s;
    kc_sched_config_kolors(c);
    c->class_name[0] = '\0';
    /* absent keys take diffusers' class defaults: T 1000, "linear" 0.0001..0.02, "linspace"
     * spacing (DDIM's own default is "leading"; Kolors' file names it), steps_offset 0 */
    char buf[64];
    if ((s = get_str(root, "_class_name", "", what, c->class_name, sizeof c->class_name, err))) return s;
    if ((s = kc_json_int(root, "num_train_timesteps", 0, 1000, 2, KC_SCHED_MAX_TRAIN, what, &c->num_train_timesteps,
                         err)))
        return s;
    if ((s = kc_json_num(root, "beta_start", 0, 0.0001, what, &c->beta_start, err))) return s;
    if ((s = kc_json_num(root, "beta_end", 0, 0.02, what, &c->beta_end, err))) return s;
    if (!(c->beta_start > 0 && c->beta_start < 1 && c->beta_end > 0 && c->beta_end < 1))
        return kc_fail(err, KC_ERR_FORMAT, "%s: beta_start %g / beta_end %g must lie in (0, 1)", what, c->beta_start,
                       c->beta_end);
    if ((s = get_str(root, "beta_schedule", "linear", what, buf, sizeof buf, err))) return s;
    if (!strcmp(buf, "scaled_linear")) c->beta_schedule = KC_BETA_SCALED_LINEAR;
    else if (!strcmp(buf, "linear")) c->beta_schedule = KC_BETA_LINEAR;
    else
        return kc_fail(err, KC_ERR_UNSUPPORTED,
                       "%s: \"beta_schedule\": \"%s\" is not supported (only \"scaled_linear\" and \"linear\")", what,
                       buf);
    if (!kc_json_is_null(root, "trained_betas"))
        return kc_fail(err, KC_ERR_UNSUPPORTED, "%s: \"trained_betas\": explicit beta tables are not supported", what);
    if ((s = want_str(root, "prediction_type", "epsilon", what, ", the Kolors U-Net predicts noise", err))) return s;
    c->spacing_set = !kc_json_is_null(root, "timestep_spacing");
    if ((s = get_str(root, "timestep_spacing", "linspace", what, buf, sizeof buf, err))) return s;
    if (!strcmp(buf, "leading")) c->spacing = KC_SPACING_LEADING;
    else if (!strcmp(buf, "trailing")) c->spacing = KC_SPACING_TRAILING;
    else if (!strcmp(buf, "linspace")) c->spacing = KC_SPACING_LINSPACE;
    else
        return kc_fail(err, KC_ERR_UNSUPPORTED,
                       "%s: \"timestep_spacing\": \"%s\" is not supported (leading, trailing or linspace)", what, buf);
    if ((s = kc_json_int(root, "steps_offset", 0, 0, 0, 1000, what, &c->steps_offset, err))) return s;
    if ((s = want_false(root, "rescale_betas_zero_snr", what, "zero-terminal-SNR rescaling is not implemented", err)))
        return s;
    if ((s = want_str(root, "interpolation_type", "linear", what, "", err))) return s;
    if ((s = want_str(root, "timestep_type", "discrete", what, "", err))) return s;
    if ((s = want_str(root, "final_sigmas_type", "zero", what, "", err))) return s;
    if ((s = want_false(root, "use_exponential_sigmas", what, "not implemented", err))) return s;
    if ((s = want_false(root, "use_beta_sigmas", what, "not implemented", err))) return s;
    if ((s = kc_json_bool(root, "use_karras_sigmas", 0, 0, what, &c->use_karras_sigmas, err))) return s;
    c->has_sigma_min = !kc_json_is_null(root, "sigma_min");
    c->has_sigma_max = !kc_json_is_null(root, "sigma_max");
    if ((s = kc_json_num(root, "sigma_min", 0, 0, what, &c->sigma_min, err))) return s;
    if ((s = kc_json_num(root, "sigma_max", 0, 0, what, &c->sigma_max, err))) return s;
    if ((c->has_sigma_min && !(c->sigma_min > 0)) || (c->has_sigma_max && !(c->sigma_max > 0)))
        return kc_fail(err, KC_ERR_FORMAT, "%s: \"sigma_min\" / \"sigma_max\" must be positive", what);
    /* Absent -> diffusers' default (true). Whether the official Kolors scheduler_config.json sets
     * set_alpha_to_one (and clip_sample, below) is unconfirmed (kolors-model.md §12.1); it only
     * matters for ddim. */
    if ((s = kc_json_bool(root, "set_alpha_to_one", 0, 1, what, &c->set_alpha_to_one, err))) return s;

    /* sampler-specific keys: recorded, checked by kc_sampler_create for the sampler built */
    if ((s = get_str(root, "algorithm_type", "", what, c->algorithm_type, sizeof c->algorithm_type, err))) return s;
    if ((s = get_str(root, "solver_type", "", what, c->solver_type, sizeof c->solver_type, err))) return s;
    int64_t order;
    if ((s = kc_json_int(root, "solver_order", 0, -1, -1, 1000, what, &order, err))) return s;
    c->solver_order = (int)order;
    if ((s = kc_json_bool(root, "use_lu_lambdas", 0, 0, what, &c->use_lu_lambdas, err))) return s;
    /* lambda_min_clipped: -inf (diffusers writes the non-JSON token -Infinity, which no JSON
     * parser reads) or absent/null means no clipping; any finite value is refused at create */
    c->lambda_min_clipped_set = !kc_json_is_null(root, "lambda_min_clipped");
    if ((s = get_str(root, "variance_type", "", what, c->variance_type, sizeof c->variance_type, err))) return s;
    if ((s = kc_json_bool(root, "predict_x0", 0, 1, what, &c->predict_x0, err))) return s;
    if ((s = kc_json_bool(root, "lower_order_final", 0, 1, what, &c->lower_order_final, err))) return s;
    const cJSON *dc = cJSON_GetObjectItemCaseSensitive(root, "disable_corrector");
    c->disable_corrector_n = (dc && cJSON_IsArray(dc)) ? cJSON_GetArraySize(dc) : 0;
    c->solver_p_set = !kc_json_is_null(root, "solver_p");
    if ((s = kc_json_bool(root, "thresholding", 0, 0, what, &c->thresholding, err))) return s;
    if ((s = kc_json_bool(root, "clip_sample", 0, 0, what, &c->clip_sample, err))) return s;
    return KC_OK;
}

kc_status kc_sched_config_load(const char *path, kc_sched_config *cfg, kc_err *err) {
    cJSON *root;
    kc_status s = kc_json_load(path, &root, err);
    if (s) return s;
    s = kc_sched_config_parse(root, path, cfg, err);
    cJSON_Delete(root);
    return s;
}

/* ---------------------------------------------------------------------------------------------
 * Training tables */

/* torch.linspace(start, end, steps, dtype=float32) on the CPU (AVX2 build): step = (end - start)
 * / (steps - 1) in float; element i is start + step*i for i < steps/2, else end - step*(steps-1-i).
 * The vectorised kernel computes that base once per 8 lanes (fused multiply-add in the AVX2
 * build, which is what makes it bit-identical) and adds lane*step; the last steps % 16 elements
 * take the scalar formula. Checked bit for bit against torch 1.13 for T = 1100. The split into
 * threads above torch's grain size (32768 elements) is not modelled. */
static void torch_linspace_f32(float start, float end, int64_t steps, float *out) {
    if (steps == 1) {
        out[0] = start;
        return;
    }
    const float step = (end - start) / (float)(steps - 1);
    const int64_t halfway = steps / 2;
    int64_t i = 0;
    for (; i + 16 <= steps; i += 8) {
        float base = i < halfway ? fmaf(step, (float)i, start) : fmaf(-step, (float)(steps - i - 1), end);
        for (int l = 0; l < 8; l++) out[i + l] = l ? fmaf((float)l, step, base) : base;
    }
    for (; i < steps; i++) out[i] = i < halfway ? fmaf(step, (float)i, start) : fmaf(-step, (float)(steps - i - 1), end);
}

void kc_sched_betas(const kc_sched_config *c, float *betas) {
    int64_t T = c->num_train_timesteps;
    if (c->beta_schedule == KC_BETA_SCALED_LINEAR) {
        /* torch.linspace(beta_start**0.5, beta_end**0.5, T, float32) ** 2 (python double sqrt) */
        torch_linspace_f32((float)sqrt(c->beta_start), (float)sqrt(c->beta_end), T, betas);
        for (int64_t t = 0; t < T; t++) betas[t] = betas[t] * betas[t];
    } else {
        torch_linspace_f32((float)c->beta_start, (float)c->beta_end, T, betas);
    }
}

void kc_sched_alphas_cumprod(const float *betas, int64_t T, float *ac) {
    /* torch.cumprod(1 - betas) on the CPU accumulates in double and stores float32 */
    double acc = 1.0;
    for (int64_t t = 0; t < T; t++) {
        acc *= (double)(1.0f - betas[t]);
        ac[t] = (float)acc;
    }
}

/* ((1 - ac) / ac) ** 0.5 as float32 tensor ops */
static float sigma_of(float ac) { return sqrtf((1.0f - ac) / ac); }

/* np.interp(x, arange(T), table) in float64 */
static double interp(double x, const float *table, int64_t T) {
    if (!(x > 0)) return table[0];
    if (x >= (double)(T - 1)) return table[T - 1];
    int64_t j = (int64_t)floor(x);
    double slope = (double)table[j + 1] - (double)table[j]; /* over a unit step of xp */
    return slope * (x - (double)j) + (double)table[j];
}

/* diffusers' _sigma_to_t: log_sigmas is np.log of the float32 sigma table (float32 values). */
static double sigma_to_t(double sigma, const float *log_sigmas, int64_t T) {
    double ls = log(sigma > 1e-10 ? sigma : 1e-10);
    int64_t lo = 0;
    for (int64_t i = 0; i < T; i++)
        if (ls - (double)log_sigmas[i] >= 0) lo = i; /* argmax of the cumulative count = last hit */
    if (lo > T - 2) lo = T - 2;
    double low = log_sigmas[lo], high = log_sigmas[lo + 1];
    double w = (low - ls) / (low - high);
    w = w < 0 ? 0 : w > 1 ? 1 : w;
    return (1 - w) * (double)lo + w * (double)(lo + 1);
}

/* _convert_to_karras: rho = 7 spacing between sigma_max and sigma_min, float64. */
static void karras_sigmas(double smin, double smax, int n, double *out) {
    const double rho = 7.0;
    double min_inv = pow(smin, 1.0 / rho), max_inv = pow(smax, 1.0 / rho);
    for (int i = 0; i < n; i++) {
        /* np.linspace(0, 1, n): i * (1 / (n - 1)), last exactly 1 */
        double ramp = n == 1 ? 0.0 : (i == n - 1 ? 1.0 : (double)i * (1.0 / (double)(n - 1)));
        out[i] = pow(max_inv + ramp * (min_inv - max_inv), rho);
    }
}

/* ---------------------------------------------------------------------------------------------
 * Names */

static const struct {
    const char *name, *cls;
} k_kinds[KC_SAMPLER_COUNT] = {
    [KC_SAMPLER_EULER] = {"euler", "EulerDiscreteScheduler"},
    [KC_SAMPLER_EULER_A] = {"euler_a", "EulerAncestralDiscreteScheduler"},
    [KC_SAMPLER_DPMPP_2M] = {"dpm++2m", "DPMSolverMultistepScheduler"},
    [KC_SAMPLER_UNIPC] = {"unipc", "UniPCMultistepScheduler"},
    [KC_SAMPLER_DDIM] = {"ddim", "DDIMScheduler"},
};

static const struct {
    const char *alias;
    kc_sampler_kind kind;
} k_aliases[] = {
    {"euler_ancestral", KC_SAMPLER_EULER_A}, {"euler-a", KC_SAMPLER_EULER_A}, {"dpmpp_2m", KC_SAMPLER_DPMPP_2M},
    {"dpm++_2m", KC_SAMPLER_DPMPP_2M},       {"dpm++", KC_SAMPLER_DPMPP_2M},   {"dpmpp2m", KC_SAMPLER_DPMPP_2M},
    {"uni_pc", KC_SAMPLER_UNIPC},
};

const char *kc_sampler_kind_name(kc_sampler_kind k) { return (unsigned)k < KC_SAMPLER_COUNT ? k_kinds[k].name : "?"; }

int kc_sampler_kind_supports_karras(kc_sampler_kind k) {
    return k == KC_SAMPLER_EULER || k == KC_SAMPLER_DPMPP_2M || k == KC_SAMPLER_UNIPC;
}

kc_status kc_sampler_kind_from_name(const char *name, const kc_sched_config *cfg, kc_sampler_kind *out, kc_err *err) {
    int from_class = !name || !*name || !strcmp(name, "default");
    const char *want = from_class ? (cfg ? cfg->class_name : "") : name;
    if (from_class && !*want) want = "EulerDiscreteScheduler"; /* no class name: Kolors' default */
    for (int k = 0; k < KC_SAMPLER_COUNT; k++)
        if (!strcmp(want, k_kinds[k].name) || !strcmp(want, k_kinds[k].cls)) {
            *out = (kc_sampler_kind)k;
            return KC_OK;
        }
    for (size_t i = 0; i < sizeof k_aliases / sizeof *k_aliases; i++)
        if (!strcmp(want, k_aliases[i].alias)) {
            *out = k_aliases[i].kind;
            return KC_OK;
        }
    if (from_class)
        return kc_fail(err, KC_ERR_UNSUPPORTED,
                       "scheduler config: \"_class_name\": %s is not supported (euler, euler_a, dpm++2m, unipc, ddim)",
                       want);
    return kc_fail(err, KC_ERR_ARG, "unknown sampler \"%s\" (euler, euler_a, dpm++2m, unipc, ddim)", name);
}

/* ---------------------------------------------------------------------------------------------
 * Sampler construction */

/* The keys only one class reads, checked for the class being built. */
static kc_status check_sampler_keys(const kc_sched_config *c, kc_sampler_kind kind, int *order, int *bh1,
                                    kc_err *err) {
    const char *nm = k_kinds[kind].cls;
    *order = 2;
    *bh1 = 0;
    if (kind == KC_SAMPLER_DDIM) {
        if (c->clip_sample)
            return kc_fail(err, KC_ERR_UNSUPPORTED,
                           "scheduler config: \"clip_sample\": true is not supported for %s (latents are not in [-1, 1])",
                           nm);
    }
    if ((kind == KC_SAMPLER_DDIM || kind == KC_SAMPLER_DPMPP_2M || kind == KC_SAMPLER_UNIPC) && c->thresholding)
        return kc_fail(err, KC_ERR_UNSUPPORTED, "scheduler config: \"thresholding\": true is not supported (%s)", nm);
    if (kind == KC_SAMPLER_DPMPP_2M || kind == KC_SAMPLER_UNIPC) {
        if (c->solver_order != -1 && c->solver_order != 1 && c->solver_order != 2)
            return kc_fail(err, KC_ERR_UNSUPPORTED, "scheduler config: \"solver_order\": %d is not supported for %s (1 or 2)",
                           c->solver_order, nm);
        if (c->solver_order != -1) *order = c->solver_order;
    }
    if (kind == KC_SAMPLER_DPMPP_2M) {
        if (c->algorithm_type[0] && strcmp(c->algorithm_type, "dpmsolver++"))
            return kc_fail(err, KC_ERR_UNSUPPORTED,
                           "scheduler config: \"algorithm_type\": \"%s\" is not supported (only \"dpmsolver++\")",
                           c->algorithm_type);
        /* diffusers maps the UniPC names onto midpoint for this class */
        if (c->solver_type[0] && strcmp(c->solver_type, "midpoint") && strcmp(c->solver_type, "logrho") &&
            strcmp(c->solver_type, "bh1") && strcmp(c->solver_type, "bh2"))
            return kc_fail(err, KC_ERR_UNSUPPORTED,
                           "scheduler config: \"solver_type\": \"%s\" is not supported for %s (only \"midpoint\")",
                           c->solver_type, nm);
        if (c->use_lu_lambdas)
            return kc_fail(err, KC_ERR_UNSUPPORTED, "scheduler config: \"use_lu_lambdas\": true is not supported");
        if (c->lambda_min_clipped_set)
            return kc_fail(err, KC_ERR_UNSUPPORTED,
                           "scheduler config: \"lambda_min_clipped\": a finite value is not supported (only -inf)");
        if (c->variance_type[0])
            return kc_fail(err, KC_ERR_UNSUPPORTED, "scheduler config: \"variance_type\": \"%s\" is not supported",
                           c->variance_type);
    }
    if (kind == KC_SAMPLER_UNIPC) {
        if (!strcmp(c->solver_type, "bh1")) *bh1 = 1;
        else if (c->solver_type[0] && strcmp(c->solver_type, "bh2") && strcmp(c->solver_type, "midpoint") &&
                 strcmp(c->solver_type, "heun") && strcmp(c->solver_type, "logrho"))
            return kc_fail(err, KC_ERR_UNSUPPORTED,
                           "scheduler config: \"solver_type\": \"%s\" is not supported for %s (bh1 or bh2)",
                           c->solver_type, nm);
        if (!c->predict_x0)
            return kc_fail(err, KC_ERR_UNSUPPORTED, "scheduler config: \"predict_x0\": false is not supported");
        if (!c->lower_order_final)
            return kc_fail(err, KC_ERR_UNSUPPORTED, "scheduler config: \"lower_order_final\": false is not supported for %s",
                           nm);
        if (c->disable_corrector_n)
            return kc_fail(err, KC_ERR_UNSUPPORTED, "scheduler config: \"disable_corrector\": a non-empty list is not supported");
        if (c->solver_p_set)
            return kc_fail(err, KC_ERR_UNSUPPORTED, "scheduler config: \"solver_p\": a predictor scheduler is not supported");
    }
    return KC_OK;
}

/* np.arange(start, 0, -step) (float step) rounded half-to-even, minus 1: "trailing". */
static kc_status trailing(double start, double step, int n, int64_t *out, kc_err *err) {
    int64_t len = (int64_t)ceil((0.0 - start) / -step);
    if (len != n)
        return kc_fail(err, KC_ERR_UNSUPPORTED, "\"trailing\" spacing gives %lld timesteps for %d steps",
                       (long long)len, n);
    for (int i = 0; i < n; i++) out[i] = (int64_t)rint(start + (double)i * -step) - 1;
    return KC_OK;
}

/* np.linspace(0, stop, num) element i (float64). */
static double np_linspace(double stop, int64_t num, int64_t i) {
    if (num == 1) return 0.0;
    if (i == num - 1) return stop;
    return (double)i * (stop / (double)(num - 1));
}

/* Timesteps of set_timesteps (before Karras): Euler family as float32 (ts_f), DDIM/DPM/UniPC
 * as int64 (ts_i, also filled for the Euler family when integral). */
static kc_status base_timesteps(const kc_sched_config *c, kc_sampler_kind kind, int n, float *ts_f, int64_t *ts_i,
                                kc_err *err) {
    const int64_t T = c->num_train_timesteps;
    const int multistep = kind == KC_SAMPLER_DPMPP_2M || kind == KC_SAMPLER_UNIPC;
    kc_spacing spacing = c->spacing_set ? c->spacing : kind == KC_SAMPLER_DDIM ? KC_SPACING_LEADING : KC_SPACING_LINSPACE;
    switch (spacing) {
    case KC_SPACING_LEADING: {
        int64_t m = multistep ? n + 1 : n;
        int64_t ratio = T / m;
        if (ratio < 1)
            return kc_fail(err, KC_ERR_ARG, "%d steps are too many for %lld training timesteps with \"leading\" spacing",
                           n, (long long)T);
        for (int i = 0; i < n; i++) ts_i[i] = (m - 1 - i) * ratio + c->steps_offset; /* reversed, [:-1] */
        for (int i = 0; i < n; i++) ts_f[i] = (float)((m - 1 - i) * ratio) + (float)c->steps_offset;
        break;
    }
    case KC_SPACING_TRAILING: {
        kc_status s = trailing((double)T, (double)T / (double)n, n, ts_i, err);
        if (s) return s;
        for (int i = 0; i < n; i++) ts_f[i] = (float)ts_i[i];
        break;
    }
    case KC_SPACING_LINSPACE:
        if (multistep) {
            for (int i = 0; i < n; i++) ts_i[i] = (int64_t)rint(np_linspace((double)(T - 1), n + 1, n - i));
            for (int i = 0; i < n; i++) ts_f[i] = (float)ts_i[i];
        } else {
            /* Euler: np.linspace(0, T-1, N, dtype=float32) reversed (fractional); DDIM rounds */
            for (int i = 0; i < n; i++) {
                double v = np_linspace((double)(T - 1), n, n - 1 - i);
                ts_f[i] = (float)v;
                ts_i[i] = (int64_t)rint(v);
            }
            if (kind == KC_SAMPLER_DDIM)
                for (int i = 0; i < n; i++) ts_f[i] = (float)ts_i[i];
        }
        break;
    }
    return KC_OK;
}

kc_status kc_sampler_create(const kc_sched_config *c, kc_sampler_kind kind, int n, int karras, kc_sampler **out,
                            kc_err *err) {
    *out = NULL;
    const int64_t T = c->num_train_timesteps;
    if ((unsigned)kind >= KC_SAMPLER_COUNT) return kc_fail(err, KC_ERR_ARG, "sampler kind %d is invalid", (int)kind);
    if (n < 1 || n > T)
        return kc_fail(err, KC_ERR_ARG, "steps must be between 1 and %lld (num_train_timesteps), got %d",
                       (long long)T, n);
    if (karras && !kc_sampler_kind_supports_karras(kind))
        return kc_fail(err, KC_ERR_UNSUPPORTED,
                       "Karras sigmas are not available for the %s sampler (euler, dpm++2m and unipc take them)",
                       k_kinds[kind].name);
    int order, bh1;
    kc_status st = check_sampler_keys(c, kind, &order, &bh1, err);
    if (st) return st;
    int use_karras = karras || (c->use_karras_sigmas && kc_sampler_kind_supports_karras(kind));

    kc_sampler *s = calloc(1, sizeof *s);
    float *betas = malloc((size_t)T * sizeof *betas), *table = malloc((size_t)T * sizeof *table);
    float *log_table = malloc((size_t)T * sizeof *log_table);
    double *kar = malloc((size_t)n * sizeof *kar);
    if (s) {
        s->alphas_cumprod = malloc((size_t)T * sizeof(float));
        s->timesteps = malloc((size_t)n * sizeof(float));
        s->timesteps_i = malloc((size_t)n * sizeof(int64_t));
        s->sigmas = malloc((size_t)(n + 1) * sizeof(float));
    }
    if (!s || !betas || !table || !log_table || !kar || !s->alphas_cumprod || !s->timesteps || !s->timesteps_i ||
        !s->sigmas) {
        st = kc_fail(err, KC_ERR_NOMEM, "sampler tables for %lld training / %d inference steps", (long long)T, n);
        goto done;
    }
    s->kind = kind;
    s->n = n;
    s->karras = use_karras;
    s->T = T;
    s->solver_order = order;
    s->unipc_bh1 = bh1;
    s->next_k = -1;

    kc_sched_betas(c, betas);
    kc_sched_alphas_cumprod(betas, T, s->alphas_cumprod);
    for (int64_t t = 0; t < T; t++) table[t] = sigma_of(s->alphas_cumprod[t]);
    for (int64_t t = 0; t < T; t++) log_table[t] = (float)log((double)table[t]); /* np.log of float32 */

    if ((st = base_timesteps(c, kind, n, s->timesteps, s->timesteps_i, err))) goto done;

    if (kind == KC_SAMPLER_DDIM) {
        s->ddim_ratio = T / n;
        for (int i = 0; i < n; i++)
            if (s->timesteps_i[i] < 0 || s->timesteps_i[i] >= T) {
                st = kc_fail(err, KC_ERR_ARG, "%d DDIM steps with steps_offset %lld reach timestep %lld outside 0..%lld",
                             n, (long long)c->steps_offset, (long long)s->timesteps_i[i], (long long)(T - 1));
                goto done;
            }
        s->final_alpha_cumprod = c->set_alpha_to_one ? 1.0f : s->alphas_cumprod[0];
        s->init_noise_sigma = 1.0f;
        free(s->sigmas);
        s->sigmas = NULL;
        goto done;
    }

    if (kind == KC_SAMPLER_EULER || kind == KC_SAMPLER_EULER_A) {
        /* sigmas = np.interp(timesteps, arange(T), table) (float64) */
        double *sg = kar; /* reuse: n doubles */
        for (int i = 0; i < n; i++) sg[i] = interp((double)s->timesteps[i], table, T);
        if (use_karras) {
            double smin = c->has_sigma_min ? c->sigma_min : sg[n - 1];
            double smax = c->has_sigma_max ? c->sigma_max : sg[0];
            karras_sigmas(smin, smax, n, sg);
            for (int i = 0; i < n; i++) {
                double t = sigma_to_t(sg[i], log_table, T);
                s->timesteps[i] = (float)t;
                s->timesteps_i[i] = (int64_t)rint(t);
            }
        }
        for (int i = 0; i < n; i++) s->sigmas[i] = (float)sg[i];
        s->sigmas[n] = 0.0f;
        float mx = 0.0f;
        for (int i = 0; i <= n; i++) mx = s->sigmas[i] > mx ? s->sigmas[i] : mx;
        /* init_noise_sigma: (max**2 + 1) ** 0.5 for "leading", max for linspace/trailing */
        s->init_noise_sigma = c->spacing_set && c->spacing == KC_SPACING_LEADING ? sqrtf(mx * mx + 1.0f) : mx;
    } else {
        /* DPM-Solver++ / UniPC */
        if (use_karras) {
            /* the full table flipped: sigma_max = table[T-1], sigma_min = table[0] */
            double smin = c->has_sigma_min ? c->sigma_min : (double)table[0];
            double smax = c->has_sigma_max ? c->sigma_max : (double)table[T - 1];
            karras_sigmas(smin, smax, n, kar);
            for (int i = 0; i < n; i++) {
                s->timesteps_i[i] = (int64_t)rint(sigma_to_t(kar[i], log_table, T));
                s->timesteps[i] = (float)s->timesteps_i[i];
                s->sigmas[i] = (float)kar[i];
            }
        } else {
            for (int i = 0; i < n; i++) s->sigmas[i] = (float)interp((double)s->timesteps_i[i], table, T);
        }
        s->sigmas[n] = 0.0f;
        s->init_noise_sigma = 1.0f;
    }

done:
    free(betas);
    free(table);
    free(log_table);
    free(kar);
    if (st) {
        kc_sampler_free(s);
        return st;
    }
    *out = s;
    return KC_OK;
}

void kc_sampler_free(kc_sampler *s) {
    if (!s) return;
    free(s->alphas_cumprod);
    free(s->timesteps);
    free(s->timesteps_i);
    free(s->sigmas);
    free(s->noise);
    free(s->m_prev);
    free(s->m_cur);
    free(s->last_sample);
    free(s->m_next);
    free(s);
}

void kc_sampler_reset(kc_sampler *s) {
    s->next_k = -1;
    s->lower_order_nums = 0;
    s->this_order = 0;
}

kc_sampler_kind kc_sampler_kind_of(const kc_sampler *s) { return s->kind; }
int kc_sampler_steps(const kc_sampler *s) { return s->n; }
int kc_sampler_uses_karras(const kc_sampler *s) { return s->karras; }
float kc_sampler_timestep(const kc_sampler *s, int k) {
    KC_ASSERT(k >= 0 && k < s->n);
    return s->timesteps[k];
}
const float *kc_sampler_sigmas(const kc_sampler *s) { return s->sigmas; }
const float *kc_sampler_alphas_cumprod(const kc_sampler *s) { return s->alphas_cumprod; }
int64_t kc_sampler_train_steps(const kc_sampler *s) { return s->T; }
float kc_sampler_init_noise_sigma(const kc_sampler *s) { return s->init_noise_sigma; }

static int is_euler_family(const kc_sampler *s) { return s->kind == KC_SAMPLER_EULER || s->kind == KC_SAMPLER_EULER_A; }

void kc_sampler_scale_model_input(const kc_sampler *s, int k, const float *x, float *out, int64_t n) {
    if (is_euler_family(s)) {
        float sg = s->sigmas[k];
        float d = sqrtf(sg * sg + 1.0f); /* sample / ((sigma**2 + 1) ** 0.5): a true division */
        for (int64_t i = 0; i < n; i++) out[i] = x[i] / d;
    } else if (out != x) {
        memcpy(out, x, (size_t)n * sizeof *out);
    }
}

/* Sizes the history on the first step and checks the order of calls. */
static kc_status begin_step(kc_sampler *s, int k, int64_t n, kc_err *err) {
    if (k < 0 || k >= s->n) return kc_fail(err, KC_ERR_ARG, "sampler step %d is outside 0..%d", k, s->n - 1);
    if (s->next_k >= 0 && k != s->next_k)
        return kc_fail(err, KC_ERR_ARG, "sampler steps must run in order: expected step %d, got %d", s->next_k, k);
    if (n <= 0) return kc_fail(err, KC_ERR_ARG, "sampler step on %lld elements", (long long)n);
    if (s->numel == 0) {
        size_t bytes = (size_t)n * sizeof(float);
        if (is_euler_family(s)) {
            s->noise = malloc(bytes);
            if (!s->noise) return kc_fail(err, KC_ERR_NOMEM, "sampler noise buffer (%lld floats)", (long long)n);
        } else if (s->kind != KC_SAMPLER_DDIM) {
            s->m_prev = malloc(bytes);
            s->m_cur = malloc(bytes);
            if (s->kind == KC_SAMPLER_UNIPC) {
                s->last_sample = malloc(bytes);
                s->m_next = malloc(bytes);
            }
            if (!s->m_prev || !s->m_cur || (s->kind == KC_SAMPLER_UNIPC && (!s->last_sample || !s->m_next)))
                return kc_fail(err, KC_ERR_NOMEM, "sampler history (%lld floats)", (long long)n);
        }
        s->numel = n;
    } else if (n != s->numel) {
        return kc_fail(err, KC_ERR_ARG, "sampler step on %lld elements after %lld in earlier steps", (long long)n,
                       (long long)s->numel);
    }
    return KC_OK;
}

kc_status kc_sampler_step_with_noise(kc_sampler *s, int k, const float *eps, float *x, int64_t n, const float *noise,
                                     kc_err *err) {
    kc_status st = begin_step(s, k, n, err);
    if (st) return st;
    switch (s->kind) {
    case KC_SAMPLER_EULER: kc_euler_step(s, k, eps, x, n); break;
    case KC_SAMPLER_EULER_A:
        if (!noise) return kc_fail(err, KC_ERR_ARG, "the euler_a sampler needs step noise (a generator)");
        kc_euler_a_step(s, k, eps, x, n, noise);
        break;
    case KC_SAMPLER_DPMPP_2M: kc_dpmpp_2m_step(s, k, eps, x, n); break;
    case KC_SAMPLER_UNIPC: kc_unipc_step(s, k, eps, x, n); break;
    case KC_SAMPLER_DDIM: kc_ddim_step(s, k, eps, x, n); break;
    default: return kc_fail(err, KC_ERR_INTERNAL, "sampler kind %d", (int)s->kind);
    }
    s->next_k = k + 1;
    return KC_OK;
}

kc_status kc_sampler_step(kc_sampler *s, int k, const float *eps, float *x, int64_t n, kc_rng *rng, kc_err *err) {
    kc_status st = begin_step(s, k, n, err);
    if (st) return st;
    const float *noise = NULL;
    if (is_euler_family(s)) {
        if (rng) {
            /* Euler: drawn and discarded as diffusers does; Euler a: the ancestral noise */
            kc_rng_randn(rng, s->noise, n);
            noise = s->noise;
        } else if (s->kind == KC_SAMPLER_EULER_A) {
            return kc_fail(err, KC_ERR_ARG, "the euler_a sampler needs a random generator for its step noise");
        }
    }
    return kc_sampler_step_with_noise(s, k, eps, x, n, noise, err);
}

void kc_sampler_add_noise(const kc_sampler *s, int k, const float *x0, const float *noise, float *out, int64_t n) {
    if (is_euler_family(s)) {
        float sg = s->sigmas[k]; /* original_samples + noise * sigma */
        for (int64_t i = 0; i < n; i++) out[i] = x0[i] + noise[i] * sg;
    } else if (s->kind == KC_SAMPLER_DDIM) {
        float ac = s->alphas_cumprod[s->timesteps_i[k]];
        float a = sqrtf(ac), b = sqrtf(1.0f - ac);
        for (int64_t i = 0; i < n; i++) out[i] = a * x0[i] + b * noise[i];
    } else {
        float a, st;
        kc_sched_alpha_sigma(s->sigmas[k], &a, &st);
        for (int64_t i = 0; i < n; i++) out[i] = a * x0[i] + st * noise[i];
    }
}

int kc_sched_img2img_start(int n_steps, double strength) {
    if (!(strength > 0)) strength = 0;
    if (strength > 1) strength = 1;
    int init = (int)((double)n_steps * strength);
    if (init > n_steps) init = n_steps;
    int t_start = n_steps - init;
    return t_start > 0 ? t_start : 0;
}
