/* cmd_noise.c — PENDING: implemented by its issue. */
#include "cli.h"

int cmd_noise(int argc, char **argv) {
    (void)argc;
    return cli_failf(argv[0], "this command is not implemented yet");
}
