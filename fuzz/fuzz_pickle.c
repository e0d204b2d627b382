/* fuzz_pickle.c — the restricted unpickler alone (data.pkl bytes, no zip around them). */
#include "fuzz_entry.h"
#include "io/pickle.h"

int kc_fuzz_pickle(const uint8_t *data, size_t size) {
    kc_pickle_tensor *t = NULL;
    int64_t n = 0;
    kc_err err = {0};
    if (kc_pickle_load_state_dict(data, size, "fuzz.pkl", &t, &n, &err) == KC_OK) {
        for (int64_t i = 0; i < n; i++) kc_fuzz_touch(t[i].name, 1);
        kc_pickle_free(t, n);
    }
    return 0;
}
KC_FUZZ_MAIN(kc_fuzz_pickle)
