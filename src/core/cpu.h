/* cpu.h — run-time CPU feature detection (cpuid + OS support of the register state). */
#ifndef KC_CORE_CPU_H
#define KC_CORE_CPU_H

typedef struct {
    int avx2, fma, f16c;
    int avx512f, avx512bw, avx512vl, avx512dq;
    int avx512bf16, avx512vnni;
} kc_cpu_features;

/* Detected once; safe to call from any thread. */
const kc_cpu_features *kc_cpu_get(void);
/* "avx2 fma f16c avx512f ..." into buf. */
const char *kc_cpu_describe(char *buf, unsigned cap);

#endif
