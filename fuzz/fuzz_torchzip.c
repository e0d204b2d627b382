/* fuzz_torchzip.c — the PyTorch zip reader (zip structures + unpickler) on arbitrary bytes; every
 * accepted tensor is read end to end. */
#include "fuzz_entry.h"
#include "io/torchzip.h"

int kc_fuzz_torchzip(const uint8_t *data, size_t size) {
    kc_torchzip tz;
    kc_err err = {0};
    if (kc_torchzip_parse(&tz, data, size, "fuzz.pt", &err) == KC_OK) {
        for (int64_t i = 0; i < kc_torchzip_count(&tz); i++) {
            const char *name;
            kc_tensor t;
            kc_torchzip_get(&tz, i, &name, &t);
            kc_fuzz_touch(name, 1);
            kc_fuzz_touch(t.data, (uint64_t)kc_tensor_nbytes(&t));
        }
        kc_torchzip_close(&tz);
    }
    return 0;
}
KC_FUZZ_MAIN(kc_fuzz_torchzip)
