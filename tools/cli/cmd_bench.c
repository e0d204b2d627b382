/* cmd_bench.c — `kolors bench unet|text-encoder|vae-decode|vae-encode`: times one component with random
 * weights in memory (no download needed) or a model folder's weights, and prints ONE JSON line
 * (kolors_bench in kolors.h does the work; this file parses flags and prints). */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void help(void) {
    printf("usage: kolors bench unet|text-encoder|vae-decode|vae-encode [-m DIR | --random-weights] [options]\n\n"
           "Times one forward of a component and prints one JSON line: median_s, min_s, gflop (work counted\n"
           "analytically: 2 x multiply-adds of matmuls, convolutions and attention), gflops, peak_rss_mb,\n"
           "threads, precision, isa, dtype, shape, arena_mb, ... Reduced runs (--layers) also print\n"
           "scaled_median_s / scaled_gflop: the full model's figure projected by the FLOP ratio. With bf16 on a\n"
           "CPU with AVX512-BF16 the U-Net's weights are prepacked at load (packed_mb, in setup_s).\n\n"
           "  -m, --model DIR       real weights from a Kolors folder (either layout)\n"
           "  --random-weights      random fp16 weights of the full-size Kolors component (default)\n"
           "  -W, --width PX        image width (multiple of 8; default 1024)    [unet, vae-*]\n"
           "  -H, --height PX       image height (multiple of 8; default 1024)   [unet, vae-*]\n"
           "  --batch N             default 2 (unet: one guided step; text-encoder: cond + uncond), vae 1\n"
           "  --tokens T            text tokens (default 256)                    [unet, text-encoder]\n"
           "  --repeat N            timed runs (default 1); the median is reported\n"
           "  --warmup N            untimed runs first (default 0). text-encoder: the first one is timed\n"
           "                        alone (first_s: a one-shot encode, weights packed on the fly), then the\n"
           "                        weights are prepacked (prepack_s, packed_mb) as for a reused encoder\n"
           "  -t, --threads N       worker threads (default: physical cores)\n"
           "  --precision P         bf16 (default: bf16 products, fp32 accumulation) or fp32\n"
           "  --isa NAME            kernel table: ref, avx2, avx512, avx512bf16 (default: best for this CPU)\n"
           "  --layers L            text-encoder: run the first L blocks (of 28); unet: cap every\n"
           "                        transformer depth at L (Kolors: 1/2/10 -> 70 blocks); time is also scaled\n"
           "  --div K               random weights: divide every channel width by K (no scaling)\n"
           "  --weights-dtype D     random weights stored as fp16 (default) or bf16\n"
           "  --tiling M            vae-*: auto (default), on or off\n"
           "  --tile-size N         vae-*: tile side in latent pixels (default 64)\n"
           "  -h, --help            this text\n\n"
           "Memory and time at full size (2 threads, bf16): unet 1024x1024 batch 2 needs ~5.2 GB of weights\n"
           "+ ~2 GB of activations and tens of seconds; text-encoder full is 11.4 GB of weights (use --layers 4);\n"
           "vae-decode 1024x1024 needs ~3.8 GB of activations.\n");
}

static int int_flag(const char *flag, int argc, char **argv, int *i, long long lo, long long hi, int *out) {
    const char *v = cli_value("bench", argc, argv, i);
    long long x;
    if (!v || cli_parse_int("bench", flag, v, lo, hi, &x)) return 1;
    *out = (int)x;
    return 0;
}

static void print_json(const kolors_bench_result *r, const char *model) {
    printf("{\"workload\":\"%s\",\"median_s\":%.6g,\"min_s\":%.6g,\"max_s\":%.6g,\"repeats\":%d,\"warmup\":%d,"
           "\"gflop\":%.6g,\"gflops\":%.6g,\"peak_rss_mb\":%.1f,\"threads\":%d,\"precision\":\"%s\",\"isa\":\"%s\","
           "\"weights\":\"%s\",\"dtype\":\"%s\",\"shape\":\"%s\",\"arena_mb\":%.1f,\"weights_mb\":%.1f,\"setup_s\":%.3g,"
           "\"layers_run\":%d,\"layers_total\":%d,\"width_div\":%d,\"scaled\":%s",
           r->workload, r->median_s, r->min_s, r->max_s, r->repeats, r->warmup, r->gflop, r->gflops, r->peak_rss_mb,
           r->threads, r->precision, r->isa, r->weights, r->dtype, r->shape, r->arena_mb, r->weights_mb, r->setup_s,
           r->layers_run, r->layers_total, r->width_div, r->scaled ? "true" : "false");
    if (r->scaled) printf(",\"scale\":%.6g,\"scaled_median_s\":%.6g,\"scaled_gflop\":%.6g", r->scale, r->scaled_median_s, r->scaled_gflop);
    printf(",\"finite\":%s,\"mean_abs_out\":%.6g,\"packed_mb\":%.1f", r->finite ? "true" : "false", r->mean_abs_out,
           r->packed_mb);
    if (r->first_s > 0) printf(",\"first_s\":%.6g,\"prepack_s\":%.3g", r->first_s, r->prepack_s);
    if (model) {
        printf(",\"model\":\"");
        for (const char *c = model; *c; c++) /* a path is user text: escape for JSON */
            if (*c == '"' || *c == '\\') printf("\\%c", *c);
            else if ((unsigned char)*c < 0x20) printf("\\u%04x", *c);
            else putchar(*c);
        putchar('"');
    }
    printf("}\n");
}

int cmd_bench(int argc, char **argv) {
    if (argc < 2)
        return cli_failf("bench", "which workload? unet, text-encoder, vae-decode or vae-encode (see kolors bench --help)") + 1;
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) { help(); return 0; }
    kolors_bench_params p;
    kolors_bench_params_default(&p);
    if (!strcmp(argv[1], "unet")) p.workload = KOLORS_BENCH_UNET;
    else if (!strcmp(argv[1], "text-encoder")) p.workload = KOLORS_BENCH_TEXT_ENCODER;
    else if (!strcmp(argv[1], "vae-decode")) p.workload = KOLORS_BENCH_VAE_DECODE;
    else if (!strcmp(argv[1], "vae-encode")) p.workload = KOLORS_BENCH_VAE_ENCODE;
    else return cli_failf("bench", "unknown workload '%s': expected unet, text-encoder, vae-decode or vae-encode", argv[1]) + 1;
    int random = 0, dims = 0, tokens_set = 0;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        int bad = 0;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { help(); return 0; }
        else if (!strcmp(a, "-m") || !strcmp(a, "--model")) bad = !(p.model_dir = cli_value("bench", argc, argv, &i));
        else if (!strcmp(a, "--random-weights")) random = 1;
        else if (!strcmp(a, "-W") || !strcmp(a, "--width")) { bad = int_flag("--width", argc, argv, &i, 8, 16384, &p.width); dims = 1; }
        else if (!strcmp(a, "-H") || !strcmp(a, "--height")) { bad = int_flag("--height", argc, argv, &i, 8, 16384, &p.height); dims = 1; }
        else if (!strcmp(a, "--batch")) bad = int_flag("--batch", argc, argv, &i, 1, 64, &p.batch);
        else if (!strcmp(a, "--tokens")) { bad = int_flag("--tokens", argc, argv, &i, 2, 4096, &p.tokens); tokens_set = 1; }
        else if (!strcmp(a, "--repeat")) bad = int_flag("--repeat", argc, argv, &i, 1, 1000, &p.repeat);
        else if (!strcmp(a, "--warmup")) bad = int_flag("--warmup", argc, argv, &i, 0, 1000, &p.warmup);
        else if (!strcmp(a, "-t") || !strcmp(a, "--threads")) bad = int_flag("--threads", argc, argv, &i, 1, 1024, &p.n_threads);
        else if (!strcmp(a, "--layers")) bad = int_flag("--layers", argc, argv, &i, 1, 1000, &p.layers);
        else if (!strcmp(a, "--div")) bad = int_flag("--div", argc, argv, &i, 1, 64, &p.width_div);
        else if (!strcmp(a, "--tile-size")) bad = int_flag("--tile-size", argc, argv, &i, 8, 4096, &p.vae_tile_size);
        else if (!strcmp(a, "--precision")) {
            const char *v = cli_value("bench", argc, argv, &i);
            if (!v) return 2;
            if (!strcmp(v, "fp32")) p.precision = KOLORS_PRECISION_FP32;
            else if (!strcmp(v, "bf16")) p.precision = KOLORS_PRECISION_BF16;
            else return cli_failf("bench", "--precision must be fp32 or bf16, got '%s'", v) + 1;
        } else if (!strcmp(a, "--isa")) bad = !(p.isa = cli_value("bench", argc, argv, &i));
        else if (!strcmp(a, "--weights-dtype")) {
            const char *v = cli_value("bench", argc, argv, &i);
            if (!v) return 2;
            if (!strcmp(v, "fp16")) p.weights_bf16 = 0;
            else if (!strcmp(v, "bf16")) p.weights_bf16 = 1;
            else return cli_failf("bench", "--weights-dtype must be fp16 or bf16, got '%s'", v) + 1;
        } else if (!strcmp(a, "--tiling")) {
            const char *v = cli_value("bench", argc, argv, &i);
            if (!v) return 2;
            if (!strcmp(v, "auto")) p.vae_tiling = -1;
            else if (!strcmp(v, "on")) p.vae_tiling = 1;
            else if (!strcmp(v, "off")) p.vae_tiling = 0;
            else return cli_failf("bench", "--tiling must be auto, on or off, got '%s'", v) + 1;
        } else return cli_failf("bench", "unknown option '%s' (see kolors bench --help)", a) + 1;
        if (bad) return 2;
    }
    if (p.width % 8 || p.height % 8)
        return cli_failf("bench", "--width and --height must be multiples of 8, got %dx%d", p.width, p.height) + 1;
    if (random && p.model_dir) return cli_failf("bench", "-m and --random-weights exclude each other") + 1;
    if (p.workload == KOLORS_BENCH_TEXT_ENCODER && dims)
        return cli_failf("bench", "text-encoder takes --tokens and --batch, not -W/-H") + 1;
    const int vae = p.workload == KOLORS_BENCH_VAE_DECODE || p.workload == KOLORS_BENCH_VAE_ENCODE;
    if (vae && tokens_set) return cli_failf("bench", "%s takes no --tokens", argv[1]) + 1;
    if (vae && p.layers) return cli_failf("bench", "%s has no --layers (use a smaller -W/-H or --div)", argv[1]) + 1;
    if (p.model_dir && p.width_div > 1) return cli_failf("bench", "--div needs --random-weights (a model's widths are fixed)") + 1;
    if (p.model_dir && p.weights_bf16) return cli_failf("bench", "--weights-dtype needs --random-weights") + 1;
    kolors_bench_result r;
    kolors_error e;
    if (kolors_bench(&p, &r, &e)) return cli_fail("bench", &e);
    print_json(&r, p.model_dir);
    return r.finite ? 0 : 1;
}
