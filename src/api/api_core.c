/* api_core.c — model lifetime, errors, tensor files: the parts of kolors.h that belong to no
 * single component. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "api/model_internal.h"
#include "io/safetensors.h"
#include "kernels/kernels.h"

int kc_api_err(kolors_error *out, const kc_err *e) {
    if (out) {
        out->code = e->code;
        memcpy(out->message, e->msg, sizeof out->message < sizeof e->msg ? sizeof out->message : sizeof e->msg);
        out->message[sizeof out->message - 1] = '\0';
    }
    return (int)e->code;
}

void kolors_free(void *p) { free(p); }

kc_status kc_api_check_finite(const float *x, int64_t n, const char *what, const char *fn, kc_err *err) {
    int64_t i = kc_first_nonfinite(x, n);
    if (i >= 0)
        return kc_fail(err, KC_ERR_ARG, "%s: %s element %lld is %s", fn, what, (long long)i,
                       isnan(x[i]) ? "NaN" : "infinite");
    return KC_OK;
}

/* DEFAULT is the fast path for this CPU: bf16 products with fp32 accumulation where the kernel
 * table has a native bf16 dot product (AVX512-BF16), fp32 elsewhere (bf16 without hardware
 * support is emulated and slower than fp32). KOLORS_ISA=ref forces fp32 too: the reference table
 * exists to check the others, not to be fast. */
kc_precision kc_api_precision(kolors_precision p) {
    if (p == KOLORS_PRECISION_FP32) return KC_PREC_FP32;
    if (p == KOLORS_PRECISION_BF16) return KC_PREC_BF16;
    const kc_kernels *k = kc_kernels_default();
    return (k->gemm_bf16 && strcmp(k->name, "ref") != 0) ? KC_PREC_BF16 : KC_PREC_FP32;
}

void kolors_params_default(kolors_params *p) {
    memset(p, 0, sizeof *p);
    p->vae_tiling = -1;
    p->log_level = KOLORS_LOG_INFO;
}

int kolors_model_open(const kolors_params *p, kolors_model **out, kolors_error *error) {
    kc_err err = {0};
    if (out) *out = NULL;
    if (!p || !out) return kc_api_err(error, &(kc_err){KC_ERR_ARG, "kolors_model_open: NULL params or out"});
    kolors_model *m = calloc(1, sizeof *m);
    if (!m) return kc_api_err(error, &(kc_err){KC_ERR_NOMEM, "out of memory"});
    m->params = *p;
    if (p->variant) {
        if (strlen(p->variant) >= sizeof m->variant || strpbrk(p->variant, "/\\")) {
            kc_fail(&err, KC_ERR_ARG, "invalid weights variant \"%s\"", p->variant);
            goto fail;
        }
        strcpy(m->variant, p->variant);
    }
    m->params.variant = m->variant[0] ? m->variant : NULL;
    m->params.model_dir = NULL; /* not kept: the resolved copy is in m->dir */
    m->log.fn = p->log;
    m->log.user = p->log_user;
    m->log.level = p->log_level;
    if (p->n_threads < 0 || p->n_threads > 1024) {
        kc_fail(&err, KC_ERR_ARG, "thread count %d is not in [0, 1024]", p->n_threads);
        goto fail;
    }
    if (p->precision < KOLORS_PRECISION_DEFAULT || p->precision > KOLORS_PRECISION_BF16) {
        kc_fail(&err, KC_ERR_ARG, "unknown precision %d", (int)p->precision);
        goto fail;
    }
    {   /* A typo in KOLORS_ISA must not silently run another table; a known table this CPU lacks
         * falls back to the best one (so one test command serves every machine), with a warning. */
        const char *isa = getenv("KOLORS_ISA");
        if (isa && *isa) {
            static const char *known[] = {"ref", "avx2", "avx512", "avx512bf16"};
            int ok = 0;
            for (size_t i = 0; i < sizeof known / sizeof *known; i++) ok |= strcmp(isa, known[i]) == 0;
            if (!ok) {
                kc_fail(&err, KC_ERR_ARG, "KOLORS_ISA=%s is not a kernel table (ref, avx2, avx512, avx512bf16)", isa);
                goto fail;
            }
            if (strcmp(kc_kernels_default()->name, isa) != 0)
                kc_log(&m->log, KC_LOG_WARN, "KOLORS_ISA=%s: this CPU cannot run it; using the %s kernels", isa,
                       kc_kernels_default()->name);
        }
    }
    kc_exec_init(&m->ex, p->n_threads, kc_api_precision(p->precision));
    if (kc_modeldir_resolve(p->model_dir, &m->dir, &err)) goto fail;
    kc_log(&m->log, KC_LOG_DEBUG, "model %s: %s layout", m->dir.root, kc_layout_name(m->dir.layout));
    *out = m;
    return 0;
fail:
    free(m);
    return kc_api_err(error, &err);
}

void kolors_model_free(kolors_model *m) {
    if (!m) return;
    kc_api_tokenizer_free(m);
    kc_api_text_free(m);
    kc_api_unet_free(m);
    kc_api_vae_free(m);
    kc_api_generate_free(m);
    free(m);
}

void kolors_model_set_tap(kolors_model *m, kolors_tap_fn fn, void *user) {
    if (!m) return;
    m->tap = fn;
    m->tap_user = user;
}

/* ---- tensor files ---- */

int kolors_tensors_read(const char *path, kolors_tensor **out, int *n, kolors_error *error) {
    kc_err err = {0};
    kc_safetensors st;
    if (!path || !out || !n) return kc_api_err(error, &(kc_err){KC_ERR_ARG, "kolors_tensors_read: NULL argument"});
    *out = NULL;
    *n = 0;
    if (kc_st_open(&st, path, &err)) return kc_api_err(error, &err);
    kolors_tensor *t = calloc((size_t)st.n + 1, sizeof *t);
    if (!t) {
        kc_st_close(&st);
        return kc_api_err(error, &(kc_err){KC_ERR_NOMEM, "out of memory"});
    }
    for (int64_t i = 0; i < st.n; i++) {
        const kc_st_entry *e = &st.entries[i];
        t[i].name = strdup(e->name);
        t[i].dtype = (int)e->t.dtype;
        t[i].ndim = e->t.ndim;
        memcpy(t[i].shape, e->t.shape, sizeof t[i].shape);
        t[i].data = malloc(e->nbytes ? e->nbytes : 1);
        if (!t[i].name || !t[i].data) {
            kolors_tensors_free(t, (int)i + 1);
            kc_st_close(&st);
            return kc_api_err(error, &(kc_err){KC_ERR_NOMEM, "out of memory"});
        }
        memcpy(t[i].data, e->t.data, e->nbytes);
    }
    *out = t;
    *n = (int)st.n;
    kc_st_close(&st);
    return 0;
}

int kolors_tensors_get_f32(const kolors_tensor *t, int n, const char *name, int ndim_expected, float **data,
                           int64_t shape[8], kolors_error *error) {
    kc_err err = {0};
    *data = NULL;
    for (int i = 0; i < n; i++) {
        if (strcmp(t[i].name, name) != 0) continue;
        if (ndim_expected >= 0 && t[i].ndim != ndim_expected) {
            kc_fail(&err, KC_ERR_SHAPE, "tensor '%s' has %d dims; expected %d", name, t[i].ndim, ndim_expected);
            return kc_api_err(error, &err);
        }
        kc_tensor v = {.dtype = (kc_dtype)t[i].dtype, .ndim = t[i].ndim, .data = t[i].data};
        memcpy(v.shape, t[i].shape, sizeof v.shape);
        int64_t numel = kc_tensor_numel(&v);
        float *f = malloc((size_t)(numel ? numel : 1) * sizeof(float));
        if (!f) return kc_api_err(error, &(kc_err){KC_ERR_NOMEM, "out of memory"});
        if (v.dtype == KC_DTYPE_F64) {
            for (int64_t k = 0; k < numel; k++) { double d; memcpy(&d, (const char *)v.data + 8 * k, 8); f[k] = (float)d; }
        } else if (v.dtype == KC_DTYPE_I64) {
            for (int64_t k = 0; k < numel; k++) { int64_t d; memcpy(&d, (const char *)v.data + 8 * k, 8); f[k] = (float)d; }
        } else if (v.dtype == KC_DTYPE_I32) {
            for (int64_t k = 0; k < numel; k++) { int32_t d; memcpy(&d, (const char *)v.data + 4 * k, 4); f[k] = (float)d; }
        } else if (kc_convert_to_f32(f, v.data, v.dtype, (size_t)numel) != 0) {
            free(f);
            kc_fail(&err, KC_ERR_UNSUPPORTED, "tensor '%s' has dtype %s, which cannot be read as numbers", name,
                    kc_dtype_name(v.dtype));
            return kc_api_err(error, &err);
        }
        if (shape) memcpy(shape, t[i].shape, 8 * sizeof(int64_t));
        *data = f;
        return 0;
    }
    kc_fail(&err, KC_ERR_ARG, "tensor '%s' not found in the input file", name);
    return kc_api_err(error, &err);
}

int kolors_tensors_write(const char *path, const kolors_tensor *t, int n, kolors_error *error) {
    kc_err err = {0};
    kc_st_write_item *items = calloc((size_t)n + 1, sizeof *items);
    if (!items) return kc_api_err(error, &(kc_err){KC_ERR_NOMEM, "out of memory"});
    for (int i = 0; i < n; i++) {
        items[i].name = t[i].name;
        items[i].t.dtype = (kc_dtype)t[i].dtype;
        items[i].t.ndim = t[i].ndim;
        memcpy(items[i].t.shape, t[i].shape, sizeof items[i].t.shape);
        items[i].t.data = t[i].data;
    }
    kc_status s = kc_st_write(path, items, n, &err);
    free(items);
    return s ? kc_api_err(error, &err) : 0;
}

void kolors_tensors_free(kolors_tensor *t, int n) {
    if (!t) return;
    for (int i = 0; i < n; i++) {
        free(t[i].name);
        free(t[i].data);
    }
    free(t);
}
