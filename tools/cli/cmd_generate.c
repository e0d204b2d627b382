/* cmd_generate.c — `kolors generate`: text-to-image and image-to-image, with the flags users know
 * from stable-diffusion.cpp. A thin client of kolors_generate(): parses and checks the flags,
 * loads the optional init image / init noise, writes PNGs with an A1111 "parameters" text chunk
 * (so existing tools read the settings back) and shows a progress bar on stderr. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

#define GEN_MAX_BATCH 1000

static void gen_usage(FILE *f) {
    fprintf(f,
            "usage: kolors generate -p PROMPT [options]\n\n"
            "Text-to-image (and image-to-image with -i) with a Kolors model. Without -m the small demo\n"
            "model embedded in the repository is used: it has random weights, so its images are noise.\n\n"
            "  -m, --model DIR           Kolors folder (Kwai-Kolors/Kolors or Kolors-diffusers layout);\n"
            "                            default: $KOLORS_MODEL, else the embedded demo model\n"
            "  -p, --prompt TEXT         the prompt (Chinese or English, at most 254 tokens are used)\n"
            "  -n, --negative-prompt T   negative prompt (default \"\", encoded as Kolors does)\n"
            "  -W, --width N             image width in pixels, a multiple of 8 in 64..4096 (default 1024)\n"
            "  -H, --height N            image height in pixels, a multiple of 8 in 64..4096 (default 1024)\n"
            "      --steps N             denoising steps (default 50)\n"
            "      --cfg-scale X         classifier-free guidance scale (default 5.0; <= 1 turns the\n"
            "                            negative pass off and halves the work)\n"
            "  -s, --seed N              seed of the torch-compatible CPU generator (default: random,\n"
            "                            printed); with --precision fp32 the same seed gives the same\n"
            "                            image as diffusers' float32 pipeline with\n"
            "                            generator=torch.Generator().manual_seed(N)\n"
            "      --sampling-method M   euler (default), euler_a, dpm++2m, unipc, ddim\n"
            "      --scheduler S         sigma spacing: default or karras\n"
            "  -i, --init-img FILE       image-to-image: start from this PNG/JPEG, resized to -W x -H\n"
            "                            (Lanczos, as diffusers); without -W/-H its own size rounded\n"
            "                            down to multiples of 8\n"
            "      --strength X          image-to-image: how much to change the image, 0 < X <= 1\n"
            "                            (default 0.8; int(steps * X) steps are run)\n"
            "  -b, --batch-count N       images to make (seeds S, S+1, ...; default 1)\n"
            "  -t, --threads N           worker threads (default: physical cores)\n"
            "  -o, --output FILE         PNG to write (default output.png); \"%%d\" in the name is\n"
            "                            replaced by the image number (1, 2, ...); without it a batch\n"
            "                            writes NAME.png, NAME_2.png, NAME_3.png, ...\n"
            "      --init-noise FILE     safetensors file with tensor \"latents\" [1,4,H/8,W/8]: the initial\n"
            "                            noise, used instead of the seeded draw (like diffusers' latents=;\n"
            "                            it is still multiplied by the sampler's init_noise_sigma)\n"
            "      --save-latent FILE    also write the final latents (before the VAE) as tensor \"latents\"\n"
            "      --vae-tiling          decode (and encode) the image in overlapping tiles: less memory for\n"
            "                            large images (default: automatic above the size where it pays)\n"
            "      --vae-tile-size N     tile size in latent pixels (1/8 of image pixels) with --vae-tiling\n"
            "      --vae-tile-stats MODE GroupNorm statistics of tiled VAE runs: estimate (default, ~1.5x the\n"
            "                            untiled time), exact (as untiled up to tile-edge padding; ~10x), or\n"
            "                            tile (each tile its own: fastest, uneven tone between tiles)\n"
            "      --precision P         fp32 (reproduces the reference) or bf16 (bf16 products, fp32 sums,\n"
            "                            ~1%% from fp32; conv_in/out, downsamplers, shortcuts stay fp32);\n"
            "                            default: bf16 on CPUs with AVX512-BF16, else fp32\n"
            "  -v, --verbose             log model loading, per-stage times and peak memory\n"
            "  -h, --help                this text\n");
}

typedef struct {
    int tty;
    int last_len;
    int image, n_images;
} progress_state;

/* Progress on stderr: a redrawn bar on a terminal, plain lines otherwise (logs, CI). */
static int on_progress(int step, int n_steps, double elapsed, void *user) {
    progress_state *ps = user;
    double rate = step > 0 && elapsed > 0 ? step / elapsed : 0;
    double eta = rate > 0 ? (n_steps - step) / rate : 0;
    char prefix[32] = "";
    if (ps->n_images > 1) snprintf(prefix, sizeof prefix, "image %d/%d ", ps->image, ps->n_images);
    if (ps->tty) {
        enum { WIDTH = 30 };
        char bar[WIDTH + 1];
        int fill = n_steps > 0 ? (int)((int64_t)WIDTH * step / n_steps) : WIDTH;
        for (int i = 0; i < WIDTH; i++) bar[i] = i < fill ? '=' : i == fill ? '>' : ' ';
        bar[WIDTH] = 0;
        if (step == 0) fprintf(stderr, "\r%s[%s] %d/%d ", prefix, bar, step, n_steps);
        else fprintf(stderr, "\r%s[%s] %d/%d  %.2f it/s  ETA %.0fs ", prefix, bar, step, n_steps, rate, eta);
        if (step == n_steps) fputc('\n', stderr);
    } else if (step > 0) { /* plain lines: one per finished step */
        fprintf(stderr, "%sstep %d/%d, %.2f it/s, ETA %.0fs\n", prefix, step, n_steps, rate, eta);
    }
    fflush(stderr);
    return 0;
}

static int parse_u64(const char *cmd, const char *flag, const char *s, uint64_t *out) {
    char *end;
    errno = 0;
    if (*s < '0' || *s > '9') return cli_failf(cmd, "%s expects a non-negative integer, got '%s'", flag, s);
    unsigned long long v = strtoull(s, &end, 10);
    if (*end || errno) return cli_failf(cmd, "%s expects an integer in 0 ... 18446744073709551615, got '%s'", flag, s);
    *out = (uint64_t)v;
    return 0;
}

static uint64_t random_seed(void) {
    uint64_t s = 0;
    FILE *f = fopen("/dev/urandom", "rb");
    if (f) {
        if (fread(&s, sizeof s, 1, f) != 1) s = 0;
        fclose(f);
    }
    if (!s) s = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
    /* Keep it in the 32 bits torch's CPU generator actually uses, so the printed seed is the
     * whole story when passed to the reference. */
    return s & 0xffffffffu;
}

/* A1111 sampler names, so tools that parse the "parameters" chunk recognise them. */
static const char *a1111_sampler(const char *s) {
    if (!strcmp(s, "euler")) return "Euler";
    if (!strcmp(s, "euler_a")) return "Euler a";
    if (!strcmp(s, "dpm++2m")) return "DPM++ 2M";
    if (!strcmp(s, "unipc")) return "UniPC";
    if (!strcmp(s, "ddim")) return "DDIM";
    return s;
}

static const char *basename_of(const char *p) {
    size_t n = strlen(p);
    while (n > 1 && p[n - 1] == '/') n--;
    static char b[256];
    size_t start = n;
    while (start > 0 && p[start - 1] != '/') start--;
    size_t len = n - start < sizeof b - 1 ? n - start : sizeof b - 1;
    memcpy(b, p + start, len);
    b[len] = 0;
    return b;
}

/* The A1111 "parameters" text: prompt, "Negative prompt: ...", then "Key: value" pairs. */
static char *a1111_parameters(const kolors_gen_params *g, const char *model_name, int img2img) {
    const char *neg = g->negative_prompt ? g->negative_prompt : "";
    size_t cap = strlen(g->prompt) + strlen(neg) + strlen(model_name) + 512;
    char *s = malloc(cap);
    if (!s) return NULL;
    int o = snprintf(s, cap, "%s\n", g->prompt);
    if (*neg) o += snprintf(s + o, cap - (size_t)o, "Negative prompt: %s\n", neg);
    o += snprintf(s + o, cap - (size_t)o, "Steps: %d, Sampler: %s, ", g->steps, a1111_sampler(g->sampler));
    if (!strcmp(g->scheduler, "karras")) o += snprintf(s + o, cap - (size_t)o, "Schedule type: Karras, ");
    o += snprintf(s + o, cap - (size_t)o, "CFG scale: %g, Seed: %llu, Size: %dx%d, Model: %s", g->cfg_scale,
                  (unsigned long long)g->seed, g->width, g->height, model_name);
    if (img2img) snprintf(s + o, cap - (size_t)o, ", Denoising strength: %g", g->strength);
    return s;
}

/* Output name of image i (0-based) of n. */
static int output_name(const char *cmd, const char *pattern, int i, int n, char *out, size_t cap) {
    const char *pct = strstr(pattern, "%d");
    int w;
    if (pct) {
        if (strchr(pct + 2, '%') || strchr(pattern, '%') != pct)
            return cli_failf(cmd, "-o '%s': only one \"%%d\" (and no other %%) may appear in the name", pattern);
        w = snprintf(out, cap, "%.*s%d%s", (int)(pct - pattern), pattern, i + 1, pct + 2);
    } else if (n == 1 || i == 0) {
        w = snprintf(out, cap, "%s", pattern);
    } else {
        const char *dot = strrchr(pattern, '.');
        const char *slash = strrchr(pattern, '/');
        if (!dot || (slash && dot < slash)) dot = pattern + strlen(pattern);
        w = snprintf(out, cap, "%.*s_%d%s", (int)(dot - pattern), pattern, i + 1, dot);
    }
    if (w < 0 || (size_t)w >= cap) return cli_failf(cmd, "-o '%s': name too long", pattern);
    return 0;
}

/* Reads tensor "latents" [1, 4, h, w] from a safetensors file. */
static int load_init_noise(const char *cmd, const char *path, int h, int w, float **out) {
    kolors_error e = {0};
    kolors_tensor *t = NULL;
    int n = 0;
    if (kolors_tensors_read(path, &t, &n, &e)) return cli_fail(cmd, &e);
    int64_t shape[8];
    int rc = kolors_tensors_get_f32(t, n, "latents", 4, out, shape, &e);
    kolors_tensors_free(t, n);
    if (rc) {
        fprintf(stderr, "kolors %s: error: --init-noise %s: %s\n", cmd, path, e.message);
        return 1;
    }
    if (shape[0] != 1 || shape[1] != 4 || shape[2] != h || shape[3] != w) {
        kolors_free(*out);
        *out = NULL;
        return cli_failf(cmd, "--init-noise %s: tensor 'latents' has shape [%lld, %lld, %lld, %lld]; this size needs [1, 4, %d, %d]",
                         path, (long long)shape[0], (long long)shape[1], (long long)shape[2], (long long)shape[3], h, w);
    }
    return 0;
}

static int save_latent(const char *cmd, const char *path, const float *lat, int h, int w) {
    kolors_tensor t = {.name = (char *)"latents", .dtype = KOLORS_DTYPE_F32, .ndim = 4,
                       .shape = {1, 4, h, w}, .data = (void *)lat};
    kolors_error e = {0};
    if (kolors_tensors_write(path, &t, 1, &e)) {
        fprintf(stderr, "kolors %s: error: --save-latent %s: %s\n", cmd, path, e.message);
        return 1;
    }
    return 0;
}

int cmd_generate(int argc, char **argv) {
    const char *cmd = argv[0];
    kolors_gen_params g;
    kolors_gen_params_default(&g);
    const char *model = NULL, *init_img = NULL, *init_noise_path = NULL, *save_latent_path = NULL;
    const char *output = "output.png", *precision = NULL;
    int have_seed = 0, have_w = 0, have_h = 0, have_strength = 0, verbose = 0;
    long long batch = 1, threads = 0, vae_tile = 0;
    int vae_tiling = -1, vae_tile_stats = 0;
    g.prompt = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        long long iv;
        double fv;
#define VALUE() do { if (!(v = cli_value(cmd, argc, argv, &i))) return 2; } while (0)
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            gen_usage(stdout);
            return 0;
        } else if (!strcmp(a, "-m") || !strcmp(a, "--model")) {
            VALUE();
            model = v;
        } else if (!strcmp(a, "-p") || !strcmp(a, "--prompt")) {
            VALUE();
            g.prompt = v;
        } else if (!strcmp(a, "-n") || !strcmp(a, "--negative-prompt")) {
            VALUE();
            g.negative_prompt = v;
        } else if (!strcmp(a, "-W") || !strcmp(a, "--width") || !strcmp(a, "-H") || !strcmp(a, "--height")) {
            VALUE();
            /* the library's limits (KC_PIPE_MIN_SIDE / KC_PIPE_MAX_SIDE), refused here as a usage error */
            if (cli_parse_int(cmd, a, v, 64, 4096, &iv)) return 2;
            if (a[1] == 'W' || a[2] == 'w') { g.width = (int)iv; have_w = 1; }
            else { g.height = (int)iv; have_h = 1; }
        } else if (!strcmp(a, "--steps")) {
            VALUE();
            if (cli_parse_int(cmd, a, v, 1, 1000, &iv)) return 2;
            g.steps = (int)iv;
        } else if (!strcmp(a, "--cfg-scale")) {
            VALUE();
            if (cli_parse_float(cmd, a, v, 0.0, 100.0, &fv)) return 2;
            g.cfg_scale = (float)fv;
        } else if (!strcmp(a, "-s") || !strcmp(a, "--seed")) {
            VALUE();
            if (parse_u64(cmd, a, v, &g.seed)) return 2;
            have_seed = 1;
        } else if (!strcmp(a, "--sampling-method")) {
            VALUE();
            if (strcmp(v, "euler") && strcmp(v, "euler_a") && strcmp(v, "dpm++2m") && strcmp(v, "unipc") &&
                strcmp(v, "ddim")) {
                cli_failf(cmd, "--sampling-method '%s' is not one of euler, euler_a, dpm++2m, unipc, ddim", v);
                return 2;
            }
            g.sampler = v;
        } else if (!strcmp(a, "--scheduler")) {
            VALUE();
            if (strcmp(v, "default") && strcmp(v, "karras")) {
                cli_failf(cmd, "--scheduler '%s' is not one of default, karras", v);
                return 2;
            }
            g.scheduler = v;
        } else if (!strcmp(a, "-i") || !strcmp(a, "--init-img")) {
            VALUE();
            init_img = v;
        } else if (!strcmp(a, "--strength")) {
            VALUE();
            if (cli_parse_float(cmd, a, v, 0.0, 1.0, &fv)) return 2;
            if (fv <= 0) {
                cli_failf(cmd, "--strength must be above 0 (0 would run no step), got %g", fv);
                return 2;
            }
            g.strength = (float)fv;
            have_strength = 1;
        } else if (!strcmp(a, "-b") || !strcmp(a, "--batch-count")) {
            VALUE();
            if (cli_parse_int(cmd, a, v, 1, GEN_MAX_BATCH, &batch)) return 2;
        } else if (!strcmp(a, "-t") || !strcmp(a, "--threads")) {
            VALUE();
            if (cli_parse_int(cmd, a, v, 1, 1024, &threads)) return 2;
        } else if (!strcmp(a, "-o") || !strcmp(a, "--output")) {
            VALUE();
            output = v;
        } else if (!strcmp(a, "--init-noise")) {
            VALUE();
            init_noise_path = v;
        } else if (!strcmp(a, "--save-latent")) {
            VALUE();
            save_latent_path = v;
        } else if (!strcmp(a, "--precision")) {
            VALUE();
            if (strcmp(v, "fp32") && strcmp(v, "bf16")) {
                cli_failf(cmd, "--precision '%s' is not one of fp32, bf16", v);
                return 2;
            }
            precision = v;
        } else if (!strcmp(a, "--vae-tiling")) {
            vae_tiling = 1;
        } else if (!strcmp(a, "--vae-tile-size")) {
            VALUE();
            if (cli_parse_int(cmd, a, v, 8, 4096, &vae_tile)) return 2;
        } else if (!strcmp(a, "--vae-tile-stats")) {
            VALUE();
            if (cli_parse_tile_stats(cmd, a, v, &vae_tile_stats)) return 2;
        } else if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) {
            verbose = 1;
        } else {
            cli_failf(cmd, "unknown option '%s' (see kolors generate --help)", a);
            return 2;
        }
#undef VALUE
    }
    if (!g.prompt) {
        cli_failf(cmd, "a prompt is required: -p \"...\" (see kolors generate --help)");
        return 2;
    }
    if (have_strength && !init_img) {
        cli_failf(cmd, "--strength only applies to image-to-image (-i/--init-img)");
        return 2;
    }
    if (init_img && init_noise_path) {
        cli_failf(cmd, "--init-noise applies to text-to-image only (image-to-image draws its noise from the seed)");
        return 2;
    }
    if (init_noise_path && batch > 1) {
        cli_failf(cmd, "--init-noise gives one image's noise; it cannot be combined with -b %lld", batch);
        return 2;
    }
    if (save_latent_path && batch > 1 && !strstr(save_latent_path, "%d")) {
        cli_failf(cmd, "--save-latent with -b %lld needs \"%%d\" in the file name", batch);
        return 2;
    }
    if (g.width % 8 || g.height % 8) {
        cli_failf(cmd, "width and height must be multiples of 8, got %dx%d (the VAE works on 8x8 blocks)", g.width,
                  g.height);
        return 2;
    }
    /* Test the output names and folders before any work (a run can take many minutes). */
    char out_path[4096];
    if (output_name(cmd, output, 0, (int)batch, out_path, sizeof out_path) || cli_check_output(cmd, "-o", out_path))
        return 2;
    if (save_latent_path && (output_name(cmd, save_latent_path, 0, (int)batch, out_path, sizeof out_path) ||
                             cli_check_output(cmd, "--save-latent", out_path)))
        return 2;

    kolors_image init = {0};
    if (init_img) {
        kolors_error e = {0};
        if (kolors_image_read(init_img, &init, &e)) {
            fprintf(stderr, "kolors %s: error: -i %s: %s\n", cmd, init_img, e.message);
            return 1;
        }
        /* Without -W/-H the image's own size, rounded down to multiples of 8 (diffusers'
         * get_default_height_width); the library resizes the image (Lanczos) when sizes differ. */
        if (!have_w) g.width = init.width - init.width % 8;
        if (!have_h) g.height = init.height - init.height % 8;
        if (g.width < 64 || g.height < 64) {
            cli_failf(cmd, "-i %s is %dx%d; the output would be %dx%d, below the 64x64 minimum (give -W and -H)",
                      init_img, init.width, init.height, g.width, g.height);
            kolors_image_free(&init);
            return 2;
        }
        g.init_image = &init;
    }

    float *noise = NULL;
    if (init_noise_path && load_init_noise(cmd, init_noise_path, g.height / 8, g.width / 8, &noise)) return 1;
    g.init_noise = noise;
    float *latents = NULL;
    if (save_latent_path) {
        latents = malloc((size_t)4 * (size_t)(g.height / 8) * (size_t)(g.width / 8) * sizeof(float));
        if (!latents) {
            kolors_free(noise);
            kolors_image_free(&init);
            return cli_failf(cmd, "out of memory");
        }
        g.final_latents = latents;
    }

    kolors_params mp;
    cli_params(&mp, model, &verbose);
    mp.n_threads = (int)threads;
    mp.vae_tiling = vae_tiling;
    mp.vae_tile_size = (int)vae_tile;
    mp.vae_tile_stats = vae_tile_stats;
    mp.precision = !precision ? KOLORS_PRECISION_DEFAULT
                   : !strcmp(precision, "fp32") ? KOLORS_PRECISION_FP32 : KOLORS_PRECISION_BF16;
    if (!model && verbose) fprintf(stderr, "kolors %s: model %s\n", cmd, mp.model_dir);

    int rc = 0;
    kolors_model *m = NULL;
    kolors_error e = {0};
    if (kolors_model_open(&mp, &m, &e)) {
        rc = cli_fail(cmd, &e);
        goto done;
    }
    /* What Kolors silently ignores, said before the work (the library warns about truncated prompts). */
    if (g.negative_prompt && *g.negative_prompt && g.cfg_scale <= 1.0f)
        fprintf(stderr, "kolors %s: warning: --negative-prompt has no effect with --cfg-scale %g (<= 1 turns "
                "guidance off)\n", cmd, (double)g.cfg_scale);
    if (!have_seed) g.seed = random_seed();
    const char *env_model = getenv("KOLORS_MODEL");
    const char *model_name =
        model || (env_model && *env_model) ? basename_of(mp.model_dir) : "kolors-demo (random weights)";
    progress_state ps = {.tty = isatty(2), .n_images = (int)batch};
    g.progress = on_progress;
    g.progress_user = &ps;
    uint64_t seed0 = g.seed;
    for (int i = 0; i < batch && !rc; i++) {
        g.seed = seed0 + (uint64_t)i;
        ps.image = i + 1;
        kolors_image img = {0};
        struct timespec ts0, ts1;
        clock_gettime(CLOCK_MONOTONIC, &ts0);
        if (kolors_generate(m, &g, &img, &e)) {
            rc = cli_fail(cmd, &e);
            break;
        }
        clock_gettime(CLOCK_MONOTONIC, &ts1);
        char *params = a1111_parameters(&g, model_name, init_img != NULL);
        const char *keys[] = {"parameters"};
        const char *vals[] = {params ? params : ""};
        output_name(cmd, output, i, (int)batch, out_path, sizeof out_path);
        if (kolors_image_write_png(out_path, &img, 1, keys, vals, &e)) {
            fprintf(stderr, "kolors %s: error: -o %s: %s\n", cmd, out_path, e.message);
            rc = 1;
        } else {
            printf("%s: seed %llu, %dx%d, %d steps, %s, cfg %g, %.1f s\n", out_path, (unsigned long long)g.seed,
                   g.width, g.height, g.steps, g.sampler, g.cfg_scale,
                   (double)(ts1.tv_sec - ts0.tv_sec) + 1e-9 * (double)(ts1.tv_nsec - ts0.tv_nsec));
            fflush(stdout);
        }
        free(params);
        kolors_image_free(&img);
        if (!rc && save_latent_path) {
            output_name(cmd, save_latent_path, i, (int)batch, out_path, sizeof out_path);
            rc = save_latent(cmd, out_path, latents, g.height / 8, g.width / 8);
        }
    }
done:
    kolors_model_free(m);
    kolors_free(noise);
    free(latents);
    kolors_image_free(&init);
    return rc;
}
