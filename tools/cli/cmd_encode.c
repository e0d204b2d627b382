/* cmd_encode.c — `kolors encode`: prompts -> ChatGLM3 embeddings exactly as Kolors conditions
 * its U-Net: prompt_embeds [N, 256, H] (penultimate layer) and pooled_prompt_embeds [N, H] (last
 * layer, last position), written as F32 safetensors. All prompts run as one batch. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define MAX_PROMPTS 64

static void help(void) {
    printf("usage: kolors encode [-m DIR] -p TEXT [-p TEXT ...] -o OUT.safetensors [-t THREADS] [-v]\n\n"
           "Encodes prompts with the model's ChatGLM3 text encoder, as Kolors does (256 tokens, left padding),\n"
           "and writes two F32 tensors: prompt_embeds [N, 256, H] (output of the second-to-last layer) and\n"
           "pooled_prompt_embeds [N, H] (output of the last layer at the last position), N = number of -p.\n\n"
           "  -m, --model DIR     model folder (default: the embedded demo model, or $KOLORS_MODEL)\n"
           "  -p, --prompt TEXT   a prompt (UTF-8); repeat for several (up to %d); \"\" is allowed\n"
           "  -o, --output FILE   output safetensors file\n"
           "  -t, --threads N     worker threads (default: number of physical cores)\n"
           "  --precision P       fp32 (default, reproduces the reference) or bf16 (faster where supported)\n"
           "  -v, --verbose       log loading and timing\n"
           "  -h, --help          this text\n",
           MAX_PROMPTS);
}

int cmd_encode(int argc, char **argv) {
    const char *model = NULL, *outp = NULL, *prompts[MAX_PROMPTS];
    int np = 0, verbose = 0;
    long long threads = 0;
    kolors_precision prec = KOLORS_PRECISION_FP32;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { help(); return 0; }
        else if (!strcmp(a, "-m") || !strcmp(a, "--model")) { if (!(model = cli_value("encode", argc, argv, &i))) return 2; }
        else if (!strcmp(a, "-o") || !strcmp(a, "--output")) { if (!(outp = cli_value("encode", argc, argv, &i))) return 2; }
        else if (!strcmp(a, "-p") || !strcmp(a, "--prompt")) {
            const char *v = cli_value("encode", argc, argv, &i);
            if (!v) return 2;
            if (np == MAX_PROMPTS) return cli_failf("encode", "at most %d prompts (-p) per run", MAX_PROMPTS) + 1;
            prompts[np++] = v;
        } else if (!strcmp(a, "-t") || !strcmp(a, "--threads")) {
            const char *v = cli_value("encode", argc, argv, &i);
            if (!v || cli_parse_int("encode", "--threads", v, 1, 1024, &threads)) return 2;
        } else if (!strcmp(a, "--precision")) {
            const char *v = cli_value("encode", argc, argv, &i);
            if (!v) return 2;
            if (!strcmp(v, "fp32")) prec = KOLORS_PRECISION_FP32;
            else if (!strcmp(v, "bf16")) prec = KOLORS_PRECISION_BF16;
            else return cli_failf("encode", "--precision must be fp32 or bf16, got '%s'", v) + 1;
        } else if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) verbose = 1;
        else return cli_failf("encode", "unknown option '%s' (see kolors encode --help)", a) + 1;
    }
    if (!np) return cli_failf("encode", "no prompt given (use -p TEXT; see kolors encode --help)") + 1;
    if (!outp) return cli_failf("encode", "no output file given (use -o OUT.safetensors)") + 1;
    if (cli_check_output("encode", "-o", outp)) return 2;

    kolors_params p;
    cli_params(&p, model, &verbose);
    p.n_threads = (int)threads;
    p.precision = prec;
    kolors_model *m;
    kolors_error e;
    if (kolors_model_open(&p, &m, &e)) return cli_fail("encode", &e);
    int H = 0, rc = 0;
    float *pe = NULL, *pooled = NULL;
    if (kolors_text_hidden_size(m, &H, &e)) { rc = cli_fail("encode", &e); goto done; }
    pe = malloc((size_t)np * KOLORS_MAX_LENGTH * (size_t)H * sizeof(float));
    pooled = malloc((size_t)np * (size_t)H * sizeof(float));
    if (!pe || !pooled) { rc = cli_failf("encode", "out of memory for %d x %d x %d floats", np, KOLORS_MAX_LENGTH, H); goto done; }
    if (kolors_encode(m, np, prompts, pe, pooled, &e)) { rc = cli_fail("encode", &e); goto done; }
    kolors_tensor t[2] = {
        {"prompt_embeds", KOLORS_DTYPE_F32, 3, {np, KOLORS_MAX_LENGTH, H}, pe},
        {"pooled_prompt_embeds", KOLORS_DTYPE_F32, 2, {np, H}, pooled},
    };
    if (kolors_tensors_write(outp, t, 2, &e)) { rc = cli_fail("encode", &e); goto done; }
    if (verbose) fprintf(stderr, "kolors encode: wrote %s (%d prompt(s), hidden %d)\n", outp, np, H);
done:
    free(pe);
    free(pooled);
    kolors_model_free(m);
    return rc;
}
