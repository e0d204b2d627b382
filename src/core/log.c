/* log.c — see log.h. */
#include "core/log.h"

#include <stdarg.h>
#include <stdio.h>

void kc_log(const kc_logger *lg, int level, const char *fmt, ...) {
    if (!lg || !lg->fn || level > lg->level) return;
    char buf[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    lg->fn(level, buf, lg->user);
}
