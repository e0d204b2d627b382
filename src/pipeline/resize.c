/* resize.c — Pillow's Image.resize((W, H), Image.LANCZOS) for 8-bit RGB, bit for bit: what
 * diffusers' VaeImageProcessor.resize does to an img2img init image (kolors-model.md §8.1 step 1).
 *
 * Mirrors Pillow 9.4 src/libImaging/Resample.c: separable Lanczos-3 (support 3, widened by the
 * downscale factor), coefficients normalised per output pixel in double then rounded to 22-bit
 * fixed point, horizontal pass first over only the source rows the vertical pass reads, each pass
 * rounding and clamping to uint8. The resample box is the whole image.
 *
 * Letters: w/h source size, W/H target size, k taps of one output pixel. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/pipeline.h"

#define PRECISION_BITS (32 - 8 - 2)

static double sinc(double x) {
    if (x == 0.0) return 1.0;
    x = x * M_PI;
    return sin(x) / x;
}

static double lanczos(double x) {
    /* truncated sinc, as Pillow's lanczos_filter */
    if (-3.0 <= x && x < 3.0) return sinc(x) * sinc(x / 3);
    return 0.0;
}

typedef struct {
    int ksize;
    int *bounds;   /* [out, 2]: first source index, count */
    int32_t *kk;   /* [out, ksize] fixed-point coefficients */
} coeffs;

/* precompute_coeffs + normalize_coeffs_8bpc for in_size -> out_size. */
static kc_status precompute(int in_size, int out_size, coeffs *c, kc_err *err) {
    double scale = (double)((float)in_size - 0.0f) / out_size; /* box (0, in_size) is float in Pillow */
    double filterscale = scale < 1.0 ? 1.0 : scale;
    double support = 3.0 * filterscale;
    int ksize = (int)ceil(support) * 2 + 1;
    c->ksize = ksize;
    c->bounds = malloc((size_t)out_size * 2 * sizeof(int));
    c->kk = malloc((size_t)out_size * (size_t)ksize * sizeof(int32_t));
    double *k = malloc((size_t)ksize * sizeof(double));
    if (!c->bounds || !c->kk || !k) {
        free(k);
        return kc_fail(err, KC_ERR_NOMEM, "out of memory for resize coefficients (%d -> %d)", in_size, out_size);
    }
    for (int xx = 0; xx < out_size; xx++) {
        double center = 0.0 + (xx + 0.5) * scale;
        double ww = 0.0, ss = 1.0 / filterscale;
        int xmin = (int)(center - support + 0.5);
        if (xmin < 0) xmin = 0;
        int xmax = (int)(center + support + 0.5);
        if (xmax > in_size) xmax = in_size;
        xmax -= xmin;
        int x = 0;
        for (; x < xmax; x++) {
            double w = lanczos((x + xmin - center + 0.5) * ss);
            k[x] = w;
            ww += w;
        }
        for (x = 0; x < xmax; x++)
            if (ww != 0.0) k[x] /= ww;
        for (; x < ksize; x++) k[x] = 0;
        for (x = 0; x < ksize; x++)
            c->kk[(size_t)xx * ksize + x] =
                k[x] < 0 ? (int32_t)(-0.5 + k[x] * (1 << PRECISION_BITS)) : (int32_t)(0.5 + k[x] * (1 << PRECISION_BITS));
        c->bounds[xx * 2] = xmin;
        c->bounds[xx * 2 + 1] = xmax;
    }
    free(k);
    return KC_OK;
}

static uint8_t clip8(int64_t in) {
    if (in >= ((int64_t)1 << PRECISION_BITS << 8)) return 255;
    if (in <= 0) return 0;
    return (uint8_t)(in >> PRECISION_BITS);
}

kc_status kc_pipe_resize_lanczos(const uint8_t *src, int w, int h, uint8_t *dst, int W, int H, kc_err *err) {
    if (w <= 0 || h <= 0 || W <= 0 || H <= 0)
        return kc_fail(err, KC_ERR_ARG, "cannot resize %dx%d to %dx%d", w, h, W, H);
    if (w == W && h == H) { /* Pillow returns a copy */
        memcpy(dst, src, (size_t)w * (size_t)h * 3);
        return KC_OK;
    }
    coeffs ch = {0}, cv = {0};
    uint8_t *tmp = NULL;
    kc_status s;
    if ((s = precompute(w, W, &ch, err)) || (s = precompute(h, H, &cv, err))) goto done;
    const uint8_t *in = src;
    int in_w = w;
    if (W != w) {
        /* Horizontal pass over the source rows the vertical pass uses: [first, last). */
        int first = cv.bounds[0], last = cv.bounds[H * 2 - 2] + cv.bounds[H * 2 - 1];
        for (int i = 0; i < H; i++) cv.bounds[i * 2] -= first;
        tmp = malloc((size_t)W * (size_t)(last - first) * 3);
        if (!tmp) {
            s = kc_fail(err, KC_ERR_NOMEM, "out of memory resizing %dx%d to %dx%d", w, h, W, H);
            goto done;
        }
        for (int yy = 0; yy < last - first; yy++)
            for (int xx = 0; xx < W; xx++) {
                int xmin = ch.bounds[xx * 2], xmax = ch.bounds[xx * 2 + 1];
                const int32_t *k = ch.kk + (size_t)xx * ch.ksize;
                const uint8_t *row = src + ((size_t)(yy + first) * w) * 3;
                for (int c = 0; c < 3; c++) {
                    int64_t ss = 1 << (PRECISION_BITS - 1);
                    for (int x = 0; x < xmax; x++) ss += (int64_t)row[(x + xmin) * 3 + c] * k[x];
                    tmp[((size_t)yy * W + xx) * 3 + c] = clip8(ss);
                }
            }
        in = tmp;
        in_w = W;
    }
    if (H != h) {
        for (int yy = 0; yy < H; yy++) {
            int ymin = cv.bounds[yy * 2], ymax = cv.bounds[yy * 2 + 1];
            const int32_t *k = cv.kk + (size_t)yy * cv.ksize;
            for (int xx = 0; xx < in_w; xx++)
                for (int c = 0; c < 3; c++) {
                    int64_t ss = 1 << (PRECISION_BITS - 1);
                    for (int y = 0; y < ymax; y++) ss += (int64_t)in[((size_t)(y + ymin) * in_w + xx) * 3 + c] * k[y];
                    dst[((size_t)yy * W + xx) * 3 + c] = clip8(ss);
                }
        }
    } else {
        memcpy(dst, in, (size_t)W * (size_t)H * 3);
    }
done:
    free(ch.bounds);
    free(ch.kk);
    free(cv.bounds);
    free(cv.kk);
    free(tmp);
    return s;
}
