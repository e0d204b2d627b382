#!/usr/bin/env python3
"""st_tool.py — cut and compare safetensors files for the CLI shell tests (standard library only).

  st_tool.py cut SRC DST PREFIX [drop=NAME] [edit=NAME:D0,D1,...]
      copies the tensors PREFIX.* of SRC (except PREFIX.dbg.* and PREFIX.out) to DST without the
      prefix; drop=NAME leaves one out; edit=NAME:SHAPE gives one tensor another shape (its bytes
      repeated or truncated to fit), to make malformed inputs.
  st_tool.py cmp A NAME_A B NAME_B TOL
      relative L2 of two F32 tensors; exit 0 when <= TOL.
"""
import json
import math
import struct
import sys


def read(path):
    b = open(path, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    hdr = json.loads(b[8:8 + n])
    hdr.pop("__metadata__", None)
    base = 8 + n
    return {k: (v["dtype"], v["shape"], b[base + v["data_offsets"][0]:base + v["data_offsets"][1]])
            for k, v in hdr.items()}


def write(path, tensors):
    hdr, off, blobs = {}, 0, []
    for k, (dtype, shape, raw) in tensors.items():
        hdr[k] = {"dtype": dtype, "shape": shape, "data_offsets": [off, off + len(raw)]}
        off += len(raw)
        blobs.append(raw)
    j = json.dumps(hdr).encode()
    j += b" " * (-len(j) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(j)) + j + b"".join(blobs))


def f32(raw):
    return struct.unpack("<%df" % (len(raw) // 4), raw)


def cut(src, dst, prefix, edits):
    out = {}
    for k, v in read(src).items():
        if k.startswith(prefix + ".") and ".dbg." not in k and not k.endswith(".out"):
            out[k[len(prefix) + 1:]] = v
    for e in edits:
        kind, arg = e.split("=", 1)
        if kind == "drop":
            out.pop(arg)
        elif kind == "edit":
            name, dims = arg.split(":")
            shape = [int(x) for x in dims.split(",")] if dims else []
            dtype, _, raw = out[name]
            count = 1
            for d in shape:
                count *= d
            need = count * 4
            raw = (raw * (need // max(len(raw), 1) + 1))[:need]
            out[name] = (dtype, shape, raw)
    write(dst, out)


def cmp(a, name_a, b, name_b, tol):
    x, y = read(a)[name_a], read(b)[name_b]
    if x[1] != y[1]:
        sys.exit("shape %s vs %s" % (x[1], y[1]))
    x, y = f32(x[2]), f32(y[2])
    r = math.sqrt(sum((p - q) ** 2 for p, q in zip(x, y)) / sum(q * q for q in y))
    print("%s vs %s: rel-L2 %.3g (tol %s)" % (name_a, name_b, r, tol))
    return 0 if r <= float(tol) else 1


if __name__ == "__main__":
    if sys.argv[1] == "cut":
        cut(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:])
    else:
        sys.exit(cmp(*sys.argv[2:7]))
