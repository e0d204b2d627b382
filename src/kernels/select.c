/* select.c — picks the kernel table once from the CPU features (or KOLORS_ISA). */
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"
#include "kernels/ref/ref.h"

static const kc_kernels k_ref = {
    .name = "ref",
    .dot_rows_f32w = kc_dot_rows_f32w_ref,
};

const kc_kernels *kc_kernels_ref(void) { return &k_ref; }

kc_status kc_kernels_select(const char *name, const kc_kernels **out, kc_err *err) {
    if (strcmp(name, "ref") == 0) {
        *out = &k_ref;
        return KC_OK;
    }
    return kc_fail(err, KC_ERR_UNSUPPORTED, "kernel table '%s' is not available (known: ref)", name);
}

const kc_kernels *kc_kernels_default(void) {
    const char *force = getenv("KOLORS_ISA");
    const kc_kernels *k = NULL;
    if (force && *force && kc_kernels_select(force, &k, NULL) == KC_OK) return k;
    return &k_ref;
}
