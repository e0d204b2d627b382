/* pickle.h — a restricted unpickler for the data.pkl of a PyTorch zip checkpoint (torch.save of
 * a state dict, pickle protocol 2). Mirrors what torch/serialization.py `_save` writes:
 *
 *   {name: torch._utils._rebuild_tensor_v2(storage, storage_offset, size, stride,
 *                                          requires_grad, backward_hooks[, metadata]), ...}
 *
 * where `storage` is a persistent id ('storage', torch.<Half|Float|BFloat16|...>Storage, key,
 * location, numel) and the dict is a plain dict or a collections.OrderedDict.
 *
 * It NEVER executes anything: globals are matched against a fixed allow-list and turned into
 * inert tokens; every other global (os.system, builtins.eval, ...) and every opcode outside the
 * supported set is refused with KC_ERR_FORMAT naming it and its byte offset. Stack, memo and
 * object counts are bounded. The result is a flat list of tensor descriptions; resolving the
 * storage keys to bytes is the zip reader's job (torchzip.c). */
#ifndef KC_IO_PICKLE_H
#define KC_IO_PICKLE_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"
#include "core/tensor.h"

#define KC_PICKLE_MAX_STACK (1 << 20)   /* values on the stack (a state dict needs ~10) */
#define KC_PICKLE_MAX_MEMO (1 << 22)    /* highest memo index accepted */
#define KC_PICKLE_MAX_KEY 64            /* storage keys are small decimal numbers */

typedef struct {
    char *name;                 /* state-dict key */
    kc_dtype dtype;             /* from the storage class */
    char key[KC_PICKLE_MAX_KEY];/* storage key: the zip entry is <root>/data/<key> */
    int64_t storage_numel;      /* elements in the whole storage (from the persistent id) */
    int64_t storage_offset;     /* in elements */
    int ndim;
    int64_t shape[KC_MAX_DIMS]; /* strides were checked to be row-major contiguous */
} kc_pickle_tensor;

/* Parses a state-dict pickle. `what` names the source for messages. On success *out holds *n
 * entries in pickle order; free with kc_pickle_free. Checked here: every value is a tensor,
 * dims >= 0, strides contiguous, storage_offset + numel <= storage numel (checked math). */
kc_status kc_pickle_load_state_dict(const unsigned char *data, size_t size, const char *what,
                                    kc_pickle_tensor **out, int64_t *n, kc_err *err);
void kc_pickle_free(kc_pickle_tensor *t, int64_t n);

#endif
