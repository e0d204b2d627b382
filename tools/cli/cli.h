/* cli.h — shared helpers of the `kolors` command-line tool (a thin client of kolors.h).
 * Each subcommand lives in its own cmd_<name>.c and is listed in main.c. */
#ifndef KOLORS_CLI_H
#define KOLORS_CLI_H

#include <stdio.h>

#include "kolors.h"

/* Subcommand entry: argv[0] is the subcommand name. Returns the process exit code. */
typedef int (*cli_cmd_fn)(int argc, char **argv);

int cmd_info(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_encode(int argc, char **argv);
int cmd_run(int argc, char **argv);        /* dispatches unet / vae-decode / vae-encode */
int cmd_run_unet(int argc, char **argv);
int cmd_run_vae(int argc, char **argv);    /* argv[0] = "vae-decode" or "vae-encode" */
int cmd_noise(int argc, char **argv);
int cmd_generate(int argc, char **argv);
int cmd_bench(int argc, char **argv);      /* unet / text-encoder / vae-decode timing as one JSON line */

/* Prints "kolors <cmd>: <message>" to stderr and returns 1. */
int cli_fail(const char *cmd, const kolors_error *e);
int cli_failf(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Parses a non-negative integer / a float flag value; prints an error naming the flag on failure. */
int cli_parse_int(const char *cmd, const char *flag, const char *s, long long lo, long long hi, long long *out);
/* A tiled VAE's GroupNorm statistics mode (kolors_params.vae_tile_stats) from its name: estimate
 * = 0, exact = 1, tile = 2. Unknown names: error message naming `flag`, returns 1. */
int cli_parse_tile_stats(const char *cmd, const char *flag, const char *s, int *out);
int cli_parse_float(const char *cmd, const char *flag, const char *s, double lo, double hi, double *out);
/* Returns argv[i+1] for a flag that takes a value, or NULL after printing an error. */
const char *cli_value(const char *cmd, int argc, char **argv, int *i);
/* Log callback for the library: prints to stderr. user = (int*) verbosity. */
void cli_log(int level, const char *msg, void *user);
/* Model folder: the -m value, or the embedded demo model when NULL. */
const char *cli_model_dir(const char *given);
/* kolors_params_default plus what every command sets the same way: the model folder
 * (cli_model_dir(model)) and the stderr log callback, quiet below warnings unless *verbose.
 * verbose must outlive the model (it is the callback's user pointer). */
void cli_params(kolors_params *p, const char *model, int *verbose);
/* Checks, before any work, that a file can be written at path: its folder exists and is writable
 * and path is not a folder. On failure prints "kolors <cmd>: error: <flag> <path>: ..." and
 * returns 1 (a run can take minutes; it should not fail at the end on a typo). */
int cli_check_output(const char *cmd, const char *flag, const char *path);

/* --taps support for the component runners (cli_tensors.c): a kolors_tap_fn that copies every
 * reported tensor into the collector (oom set on allocation failure), and its release. */
typedef struct {
    kolors_tensor *t;
    int n, cap, oom;
} cli_taps;
void cli_tap_collect(const char *name, const float *data, int ndim, const int64_t *shape, void *user);
void cli_taps_free(cli_taps *tp);
/* Prints "input 'NAME' has shape [..]; expected WANT" and returns 1. */
int cli_fail_shape(const char *cmd, const char *name, const char *want, int ndim, const int64_t *shape);

#endif
