/* main.c — `kolors`: command-line front end. The only code in the project allowed to exit. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

#ifndef KOLORS_DEMO_MODEL_DIR
#define KOLORS_DEMO_MODEL_DIR "models/demo"
#endif

static const struct {
    const char *name;
    cli_cmd_fn fn;
    const char *help;
} k_cmds[] = {
    {"generate", cmd_generate, "text-to-image / image-to-image (the main job)"},
    {"info", cmd_info, "describe a model folder and check its architecture"},
    {"tokenize", cmd_tokenize, "prompts on stdin -> token ids as JSON lines"},
    {"encode", cmd_encode, "prompts -> ChatGLM3 embeddings (safetensors)"},
    {"run", cmd_run, "run one component (unet, vae-decode, vae-encode) on tensors from a file"},
    {"noise", cmd_noise, "torch-compatible seeded Gaussian noise (safetensors)"},
    {"bench", cmd_bench, "time the U-Net, text encoder or VAE decode (random weights or a model); one JSON line"},
};

static void usage(FILE *f) {
    fprintf(f,
            "kolors %s — native C engine for Kolors text-to-image\n\n"
            "usage: kolors <command> [options]   (kolors <command> --help for its options)\n\ncommands:\n",
            KOLORS_VERSION);
    for (size_t i = 0; i < sizeof k_cmds / sizeof *k_cmds; i++) fprintf(f, "  %-10s %s\n", k_cmds[i].name, k_cmds[i].help);
    fprintf(f, "\n  --version  print the version\n  --help     this text\n");
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("kolors %s\n", KOLORS_VERSION);
        return 0;
    }
    for (size_t i = 0; i < sizeof k_cmds / sizeof *k_cmds; i++)
        if (!strcmp(argv[1], k_cmds[i].name)) return k_cmds[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "kolors: unknown command '%s' (try kolors --help)\n", argv[1]);
    return 2;
}

/* ---- helpers shared by the subcommands ---- */

int cli_fail(const char *cmd, const kolors_error *e) {
    fprintf(stderr, "kolors %s: error: %s\n", cmd, e->message[0] ? e->message : "unknown error");
    return 1;
}

int cli_failf(const char *cmd, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "kolors %s: error: ", cmd);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 1;
}

int cli_parse_int(const char *cmd, const char *flag, const char *s, long long lo, long long hi, long long *out) {
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (!*s || *end || errno) return cli_failf(cmd, "%s expects an integer, got '%s'", flag, s);
    if (v < lo || v > hi) return cli_failf(cmd, "%s must be between %lld and %lld, got %lld", flag, lo, hi, v);
    *out = v;
    return 0;
}

int cli_parse_tile_stats(const char *cmd, const char *flag, const char *s, int *out) {
    static const char *const names[3] = {"estimate", "exact", "tile"};
    for (int i = 0; i < 3; i++)
        if (!strcmp(s, names[i])) {
            *out = i;
            return 0;
        }
    return cli_failf(cmd, "%s must be estimate, exact or tile, got '%s'", flag, s);
}

int cli_parse_float(const char *cmd, const char *flag, const char *s, double lo, double hi, double *out) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (!*s || *end || errno || v != v) return cli_failf(cmd, "%s expects a number, got '%s'", flag, s);
    if (v < lo || v > hi) return cli_failf(cmd, "%s must be between %g and %g, got %g", flag, lo, hi, v);
    *out = v;
    return 0;
}

const char *cli_value(const char *cmd, int argc, char **argv, int *i) {
    if (*i + 1 >= argc) {
        cli_failf(cmd, "%s needs a value", argv[*i]);
        return NULL;
    }
    return argv[++*i];
}

void cli_log(int level, const char *msg, void *user) {
    int verbose = user ? *(int *)user : 0;
    static const char *names[] = {"error", "warning", "info", "debug"};
    if (level >= KOLORS_LOG_INFO && !verbose) return;
    fprintf(stderr, "kolors: %s: %s\n", names[level < 0 ? 0 : level > 3 ? 3 : level], msg);
}

const char *cli_model_dir(const char *given) {
    if (given) return given;
    const char *env = getenv("KOLORS_MODEL");
    return env && *env ? env : KOLORS_DEMO_MODEL_DIR;
}

void cli_params(kolors_params *p, const char *model, int *verbose) {
    kolors_params_default(p);
    p->model_dir = cli_model_dir(model);
    p->log = cli_log;
    p->log_user = verbose;
    p->log_level = verbose && *verbose ? KOLORS_LOG_DEBUG : KOLORS_LOG_WARN;
}

/* The folder a file will be written to must exist and be writable, and the name must not be a folder. */
int cli_check_output(const char *cmd, const char *flag, const char *path) {
    if (!*path) return cli_failf(cmd, "%s: the file name is empty", flag);
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) return cli_failf(cmd, "%s %s: is a folder, not a file name", flag, path);
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash) snprintf(dir, sizeof dir, ".");
    else if (slash == dir) dir[1] = 0;
    else *slash = 0;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return cli_failf(cmd, "%s %s: the folder %s does not exist", flag, path, dir);
    if (access(dir, W_OK) != 0) return cli_failf(cmd, "%s %s: the folder %s is not writable", flag, path, dir);
    return 0;
}
