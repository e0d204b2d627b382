/* image.h — 8-bit RGB images in and out: PNG write with text chunks (the A1111-style
 * "parameters" chunk), PNG and JPEG read. Pixels are row-major interleaved RGB, [H, W, 3].
 *
 * libpng and libjpeg report errors by longjmp from their error hooks here; nothing prints and
 * nothing exits. Dimensions are checked against KC_IMAGE_MAX_SIDE before any pixel buffer is
 * allocated. */
#ifndef KC_IO_IMAGE_H
#define KC_IO_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"

#define KC_IMAGE_MAX_SIDE 16384             /* per side; 16384^2 RGB = 768 MiB */
#define KC_IMAGE_MAX_FILE (1024u << 20)     /* refuse encoded files above 1 GiB */

/* Writes an 8-bit RGB PNG. Each (keys[i], values[i]) becomes one text chunk, written before the
 * image data, the way PIL's PngInfo.add_text does it: tEXt when the UTF-8 value is encodable in
 * Latin-1 (converted to Latin-1), iTXt (UTF-8, uncompressed) otherwise. Keys must be 1-79
 * printable ASCII characters without leading, trailing or double spaces (PNG keyword rules);
 * values must be valid UTF-8. On failure the partial file is removed. */
kc_status kc_png_write(const char *path, int width, int height, const uint8_t *rgb, int n_text,
                       const char *const *keys, const char *const *values, kc_err *err);

/* Decodes a PNG (any bit depth / color type; alpha dropped, 16-bit scaled to 8) or a JPEG
 * (grayscale or YCbCr; CMYK refused) from memory into a malloc'd RGB buffer. `what` names the
 * source in messages. Truncated or corrupt data is an error (libjpeg's "premature end" warnings
 * included), never a partly gray image. Before the pixel buffer is allocated, a PNG's chunks must
 * lie inside the buffer and its IDAT bytes must be able to inflate to the image; a JPEG above
 * 64 MiB of pixels must not claim over 4096 output bytes per input byte. */
kc_status kc_image_decode(const unsigned char *buf, size_t len, const char *what, int *width, int *height,
                          uint8_t **rgb, kc_err *err);
/* Reads a whole file (format from its signature, not its name) and decodes it. */
kc_status kc_image_read(const char *path, int *width, int *height, uint8_t **rgb, kc_err *err);

#endif
