/* gemm_shapes.h — the Kolors GEMM and convolution shapes that bench_gemm and bench_gemm_libs
 * time. Dimension letters: M rows (tokens / pixels), K reduction, N outputs. */
#ifndef KC_BENCH_GEMM_SHAPES_H
#define KC_BENCH_GEMM_SHAPES_H

#include <stdint.h>

typedef struct {
    const char *name;
    int64_t M, K, N;
    int conv; /* 1: 3x3 "same" conv on a square image of M pixels, K = 9*Cin */
} shape;

static const shape shapes[] = {
    {"unet-attn-proj 4096x640x640", 4096, 640, 640, 0},
    {"unet-geglu-in 1024x1280x10240", 1024, 1280, 10240, 0},
    {"unet-ff-out 1024x5120x1280", 1024, 5120, 1280, 0},
    {"glm-qkv 512x4096x4608", 512, 4096, 4608, 0},
    {"glm-mlp-in 512x4096x27392", 512, 4096, 27392, 0},
    {"conv3x3 320->320 128x128 as GEMM 16384x2880x320", 16384, 2880, 320, 0},
    {"conv3x3 320->320 128x128 (implicit)", 16384, 2880, 320, 1},
    {"conv3x3 640->640 64x64 (implicit)", 4096, 5760, 640, 1},
    {"conv3x3 128->128 256x256 (implicit, VAE top)", 65536, 1152, 128, 1},
    {"conv3x3 512->512 64x64 (implicit, VAE mid)", 4096, 4608, 512, 1},
};

#endif
