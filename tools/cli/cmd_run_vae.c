/* cmd_run_vae.c — `kolors run vae-decode` / `kolors run vae-encode`: the VAE on tensors read from
 * a safetensors file (the component runner for tests, debugging and bindings). */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define MAX_SIDE 16384 /* image pixels per side, the library's limit */

static void help(int encode) {
    if (!encode)
        printf("usage: kolors run vae-decode [-m DIR] --in IN.safetensors -o OUT.safetensors [options]\n\n"
               "Decodes latents with the model's VAE. IN holds (any float dtype, NCHW like PyTorch):\n"
               "  latents  [N, 4, h, w]  exactly as the decoder takes them, i.e. already divided by the\n"
               "                         scaling factor (0.13025 for Kolors)\n"
               "and OUT receives image [N, 3, 8h, 8w] (F32, unclamped, about [-1, 1]).\n\n");
    else
        printf("usage: kolors run vae-encode [-m DIR] --in IN.safetensors -o OUT.safetensors [options]\n\n"
               "Encodes images with the model's VAE. IN holds (any float dtype, NCHW like PyTorch):\n"
               "  image    [N, 3, H, W]  values in [-1, 1] (= uint8 / 127.5 - 1); H and W multiples of 8\n"
               "and OUT receives the posterior's mean and logvar, each [N, 4, H/8, W/8] (F32; logvar\n"
               "clamped to [-30, 20]; std = exp(logvar / 2); the latent is (mean + std * eps) * 0.13025).\n\n");
    printf("options:\n"
           "  -m, --model DIR     model folder (default: the embedded demo model, or $KOLORS_MODEL)\n"
           "  --in FILE           input safetensors file (tensor named as above)\n"
           "  -o, --output FILE   output safetensors file\n"
           "  --tiling MODE       auto (default: tiles only above 1024x1024 pixels, where the untiled\n"
           "                      activations would exceed ~3.8 GB), on, or off. Tiles overlap by a quarter\n"
           "                      of their size and are blended with raised-cosine ramps (no seams); the\n"
           "                      mid block (incl. its attention) always runs on the whole latent.\n"
           "  --tile-size N       largest tile side in latent pixels, 8..4096 (default 64 = 512 pixels)\n"
           "  --tile-stats MODE   GroupNorm statistics of the tiled layers: estimate (default: from a\n"
           "                      low-resolution pass, ~1.5x the untiled time), exact (the untiled run's\n"
           "                      statistics; output differs only by zero padding at tile edges; ~10x\n"
           "                      decode, ~17x encode), or tile (each tile its own: fastest, but tiles of\n"
           "                      different content get different tone and contrast)\n"
           "  --taps FILE         also write intermediate outputs, F32 NCHW; with tiling only the parts\n"
           "                      computed on the whole image:\n"
           "                      %s\n"
           "  --variant NAME      prefer the weights file diffusion_pytorch_model.NAME.safetensors (e.g. fp16);\n"
           "                      arithmetic is fp32 whatever the stored dtype\n"
           "  -t, --threads N     worker threads (default: number of physical cores)\n"
           "  -v, --verbose       log loading, tiling and timing\n"
           "  -h, --help          this text\n",
           encode ? "encoder.conv_in, encoder.down_block0.., encoder.mid_block"
                  : "decoder.conv_in, decoder.mid_block, decoder.up_block0..");
}

int cmd_run_vae(int argc, char **argv) {
    const int encode = !strcmp(argv[0], "vae-encode");
    const char *cmd = encode ? "run vae-encode" : "run vae-decode";
    const char *model = NULL, *inp = NULL, *outp = NULL, *tapp = NULL, *variant = NULL;
    int verbose = 0, tiling = -1, tile_stats = 0;
    long long threads = 0, tile = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { help(encode); return 0; }
        else if (!strcmp(a, "-m") || !strcmp(a, "--model")) { if (!(model = cli_value(cmd, argc, argv, &i))) return 2; }
        else if (!strcmp(a, "--in")) { if (!(inp = cli_value(cmd, argc, argv, &i))) return 2; }
        else if (!strcmp(a, "-o") || !strcmp(a, "--output")) { if (!(outp = cli_value(cmd, argc, argv, &i))) return 2; }
        else if (!strcmp(a, "--taps")) { if (!(tapp = cli_value(cmd, argc, argv, &i))) return 2; }
        else if (!strcmp(a, "--variant")) { if (!(variant = cli_value(cmd, argc, argv, &i))) return 2; }
        else if (!strcmp(a, "--tiling")) {
            const char *v = cli_value(cmd, argc, argv, &i);
            if (!v) return 2;
            if (!strcmp(v, "auto")) tiling = -1;
            else if (!strcmp(v, "on")) tiling = 1;
            else if (!strcmp(v, "off")) tiling = 0;
            else return cli_failf(cmd, "--tiling must be auto, on or off, got '%s'", v) + 1;
        } else if (!strcmp(a, "--tile-size")) {
            const char *v = cli_value(cmd, argc, argv, &i);
            if (!v || cli_parse_int(cmd, "--tile-size", v, 8, 4096, &tile)) return 2;
        } else if (!strcmp(a, "--tile-stats")) {
            const char *v = cli_value(cmd, argc, argv, &i);
            if (!v || cli_parse_tile_stats(cmd, a, v, &tile_stats)) return 2;
        } else if (!strcmp(a, "-t") || !strcmp(a, "--threads")) {
            const char *v = cli_value(cmd, argc, argv, &i);
            if (!v || cli_parse_int(cmd, "--threads", v, 1, 1024, &threads)) return 2;
        } else if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) verbose = 1;
        else return cli_failf(cmd, "unknown option '%s' (see kolors %s --help)", a, cmd) + 1;
    }
    if (!inp) return cli_failf(cmd, "no input file given (use --in IN.safetensors; see kolors %s --help)", cmd) + 1;
    if (!outp) return cli_failf(cmd, "no output file given (use -o OUT.safetensors)") + 1;
    if (cli_check_output(cmd, "-o", outp) || (tapp && cli_check_output(cmd, "--taps", tapp))) return 2;

    kolors_error e;
    kolors_tensor *tin = NULL;
    int nin = 0, rc = 0;
    float *x = NULL, *out = NULL, *out2 = NULL;
    int64_t sh[8] = {0};
    kolors_model *m = NULL;
    cli_taps tp = {0};
    const char *iname = encode ? "image" : "latents";
    if (kolors_tensors_read(inp, &tin, &nin, &e)) return cli_fail(cmd, &e);
    if (kolors_tensors_get_f32(tin, nin, iname, 4, &x, sh, &e)) {
        rc = cli_fail(cmd, &e);
        goto done;
    }
    const int64_t N = sh[0], C = sh[1], A = sh[2], B = sh[3];
    if (N < 1 || N > 1024) {
        rc = cli_fail_shape(cmd, iname, "a batch N in [1, 1024]", 4, sh);
        goto done;
    }
    if (!encode) {
        if (C != 4) { rc = cli_fail_shape(cmd, iname, "[N, 4, h, w] (4 latent channels)", 4, sh); goto done; }
        if (A < 1 || B < 1 || A > MAX_SIDE / 8 || B > MAX_SIDE / 8) {
            rc = cli_fail_shape(cmd, iname, "[N, 4, h, w] with h and w in [1, 2048] (images up to 16384 pixels)", 4, sh);
            goto done;
        }
    } else {
        if (C != 3) { rc = cli_fail_shape(cmd, iname, "[N, 3, H, W] (RGB)", 4, sh); goto done; }
        if (A < 8 || B < 8 || A % 8 || B % 8 || A > MAX_SIDE || B > MAX_SIDE) {
            rc = cli_fail_shape(cmd, iname, "[N, 3, H, W] with H and W multiples of 8 in [8, 16384]", 4, sh);
            goto done;
        }
    }

    kolors_params p;
    cli_params(&p, model, &verbose);
    p.n_threads = (int)threads;
    p.precision = KOLORS_PRECISION_FP32;
    p.variant = variant;
    p.vae_tiling = tiling;
    p.vae_tile_size = (int)tile;
    p.vae_tile_stats = tile_stats;
    if (kolors_model_open(&p, &m, &e)) { rc = cli_fail(cmd, &e); goto done; }
    if (tapp) kolors_model_set_tap(m, cli_tap_collect, &tp);
    if (!encode) {
        out = malloc((size_t)(N * 3 * 64 * A * B) * sizeof(float));
        if (!out) { rc = cli_failf(cmd, "out of memory for the %lldx%lld output", (long long)(8 * A), (long long)(8 * B)); goto done; }
        if (kolors_vae_decode(m, x, (int)N, (int)A, (int)B, out, &e)) { rc = cli_fail(cmd, &e); goto done; }
        kolors_tensor o = {"image", KOLORS_DTYPE_F32, 4, {N, 3, 8 * A, 8 * B}, out};
        if (kolors_tensors_write(outp, &o, 1, &e)) { rc = cli_fail(cmd, &e); goto done; }
    } else {
        const int64_t n4 = N * 4 * (A / 8) * (B / 8);
        out = malloc((size_t)n4 * sizeof(float));
        out2 = malloc((size_t)n4 * sizeof(float));
        if (!out || !out2) { rc = cli_failf(cmd, "out of memory"); goto done; }
        if (kolors_vae_encode(m, x, (int)N, (int)A, (int)B, out, out2, &e)) { rc = cli_fail(cmd, &e); goto done; }
        kolors_tensor o[2] = {{"mean", KOLORS_DTYPE_F32, 4, {N, 4, A / 8, B / 8}, out},
                              {"logvar", KOLORS_DTYPE_F32, 4, {N, 4, A / 8, B / 8}, out2}};
        if (kolors_tensors_write(outp, o, 2, &e)) { rc = cli_fail(cmd, &e); goto done; }
    }
    if (tapp) {
        if (tp.oom) { rc = cli_failf(cmd, "out of memory while collecting taps"); goto done; }
        if (kolors_tensors_write(tapp, tp.t, tp.n, &e)) { rc = cli_fail(cmd, &e); goto done; }
    }
    if (verbose) fprintf(stderr, "kolors %s: wrote %s%s%s\n", cmd, outp, tapp ? " and " : "", tapp ? tapp : "");
done:
    cli_taps_free(&tp);
    kolors_model_free(m);
    kolors_tensors_free(tin, nin);
    free(x); free(out); free(out2);
    return rc;
}
