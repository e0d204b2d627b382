#!/usr/bin/env python3
"""Regenerates tests/io/corrupt/: small PyTorch-zip, pickle, safetensors and JSON fixtures, good and
hostile, for test_torchzip.c and the fuzz regression driver. Needs torch (Debian python3-torch 1.13
was used) only for the torch.save-written files; the rest are built byte by byte here so that each
defect is exactly the one named. Files named fuzz_* are inputs found by the fuzzers, kept as found. Run: /usr/bin/python3 tests/io/make_corrupt.py tests/io/corrupt"""
import io, os, struct, sys, zipfile, zlib

out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "corrupt")
os.makedirs(out, exist_ok=True)


def put(name, data):
    assert len(data) < 64 * 1024, name
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)


def write_zip(entries, zip64=False, align=64, method=0):
    """A minimal ZIP writer (stored entries, PyTorch-style 64-byte data alignment through the local
    extra field). zip64=True saturates every size/offset field and writes the zip64 records."""
    body, central = bytearray(), bytearray()
    for name, data in entries:
        nb = name.encode()
        off = len(body)
        crc = zlib.crc32(data)
        pad = (-(off + 30 + len(nb) + 4)) % align
        lextra = struct.pack("<HH", 0x4B50 if pad else 0xFFFF, pad) + b"\0" * pad if True else b""
        body += struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, method, 0, 0, crc, len(data), len(data), len(nb), len(lextra))
        body += nb + lextra + data
        if zip64:
            cextra = struct.pack("<HHQQQ", 1, 24, len(data), len(data), off)
            central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 45, 45, 0, method, 0, 0, crc, 0xFFFFFFFF, 0xFFFFFFFF,
                                   len(nb), len(cextra), 0, 0, 0, 0, 0xFFFFFFFF) + nb + cextra
        else:
            central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, method, 0, 0, crc, len(data), len(data),
                                   len(nb), 0, 0, 0, 0, 0, off) + nb
    cd_off, cd_size, n = len(body), len(central), len(entries)
    tail = bytearray()
    if zip64:
        z = cd_off + cd_size
        tail += struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, n, n, cd_size, cd_off)
        tail += struct.pack("<IIQI", 0x07064B50, 0, z, 1)
        tail += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    else:
        tail += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, n, n, cd_size, cd_off, 0)
    return bytes(body + central + tail)


# ---- the reference state dict: values the C test recomputes ----------------------------------
f32 = struct.pack("<12f", *[i * 0.5 - 2.0 for i in range(12)])           # [3,4] F32
base = struct.pack("<20f", *[float(i) for i in range(20)])                # storage of 'base' and 'view'
f16 = struct.pack("<6e", *[i * 0.25 - 0.5 for i in range(6)])            # [2,3] F16
bf16 = b"".join(struct.pack("<f", i * 2.0 - 3.0)[2:] for i in range(4))  # [4] BF16 (exact in bf16)


def P(s):
    return b"X" + struct.pack("<I", len(s)) + s.encode()


def I(v):
    return b"K" + bytes([v]) if 0 <= v < 256 else b"J" + struct.pack("<i", v)


def tup(vals):
    return b"(" + b"".join(vals) + b"t"


def tensor(cls, key, numel, off, size, stride):
    pid = tup([P("storage"), b"ctorch\n" + cls.encode() + b"\n", P(key), P("cpu"), I(numel)])
    return (b"ctorch._utils\n_rebuild_tensor_v2\n" + b"(" + pid + b"Q" + I(off) + tup([I(x) for x in size]) +
            tup([I(x) for x in stride]) + b"\x89" + b"ccollections\nOrderedDict\n)R" + b"tR")


def state_pickle(items, proto=b"\x80\x02"):
    return proto + b"ccollections\nOrderedDict\n)R(" + b"".join(P(k) + v for k, v in items) + b"u."


GOOD_ITEMS = [
    ("f32", tensor("FloatStorage", "0", 12, 0, [3, 4], [4, 1])),
    ("base", tensor("FloatStorage", "1", 20, 0, [20], [1])),
    ("view", tensor("FloatStorage", "1", 20, 5, [2, 3], [3, 1])),
    ("h", tensor("HalfStorage", "2", 6, 0, [2, 3], [3, 1])),
    ("b", tensor("BFloat16Storage", "3", 4, 0, [4], [1])),
]
STORAGES = [("0", f32), ("1", base), ("2", f16), ("3", bf16)]


def ckpt(pkl, root="archive", storages=STORAGES, zip64=False, extra=()):
    ents = [(root + "/data.pkl", pkl)] + [(root + "/data/" + k, v) for k, v in storages]
    ents += [(root + "/version", b"3\n")] + list(extra)
    return write_zip(ents, zip64=zip64)


good_pkl = state_pickle(GOOD_ITEMS)
put("tz_good.pt", ckpt(good_pkl))
put("tz_good_zip64.pt", ckpt(good_pkl, root="tz_good_zip64", zip64=True))
put("tz_good_byteorder.pt", ckpt(good_pkl, extra=[("archive/byteorder", b"little")]))
# Defects, one each.
put("tz_pkl_crc.pt", ckpt(good_pkl).replace(P("f32"), P("f33"), 1))  # pickle byte changed, CRC not
put("tz_bigendian.pt", ckpt(good_pkl, extra=[("archive/byteorder", b"big")]))
put("tz_truncated.pt", ckpt(good_pkl)[:700])
put("tz_no_eocd.pt", ckpt(good_pkl)[:-22])
put("tz_hostile_os_system.pt", ckpt(b"\x80\x02cos\nsystem\nq\x00X\x07\x00\x00\x00echo hiq\x01\x85q\x02Rq\x03."))
put("tz_hostile_eval.pt", ckpt(b"\x80\x02cbuiltins\neval\nX\x04\x00\x00\x001+1\x85R."))
put("tz_unknown_opcode.pt", ckpt(b"\x80\x02}(X\x01\x00\x00\x00aG@\x09\x21\xfb\x54\x44\x2d\x18u."))  # BINFLOAT
put("tz_inst_opcode.pt", ckpt(b"\x80\x02(ios\nsystem\nX\x02\x00\x00\x00id."))  # INST runs a callable: refused
put("tz_memo_bomb.pt", ckpt(b"\x80\x02}r\xff\xff\xff\xff."))
put("tz_memo_missing.pt", ckpt(b"\x80\x02j\x05\x00\x00\x00."))
put("tz_no_stop.pt", ckpt(good_pkl[:-1]))
put("tz_underflow.pt", ckpt(b"\x80\x02t."))
put("tz_not_tensor.pt", ckpt(state_pickle([("x", I(5))])))
put("tz_storage_range.pt", ckpt(state_pickle([("v", tensor("FloatStorage", "1", 20, 15, [2, 3], [3, 1]))])))
put("tz_noncontig.pt", ckpt(state_pickle([("t", tensor("FloatStorage", "0", 12, 0, [4, 3], [1, 4]))])))
put("tz_missing_storage.pt", ckpt(state_pickle([("m", tensor("FloatStorage", "9", 12, 0, [12], [1]))])))
put("tz_storage_size.pt", ckpt(state_pickle([("s", tensor("FloatStorage", "0", 13, 0, [13], [1]))])))
put("tz_dtype_mismatch.pt", ckpt(state_pickle([("s", tensor("HalfStorage", "0", 24, 0, [24], [1])),
                                              ("t", tensor("FloatStorage", "0", 12, 0, [12], [1]))])))
put("tz_bad_key.pt", ckpt(state_pickle([("k", tensor("FloatStorage", "../0", 12, 0, [12], [1]))])))
put("tz_no_pkl.pt", write_zip([("archive/data/0", f32)]))
put("tz_outside_root.pt", ckpt(good_pkl, extra=[("evil/x", b"x")]))
put("tz_duplicate_entry.pt", ckpt(good_pkl, extra=[("archive/data/0", f32)]))
buf = io.BytesIO()
with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:  # fixed timestamps: reproducible bytes
    z.writestr(zipfile.ZipInfo("archive/data.pkl", (1980, 1, 1, 0, 0, 0)), good_pkl, zipfile.ZIP_DEFLATED)
    for k, v in STORAGES:
        z.writestr(zipfile.ZipInfo("archive/data/" + k, (1980, 1, 1, 0, 0, 0)), v, zipfile.ZIP_DEFLATED)
put("tz_deflated.pt", buf.getvalue())
# Central directory pointing past the end / local header offset into garbage.
g = bytearray(ckpt(good_pkl))
eocd = len(g) - 22
struct.pack_into("<I", g, eocd + 16, len(g) + 1000)
put("tz_cd_offset.pt", bytes(g))
g = bytearray(ckpt(good_pkl))
cd = struct.unpack_from("<I", g, eocd + 16)[0]
struct.pack_into("<I", g, cd + 42, 3)  # first entry's local header offset -> not a header
put("tz_local_offset.pt", bytes(g))
g = bytearray(ckpt(good_pkl))
struct.pack_into("<I", g, cd + 24, 0x7FFFFFF0)  # first entry's size -> past the directory
struct.pack_into("<I", g, cd + 20, 0x7FFFFFF0)
put("tz_entry_size.pt", bytes(g))

# torch.save-written checkpoints (the real writer), when torch is importable.
try:
    import torch
    from collections import OrderedDict
    lin = torch.nn.Linear(3, 2)
    with torch.no_grad():
        lin.weight.copy_(torch.arange(6, dtype=torch.float32).view(2, 3) * 0.5 - 1)
        lin.bias.copy_(torch.tensor([0.25, -0.75]))
    b = io.BytesIO()
    torch.save(lin.state_dict(), b)  # OrderedDict with _metadata -> BUILD
    put("torch_linear.pt", b.getvalue())
    sd = OrderedDict()
    sd["bf16"] = (torch.arange(8, dtype=torch.float32) - 3).to(torch.bfloat16)
    sd["f16"] = (torch.arange(6, dtype=torch.float32) * 0.25).to(torch.float16).view(2, 3)
    big = torch.arange(10, dtype=torch.float32)
    sd["slice"] = big[4:10].view(3, 2)  # storage_offset 4, shared storage
    sd["big"] = big
    sd["i64"] = torch.arange(5, dtype=torch.int64)
    sd["scalar"] = torch.tensor(2.5)
    b = io.BytesIO()
    torch.save(sd, b)
    put("torch_mixed.pt", b.getvalue())
    b = io.BytesIO()
    torch.save({"t": torch.arange(12, dtype=torch.float32).view(3, 4).t()}, b)
    put("torch_noncontig.pt", b.getvalue())
    b = io.BytesIO()
    torch.save({"t": torch.arange(4, dtype=torch.float32)}, b, _use_new_zipfile_serialization=False)
    put("torch_legacy.pt", b.getvalue())  # pre-1.6 format: refused with a hint, not parsed
except ImportError:
    print("torch not importable: torch_*.pt not regenerated", file=sys.stderr)

# safetensors and JSON inputs for the other fuzz targets' corpus.
put("st_good.safetensors", struct.pack("<Q", 64) + b'{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}'.ljust(64) + f32[:8])
put("st_hlen_huge.safetensors", struct.pack("<Q", 2**63) + b"{}")
put("st_overlap.safetensors", struct.pack("<Q", 96) + b'{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}'.ljust(96)[:96] + f32[:8])
put("st_deep.safetensors", struct.pack("<Q", 2000) + b"[" * 2000)
put("json_config.json", b'{"_class_name":"UNet2DConditionModel","in_channels":4,"block_out_channels":[32,64],"attention_head_dim":[2,4]}')
put("json_deep.json", b"[" * 5000)
put("json_index.json", b'{"metadata":{"total_size":8},"weight_map":{"a":"../x.safetensors"}}')
print("wrote", out)
