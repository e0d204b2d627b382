/* cmd_run_unet.c — `kolors run unet`: one U-Net forward on tensors read from a safetensors file
 * (the component runner for tests, debugging and bindings), optionally with the debug taps. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define CMD "run unet"

static void help(void) {
    printf("usage: kolors run unet [-m DIR] --in IN.safetensors -o OUT.safetensors [--taps TAPS.safetensors]\n"
           "                      [--variant fp16] [-t THREADS] [--precision fp32|bf16] [-v]\n\n"
           "Runs the model's U-Net once. IN holds (any float dtype, NCHW like PyTorch):\n"
           "  sample                 [N, C, h, w]  C = the U-Net's in_channels (4; 9 for inpainting)\n"
           "  timestep               [N], or a 0-d / 1-element tensor used for every row\n"
           "  encoder_hidden_states  [N, T, H]     ChatGLM penultimate states (the U-Net projects them)\n"
           "  text_embeds            [N, H]        pooled text embedding\n"
           "  time_ids               [N, 6]        (orig_h, orig_w, crop_top, crop_left, target_h, target_w)\n"
           "and OUT receives noise_pred [N, out_channels, h, w] (F32).\n\n"
           "  -m, --model DIR     model folder (default: the embedded demo model, or $KOLORS_MODEL)\n"
           "  --in FILE           input safetensors file (tensors named as above)\n"
           "  -o, --output FILE   output safetensors file\n"
           "  --taps FILE         also write the intermediate outputs (time_embedding, add_embedding,\n"
           "                      encoder_hid_proj, conv_in, down_block0.., mid_block, up_block0..), F32\n"
           "  --variant NAME      prefer the weights file diffusion_pytorch_model.NAME.safetensors (e.g. fp16);\n"
           "                      default: the full-precision file when present, else the fp16 variant\n"
           "  -t, --threads N     worker threads (default: number of physical cores)\n"
           "  --precision P       fp32 (default, reproduces the reference) or bf16 (faster where supported)\n"
           "  -v, --verbose       log loading and timing\n"
           "  -h, --help          this text\n");
}

int cmd_run_unet(int argc, char **argv) {
    const char *model = NULL, *inp = NULL, *outp = NULL, *tapp = NULL, *variant = NULL;
    int verbose = 0;
    long long threads = 0;
    kolors_precision prec = KOLORS_PRECISION_FP32;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { help(); return 0; }
        else if (!strcmp(a, "-m") || !strcmp(a, "--model")) { if (!(model = cli_value(CMD, argc, argv, &i))) return 2; }
        else if (!strcmp(a, "--in")) { if (!(inp = cli_value(CMD, argc, argv, &i))) return 2; }
        else if (!strcmp(a, "-o") || !strcmp(a, "--output")) { if (!(outp = cli_value(CMD, argc, argv, &i))) return 2; }
        else if (!strcmp(a, "--taps")) { if (!(tapp = cli_value(CMD, argc, argv, &i))) return 2; }
        else if (!strcmp(a, "--variant")) { if (!(variant = cli_value(CMD, argc, argv, &i))) return 2; }
        else if (!strcmp(a, "-t") || !strcmp(a, "--threads")) {
            const char *v = cli_value(CMD, argc, argv, &i);
            if (!v || cli_parse_int(CMD, "--threads", v, 1, 1024, &threads)) return 2;
        } else if (!strcmp(a, "--precision")) {
            const char *v = cli_value(CMD, argc, argv, &i);
            if (!v) return 2;
            if (!strcmp(v, "fp32")) prec = KOLORS_PRECISION_FP32;
            else if (!strcmp(v, "bf16")) prec = KOLORS_PRECISION_BF16;
            else return cli_failf(CMD, "--precision must be fp32 or bf16, got '%s'", v) + 1;
        } else if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) verbose = 1;
        else return cli_failf(CMD, "unknown option '%s' (see kolors run unet --help)", a) + 1;
    }
    if (!inp) return cli_failf(CMD, "no input file given (use --in IN.safetensors; see kolors run unet --help)") + 1;
    if (!outp) return cli_failf(CMD, "no output file given (use -o OUT.safetensors)") + 1;
    if (cli_check_output(CMD, "-o", outp) || (tapp && cli_check_output(CMD, "--taps", tapp))) return 2;

    kolors_error e;
    kolors_tensor *tin = NULL;
    int nin = 0, rc = 0;
    float *sample = NULL, *ts = NULL, *ehs = NULL, *te = NULL, *tid = NULL, *tsn = NULL, *out = NULL;
    int64_t ss[8], st[8], se[8], sp[8], si[8];
    kolors_model *m = NULL;
    cli_taps tp = {0};
    if (kolors_tensors_read(inp, &tin, &nin, &e)) return cli_fail(CMD, &e);
    if (kolors_tensors_get_f32(tin, nin, "sample", 4, &sample, ss, &e) ||
        kolors_tensors_get_f32(tin, nin, "timestep", -1, &ts, st, &e) ||
        kolors_tensors_get_f32(tin, nin, "encoder_hidden_states", 3, &ehs, se, &e) ||
        kolors_tensors_get_f32(tin, nin, "text_embeds", 2, &te, sp, &e) ||
        kolors_tensors_get_f32(tin, nin, "time_ids", 2, &tid, si, &e)) {
        rc = cli_fail(CMD, &e);
        goto done;
    }
    const int64_t N = ss[0];
    int tnd = 0;
    for (int i = 0; i < nin; i++)
        if (!strcmp(tin[i].name, "timestep")) tnd = tin[i].ndim;
    int64_t tnum = 1;
    for (int i = 0; i < tnd; i++) tnum *= st[i];
    if (N < 1 || ss[1] < 1 || ss[2] < 1 || ss[3] < 1 || N > 1024 || ss[1] > 4096 || ss[2] > 4096 || ss[3] > 4096) {
        rc = cli_fail_shape(CMD, "sample", "[N, C, h, w] with 1 <= N <= 1024 and sides in [1, 4096]", 4, ss);
        goto done;
    }
    if (tnd > 1 || (tnum != 1 && tnum != N)) {
        rc = cli_fail_shape(CMD, "timestep", "[N] or a single value", tnd, st);
        goto done;
    }
    if (se[0] != N || se[1] < 1 || se[1] > 4096 || se[2] < 1 || se[2] > 1 << 20) {
        rc = cli_fail_shape(CMD, "encoder_hidden_states", "[N, T, H] with N = sample's batch", 3, se);
        goto done;
    }
    if (sp[0] != N || sp[1] != se[2]) {
        rc = cli_fail_shape(CMD, "text_embeds", "[N, H] with H = encoder_hidden_states' width", 2, sp);
        goto done;
    }
    if (si[0] != N || si[1] != 6) {
        rc = cli_fail_shape(CMD, "time_ids", "[N, 6]", 2, si);
        goto done;
    }
    tsn = malloc((size_t)N * sizeof(float));
    if (!tsn) { rc = cli_failf(CMD, "out of memory"); goto done; }
    for (int64_t i = 0; i < N; i++) tsn[i] = ts[tnum == 1 ? 0 : i];

    kolors_params p;
    cli_params(&p, model, &verbose);
    p.n_threads = (int)threads;
    p.precision = prec;
    p.variant = variant;
    if (kolors_model_open(&p, &m, &e)) { rc = cli_fail(CMD, &e); goto done; }
    if (tapp) kolors_model_set_tap(m, cli_tap_collect, &tp);
    kolors_unet_inputs in = {
        .n = (int)N, .c = (int)ss[1], .h = (int)ss[2], .w = (int)ss[3], .sample = sample, .timestep = tsn,
        .encoder_hidden_states = ehs, .tokens = (int)se[1], .hidden = (int)se[2], .text_embeds = te, .time_ids = tid,
    };
    /* out_channels is 4 for every Kolors U-Net; the forward checks the config before writing */
    const int64_t oc = 4;
    out = malloc((size_t)(N * oc * ss[2] * ss[3]) * sizeof(float));
    if (!out) { rc = cli_failf(CMD, "out of memory"); goto done; }
    if (kolors_unet_forward(m, &in, out, &e)) { rc = cli_fail(CMD, &e); goto done; }
    kolors_tensor o = {"noise_pred", KOLORS_DTYPE_F32, 4, {N, oc, ss[2], ss[3]}, out};
    if (kolors_tensors_write(outp, &o, 1, &e)) { rc = cli_fail(CMD, &e); goto done; }
    if (tapp) {
        if (tp.oom) { rc = cli_failf(CMD, "out of memory while collecting taps"); goto done; }
        if (kolors_tensors_write(tapp, tp.t, tp.n, &e)) { rc = cli_fail(CMD, &e); goto done; }
    }
    if (verbose) fprintf(stderr, "kolors run unet: wrote %s%s%s\n", outp, tapp ? " and " : "", tapp ? tapp : "");
done:
    cli_taps_free(&tp);
    kolors_model_free(m);
    kolors_tensors_free(tin, nin);
    free(sample); free(ts); free(ehs); free(te); free(tid); free(tsn); free(out);
    return rc;
}
