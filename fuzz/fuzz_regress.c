/* fuzz_regress.c — runs every fuzz entry function on every file of the given folders (the corpus,
 * including past crashers), without libFuzzer. A crash, sanitizer report or hang fails the ctest;
 * the folders must hold at least one file so that a wrong path cannot pass silently. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz_entry.h"

static int (*const entries[])(const uint8_t *, size_t) = {
    kc_fuzz_safetensors, kc_fuzz_torchzip, kc_fuzz_pickle, kc_fuzz_json_config, kc_fuzz_image,
    kc_fuzz_tokenizer_model, kc_fuzz_tokenize,
};

static int run_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > (64 << 20)) {
        fclose(f);
        return 0;
    }
    size_t n = (size_t)st.st_size;
    uint8_t *buf = malloc(n ? n : 1); /* exact size: ASan sees any overread */
    if (!buf || fread(buf, 1, n, f) != n) {
        free(buf);
        fclose(f);
        return 0;
    }
    fclose(f);
    for (size_t i = 0; i < sizeof entries / sizeof entries[0]; i++) entries[i](buf, n);
    free(buf);
    return 1;
}

int main(int argc, char **argv) {
    int files = 0;
    for (int a = 1; a < argc; a++) {
        DIR *d = opendir(argv[a]);
        if (!d) {
            fprintf(stderr, "cannot open corpus folder %s\n", argv[a]);
            return 1;
        }
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (e->d_name[0] == '.') continue;
            char p[4096];
            snprintf(p, sizeof p, "%s/%s", argv[a], e->d_name);
            files += run_file(p);
        }
        closedir(d);
    }
    printf("fuzz regression: %d files x %zu targets, no crash\n", files, sizeof entries / sizeof entries[0]);
    return files > 0 ? 0 : 1;
}
