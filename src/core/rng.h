/* rng.h — a CPU random generator bit-identical to PyTorch's default CPU generator
 * (torch.Generator().manual_seed(seed), torch 1.13) for torch.randn(..., dtype=float32).
 *
 * Mirrors: ATen CPUGeneratorImpl (mt19937 seeded with the seed's low 32 bits, plus a cached
 * second Box-Muller value of the double-precision normal) and the CPU normal_ kernel:
 *   - n >= 16 (contiguous float): one 24-bit uniform per element first, then Box-Muller on each
 *     block of 16 (element j pairs with j+8) using the single-precision Cephes log/sincos of
 *     avx_mathfun.h (the AVX2 kernel, which is what x86-64 machines with AVX2 run); when n is not a
 *     multiple of 16 the last 16 elements are drawn again and re-transformed.
 *   - n < 16: per element, a double-precision Box-Muller normal from two 53-bit uniforms; the
 *     unused sine half is cached in the generator and returned by the next small draw.
 * The generator state continues across calls exactly as torch's does, so consecutive
 * kc_rng_randn calls on one kc_rng reproduce consecutive torch.randn calls on one generator.
 * Scope: verified bit for bit against torch 1.13.1 on x86-64 (the goldens' build and Debian's); there
 * the output did not change with ATEN_CPU_CAPABILITY=default/avx2/avx512. A torch whose kernel was
 * compiled without FMA contraction (another compiler, ARM) may differ in the last bit of some
 * n >= 16 values [unconfirmed]; the n < 16 path uses double libm calls and is portable. */
#ifndef KC_CORE_RNG_H
#define KC_CORE_RNG_H

#include <stdint.h>

#define KC_MT_N 624

typedef struct {
    uint32_t mt[KC_MT_N];
    int idx;                /* next word of mt[] to temper; KC_MT_N = regenerate first */
    int has_next_double;    /* torch's next_double_normal_sample_ cache */
    double next_double;
} kc_rng;

/* torch.Generator().manual_seed(seed): resets the state and the cached normal. */
void kc_rng_seed(kc_rng *r, uint64_t seed);
/* One 32-bit mt19937 output (torch generator->random()). */
uint32_t kc_rng_u32(kc_rng *r);
/* torch generator->random64(): first draw is the high word. */
uint64_t kc_rng_u64(kc_rng *r);
/* torch.randn(n) as float32 into out[0..n-1] (n >= 0), continuing the generator state. The shape
 * does not matter, only the element count. */
void kc_rng_randn(kc_rng *r, float *out, int64_t n);

#endif
