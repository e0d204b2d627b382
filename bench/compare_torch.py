#!/usr/bin/python3
"""compare_torch.py — the same workloads as `kolors bench`, in PyTorch, in the same run.
(unet, text-encoder, vae-decode, vae-encode)

For each workload and precision it runs `kolors bench ...` (the JSON line), then the same shapes in
plain PyTorch (own code below, written from kolors-model.md §3-§5: no diffusers / transformers;
random weights), and prints one JSON line with both medians and the ratio kolors.c / torch
(< 1: kolors.c is faster). The work (gflop) is kolors.c's analytic count; torch_gflops divides the
same count by torch's time.

Needs PyTorch (Debian python3-torch 1.13 is what the figures in docs/performance.md used: run it
with /usr/bin/python3, which has torch). Reduced runs mirror the kolors bench flags:
  --layers L   text-encoder: first L of 28 ChatGLM blocks; unet: every transformer depth capped at L
  --div K      unet / vae-*: every channel width divided by K
torch bf16 runs cast weights and inputs to bfloat16 (--bf16-mode cast, default) or run the fp32
model under torch.cpu.amp.autocast(dtype=bfloat16) (--bf16-mode autocast).

Examples (2 threads; memory is the larger of the two processes, they run one after the other):
  bench/compare_torch.py unet -W 512 -H 512 --threads 2              # ~5.2 GB kolors, ~10.3 GB torch fp32
  bench/compare_torch.py text-encoder --layers 4 --threads 2         # 4 of 28 layers, projected
  bench/compare_torch.py vae-decode -W 1024 -H 1024 --threads 2 --precision bf16
  bench/compare_torch.py unet --layers 1 --div 4 -W 256 -H 256 --threads 2   # quick (seconds)
"""
import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

# ---- shared pieces ------------------------------------------------------------------------------


def attend(q, k, v, scale, mask=None):
    """softmax(q kᵀ · scale + mask) v, q/k/v [B, heads, S, D]; query chunks keep the score block
    under ~128 M elements (the 1024² VAE attention is a 16384² matrix)."""
    out = torch.empty(q.shape[:-1] + (v.shape[-1],), dtype=q.dtype)
    step = max(1, (1 << 27) // max(1, q.shape[0] * q.shape[1] * k.shape[2]))
    for i in range(0, q.shape[2], step):
        s = torch.matmul(q[:, :, i:i + step], k.transpose(-1, -2)) * scale
        if mask is not None:
            s = s + mask[:, :, i:i + step]
        out[:, :, i:i + step] = torch.matmul(s.softmax(-1), v)
    return out


class Resnet(nn.Module):
    """ResnetBlock2D (§4.5): GN-SiLU-conv, + temb projection (U-Net), GN-SiLU-conv, shortcut."""

    def __init__(self, cin, cout, temb, groups, eps):
        super().__init__()
        self.n1, self.c1 = nn.GroupNorm(groups, cin, eps), nn.Conv2d(cin, cout, 3, padding=1)
        self.t = nn.Linear(temb, cout) if temb else None
        self.n2, self.c2 = nn.GroupNorm(groups, cout, eps), nn.Conv2d(cout, cout, 3, padding=1)
        self.sc = nn.Conv2d(cin, cout, 1) if cin != cout else None

    def forward(self, x, emb=None):
        h = self.c1(F.silu(self.n1(x)))
        if self.t is not None:
            h = h + self.t(F.silu(emb))[:, :, None, None]
        h = self.c2(F.silu(self.n2(h)))
        return (x if self.sc is None else self.sc(x)) + h


class Upsample(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, padding=1)

    def forward(self, x):
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


def sinusoid(t, dim):
    """§4.2 with flip_sin_to_cos = true, freq_shift = 0: [cos | sin]."""
    half = dim // 2
    f = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32) / half)
    a = t.float()[:, None] * f[None]
    return torch.cat([torch.cos(a), torch.sin(a)], dim=-1)


# ---- U-Net (§4) ---------------------------------------------------------------------------------


class Attention(nn.Module):
    def __init__(self, c, ctx_dim, heads):
        super().__init__()
        self.q = nn.Linear(c, c, bias=False)
        self.k = nn.Linear(ctx_dim, c, bias=False)
        self.v = nn.Linear(ctx_dim, c, bias=False)
        self.o = nn.Linear(c, c)
        self.heads = heads

    def forward(self, x, ctx):
        B, S, C = x.shape
        h, d = self.heads, C // self.heads
        q = self.q(x).view(B, S, h, d).transpose(1, 2)
        k = self.k(ctx).view(B, -1, h, d).transpose(1, 2)
        v = self.v(ctx).view(B, -1, h, d).transpose(1, 2)
        return self.o(attend(q, k, v, d ** -0.5).transpose(1, 2).reshape(B, S, C))


class BasicTransformerBlock(nn.Module):
    def __init__(self, c, cross, heads):
        super().__init__()
        self.ln1, self.a1 = nn.LayerNorm(c), Attention(c, c, heads)
        self.ln2, self.a2 = nn.LayerNorm(c), Attention(c, cross, heads)
        self.ln3, self.ff0, self.ff2 = nn.LayerNorm(c), nn.Linear(c, 8 * c), nn.Linear(4 * c, c)

    def forward(self, t, ctx):
        h = self.ln1(t)
        t = t + self.a1(h, h)
        t = t + self.a2(self.ln2(t), ctx)
        val, gate = self.ff0(self.ln3(t)).chunk(2, dim=-1)
        return t + self.ff2(val * F.gelu(gate))


class Transformer2D(nn.Module):
    def __init__(self, c, cross, heads, depth, groups):
        super().__init__()
        self.norm = nn.GroupNorm(groups, c, 1e-6)
        self.pin, self.pout = nn.Linear(c, c), nn.Linear(c, c)
        self.blocks = nn.ModuleList(BasicTransformerBlock(c, cross, heads) for _ in range(depth))

    def forward(self, x, ctx):
        N, C, H, W = x.shape
        t = self.pin(self.norm(x).permute(0, 2, 3, 1).reshape(N, H * W, C))
        for b in self.blocks:
            t = b(t, ctx)
        return self.pout(t).reshape(N, H, W, C).permute(0, 3, 1, 2) + x


def unet_heads(c, heads):
    """As kc_bench_unet_reduce: head dim 64 where the width allows it."""
    if c % 64 == 0:
        return c // 64
    while heads > 1 and c % heads:
        heads -= 1
    return heads


class UNet(nn.Module):
    """Kolors U-Net (§4.6), block widths bo, transformer depths depth, 2 resnets per down block."""

    def __init__(self, bo=(320, 640, 1280), depth=(1, 2, 10), heads=(5, 10, 20), layers=2, cross=2048, hid=4096,
                 pooled=4096, tdim=256, groups=32):
        super().__init__()
        c0, temb, B = bo[0], 4 * bo[0], len(bo)
        down_attn = [i > 0 for i in range(B)]
        up_attn = [i < B - 1 for i in range(B)]
        hd = [unet_heads(c, h) for c, h in zip(bo, heads)]
        self.tdim = tdim
        self.time1, self.time2 = nn.Linear(c0, temb), nn.Linear(temb, temb)
        self.add1, self.add2 = nn.Linear(pooled + 6 * tdim, temb), nn.Linear(temb, temb)
        self.hid = nn.Linear(hid, cross)
        self.conv_in = nn.Conv2d(4, c0, 3, padding=1)
        self.down = nn.ModuleList()
        skips, cur = [c0], c0
        for i, c in enumerate(bo):
            blk = nn.ModuleList()
            for _ in range(layers):
                blk.append(Resnet(cur, c, temb, groups, 1e-5))
                blk.append(Transformer2D(c, cross, hd[i], depth[i], groups) if down_attn[i] else nn.Identity())
                cur = c
                skips.append(c)
            if i < B - 1:
                blk.append(nn.Conv2d(c, c, 3, stride=2, padding=1))
                skips.append(c)
            self.down.append(blk)
        self.mid1 = Resnet(cur, cur, temb, groups, 1e-5)
        self.midt = Transformer2D(cur, cross, hd[-1], depth[-1], groups)
        self.mid2 = Resnet(cur, cur, temb, groups, 1e-5)
        self.up = nn.ModuleList()
        for i in range(B):
            c = bo[B - 1 - i]
            blk = nn.ModuleList()
            for _ in range(layers + 1):
                blk.append(Resnet(cur + skips.pop(), c, temb, groups, 1e-5))
                blk.append(Transformer2D(c, cross, hd[B - 1 - i], depth[B - 1 - i], groups) if up_attn[i] else nn.Identity())
                cur = c
            if i < B - 1:
                blk.append(Upsample(c))
            self.up.append(blk)
        self.norm_out, self.conv_out = nn.GroupNorm(groups, c0, 1e-5), nn.Conv2d(c0, 4, 3, padding=1)
        self.layers = layers

    def forward(self, sample, t, ehs, text_embeds, time_ids):
        dt = self.conv_in.weight.dtype
        emb = self.time2(F.silu(self.time1(sinusoid(t, self.time1.in_features).to(dt))))
        tid = torch.cat([sinusoid(time_ids[:, k], self.tdim) for k in range(6)], dim=-1).to(dt)
        emb = emb + self.add2(F.silu(self.add1(torch.cat([text_embeds, tid], dim=-1))))
        ctx = self.hid(ehs)
        x = self.conv_in(sample)
        skips = [x]
        for blk in self.down:
            for j in range(self.layers):
                x = blk[2 * j](x, emb)
                if not isinstance(blk[2 * j + 1], nn.Identity):
                    x = blk[2 * j + 1](x, ctx)
                skips.append(x)
            if len(blk) > 2 * self.layers:
                x = blk[-1](x)
                skips.append(x)
        x = self.mid2(self.midt(self.mid1(x, emb), ctx), emb)
        for blk in self.up:
            for j in range(self.layers + 1):
                x = blk[2 * j](torch.cat([x, skips.pop()], dim=1), emb)
                if not isinstance(blk[2 * j + 1], nn.Identity):
                    x = blk[2 * j + 1](x, ctx)
            if len(blk) > 2 * (self.layers + 1):
                x = blk[-1](x)
        return self.conv_out(F.silu(self.norm_out(x)))


# ---- VAE decoder (§5.1) -------------------------------------------------------------------------


class VAEAttn(nn.Module):
    def __init__(self, c, groups):
        super().__init__()
        self.norm = nn.GroupNorm(groups, c, 1e-6)
        self.q, self.k, self.v, self.o = (nn.Linear(c, c) for _ in range(4))

    def forward(self, x):
        N, C, H, W = x.shape
        t = self.norm(x).permute(0, 2, 3, 1).reshape(N, 1, H * W, C)
        o = self.o(attend(self.q(t), self.k(t), self.v(t), C ** -0.5))
        return o.reshape(N, H, W, C).permute(0, 3, 1, 2) + x


class VAEDecoder(nn.Module):
    def __init__(self, bo=(128, 256, 512, 512), layers=2, groups=32, z=4):
        super().__init__()
        rb = list(reversed(bo))
        self.pqc = nn.Conv2d(z, z, 1)
        self.conv_in = nn.Conv2d(z, rb[0], 3, padding=1)
        self.mid = nn.Sequential(Resnet(rb[0], rb[0], 0, groups, 1e-6), VAEAttn(rb[0], groups),
                                 Resnet(rb[0], rb[0], 0, groups, 1e-6))
        ups, cur = [], rb[0]
        for i, c in enumerate(rb):
            for _ in range(layers + 1):
                ups.append(Resnet(cur, c, 0, groups, 1e-6))
                cur = c
            if i < len(rb) - 1:
                ups.append(Upsample(c))
        self.up = nn.Sequential(*ups)
        self.norm_out, self.conv_out = nn.GroupNorm(groups, cur, 1e-6), nn.Conv2d(cur, 3, 3, padding=1)

    def forward(self, z):
        x = self.mid(self.conv_in(self.pqc(z)))
        return self.conv_out(F.silu(self.norm_out(self.up(x))))


class VAEEncoder(nn.Module):
    """§5.2: conv_in, down blocks (2 resnets + asymmetric-pad stride-2 conv but the last), mid,
    GN-SiLU-conv_out to 2Z moments, quant_conv."""

    def __init__(self, bo=(128, 256, 512, 512), layers=2, groups=32, z=4):
        super().__init__()
        self.conv_in = nn.Conv2d(3, bo[0], 3, padding=1)
        downs, cur = [], bo[0]
        for i, c in enumerate(bo):
            for _ in range(layers):
                downs.append(Resnet(cur, c, 0, groups, 1e-6))
                cur = c
            if i < len(bo) - 1:
                downs += [nn.ZeroPad2d((0, 1, 0, 1)), nn.Conv2d(c, c, 3, stride=2)]
        self.down = nn.Sequential(*downs)
        self.mid = nn.Sequential(Resnet(cur, cur, 0, groups, 1e-6), VAEAttn(cur, groups), Resnet(cur, cur, 0, groups, 1e-6))
        self.norm_out, self.conv_out = nn.GroupNorm(groups, cur, 1e-6), nn.Conv2d(cur, 2 * z, 3, padding=1)
        self.qc = nn.Conv2d(2 * z, 2 * z, 1)

    def forward(self, img):
        x = self.mid(self.down(self.conv_in(img)))
        return self.qc(self.conv_out(F.silu(self.norm_out(x))))


# ---- ChatGLM3 (§3) ------------------------------------------------------------------------------


class RMSNorm(nn.Module):
    def __init__(self, d, eps=1e-5):
        super().__init__()
        self.w, self.eps = nn.Parameter(torch.ones(d)), eps

    def forward(self, x):
        xf = x.float()
        return (self.w * (xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps)).to(x.dtype))


def rope(x, cos, sin):
    """Interleaved pairs on the first 64 dims of each head (§3.3). x [B, S, h, D]; cos/sin [B, S, 32]."""
    r, p = x[..., :64], x[..., 64:]
    a, b = r[..., 0::2], r[..., 1::2]
    c, s = cos[:, :, None].to(x.dtype), sin[:, :, None].to(x.dtype)
    r = torch.stack([a * c - b * s, b * c + a * s], dim=-1).flatten(-2)
    return torch.cat([r, p], dim=-1)


class GLMBlock(nn.Module):
    def __init__(self, H=4096, heads=32, D=128, groups=2, ffn=13696):
        super().__init__()
        self.n1, self.n2 = RMSNorm(H), RMSNorm(H)
        self.qkv = nn.Linear(H, heads * D + 2 * groups * D, bias=True)
        self.dense = nn.Linear(heads * D, H, bias=False)
        self.h4 = nn.Linear(H, 2 * ffn, bias=False)
        self.h4h = nn.Linear(ffn, H, bias=False)
        self.heads, self.D, self.groups = heads, D, groups

    def forward(self, x, cos, sin, mask):
        B, S, _ = x.shape
        h, D, g = self.heads, self.D, self.groups
        qkv = self.qkv(self.n1(x))
        q = rope(qkv[..., :h * D].view(B, S, h, D), cos, sin)
        k = rope(qkv[..., h * D:(h + g) * D].view(B, S, g, D), cos, sin)
        v = qkv[..., (h + g) * D:].view(B, S, g, D)
        k = k.repeat_interleave(h // g, dim=2)
        v = v.repeat_interleave(h // g, dim=2)
        o = attend(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), D ** -0.5, mask)
        x = x + self.dense(o.transpose(1, 2).reshape(B, S, h * D))
        gate, val = self.h4(self.n2(x)).chunk(2, dim=-1)
        return x + self.h4h(F.silu(gate) * val)


class ChatGLM(nn.Module):
    def __init__(self, layers, vocab=4096, H=4096):
        super().__init__()
        self.emb = nn.Embedding(vocab, H)
        self.blocks = nn.ModuleList(GLMBlock(H) for _ in range(layers))
        self.final = RMSNorm(H)

    def forward(self, ids, mask01, pos):
        x = self.emb(ids)
        theta = 10000.0 ** (-torch.arange(0, 64, 2, dtype=torch.float32) / 64)
        ang = pos.float()[..., None] * theta
        cos, sin = torch.cos(ang), torch.sin(ang)
        S = ids.shape[1]
        allow = torch.tril(torch.ones(S, S))[None] * mask01[:, None, :].float()
        allow = allow + (1 - mask01.float())[:, :, None]
        mask = torch.where(allow >= 0.5, 0.0, float("-inf"))[:, None].to(x.dtype)
        for b in self.blocks:
            x = b(x, cos, sin, mask)
        return self.final(x)


# ---- driver -------------------------------------------------------------------------------------


def build(a, dtype):
    """The model and its inputs for workload a.workload, weights in dtype."""
    torch.manual_seed(0)
    if a.workload == "unet":
        bo = [c // a.div for c in (320, 640, 1280)]
        depth = [min(d, a.layers) if a.layers else d for d in (1, 2, 10)]
        m = UNet(bo=bo, depth=depth)
        N, h, w, T = a.batch or 2, a.height // 8, a.width // 8, a.tokens
        inputs = (torch.rand(N, 4, h, w) * 2 - 1, torch.full((N,), 500.0), torch.rand(N, T, 4096) * 2 - 1,
                  torch.rand(N, 4096) * 2 - 1,
                  torch.tensor([[a.height, a.width, 0, 0, a.height, a.width]] * N, dtype=torch.float32))
        cast = (True, False, True, True, False)
    elif a.workload == "vae-decode":
        m = VAEDecoder(bo=[c // a.div for c in (128, 256, 512, 512)])
        inputs = ((torch.rand(a.batch or 1, 4, a.height // 8, a.width // 8) * 2 - 1) * 1.7,)
        cast = (True,)
    elif a.workload == "vae-encode":
        m = VAEEncoder(bo=[c // a.div for c in (128, 256, 512, 512)])
        inputs = (torch.rand(a.batch or 1, 3, a.height, a.width) * 2 - 1,)
        cast = (True,)
    else:
        m = ChatGLM(a.layers or 28)
        N, T = a.batch or 2, a.tokens
        ids = torch.zeros(N, T, dtype=torch.long)
        mask = torch.zeros(N, T, dtype=torch.long)
        pos = torch.zeros(N, T, dtype=torch.long)
        for b in range(N):
            real = min(T, 60) if b % 2 == 0 else min(T, 2)
            mask[b, T - real:] = 1
            pos[b, T - real:] = torch.arange(real)
            ids[b, T - real:] = (torch.arange(T - real, T) * 7919 + b * 31) % 4096
        inputs, cast = (ids, mask, pos), (False, False, False)
    m = m.to(dtype).eval()
    inputs = tuple(x.to(dtype) if c else x for x, c in zip(inputs, cast))
    return m, inputs


def time_torch(a, precision):
    torch.set_num_threads(a.threads)
    autocast = precision == "bf16" and a.bf16_mode == "autocast"
    dtype = torch.bfloat16 if precision == "bf16" and not autocast else torch.float32
    t0 = time.time()
    m, inputs = build(a, dtype)
    setup = time.time() - t0
    times = []
    with torch.inference_mode(), torch.cpu.amp.autocast(enabled=autocast, dtype=torch.bfloat16):
        for i in range(a.warmup + a.repeat):
            t0 = time.time()
            y = m(*inputs)
            if i >= a.warmup:
                times.append(time.time() - t0)
    finite = bool(torch.isfinite(y.float()).all())
    del m, inputs, y
    return statistics.median(times), min(times), setup, finite


def kolors_cmd(a, precision):
    cmd = [a.kolors, "bench", a.workload, "--random-weights", "--threads", str(a.threads), "--precision", precision,
           "--repeat", str(a.repeat), "--warmup", str(a.warmup)]
    if a.workload != "text-encoder":
        cmd += ["-W", str(a.width), "-H", str(a.height)]
    if not a.workload.startswith("vae-"):
        cmd += ["--tokens", str(a.tokens)]
        if a.layers:
            cmd += ["--layers", str(a.layers)]
    if a.batch:
        cmd += ["--batch", str(a.batch)]
    if a.div > 1:
        cmd += ["--div", str(a.div)]
    if a.isa:
        cmd += ["--isa", a.isa]
    return cmd


def default_kolors():
    here = os.path.dirname(os.path.abspath(__file__))
    for p in (os.environ.get("KOLORS_CLI"), os.path.join(here, "..", "build", "kolors")):
        if p and os.path.exists(p):
            return p
    return "kolors"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("workload", choices=["unet", "text-encoder", "vae-decode", "vae-encode"])
    ap.add_argument("-W", "--width", type=int, default=1024)
    ap.add_argument("-H", "--height", type=int, default=1024)
    ap.add_argument("--batch", type=int, default=0, help="default 2 (unet, text-encoder) or 1 (vae-*)")
    ap.add_argument("--tokens", type=int, default=256)
    ap.add_argument("--layers", type=int, default=0)
    ap.add_argument("--div", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--warmup", type=int, default=0)
    ap.add_argument("--precision", choices=["bf16", "fp32", "both"], default="both")
    ap.add_argument("--bf16-mode", choices=["cast", "autocast"], default="cast")
    ap.add_argument("--isa", default=None, help="kolors.c kernel table (default: best)")
    ap.add_argument("--kolors", default=default_kolors(), help="the kolors CLI (default: $KOLORS_CLI or build/kolors)")
    ap.add_argument("--skip-kolors", action="store_true", help="time torch only")
    a = ap.parse_args()
    if a.width % 8 or a.height % 8 or a.div < 1 or a.layers < 0 or a.repeat < 1 or a.threads < 1:
        ap.error("sizes must be multiples of 8; --div >= 1, --layers >= 0, --repeat >= 1, --threads >= 1")
    if a.workload.startswith("vae-") and a.layers:
        ap.error("the VAE has no --layers")
    if a.workload == "text-encoder" and a.div > 1:
        ap.error("text-encoder has no --div")
    env = dict(os.environ, OMP_NUM_THREADS=str(a.threads))
    for prec in (["bf16", "fp32"] if a.precision == "both" else [a.precision]):
        k = None
        if not a.skip_kolors:
            cmd = kolors_cmd(a, prec)
            r = subprocess.run(cmd, stdout=subprocess.PIPE, env=env, universal_newlines=True)
            if r.returncode != 0:
                sys.exit("compare_torch: %s failed (exit %d)" % (" ".join(cmd), r.returncode))
            k = json.loads(r.stdout.strip().splitlines()[-1])
        med, mn, setup, finite = time_torch(a, prec)
        out = {"workload": a.workload, "precision": prec, "torch": torch.__version__, "threads": a.threads,
               "bf16_mode": a.bf16_mode if prec == "bf16" else None, "torch_median_s": round(med, 4),
               "torch_min_s": round(mn, 4), "torch_setup_s": round(setup, 2), "torch_finite": finite}
        if k:
            out.update({"shape": k["shape"], "gflop": k["gflop"], "kolors_median_s": k["median_s"],
                        "kolors_min_s": k["min_s"], "kolors_gflops": k["gflops"],
                        "torch_gflops": round(k["gflop"] / med, 2), "ratio": round(k["median_s"] / med, 3),
                        "isa": k["isa"], "kolors_peak_rss_mb": k["peak_rss_mb"], "scaled": k["scaled"]})
            if k["scaled"]:
                out.update({"scale": k["scale"], "kolors_scaled_median_s": k["scaled_median_s"],
                            "torch_scaled_median_s": round(med * k["scale"], 3)})
        print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
