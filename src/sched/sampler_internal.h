/* sampler_internal.h — the inside of kc_sampler, shared by schedule.c and the per-sampler files
 * (euler.c, euler_a.c, dpmpp_2m.c, unipc.c, ddim.c). Not for use outside src/sched. */
#ifndef KC_SCHED_SAMPLER_INTERNAL_H
#define KC_SCHED_SAMPLER_INTERNAL_H

#include <math.h>

#include "sched/schedule.h"

/* Every file of src/sched includes this: float32 results must round as the reference's (one
 * rounding per tensor op), so the compiler may not fuse a multiply and an add on its own; the
 * explicit fmaf() calls mirror the fused operations of the reference build (torch.linspace). */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

struct kc_sampler {
    kc_sampler_kind kind;
    int n;                    /* N */
    int karras;
    int64_t T;
    float *alphas_cumprod;    /* [T] */
    float *timesteps;         /* [N] as passed to the U-Net */
    int64_t *timesteps_i;     /* [N] integer timesteps (DDIM indexes alphas_cumprod with them) */
    float *sigmas;            /* [N+1]; NULL for DDIM */
    float init_noise_sigma;
    /* DDIM */
    int64_t ddim_ratio;       /* T // N: t_prev = t - ratio */
    float final_alpha_cumprod;
    /* UniPC */
    int unipc_bh1;
    int solver_order;         /* DPM / UniPC: 1 or 2 */

    /* per-run state */
    int next_k;               /* -1 before the first step */
    int lower_order_nums;     /* multistep warm-up count, as diffusers' */
    int64_t numel;            /* n of the first step; 0 = buffers not allocated */
    float *noise;             /* [n] draws for euler / euler_a */
    float *m_prev, *m_cur;    /* [n] data predictions model_outputs[-2], [-1] (DPM, UniPC) */
    float *m_next;            /* [n] UniPC: the new output while the corrector still reads both */
    float *last_sample;       /* [n] UniPC: the sample the previous predictor started from */
    int this_order;           /* UniPC: order of the previous predictor step */
};

/* VP view of a VE level: alpha = 1 / sqrt(sigma^2 + 1), sigma_t = sigma * alpha (float32, as
 * diffusers' _sigma_to_alpha_sigma_t on 0-d float32 tensors). */
static inline void kc_sched_alpha_sigma(float sigma, float *alpha, float *sigma_t) {
    float a = 1.0f / sqrtf(sigma * sigma + 1.0f);
    *alpha = a;
    *sigma_t = sigma * a;
}

/* One step of each sampler on n elements, noise as documented in schedule.h. */
void kc_euler_step(kc_sampler *s, int k, const float *eps, float *x, int64_t n);
void kc_euler_a_step(kc_sampler *s, int k, const float *eps, float *x, int64_t n, const float *noise);
void kc_dpmpp_2m_step(kc_sampler *s, int k, const float *eps, float *x, int64_t n);
void kc_unipc_step(kc_sampler *s, int k, const float *eps, float *x, int64_t n);
void kc_ddim_step(kc_sampler *s, int k, const float *eps, float *x, int64_t n);

#endif
