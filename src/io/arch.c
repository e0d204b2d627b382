/* arch.c — see arch.h. */
#include "io/arch.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/strbuf.h"

kc_status kc_expected_add(kc_expected_list *l, int ndim, const int64_t *shape, kc_err *err, const char *fmt, ...) {
    if (ndim < 0 || ndim > 4) return kc_fail(err, KC_ERR_INTERNAL, "expected tensor with %d dims", ndim);
    if (l->n == l->cap) {
        int64_t nc = l->cap ? 2 * l->cap : 256;
        kc_expected *nv = realloc(l->v, (size_t)nc * sizeof *nv);
        if (!nv) return kc_fail(err, KC_ERR_NOMEM, "out of memory");
        l->v = nv;
        l->cap = nc;
    }
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    kc_expected *e = &l->v[l->n];
    e->name = strdup(buf);
    if (!e->name) return kc_fail(err, KC_ERR_NOMEM, "out of memory");
    e->ndim = ndim;
    for (int i = 0; i < ndim; i++) e->shape[i] = shape[i];
    l->n++;
    return KC_OK;
}

void kc_expected_free(kc_expected_list *l) {
    for (int64_t i = 0; i < l->n; i++) free(l->v[i].name);
    free(l->v);
    memset(l, 0, sizeof *l);
}

static const kc_weight_entry *lookup(const kc_weights *ws, const char *prefix, int optional, const char *name) {
    char full[768];
    if (prefix && *prefix) {
        snprintf(full, sizeof full, "%s%s", prefix, name);
        const kc_weight_entry *e = kc_weights_find(ws, full);
        if (e || !optional) return e;
    }
    return kc_weights_find(ws, name);
}

kc_status kc_arch_check(const kc_expected_list *exp, const kc_weights *ws, const char *component, const char *prefix,
                        int optional_prefix, int max_list, kc_arch_result *res, char **report, kc_err *err) {
    memset(res, 0, sizeof *res);
    *report = NULL;
    int64_t nw = kc_weights_count(ws);
    unsigned char *used = calloc((size_t)nw + 1, 1);
    if (!used) return kc_fail(err, KC_ERR_NOMEM, "out of memory");
    kc_strbuf miss = {0}, mism = {0}, unexp = {0}, out = {0};
    int seen_dt[KC_DTYPE_COUNT] = {0};
    res->n_expected = exp->n;
    for (int64_t i = 0; i < exp->n; i++) {
        const kc_expected *x = &exp->v[i];
        const kc_weight_entry *e = lookup(ws, prefix, optional_prefix, x->name);
        if (!e) {
            if (res->n_missing++ < max_list) kc_strbuf_printf(&miss, "    %s%s\n", prefix && !optional_prefix ? prefix : "", x->name);
            continue;
        }
        used[e - kc_weights_entry(ws, 0)] = 1;
        res->n_found++;
        int ok = e->t.ndim == x->ndim;
        for (int d = 0; ok && d < x->ndim; d++) ok = e->t.shape[d] == x->shape[d];
        if (!ok) {
            char a[96], b[96];
            if (res->n_shape++ < max_list)
                kc_strbuf_printf(&mism, "    %s: found %s, config implies %s\n", e->name,
                          kc_shape_str(a, sizeof a, e->t.shape, e->t.ndim), kc_shape_str(b, sizeof b, x->shape, x->ndim));
            continue;
        }
        if (!kc_dtype_is_float(e->t.dtype)) {
            if (res->n_dtype++ < max_list)
                kc_strbuf_printf(&mism, "    %s: dtype %s, expected F32, F16 or BF16\n", e->name, kc_dtype_name(e->t.dtype));
            continue;
        }
        res->params += kc_tensor_numel(&e->t);
    }
    for (int64_t i = 0; i < nw; i++) {
        const kc_weight_entry *e = kc_weights_entry(ws, i);
        res->bytes += (uint64_t)kc_tensor_nbytes(&e->t);
        if (e->t.dtype > 0 && e->t.dtype < KC_DTYPE_COUNT) seen_dt[e->t.dtype] = 1;
        if (!used[i] && res->n_unexpected++ < max_list) kc_strbuf_printf(&unexp, "    %s\n", e->name);
    }
    for (int t = 1; t < KC_DTYPE_COUNT; t++)
        if (seen_dt[t]) {
            size_t l = strlen(res->dtypes);
            snprintf(res->dtypes + l, sizeof res->dtypes - l, "%s%s", l ? " " : "", kc_dtype_name((kc_dtype)t));
        }
    int bad = res->n_missing || res->n_unexpected || res->n_shape || res->n_dtype;
    kc_strbuf_printf(&out, "%s: %lld of %lld expected tensors found", component, (long long)res->n_found,
              (long long)res->n_expected);
    if (!bad) kc_strbuf_printf(&out, ", all shapes match\n");
    else
        kc_strbuf_printf(&out, "; %lld missing, %lld unexpected, %lld with the wrong shape, %lld with a non-float dtype\n",
                  (long long)res->n_missing, (long long)res->n_unexpected, (long long)res->n_shape,
                  (long long)res->n_dtype);
    if (res->n_missing) kc_strbuf_printf(&out, "  missing (%s%lld):\n%s", res->n_missing > max_list ? "first of " : "", (long long)res->n_missing, miss.s);
    if (res->n_shape || res->n_dtype)
        kc_strbuf_printf(&out, "  mismatched (%lld):\n%s", (long long)(res->n_shape + res->n_dtype), mism.s);
    if (res->n_unexpected)
        kc_strbuf_printf(&out, "  unexpected (%s%lld):\n%s", res->n_unexpected > max_list ? "first of " : "", (long long)res->n_unexpected, unexp.s);
    free(miss.s);
    free(mism.s);
    free(unexp.s);
    free(used);
    if (!out.s || out.oom || miss.oom || mism.oom || unexp.oom) {
        free(out.s);
        return kc_fail(err, KC_ERR_NOMEM, "out of memory");
    }
    *report = out.s;
    return KC_OK;
}

kc_status kc_arch_verdict(const kc_arch_result *res, const char *report, kc_err *err) {
    if (res->n_missing || res->n_unexpected || res->n_shape || res->n_dtype)
        return kc_fail(err, KC_ERR_SHAPE, "%s", report);
    return KC_OK;
}
