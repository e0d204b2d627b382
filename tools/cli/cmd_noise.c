/* cmd_noise.c — `kolors noise`: torch.randn(shape, generator=torch.Generator().manual_seed(seed))
 * (CPU, float32, bit-exact) written as tensor "noise" of a safetensors file. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* Largest tensor the command writes: 2^28 floats = 1 GiB (a 1024x1024 latent is 65536). */
#define NOISE_MAX_NUMEL (INT64_C(1) << 28)

static void noise_usage(FILE *f) {
    fprintf(f,
            "usage: kolors noise --seed S --shape D0xD1x... -o OUT.safetensors\n\n"
            "Writes tensor \"noise\" (F32, the given shape) equal to\n"
            "torch.randn(shape, generator=torch.Generator().manual_seed(S)) on the CPU, bit for bit.\n\n"
            "  --seed S     0 ... 18446744073709551615 (torch uses the low 32 bits)\n"
            "  --shape S    1 to 8 positive sizes joined by 'x', e.g. 1x4x128x128 (at most %lld values)\n"
            "  -o, --output path of the safetensors file to write\n"
            "  -h, --help   this text\n",
            (long long)NOISE_MAX_NUMEL);
}

/* "1x4x128x128" -> dims; prints the error and returns 1 when malformed or out of range. */
static int parse_shape(const char *cmd, const char *s, int64_t *dims, int *ndim, int64_t *numel) {
    const char *p = s;
    int n = 0;
    int64_t total = 1;
    if (!*s) return cli_failf(cmd, "--shape is empty (expected e.g. 1x4x128x128)");
    for (;;) {
        if (*p < '0' || *p > '9')
            return cli_failf(cmd, "--shape '%s': expected a positive integer at '%s' (sizes joined by 'x')", s, p);
        char *end;
        errno = 0;
        long long v = strtoll(p, &end, 10);
        if (errno || v <= 0) return cli_failf(cmd, "--shape '%s': every size must be a positive integer", s);
        if (n == 8) return cli_failf(cmd, "--shape '%s': at most 8 dimensions", s);
        if (v > NOISE_MAX_NUMEL || total > NOISE_MAX_NUMEL / v)
            return cli_failf(cmd, "--shape '%s': more than %lld values", s, (long long)NOISE_MAX_NUMEL);
        dims[n++] = v;
        total *= v;
        if (*end == '\0') break;
        if (*end != 'x' && *end != 'X')
            return cli_failf(cmd, "--shape '%s': unexpected '%c' (sizes are joined by 'x')", s, *end);
        p = end + 1;
    }
    *ndim = n;
    *numel = total;
    return 0;
}

static int parse_seed(const char *cmd, const char *s, uint64_t *out) {
    char *end;
    errno = 0;
    if (*s < '0' || *s > '9') return cli_failf(cmd, "--seed expects a non-negative integer, got '%s'", s);
    unsigned long long v = strtoull(s, &end, 10);
    if (*end || errno) return cli_failf(cmd, "--seed expects an integer in 0 ... 18446744073709551615, got '%s'", s);
    *out = (uint64_t)v;
    return 0;
}

int cmd_noise(int argc, char **argv) {
    const char *cmd = argv[0];
    const char *seed_s = NULL, *shape_s = NULL, *out_path = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            noise_usage(stdout);
            return 0;
        } else if (!strcmp(a, "--seed")) {
            if (!(seed_s = cli_value(cmd, argc, argv, &i))) return 2;
        } else if (!strcmp(a, "--shape")) {
            if (!(shape_s = cli_value(cmd, argc, argv, &i))) return 2;
        } else if (!strcmp(a, "-o") || !strcmp(a, "--output")) {
            if (!(out_path = cli_value(cmd, argc, argv, &i))) return 2;
        } else {
            cli_failf(cmd, "unknown option '%s' (see kolors noise --help)", a);
            return 2;
        }
    }
    if (!seed_s || !shape_s || !out_path) {
        cli_failf(cmd, "--seed, --shape and -o are required");
        noise_usage(stderr);
        return 2;
    }
    uint64_t seed = 0;
    int64_t dims[8] = {0}, numel = 0;
    int ndim = 0;
    if (parse_seed(cmd, seed_s, &seed) || parse_shape(cmd, shape_s, dims, &ndim, &numel)) return 2;

    float *data = malloc((size_t)numel * sizeof *data);
    if (!data) return cli_failf(cmd, "out of memory for %lld values", (long long)numel);
    kolors_error e = {0};
    if (kolors_randn(seed, numel, data, &e)) {
        free(data);
        return cli_fail(cmd, &e);
    }
    kolors_tensor t = {.name = "noise", .dtype = KOLORS_DTYPE_F32, .ndim = ndim, .data = data};
    memcpy(t.shape, dims, sizeof(int64_t) * (size_t)ndim);
    int rc = kolors_tensors_write(out_path, &t, 1, &e);
    free(data);
    return rc ? cli_fail(cmd, &e) : 0;
}
