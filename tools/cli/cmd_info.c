/* cmd_info.c — `kolors info -m DIR`: layout, files, tensor counts, dtypes, parameters, bytes on
 * disk and the architecture verdict of every component. Exit 1 on any problem. */
#include <string.h>

#include "cli.h"

static void help(void) {
    printf("usage: kolors info [-m DIR] [--variant NAME] [-v]\n\n"
           "Describes a Kolors model folder (Kwai-Kolors/Kolors or Kwai-Kolors/Kolors-diffusers layout) and checks\n"
           "every component's tensors against the architecture its config implies.\n\n"
           "  -m, --model DIR   model folder (default: the embedded demo model, or $KOLORS_MODEL)\n"
           "  --variant NAME    weights variant to prefer for unet/vae (e.g. fp16)\n"
           "  -v, --verbose     log what is being opened\n"
           "  -h, --help        this text\n\n"
           "Exit status: 0 when every component loads and matches its config, 1 otherwise.\n");
}

int cmd_info(int argc, char **argv) {
    const char *model = NULL, *variant = NULL;
    int verbose = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) { help(); return 0; }
        else if (!strcmp(argv[i], "-m") || !strcmp(argv[i], "--model")) { if (!(model = cli_value("info", argc, argv, &i))) return 2; }
        else if (!strcmp(argv[i], "--variant")) { if (!(variant = cli_value("info", argc, argv, &i))) return 2; }
        else if (!strcmp(argv[i], "-v") || !strcmp(argv[i], "--verbose")) verbose = 1;
        else return cli_failf("info", "unknown option '%s' (see kolors info --help)", argv[i]) + 1;
    }
    kolors_params p;
    cli_params(&p, model, &verbose);
    p.variant = variant;
    kolors_model *m;
    kolors_error e;
    if (kolors_model_open(&p, &m, &e)) return cli_fail("info", &e);
    char *text = NULL;
    int rc = kolors_model_info(m, &text, &e);
    if (text) fputs(text, stdout);
    fflush(stdout); /* the error below says "details above": keep that order when both go to one pipe */
    kolors_free(text);
    kolors_model_free(m);
    if (rc) return cli_fail("info", &e);
    return 0;
}
