/* fuzz_touch.c — see fuzz_entry.h. */
#include "fuzz_entry.h"

unsigned kc_fuzz_touch(const void *p, uint64_t n) {
    const volatile unsigned char *b = p;
    unsigned acc = 0;
    for (uint64_t i = 0; i < n; i++) acc += b[i];
    return acc;
}
