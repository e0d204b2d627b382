/* image.c — see image.h. PNG through libpng 1.6 (setjmp/longjmp error hooks, memory source),
 * JPEG through libjpeg(-turbo) (error manager that longjmps instead of exit()). Text chunks
 * mirror PIL's PngImagePlugin (tEXt when Latin-1 encodable, else iTXt), which is what A1111
 * writes and what image viewers read the "parameters" from. */
#include "io/image.h"

#include <errno.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jpeglib.h>
#include <jerror.h>
#include <png.h>

#include "core/checked.h"
#include "core/mapfile.h"

/* ---- shared ----------------------------------------------------------------------------- */

typedef struct {
    jmp_buf jb;
    char msg[300];
} err_ctx;

static kc_status check_dims(const char *what, uint64_t w, uint64_t h, kc_err *err) {
    if (w == 0 || h == 0 || w > KC_IMAGE_MAX_SIDE || h > KC_IMAGE_MAX_SIDE)
        return kc_fail(err, KC_ERR_UNSUPPORTED, "%s: image is %llu x %llu; each side must be 1..%d", what,
                       (unsigned long long)w, (unsigned long long)h, KC_IMAGE_MAX_SIDE);
    return KC_OK;
}

/* ---- PNG write -------------------------------------------------------------------------- */

static void png_err_fn(png_structp png, png_const_charp msg) {
    err_ctx *c = png_get_error_ptr(png);
    snprintf(c->msg, sizeof c->msg, "%s", msg ? msg : "libpng error");
    longjmp(c->jb, 1);
}
static void png_warn_fn(png_structp png, png_const_charp msg) {
    (void)png;
    (void)msg; /* warnings (e.g. an ancillary chunk with a bad CRC) are not errors; the library never prints */
}

/* Decodes one UTF-8 code point at s; returns its length (0 = invalid: overlong, surrogate, > U+10FFFF). */
static int utf8_next(const unsigned char *s, uint32_t *cp) {
    if (s[0] < 0x80) { *cp = s[0]; return 1; }
    int n = (s[0] & 0xE0) == 0xC0 ? 2 : (s[0] & 0xF0) == 0xE0 ? 3 : (s[0] & 0xF8) == 0xF0 ? 4 : 0;
    if (!n) return 0;
    uint32_t v = s[0] & (0x7F >> n);
    for (int i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        v = (v << 6) | (s[i] & 0x3F);
    }
    static const uint32_t min[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (v < min[n] || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return 0;
    *cp = v;
    return n;
}

/* Validates UTF-8; *latin1 = 1 when every code point is <= U+00FF. */
static int utf8_check(const char *s, int *latin1) {
    *latin1 = 1;
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        uint32_t cp;
        int n = utf8_next(p, &cp);
        if (!n) return 0;
        if (cp > 0xFF) *latin1 = 0;
        p += n;
    }
    return 1;
}

static char *to_latin1(const char *s) {
    char *o = malloc(strlen(s) + 1), *q = o;
    if (!o) return NULL;
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        uint32_t cp = 0;
        p += utf8_next(p, &cp); /* validated before */
        *q++ = (char)(unsigned char)cp;
    }
    *q = '\0';
    return o;
}

static int keyword_ok(const char *k) {
    size_t n = strlen(k);
    if (n < 1 || n > 79 || k[0] == ' ' || k[n - 1] == ' ') return 0;
    for (size_t i = 0; i < n; i++) {
        if (k[i] < 32 || k[i] > 126) return 0;
        if (k[i] == ' ' && k[i + 1] == ' ') return 0;
    }
    return 1;
}

kc_status kc_png_write(const char *path, int width, int height, const uint8_t *rgb, int n_text,
                       const char *const *keys, const char *const *values, kc_err *err) {
    kc_status s = check_dims(path, (uint64_t)(width > 0 ? width : 0), (uint64_t)(height > 0 ? height : 0), err);
    if (s) return s;
    if (!rgb) return kc_fail(err, KC_ERR_ARG, "%s: no pixel data", path);
    if (n_text < 0 || (n_text > 0 && (!keys || !values)) || n_text > 1000)
        return kc_fail(err, KC_ERR_ARG, "%s: bad text chunk list (%d entries)", path, n_text);
    for (int i = 0; i < n_text; i++) {
        int l1;
        if (!keys[i] || !keyword_ok(keys[i]))
            return kc_fail(err, KC_ERR_ARG,
                           "%s: PNG text key \"%s\" must be 1-79 printable ASCII characters without leading, trailing "
                           "or double spaces", path, keys[i] ? keys[i] : "(null)");
        if (!values[i] || !utf8_check(values[i], &l1))
            return kc_fail(err, KC_ERR_ARG, "%s: PNG text \"%s\" is not valid UTF-8", path, keys[i]);
    }
    png_text *txt = calloc((size_t)n_text + 1, sizeof *txt);
    char **owned = calloc((size_t)n_text + 1, sizeof *owned);
    if (!txt || !owned) {
        free(txt);
        free(owned);
        return kc_fail(err, KC_ERR_NOMEM, "%s: out of memory", path);
    }
    for (int i = 0; i < n_text; i++) {
        int l1 = 0;
        utf8_check(values[i], &l1);
        txt[i].key = (png_charp)keys[i];
        if (l1) {
            owned[i] = to_latin1(values[i]);
            if (!owned[i]) { s = kc_fail(err, KC_ERR_NOMEM, "%s: out of memory", path); goto free_text; }
            txt[i].compression = PNG_TEXT_COMPRESSION_NONE;
            txt[i].text = owned[i];
            txt[i].text_length = strlen(owned[i]);
        } else {
            txt[i].compression = PNG_ITXT_COMPRESSION_NONE;
            txt[i].text = (png_charp)values[i];
            txt[i].itxt_length = strlen(values[i]);
            txt[i].lang = (png_charp) "";
            txt[i].lang_key = (png_charp) "";
        }
    }
    {
        err_ctx ec;
        FILE *volatile f = fopen(path, "wb");
        if (!f) { s = kc_fail(err, KC_ERR_IO, "%s: cannot create: %s", path, strerror(errno)); goto free_text; }
        png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &ec, png_err_fn, png_warn_fn);
        png_infop info = png ? png_create_info_struct(png) : NULL;
        if (!png || !info) {
            png_destroy_write_struct(&png, NULL);
            fclose(f);
            unlink(path);
            s = kc_fail(err, KC_ERR_NOMEM, "%s: out of memory", path);
            goto free_text;
        }
        if (setjmp(ec.jb)) {
            png_destroy_write_struct(&png, &info);
            fclose(f);
            unlink(path);
            s = kc_fail(err, KC_ERR_IO, "%s: PNG write failed: %s", path, ec.msg);
            goto free_text;
        }
        png_init_io(png, (FILE *)f);
        png_set_IHDR(png, info, (png_uint_32)width, (png_uint_32)height, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                     PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
        if (n_text) png_set_text(png, info, txt, n_text);
        png_write_info(png, info);
        for (int y = 0; y < height; y++) png_write_row(png, (png_const_bytep)(rgb + (size_t)y * (size_t)width * 3));
        png_write_end(png, info);
        png_destroy_write_struct(&png, &info);
        int bad = ferror(f);
        if (fclose(f) != 0 || bad) {
            unlink(path);
            s = kc_fail(err, KC_ERR_IO, "%s: write failed: %s", path, strerror(errno));
        }
    }
free_text:
    for (int i = 0; i < n_text; i++) free(owned[i]);
    free(owned);
    free(txt);
    return s;
}

/* ---- PNG read --------------------------------------------------------------------------- */

typedef struct {
    const unsigned char *p;
    size_t len, pos;
} mem_src;

static void png_mem_read(png_structp png, png_bytep out, png_size_t n) {
    mem_src *m = png_get_io_ptr(png);
    if (n > m->len - m->pos) png_error(png, "file ends early (truncated PNG)");
    memcpy(out, m->p + m->pos, n);
    m->pos += n;
}

static uint32_t be32(const unsigned char *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Walks the chunk list before libpng sees it: every chunk must lie inside the buffer and IEND
 * must be there. libpng allocates (and zeroes) a buffer of a chunk's *declared* length, so a
 * 300-byte file declaring a 1.9 GB tEXt chunk would otherwise cost 1.9 GB. Also bounds the
 * pixel data by what the IDAT bytes can inflate to (deflate's best ratio is ~1032:1), so a tiny
 * file cannot make us allocate a 16384^2 image before failing. */
static kc_status png_prescan(const unsigned char *buf, size_t len, const char *what, kc_err *err) {
    static const int channels[7] = {1, 0, 3, 1, 2, 0, 4}; /* by color type */
    size_t pos = 8;
    uint64_t idat = 0, w = 0, h = 0, bits = 0;
    int first = 1;
    for (;;) {
        if (len - pos < 12)
            return kc_fail(err, KC_ERR_FORMAT, "%s: bad PNG: file ends at byte %zu without an IEND chunk (truncated?)",
                           what, len);
        uint32_t n = be32(buf + pos);
        char type[5];
        for (int i = 0; i < 4; i++) {
            unsigned char c = buf[pos + 4 + i];
            type[i] = (c >= 32 && c < 127) ? (char)c : '?';
        }
        type[4] = '\0';
        if (n > 0x7FFFFFFFu || n > len - pos - 12)
            return kc_fail(err, KC_ERR_FORMAT,
                           "%s: bad PNG: chunk '%s' at byte %zu declares %u bytes but only %zu remain (truncated?)", what,
                           type, pos, n, len - pos - 12);
        if (first) {
            if (memcmp(type, "IHDR", 4) != 0 || n != 13)
                return kc_fail(err, KC_ERR_FORMAT, "%s: bad PNG: the first chunk is not a 13-byte IHDR", what);
            w = be32(buf + pos + 8);
            h = be32(buf + pos + 12);
            unsigned ct = buf[pos + 17];
            bits = (uint64_t)buf[pos + 16] * (ct < 7 ? (uint64_t)channels[ct] : 0);
            first = 0;
        }
        if (memcmp(type, "IDAT", 4) == 0) idat += n;
        pos += 12 + (size_t)n;
        if (memcmp(type, "IEND", 4) == 0) break;
    }
    kc_status s = check_dims(what, w, h, err);
    if (s) return s;
    uint64_t raw = h * (1 + (w * bits + 7) / 8); /* filtered bytes of a non-interlaced image: a lower bound */
    if (bits && raw > idat * 1032 + 1024)
        return kc_fail(err, KC_ERR_FORMAT,
                       "%s: bad PNG: %llu bytes of image data cannot hold a %llu x %llu image (truncated?)", what,
                       (unsigned long long)idat, (unsigned long long)w, (unsigned long long)h);
    return KC_OK;
}

static kc_status read_png(const unsigned char *buf, size_t len, const char *what, int *w, int *h, uint8_t **out,
                          kc_err *err) {
    kc_status ps = png_prescan(buf, len, what, err);
    if (ps) return ps;
    err_ctx ec;
    mem_src src = {buf, len, 0};
    uint8_t *volatile pix = NULL;
    png_bytep *volatile rows = NULL;
    volatile kc_status s = KC_OK;
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &ec, png_err_fn, png_warn_fn);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!png || !info) {
        png_destroy_read_struct(&png, NULL, NULL);
        return kc_fail(err, KC_ERR_NOMEM, "%s: out of memory", what);
    }
    if (setjmp(ec.jb)) {
        png_destroy_read_struct(&png, &info, NULL);
        free(pix);
        free(rows);
        return s ? s : kc_fail(err, KC_ERR_FORMAT, "%s: bad PNG: %s", what, ec.msg);
    }
    png_set_read_fn(png, &src, png_mem_read);
    png_set_chunk_malloc_max(png, 64u << 20); /* caps text/iCCP chunk allocations */
    png_read_info(png, info);
    png_uint_32 pw = png_get_image_width(png, info), ph = png_get_image_height(png, info);
    if ((s = check_dims(what, pw, ph, err))) png_error(png, "dimensions");
    int ct = png_get_color_type(png, info), bd = png_get_bit_depth(png, info);
    if (ct == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (ct == PNG_COLOR_TYPE_GRAY && bd < 8) png_set_expand_gray_1_2_4_to_8(png);
    if (png_get_valid(png, info, PNG_INFO_tRNS)) png_set_tRNS_to_alpha(png);
    if (bd == 16) png_set_scale_16(png);
    /* Alpha is dropped, not composited: PIL's convert("RGB") does the same for init images. */
    png_set_strip_alpha(png);
    if (ct == PNG_COLOR_TYPE_GRAY || ct == PNG_COLOR_TYPE_GRAY_ALPHA) png_set_gray_to_rgb(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    size_t rb = png_get_rowbytes(png, info), total;
    if (rb != (size_t)pw * 3 || !kc_size_mul(rb, ph, &total)) png_error(png, "unexpected row size after conversion");
    pix = malloc(total);
    rows = malloc((size_t)ph * sizeof *rows);
    if (!pix || !rows) {
        s = kc_fail(err, KC_ERR_NOMEM, "%s: out of memory for a %u x %u image", what, (unsigned)pw, (unsigned)ph);
        png_error(png, "oom");
    }
    for (png_uint_32 y = 0; y < ph; y++) rows[y] = pix + (size_t)y * rb;
    png_read_image(png, rows);
    png_read_end(png, NULL); /* checks the remaining chunks' structure and CRCs */
    png_destroy_read_struct(&png, &info, NULL);
    free(rows);
    *w = (int)pw;
    *h = (int)ph;
    *out = pix;
    return KC_OK;
}

/* ---- JPEG read -------------------------------------------------------------------------- */

typedef struct {
    struct jpeg_error_mgr pub;
    err_ctx ec;
} jerr_mgr;

static void jpeg_exit_fn(j_common_ptr ci) {
    jerr_mgr *m = (jerr_mgr *)ci->err;
    (*ci->err->format_message)(ci, m->ec.msg);
    longjmp(m->ec.jb, 1);
}
/* Warnings are corruption reports (e.g. "Premature end of JPEG file", after which libjpeg pads
 * the image with gray): treat them as errors, except stray bytes between markers, which many
 * real files have and which do not damage the pixels. */
static void jpeg_emit_fn(j_common_ptr ci, int level) {
    if (level < 0 && ci->err->msg_code != JWRN_EXTRANEOUS_DATA) jpeg_exit_fn(ci);
}
static void jpeg_output_fn(j_common_ptr ci) { (void)ci; }

static kc_status read_jpeg(const unsigned char *buf, size_t len, const char *what, int *w, int *h, uint8_t **out,
                           kc_err *err) {
    struct jpeg_decompress_struct ci;
    jerr_mgr jm;
    uint8_t *volatile pix = NULL;
    volatile kc_status s = KC_OK;
    memset(&ci, 0, sizeof ci); /* so jpeg_destroy_decompress is safe whatever failed */
    ci.err = jpeg_std_error(&jm.pub);
    jm.pub.error_exit = jpeg_exit_fn;
    jm.pub.emit_message = jpeg_emit_fn;
    jm.pub.output_message = jpeg_output_fn;
    if (setjmp(jm.ec.jb)) {
        jpeg_destroy_decompress(&ci);
        free(pix);
        return s ? s : kc_fail(err, KC_ERR_FORMAT, "%s: bad JPEG: %s", what, jm.ec.msg);
    }
    jpeg_create_decompress(&ci);
    if (len > 0xFFFFFFFFu) ERREXIT(&ci, JERR_INPUT_EOF); /* jpeg_mem_src takes an unsigned long; keep it sane */
    jpeg_mem_src(&ci, buf, (unsigned long)len);
    jpeg_read_header(&ci, TRUE);
    if ((s = check_dims(what, ci.image_width, ci.image_height, err))) ERREXIT(&ci, JERR_IMAGE_TOO_BIG);
    /* No exact bound exists for JPEG (progressive EOB runs compress flat areas without limit), so
     * this is a plausibility check: above 64 MiB of pixels, refuse more than 4096 output bytes per
     * input byte (photos are ~10:1), so a few hundred bytes cannot demand a 768 MiB buffer. */
    uint64_t px = (uint64_t)ci.image_width * ci.image_height * 3;
    if (px > (64u << 20) && px / 4096 > len) {
        s = kc_fail(err, KC_ERR_UNSUPPORTED, "%s: a %u x %u JPEG in %zu bytes is implausible (over 4096:1); refusing",
                    what, ci.image_width, ci.image_height, len);
        ERREXIT(&ci, JERR_IMAGE_TOO_BIG);
    }
    if (ci.jpeg_color_space == JCS_CMYK || ci.jpeg_color_space == JCS_YCCK) {
        s = kc_fail(err, KC_ERR_UNSUPPORTED, "%s: CMYK JPEGs are not supported; convert it to RGB", what);
        ERREXIT(&ci, JERR_CONVERSION_NOTIMPL);
    }
    ci.out_color_space = JCS_RGB;
    jpeg_start_decompress(&ci);
    if (ci.output_components != 3) ERREXIT(&ci, JERR_CONVERSION_NOTIMPL);
    size_t stride = (size_t)ci.output_width * 3, total;
    if (!kc_size_mul(stride, ci.output_height, &total)) ERREXIT(&ci, JERR_IMAGE_TOO_BIG);
    pix = malloc(total);
    if (!pix) {
        s = kc_fail(err, KC_ERR_NOMEM, "%s: out of memory for a %u x %u image", what, ci.output_width, ci.output_height);
        ERREXIT(&ci, JERR_OUT_OF_MEMORY);
    }
    while (ci.output_scanline < ci.output_height) {
        JSAMPROW row = pix + (size_t)ci.output_scanline * stride;
        if (jpeg_read_scanlines(&ci, &row, 1) != 1) ERREXIT(&ci, JERR_INPUT_EOF);
    }
    jpeg_finish_decompress(&ci);
    *w = (int)ci.output_width;
    *h = (int)ci.output_height;
    jpeg_destroy_decompress(&ci);
    *out = pix;
    return KC_OK;
}

/* ---- dispatch --------------------------------------------------------------------------- */

kc_status kc_image_decode(const unsigned char *buf, size_t len, const char *what, int *width, int *height,
                          uint8_t **rgb, kc_err *err) {
    *rgb = NULL;
    *width = *height = 0;
    static const unsigned char png_sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    if (len >= 8 && memcmp(buf, png_sig, 8) == 0) return read_png(buf, len, what, width, height, rgb, err);
    if (len >= 3 && buf[0] == 0xFF && buf[1] == 0xD8 && buf[2] == 0xFF)
        return read_jpeg(buf, len, what, width, height, rgb, err);
    return kc_fail(err, KC_ERR_UNSUPPORTED, "%s: not a PNG or JPEG file (unknown signature)", what);
}

kc_status kc_image_read(const char *path, int *width, int *height, uint8_t **rgb, kc_err *err) {
    *rgb = NULL;
    *width = *height = 0;
    kc_mapfile m;
    kc_status s = kc_mapfile_open(&m, path, err);
    if (s) return s;
    if (m.size > KC_IMAGE_MAX_FILE)
        s = kc_fail(err, KC_ERR_UNSUPPORTED, "%s: %llu bytes is larger than the %u-byte image file limit", path,
                    (unsigned long long)m.size, KC_IMAGE_MAX_FILE);
    else
        s = kc_image_decode(m.data ? m.data : (const unsigned char *)"", (size_t)m.size, path, width, height, rgb, err);
    kc_mapfile_close(&m);
    return s;
}
