/* arch.h — expected-architecture check: the list of tensors (name, shape) a component's config
 * implies, compared with what its weight files hold. All missing, unexpected and mismatched
 * tensors are reported in one message (the first few of each, with counts), so a user sees the
 * whole picture at once instead of one error per run. */
#ifndef KC_IO_ARCH_H
#define KC_IO_ARCH_H

#include <stdint.h>

#include "core/status.h"
#include "io/weights.h"

typedef struct {
    char *name;
    int ndim;
    int64_t shape[4];
} kc_expected;

typedef struct {
    kc_expected *v;
    int64_t n, cap;
} kc_expected_list;

/* printf-style name; returns KC_ERR_NOMEM on allocation failure. */
kc_status kc_expected_add(kc_expected_list *l, int ndim, const int64_t *shape, kc_err *err, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
void kc_expected_free(kc_expected_list *l);

typedef struct {
    int64_t n_expected, n_found, n_missing, n_unexpected, n_shape, n_dtype;
    int64_t params;       /* parameters of the expected tensors that were found */
    uint64_t bytes;       /* bytes of all tensors in the store */
    char dtypes[64];      /* dtypes present, e.g. "F16 F32" */
} kc_arch_result;

/* Compares `exp` with the store. `prefix` is prepended to expected names when looking them up
 * (e.g. "transformer." for the text encoder's checkpoint names); `optional_prefix` != 0 also
 * accepts the bare names. Tensors in the store that match no expected name are "unexpected";
 * names listed in `ignore` (NULL-terminated, e.g. unused LM head) are not reported.
 * The report (freed by the caller) lists the first `max_list` of each kind. Returns KC_OK when
 * the comparison ran (res->n_missing etc. tell the verdict). */
kc_status kc_arch_check(const kc_expected_list *exp, const kc_weights *ws, const char *component, const char *prefix,
                        int optional_prefix, int max_list, kc_arch_result *res, char **report, kc_err *err);

/* Compares against a verdict: KC_ERR_SHAPE with the report as message when anything is wrong. */
kc_status kc_arch_verdict(const kc_arch_result *res, const char *report, kc_err *err);

#endif
