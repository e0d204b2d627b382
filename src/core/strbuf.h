/* strbuf.h — a growable NUL-terminated text buffer with printf-style append, for the reports the
 * library builds (kolors_model_info, the architecture check). An allocation failure sets oom and
 * drops that piece of text; the caller turns oom into KC_ERR_NOMEM instead of returning a report
 * with holes. */
#ifndef KC_CORE_STRBUF_H
#define KC_CORE_STRBUF_H

#include <stddef.h>

typedef struct {
    char *s;        /* NULL until the first append; the caller frees it */
    size_t n, cap;  /* bytes used (without the NUL), bytes allocated */
    int oom;        /* an append failed */
} kc_strbuf;

void kc_strbuf_printf(kc_strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
