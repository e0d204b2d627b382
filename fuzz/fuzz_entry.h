/* fuzz_entry.h — entry functions of the fuzz targets. Each fuzz_<x>.c defines kc_fuzz_<x>() and,
 * when built with -DKC_LIBFUZZER (KOLORS_FUZZ=ON, clang), LLVMFuzzerTestOneInput calling it.
 * fuzz_regress.c calls all of them on every file of a corpus folder in the normal build, so the
 * corpus (tests/io/corrupt/) stays a regression test without libFuzzer. Each returns 0. */
#ifndef KC_FUZZ_ENTRY_H
#define KC_FUZZ_ENTRY_H

#include <stddef.h>
#include <stdint.h>

int kc_fuzz_safetensors(const uint8_t *data, size_t size);
int kc_fuzz_torchzip(const uint8_t *data, size_t size);
int kc_fuzz_pickle(const uint8_t *data, size_t size);
int kc_fuzz_json_config(const uint8_t *data, size_t size);
int kc_fuzz_image(const uint8_t *data, size_t size);
int kc_fuzz_tokenizer_model(const uint8_t *data, size_t size);
int kc_fuzz_tokenize(const uint8_t *data, size_t size); /* needs the real tokenizer.model (see the file) */

/* Reads every byte of a tensor view so that ASan flags any range the parser let through wrongly. */
unsigned kc_fuzz_touch(const void *p, uint64_t n);

#ifdef KC_LIBFUZZER
#define KC_FUZZ_MAIN(fn)                                                      \
    int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);             \
    int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) { return fn(data, size); }
#else
#define KC_FUZZ_MAIN(fn)
#endif

#endif
