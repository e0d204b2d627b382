/* weights.h — one name -> tensor index over one or many weight files (safetensors, PyTorch
 * zip shards), all memory-mapped read-only and zero-copy. Model code binds names once at load
 * into typed struct fields (kc_weights_bind), with dtype and shape checked against the config. */
#ifndef KC_IO_WEIGHTS_H
#define KC_IO_WEIGHTS_H

#include <stdint.h>

#include "core/status.h"
#include "core/tensor.h"

typedef struct kc_weights kc_weights;

typedef struct {
    const char *name;
    kc_tensor t;
    const char *file; /* path of the file holding it (for messages and `kolors info`) */
} kc_weight_entry;

kc_status kc_weights_new(kc_weights **out, kc_err *err);
void kc_weights_free(kc_weights *ws);

/* Adds every tensor of one file. The format is chosen by content (safetensors header or a zip
 * signature), not by the file name. */
kc_status kc_weights_add_file(kc_weights *ws, const char *path, kc_err *err);
/* Adds the files named by a Hugging Face index JSON ({"weight_map": {name: shard}}), resolved
 * relative to the index's folder; checks that each tensor really is in the shard it names. */
kc_status kc_weights_add_index(kc_weights *ws, const char *index_path, kc_err *err);

/* Low-level, for loaders: registers a tensor view (name is copied) and an owned source that is
 * released by kc_weights_free / kc_weights_release. Duplicate names are an error. */
kc_status kc_weights_add_entry(kc_weights *ws, const char *name, const kc_tensor *t, const char *file, kc_err *err);
kc_status kc_weights_add_source(kc_weights *ws, void *src, void (*close_fn)(void *), kc_err *err);
/* Marks [p, p+n) as memory whose pages kc_weights_prepare may release once the tensors in it
 * have packed copies. File mappings of the store's own files are marked automatically (their
 * pages come back from the file); a loader may mark anonymous memory only when nothing reads
 * a packed tensor's original again (its pages would read back as zeros): benchmarks' random
 * weights, so that their memory figures match a model read from disk. */
kc_status kc_weights_add_releasable(kc_weights *ws, const void *p, uint64_t n, kc_err *err);

/* Opens a component folder: `base` is "diffusion_pytorch_model" (unet/vae) or "model" /
 * "pytorch_model" (text encoder). Resolution order, first existing file wins:
 *   1. variant != NULL: "<base>.<v>.safetensors", "<base>.safetensors.index.<v>.json",
 *      "<base>.<v>.safetensors.index.json" (for each base in turn);
 *   2. "<base>.safetensors", "<base>.safetensors.index.json";
 *   3. variant == NULL: the fp16 variant names of step 1 (a folder with only fp16 weights);
 *   4. PyTorch zip checkpoints: "<base>.bin.index.json", "<base>.bin", then the same for
 *      "pytorch_model".
 * *used_variant tells whether a variant file was used. The variant must be [A-Za-z0-9_-]+;
 * the error for an empty folder lists every name looked for. */
kc_status kc_weights_open_dir(const char *dir, const char *const *bases, int nbases, const char *variant,
                              kc_weights **out, int *used_variant, kc_err *err);

int64_t kc_weights_count(const kc_weights *ws);
const kc_weight_entry *kc_weights_entry(const kc_weights *ws, int64_t i); /* sorted by name */
const kc_weight_entry *kc_weights_find(const kc_weights *ws, const char *name);
/* Files the store maps, for reports. */
int kc_weights_nfiles(const kc_weights *ws);
const char *kc_weights_file(const kc_weights *ws, int i);
uint64_t kc_weights_file_size(const kc_weights *ws, int i);

/* Lets fn prepare each tensor once for the kernels (e.g. kc_op_prepack): fn may set t->pack and
 * return the buffer it allocated in *owned (the store frees it with free_fn, with the weights) and its size
 * in *bytes. When a tensor got a copy and its data lies in one of the store's file mappings
 * (or a range marked with kc_weights_add_releasable), its whole pages are released
 * (kc_map_release): the copy takes their place in memory, and any later read of the original
 * faults them in again from the file. Tensors bound after this call carry the copies. *total:
 * bytes of the packed copies. */
/* Releases the whole pages of t's data when they lie in one of the store's file mappings or
 * releasable ranges (kc_map_release): for a caller that keeps its own prepared copy of t. */
void kc_weights_release(const kc_weights *ws, const kc_tensor *t);
typedef kc_status (*kc_weights_prepare_fn)(void *user, const char *name, kc_tensor *t, void **owned, size_t *bytes,
                                           kc_err *err);
kc_status kc_weights_prepare(kc_weights *ws, kc_weights_prepare_fn fn, void (*free_fn)(void *), void *user, size_t *total,
                             kc_err *err);
/* After kc_weights_prepare: copies the file-mapped tensors without a packed copy for which
 * keep() returns 1 (those the model reads) to memory of their own and releases the store's file
 * mappings whole, so running the model reads the files no more. Other tensors stay valid: a
 * read faults their pages in again from the file. */
kc_status kc_weights_detach_files(kc_weights *ws, int (*keep)(void *user, const char *name, const kc_tensor *t), void *user,
                                  kc_err *err);

/* Binds `name` (prefix + name when prefix != NULL) to *out, checking that it exists, has a float
 * dtype (F32/F16/BF16) and exactly the expected shape. */
kc_status kc_weights_bind(const kc_weights *ws, const char *prefix, const char *name, int ndim, const int64_t *shape,
                          kc_tensor *out, kc_err *err);
/* printf-style name; shape given as ndim then dims (int64_t). */
kc_status kc_weights_bindf(const kc_weights *ws, kc_tensor *out, kc_err *err, int ndim, const int64_t *shape,
                           const char *fmt, ...) __attribute__((format(printf, 6, 7)));

#endif
