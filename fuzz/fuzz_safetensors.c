/* fuzz_safetensors.c — kc_st_parse on arbitrary bytes; every accepted tensor is read end to end. */
#include "fuzz_entry.h"
#include "io/safetensors.h"

int kc_fuzz_safetensors(const uint8_t *data, size_t size) {
    kc_safetensors st;
    kc_err err = {0};
    if (kc_st_parse(&st, data, size, "fuzz.safetensors", &err) == KC_OK) {
        for (int64_t i = 0; i < st.n; i++) kc_fuzz_touch(st.entries[i].t.data, st.entries[i].nbytes);
        kc_st_close(&st);
    }
    return 0;
}
KC_FUZZ_MAIN(kc_fuzz_safetensors)
