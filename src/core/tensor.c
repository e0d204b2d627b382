/* tensor.c — see tensor.h. */
#include "core/tensor.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>

char *kc_shape_str(char *buf, size_t cap, const int64_t *shape, int ndim) {
    size_t o = 0;
    if (cap == 0) return buf;
    o += (size_t)snprintf(buf + o, cap - o, "[");
    for (int i = 0; i < ndim && o < cap; i++)
        o += (size_t)snprintf(buf + o, cap - o, "%s%" PRId64, i ? ", " : "", shape[i]);
    if (o < cap) snprintf(buf + o, cap - o, "]");
    return buf;
}

int64_t kc_first_nonfinite(const float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(x[i])) return i;
    return -1;
}
