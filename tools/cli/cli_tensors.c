/* cli_tensors.c — helpers the component runners (run unet, run vae-*) share: the --taps
 * collector and shape error messages. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

void cli_tap_collect(const char *name, const float *data, int ndim, const int64_t *shape, void *user) {
    cli_taps *tp = user;
    if (tp->oom) return;
    if (tp->n == tp->cap) {
        int nc = tp->cap ? 2 * tp->cap : 16;
        kolors_tensor *nt = realloc(tp->t, (size_t)nc * sizeof *nt);
        if (!nt) { tp->oom = 1; return; }
        tp->t = nt;
        tp->cap = nc;
    }
    size_t numel = 1;
    for (int i = 0; i < ndim; i++) numel *= (size_t)shape[i];
    kolors_tensor *t = &tp->t[tp->n];
    memset(t, 0, sizeof *t);
    t->name = strdup(name);
    t->data = malloc(numel * sizeof(float));
    if (!t->name || !t->data) { free(t->name); free(t->data); tp->oom = 1; return; }
    memcpy(t->data, data, numel * sizeof(float));
    t->dtype = KOLORS_DTYPE_F32;
    t->ndim = ndim;
    for (int i = 0; i < ndim; i++) t->shape[i] = shape[i];
    tp->n++;
}

void cli_taps_free(cli_taps *tp) {
    kolors_tensors_free(tp->t, tp->n);
    memset(tp, 0, sizeof *tp);
}

int cli_fail_shape(const char *cmd, const char *name, const char *want, int ndim, const int64_t *shape) {
    char got[160] = "[";
    for (int i = 0; i < ndim; i++) {
        size_t l = strlen(got);
        snprintf(got + l, sizeof got - l, "%s%lld", i ? ", " : "", (long long)shape[i]);
    }
    strncat(got, "]", sizeof got - strlen(got) - 1);
    return cli_failf(cmd, "input '%s' has shape %s; expected %s", name, got, want);
}
