/* cpu.c — see cpu.h. __builtin_cpu_supports also checks that the OS enabled YMM/ZMM state. */
#include "core/cpu.h"

#include <stdio.h>
#include <string.h>

static kc_cpu_features detect(void) {
    kc_cpu_features f;
    memset(&f, 0, sizeof f);
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    f.avx2 = __builtin_cpu_supports("avx2");
    f.fma = __builtin_cpu_supports("fma");
    f.f16c = 0;
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12
    f.avx512bf16 = __builtin_cpu_supports("avx512bf16");
#endif
    f.avx512f = __builtin_cpu_supports("avx512f");
    f.avx512bw = __builtin_cpu_supports("avx512bw");
    f.avx512vl = __builtin_cpu_supports("avx512vl");
    f.avx512dq = __builtin_cpu_supports("avx512dq");
    f.avx512vnni = __builtin_cpu_supports("avx512vnni");
    {   /* F16C and AVX512-BF16 via cpuid directly (older compilers lack the builtin names). */
        unsigned a, b, c, d;
        __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(1), "c"(0));
        f.f16c = (c >> 29) & 1 ? f.avx2 : 0;
        __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(0), "c"(0));
        if (a >= 7) {
            __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(7), "c"(1));
            f.avx512bf16 = ((a >> 5) & 1) && f.avx512f;
        }
    }
#endif
    return f;
}

const kc_cpu_features *kc_cpu_get(void) {
    static kc_cpu_features feats;
    static int done;
    /* Benign race: every thread computes the same value. */
    if (!__atomic_load_n(&done, __ATOMIC_ACQUIRE)) {
        feats = detect();
        __atomic_store_n(&done, 1, __ATOMIC_RELEASE);
    }
    return &feats;
}

const char *kc_cpu_describe(char *buf, unsigned cap) {
    const kc_cpu_features *f = kc_cpu_get();
    snprintf(buf, cap, "%s%s%s%s%s%s%s%s%s", f->avx2 ? "avx2 " : "", f->fma ? "fma " : "",
             f->f16c ? "f16c " : "", f->avx512f ? "avx512f " : "", f->avx512bw ? "avx512bw " : "",
             f->avx512vl ? "avx512vl " : "", f->avx512dq ? "avx512dq " : "",
             f->avx512bf16 ? "avx512bf16 " : "", f->avx512vnni ? "avx512vnni " : "");
    size_t n = strlen(buf);
    if (n && buf[n - 1] == ' ') buf[n - 1] = '\0';
    if (!buf[0]) snprintf(buf, cap, "scalar");
    return buf;
}
