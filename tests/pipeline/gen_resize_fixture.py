#!/usr/bin/env python3
"""Writes resize_fixture.h: a small RGB image and Pillow's Image.resize(size, Image.LANCZOS) of it
for several sizes (down, up, one axis only, a large factor), the resize diffusers applies to an
img2img init image. Needs Pillow (Debian: python3-pil). Run: python3 gen_resize_fixture.py"""
import os
import textwrap
import PIL
from PIL import Image

W, H = 23, 17
pix = bytearray()
s = 12345
for y in range(H):
    for x in range(W):
        s = (s * 1103515245 + 12345) & 0x7FFFFFFF
        r = (x * 255) // (W - 1)                      # horizontal ramp
        g = 255 if (x // 4 + y // 4) % 2 else 0       # hard-edged checker: exercises clamping
        b = (s >> 16) & 0xFF                          # noise
        pix += bytes((r, g, b))
img = Image.frombytes("RGB", (W, H), bytes(pix))
sizes = [(16, 8), (48, 40), (23, 24), (10, 17), (5, 3)]

def arr(values):
    return "\n".join(textwrap.wrap(", ".join(str(v) for v in values), 110, break_on_hyphens=False))


out = ["/* resize_fixture.h - written by gen_resize_fixture.py with Pillow %s: Image.resize(size, Image.LANCZOS) */" % PIL.__version__,
       "#include <stdint.h>",
       "static const int k_resize_src_w = %d, k_resize_src_h = %d;" % (W, H),
       "static const uint8_t k_resize_src[] = {\n%s};" % arr(pix),
       "static const struct { int w, h; const uint8_t *rgb; } k_resize_cases[] = {"]
for (w, h) in sizes:
    data = img.resize((w, h), Image.LANCZOS).tobytes()
    out.append("    {%d, %d, (const uint8_t[]){\n%s}}," % (w, h, arr(data)))
out.append("};")
path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "resize_fixture.h")
with open(path, "w") as f:
    f.write("\n".join(out) + "\n")
print("wrote", path)
