/* test_image.c — PNG/JPEG I/O: PNG round trip with a UTF-8 Chinese "parameters" iTXt chunk and a
 * Latin-1 tEXt chunk (read back with libpng itself), PNG color types/bit depths/interlace written
 * here with libpng, JPEG written here with libjpeg, and truncated/corrupt/oversized inputs. */
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jpeglib.h>
#include <png.h>
#include <zlib.h>

#include "harness.h"
#include "io/image.h"

/* JPEG is lossy: a smooth gradient at quality 95 stays within a few levels on average. Measured
 * mean |diff| 1.07 here; 3 leaves room for other libjpeg builds while catching a channel swap. */
#define JPEG_MEAN_ABS_TOL 3.0

static char tmp[700];

static const char *tpath(const char *name) {
    static char b[4][900];
    static int k;
    char *p = b[k++ % 4];
    snprintf(p, sizeof b[0], "%s/%s", tmp, name);
    return p;
}

static uint8_t *pattern(int w, int h, uint32_t seed) {
    uint8_t *p = malloc((size_t)w * h * 3);
    uint32_t x = seed;
    for (int i = 0; i < w * h * 3; i++) {
        x ^= x << 13; x ^= x >> 17; x ^= x << 5;
        p[i] = (uint8_t)(x >> 7);
    }
    return p;
}

static unsigned char *slurp(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)len + 1);
    *n = fread(b, 1, (size_t)len, f);
    fclose(f);
    return b;
}

/* Reads the text chunks back with libpng (no kolors code involved). */
typedef struct {
    char key[80];
    char text[512];
    int compression;
} text_chunk;

static int png_texts(const char *path, text_chunk *out, int cap) {
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_read_struct(&png, &info, NULL);
        fclose(f);
        return -1;
    }
    png_init_io(png, f);
    png_read_info(png, info);
    png_textp t = NULL;
    int n = png_get_text(png, info, &t, NULL), k = 0;
    for (int i = 0; i < n && k < cap; i++, k++) {
        snprintf(out[k].key, sizeof out[k].key, "%s", t[i].key);
        size_t len = t[i].compression >= PNG_ITXT_COMPRESSION_NONE ? t[i].itxt_length : t[i].text_length;
        if (len >= sizeof out[k].text) len = sizeof out[k].text - 1;
        memcpy(out[k].text, t[i].text, len);
        out[k].text[len] = '\0';
        out[k].compression = t[i].compression;
    }
    png_destroy_read_struct(&png, &info, NULL);
    fclose(f);
    return k;
}

static const char *PARAMS = "一只可爱的小猫，高清摄影\nNegative prompt: 模糊\nSteps: 25, Sampler: Euler, CFG scale: 5.0, "
                            "Seed: 42, Size: 37x23, Model: Kolors";

static void test_png_roundtrip(void) {
    const int w = 37, h = 23;
    uint8_t *px = pattern(w, h, 7);
    const char *keys[] = {"parameters", "Comment", "Software"};
    const char *vals[] = {PARAMS, "caf\xc3\xa9 cr\xc3\xa8me", "kolors.c"};
    kc_err err = {0};
    const char *p = tpath("rt.png");
    KC_CHECK(kc_png_write(p, w, h, px, 3, keys, vals, &err) == KC_OK, "write: %s", err.msg);
    int rw = 0, rh = 0;
    uint8_t *back = NULL;
    KC_CHECK(kc_image_read(p, &rw, &rh, &back, &err) == KC_OK, "read: %s", err.msg);
    KC_CHECK(rw == w && rh == h && back && memcmp(back, px, (size_t)w * h * 3) == 0, "pixels round-trip exactly");
    free(back);

    text_chunk t[8];
    int n = png_texts(p, t, 8);
    KC_CHECK(n == 3, "three text chunks (got %d)", n);
    int seen = 0;
    for (int i = 0; i < n; i++) {
        if (strcmp(t[i].key, "parameters") == 0) {
            seen++;
            KC_CHECK(t[i].compression == PNG_ITXT_COMPRESSION_NONE, "parameters is an uncompressed iTXt (%d)",
                     t[i].compression);
            KC_CHECK(strcmp(t[i].text, PARAMS) == 0, "parameters text is the UTF-8 prompt: '%s'", t[i].text);
        } else if (strcmp(t[i].key, "Comment") == 0) {
            seen++;
            KC_CHECK(t[i].compression == PNG_TEXT_COMPRESSION_NONE, "Comment is a tEXt chunk (%d)", t[i].compression);
            KC_CHECK(strcmp(t[i].text, "caf\xe9 cr\xe8me") == 0, "Comment stored as Latin-1 bytes");
        } else if (strcmp(t[i].key, "Software") == 0) {
            seen++;
            KC_CHECK(strcmp(t[i].text, "kolors.c") == 0, "Software text");
        }
    }
    KC_CHECK(seen == 3, "all keys found");
    free(px);
}

static void test_png_write_refusals(void) {
    uint8_t px[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    struct {
        const char *key, *val;
        const char *needle;
    } bad[] = {
        {"", "x", "must be 1-79 printable ASCII"},
        {" lead", "x", "must be 1-79"},
        {"two  spaces", "x", "must be 1-79"},
        {"cl\xc3\xa9", "x", "must be 1-79"},
        {"parameters", "bad \xff utf8", "is not valid UTF-8"},
        {"parameters", "overlong \xc0\xaf", "is not valid UTF-8"},
        {"parameters", "surrogate \xed\xa0\x80", "is not valid UTF-8"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        kc_err err = {0};
        const char *p = tpath("refused.png");
        unlink(p);
        kc_status s = kc_png_write(p, 2, 2, px, 1, &bad[i].key, &bad[i].val, &err);
        KC_CHECK(s == KC_ERR_ARG && strstr(err.msg, bad[i].needle) && access(p, F_OK) != 0,
                 "case %zu refused without a file: %s", i, err.msg);
    }
    kc_err err = {0};
    KC_CHECK(kc_png_write(tpath("big.png"), 20000, 2, px, 0, NULL, NULL, &err) == KC_ERR_UNSUPPORTED,
             "20000-wide write refused: %s", err.msg);
    kc_err_clear(&err);
    KC_CHECK(kc_png_write(tpath("zero.png"), 0, 2, px, 0, NULL, NULL, &err) == KC_ERR_UNSUPPORTED, "0-wide refused");
    kc_err_clear(&err);
    KC_CHECK(kc_png_write("/nonexistent-dir/x.png", 2, 2, px, 0, NULL, NULL, &err) == KC_ERR_IO &&
                 strstr(err.msg, "cannot create"), "unwritable path: %s", err.msg);
}

/* Writes a PNG with libpng in the given format from 8-bit RGB source values. */
static int write_png_raw(const char *path, int w, int h, int color, int depth, int interlace, const png_byte *rows_data,
                         size_t rowbytes, const png_color *pal, int npal, const png_byte *trns, int ntrns) {
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        fclose(f);
        return 0;
    }
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, depth, color, interlace, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    if (pal) png_set_PLTE(png, info, pal, npal);
    if (trns) png_set_tRNS(png, info, trns, ntrns, NULL);
    png_write_info(png, info);
    int passes = png_set_interlace_handling(png);
    for (int pass = 0; pass < passes; pass++)
        for (int y = 0; y < h; y++) png_write_row(png, rows_data + (size_t)y * rowbytes);
    png_write_end(png, info);
    png_destroy_write_struct(&png, &info);
    fclose(f);
    return 1;
}

static void expect_rgb(const char *what, const char *path, int w, int h, const uint8_t *want) {
    int rw, rh;
    uint8_t *got = NULL;
    kc_err err = {0};
    kc_status s = kc_image_read(path, &rw, &rh, &got, &err);
    KC_CHECK(s == KC_OK && rw == w && rh == h && memcmp(got, want, (size_t)w * h * 3) == 0, "%s: %s", what,
             s ? err.msg : "pixels differ");
    free(got);
}

static void test_png_formats(void) {
    enum { W = 9, H = 7 };
    uint8_t want[W * H * 3];
    /* 16-bit RGBA: v16 = v8 * 257 scales back to v8 exactly; alpha dropped. */
    uint8_t *src = pattern(W, H, 3);
    png_byte rgba16[W * H * 8];
    for (int i = 0; i < W * H; i++) {
        for (int c = 0; c < 3; c++) {
            rgba16[i * 8 + 2 * c] = src[i * 3 + c];
            rgba16[i * 8 + 2 * c + 1] = src[i * 3 + c];
        }
        rgba16[i * 8 + 6] = (png_byte)(i * 3);
        rgba16[i * 8 + 7] = 0;
    }
    KC_CHECK(write_png_raw(tpath("rgba16.png"), W, H, PNG_COLOR_TYPE_RGBA, 16, PNG_INTERLACE_NONE, rgba16, W * 8, NULL,
                           0, NULL, 0), "write rgba16");
    expect_rgb("16-bit RGBA", tpath("rgba16.png"), W, H, src);
    /* Adam7-interlaced 8-bit RGB. */
    KC_CHECK(write_png_raw(tpath("adam7.png"), W, H, PNG_COLOR_TYPE_RGB, 8, PNG_INTERLACE_ADAM7, src, W * 3, NULL, 0,
                           NULL, 0), "write adam7");
    expect_rgb("interlaced RGB", tpath("adam7.png"), W, H, src);
    /* 2-bit gray: levels 0..3 -> 0, 85, 170, 255. */
    png_byte g2[H][3];
    memset(g2, 0, sizeof g2);
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            int v = (x + y) & 3;
            g2[y][x / 4] |= (png_byte)(v << (6 - 2 * (x % 4)));
            for (int c = 0; c < 3; c++) want[(y * W + x) * 3 + c] = (uint8_t)(v * 85);
        }
    KC_CHECK(write_png_raw(tpath("gray2.png"), W, H, PNG_COLOR_TYPE_GRAY, 2, PNG_INTERLACE_NONE, &g2[0][0], 3, NULL, 0,
                           NULL, 0), "write gray2");
    expect_rgb("2-bit gray", tpath("gray2.png"), W, H, want);
    /* Palette with transparency (tRNS -> alpha -> dropped). */
    png_color pal[4] = {{255, 0, 0}, {0, 255, 0}, {0, 0, 255}, {10, 20, 30}};
    png_byte trns[4] = {0, 128, 255, 7};
    png_byte idx[W * H];
    for (int i = 0; i < W * H; i++) {
        idx[i] = (png_byte)(i % 4);
        want[i * 3] = pal[i % 4].red;
        want[i * 3 + 1] = pal[i % 4].green;
        want[i * 3 + 2] = pal[i % 4].blue;
    }
    KC_CHECK(write_png_raw(tpath("pal.png"), W, H, PNG_COLOR_TYPE_PALETTE, 8, PNG_INTERLACE_NONE, idx, W, pal, 4, trns,
                           4), "write palette");
    expect_rgb("palette + tRNS", tpath("pal.png"), W, H, want);
    /* Gray + alpha 8-bit. */
    png_byte ga[W * H * 2];
    for (int i = 0; i < W * H; i++) {
        ga[2 * i] = src[i];
        ga[2 * i + 1] = 77;
        want[3 * i] = want[3 * i + 1] = want[3 * i + 2] = src[i];
    }
    KC_CHECK(write_png_raw(tpath("ga.png"), W, H, PNG_COLOR_TYPE_GRAY_ALPHA, 8, PNG_INTERLACE_NONE, ga, W * 2, NULL, 0,
                           NULL, 0), "write gray+alpha");
    expect_rgb("gray + alpha", tpath("ga.png"), W, H, want);
    free(src);
}

static void write_jpeg(const char *path, int w, int h, int gray, const uint8_t *px) {
    struct jpeg_compress_struct ci;
    struct jpeg_error_mgr je;
    ci.err = jpeg_std_error(&je);
    jpeg_create_compress(&ci);
    FILE *f = fopen(path, "wb");
    jpeg_stdio_dest(&ci, f);
    ci.image_width = (JDIMENSION)w;
    ci.image_height = (JDIMENSION)h;
    ci.input_components = gray ? 1 : 3;
    ci.in_color_space = gray ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_set_defaults(&ci);
    jpeg_set_quality(&ci, 95, TRUE);
    jpeg_start_compress(&ci, TRUE);
    while (ci.next_scanline < ci.image_height) {
        JSAMPROW row = (JSAMPROW)(px + (size_t)ci.next_scanline * (size_t)w * (gray ? 1 : 3));
        jpeg_write_scanlines(&ci, &row, 1);
    }
    jpeg_finish_compress(&ci);
    jpeg_destroy_compress(&ci);
    fclose(f);
}

static void test_jpeg(void) {
    enum { W = 40, H = 24 };
    uint8_t px[W * H * 3], g[W * H];
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            px[(y * W + x) * 3] = (uint8_t)(x * 6);
            px[(y * W + x) * 3 + 1] = (uint8_t)(y * 10);
            px[(y * W + x) * 3 + 2] = (uint8_t)(200 - x * 2 - y * 3);
            g[y * W + x] = (uint8_t)(x * 3 + y * 4);
        }
    write_jpeg(tpath("c.jpg"), W, H, 0, px);
    write_jpeg(tpath("g.jpg"), W, H, 1, g);
    int w, h;
    uint8_t *out = NULL;
    kc_err err = {0};
    KC_CHECK(kc_image_read(tpath("c.jpg"), &w, &h, &out, &err) == KC_OK && w == W && h == H, "color jpeg: %s", err.msg);
    if (out) {
        double sum = 0;
        for (int i = 0; i < W * H * 3; i++) sum += abs((int)out[i] - (int)px[i]);
        printf("jpeg mean |diff| = %.3f (tolerance %.1f)\n", sum / (W * H * 3), JPEG_MEAN_ABS_TOL);
        KC_CHECK(sum / (W * H * 3) < JPEG_MEAN_ABS_TOL, "color jpeg close to the source");
        free(out);
        out = NULL;
    }
    KC_CHECK(kc_image_read(tpath("g.jpg"), &w, &h, &out, &err) == KC_OK && w == W && h == H, "gray jpeg: %s", err.msg);
    if (out) {
        int rgb_equal = 1, far = 0;
        for (int i = 0; i < W * H; i++) {
            rgb_equal &= out[3 * i] == out[3 * i + 1] && out[3 * i] == out[3 * i + 2];
            far += abs((int)out[3 * i] - (int)g[i]) > 8;
        }
        KC_CHECK(rgb_equal && far == 0, "gray jpeg expands to R=G=B near the source (%d far)", far);
        free(out);
    }
}

/* Every prefix of a valid file, and single-byte corruptions, are refused without a crash. */
static void test_truncated_corrupt(void) {
    const char *names[] = {"rt.png", "c.jpg"};
    for (int f = 0; f < 2; f++) {
        size_t n = 0;
        unsigned char *b = slurp(tpath(names[f]), &n);
        KC_CHECK(b != NULL && n > 100, "read %s", names[f]);
        if (!b) continue;
        int accepted = 0;
        for (size_t len = 0; len < n; len += (len < 200 ? 1 : 7)) {
            unsigned char *c = malloc(len + 1);
            memcpy(c, b, len);
            int w, h;
            uint8_t *out = NULL;
            kc_err err = {0};
            if (kc_image_decode(c, len, "trunc", &w, &h, &out, &err) == KC_OK) accepted++;
            else KC_CHECK(err.msg[0] != '\0', "%s truncated to %zu: a message", names[f], len);
            free(out);
            free(c);
        }
        KC_CHECK(accepted == 0, "%s: %d truncations accepted", names[f], accepted);
        /* Flip a byte in the middle of the compressed data. */
        unsigned char *c = malloc(n);
        memcpy(c, b, n);
        c[n / 2] ^= 0x5a;
        c[n / 2 + 1] ^= 0xa5;
        int w, h;
        uint8_t *out = NULL;
        kc_err err = {0};
        kc_status s = kc_image_decode(c, n, names[f], &w, &h, &out, &err);
        if (f == 0) KC_CHECK(s == KC_ERR_FORMAT && strstr(err.msg, "bad PNG"), "png corruption: %s", err.msg);
        else printf("jpeg with flipped bytes: %s (%s)\n", kc_status_name(s), s ? err.msg : "decoded; JPEG has no CRC");
        free(out);
        free(c);
        free(b);
    }
    /* Absurd dimensions are refused from the header, before any pixel allocation. */
    static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    unsigned char png[8 + 25 + 12 + 12];
    memcpy(png, sig, 8);
    unsigned char ihdr[17] = {'I', 'H', 'D', 'R', 0, 0, 0x4e, 0x20, 0, 0, 0x4e, 0x20, 8, 2, 0, 0, 0}; /* 20000^2 */
    png[8] = 0; png[9] = 0; png[10] = 0; png[11] = 13;
    memcpy(png + 12, ihdr, 17);
    uLong crc = crc32(0, ihdr, 17);
    for (int i = 0; i < 4; i++) png[29 + i] = (unsigned char)(crc >> (24 - 8 * i));
    static const unsigned char idat[4] = {'I', 'D', 'A', 'T'}; /* empty IDAT, then IEND */
    memset(png + 33, 0, 4);
    memcpy(png + 37, idat, 4);
    crc = crc32(0, idat, 4);
    for (int i = 0; i < 4; i++) png[41 + i] = (unsigned char)(crc >> (24 - 8 * i));
    static const unsigned char iend[12] = {0, 0, 0, 0, 'I', 'E', 'N', 'D', 0xAE, 0x42, 0x60, 0x82};
    memcpy(png + 45, iend, 12);
    int w, h;
    uint8_t *out = NULL;
    kc_err err = {0};
    KC_CHECK(kc_image_decode(png, sizeof png, "huge.png", &w, &h, &out, &err) == KC_ERR_UNSUPPORTED &&
                 strstr(err.msg, "20000 x 20000"), "20000^2 PNG refused: %s", err.msg);
    /* Within the side limit but with no pixel data to back it: refused before the 768 MB buffer. */
    png[16 + 2] = 0x3e; png[16 + 3] = 0x80; png[16 + 6] = 0x3e; png[16 + 7] = 0x80; /* 16000 x 16000 */
    crc = crc32(0, png + 12, 17);
    for (int i = 0; i < 4; i++) png[29 + i] = (unsigned char)(crc >> (24 - 8 * i));
    kc_err_clear(&err);
    KC_CHECK(kc_image_decode(png, sizeof png, "empty16k.png", &w, &h, &out, &err) == KC_ERR_FORMAT &&
                 strstr(err.msg, "cannot hold a 16000 x 16000 image"), "16000^2 PNG without data refused: %s", err.msg);
    /* Found by fuzz_image: a tEXt chunk declaring 1.9 GB in a 1 KB file (libpng would allocate it). */
    const char *src = getenv("KOLORS_SOURCE_DIR");
    if (src) {
        char fp[900];
        snprintf(fp, sizeof fp, "%s/tests/io/corrupt/fuzz_png_text_length.png", src);
        kc_err_clear(&err);
        KC_CHECK(kc_image_read(fp, &w, &h, &out, &err) == KC_ERR_FORMAT &&
                     strstr(err.msg, "chunk 'tEXt' at byte 230 declares 1946157073 bytes"), "oversized chunk: %s", err.msg);
    }
    size_t n = 0;
    unsigned char *j = slurp(tpath("c.jpg"), &n);
    for (size_t i = 0; j && i + 9 < n; i++)
        if (j[i] == 0xFF && (j[i + 1] == 0xC0 || j[i + 1] == 0xC2)) { /* SOF: height, width at +5, +7 */
            j[i + 5] = 0x4e; j[i + 6] = 0x20; j[i + 7] = 0x4e; j[i + 8] = 0x20;
            break;
        }
    kc_err_clear(&err);
    KC_CHECK(j && kc_image_decode(j, n, "huge.jpg", &w, &h, &out, &err) == KC_ERR_UNSUPPORTED &&
                 strstr(err.msg, "20000 x 20000"), "20000^2 JPEG refused: %s", err.msg);
    for (size_t i = 0; j && i + 9 < n; i++)
        if (j[i] == 0xFF && (j[i + 1] == 0xC0 || j[i + 1] == 0xC2)) { /* 16000^2 in under 1 KB */
            j[i + 5] = 0x3e; j[i + 6] = 0x80; j[i + 7] = 0x3e; j[i + 8] = 0x80;
            break;
        }
    kc_err_clear(&err);
    KC_CHECK(j && kc_image_decode(j, n, "bomb.jpg", &w, &h, &out, &err) == KC_ERR_UNSUPPORTED &&
                 strstr(err.msg, "is implausible"), "16000^2 JPEG of <1 KB refused: %s", err.msg);
    free(j);
    kc_err_clear(&err);
    KC_CHECK(kc_image_decode((const unsigned char *)"GIF89a....", 10, "x.gif", &w, &h, &out, &err) == KC_ERR_UNSUPPORTED &&
                 strstr(err.msg, "not a PNG or JPEG"), "GIF refused: %s", err.msg);
    kc_err_clear(&err);
    KC_CHECK(kc_image_read(tpath("no-such.png"), &w, &h, &out, &err) == KC_ERR_IO, "missing file: %s", err.msg);
}

int main(void) {
    snprintf(tmp, sizeof tmp, "%s", kc_test_tmpdir());
    test_png_roundtrip();
    test_png_write_refusals();
    test_png_formats();
    test_jpeg();
    test_truncated_corrupt();
    return kc_test_finish();
}
