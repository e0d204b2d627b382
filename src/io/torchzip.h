/* torchzip.h — PyTorch zip checkpoints (torch.save of a state dict): the zip container and a
 * restricted unpickler. Tensors are zero-copy views into stored (uncompressed) zip entries.
 * The unpickler never executes anything: it understands only what torch.save writes for a
 * state dict and refuses every other global or opcode with a message naming it. */
#ifndef KC_IO_TORCHZIP_H
#define KC_IO_TORCHZIP_H

#include <stdint.h>

#include "core/status.h"
#include "core/tensor.h"

typedef struct kc_torchzip_impl kc_torchzip_impl;
typedef struct {
    kc_torchzip_impl *impl;
} kc_torchzip;

kc_status kc_torchzip_open(kc_torchzip *tz, const char *path, kc_err *err);
/* Parses an in-memory buffer (for fuzzing); the buffer must outlive tz. */
kc_status kc_torchzip_parse(kc_torchzip *tz, const unsigned char *data, uint64_t size, const char *path, kc_err *err);
void kc_torchzip_close(kc_torchzip *tz);
int64_t kc_torchzip_count(const kc_torchzip *tz);
void kc_torchzip_get(const kc_torchzip *tz, int64_t i, const char **name, kc_tensor *t);
uint64_t kc_torchzip_file_size(const kc_torchzip *tz);
/* The file mapping behind the tensors (NULL when parsed from a caller's buffer). */
const void *kc_torchzip_map(const kc_torchzip *tz, uint64_t *size);

#endif
