/* cmd_run.c — `kolors run <component>`: dispatch to the component runners. */
#include <string.h>

#include "cli.h"

int cmd_run(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        printf("usage: kolors run <unet|vae-decode|vae-encode> [-m DIR] --in IN.safetensors -o OUT.safetensors\n"
               "  (kolors run <component> --help for details)\n");
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "unet")) return cmd_run_unet(argc - 1, argv + 1);
    if (!strcmp(argv[1], "vae-decode") || !strcmp(argv[1], "vae-encode")) return cmd_run_vae(argc - 1, argv + 1);
    return cli_failf("run", "unknown component '%s' (unet, vae-decode, vae-encode)", argv[1]);
}
