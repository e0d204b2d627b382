/* status.c — see status.h. */
#include "core/status.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

kc_status kc_fail(kc_err *e, kc_status code, const char *fmt, ...) {
    if (e && e->code == KC_OK) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->msg, sizeof e->msg, fmt, ap);
        va_end(ap);
        e->code = code;
    }
    return code;
}

void kc_err_prepend(kc_err *e, const char *fmt, ...) {
    if (!e || e->code == KC_OK) return;
    char ctx[KC_ERR_MSG_MAX], old[KC_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx, sizeof ctx, fmt, ap);
    va_end(ap);
    memcpy(old, e->msg, sizeof old);
    size_t cl = strlen(ctx), ol = strlen(old), cap = sizeof e->msg - 1, o = 0;
    for (size_t i = 0; i < cl && o < cap; i++) e->msg[o++] = ctx[i];
    for (size_t i = 0; i < 2 && o < cap; i++) e->msg[o++] = ": "[i];
    for (size_t i = 0; i < ol && o < cap; i++) e->msg[o++] = old[i];
    e->msg[o] = '\0';
}

void kc_err_clear(kc_err *e) {
    if (!e) return;
    e->code = KC_OK;
    e->msg[0] = '\0';
}

const char *kc_status_name(kc_status s) {
    switch (s) {
    case KC_OK: return "ok";
    case KC_ERR_IO: return "I/O error";
    case KC_ERR_FORMAT: return "format error";
    case KC_ERR_UNSUPPORTED: return "unsupported";
    case KC_ERR_SHAPE: return "shape mismatch";
    case KC_ERR_ARG: return "invalid argument";
    case KC_ERR_NOMEM: return "out of memory";
    case KC_ERR_CANCELLED: return "cancelled";
    case KC_ERR_INTERNAL: return "internal error";
    }
    return "unknown status";
}

#ifndef NDEBUG
#include <stdlib.h>
/* Invariant violations in debug/test builds are bugs in kolors.c itself, not bad input;
 * stopping at once is what a debugger user wants. Release builds compile KC_ASSERT out. */
void kc_assert_fail(const char *expr, const char *file, int line) {
    fprintf(stderr, "kolors.c internal assertion failed: %s at %s:%d\n", expr, file, line);
    abort();
}
#endif
