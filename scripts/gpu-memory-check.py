#!/usr/bin/env python3
"""Peak memory of one micro-batch of Kiln's decoder on a CUDA GPU, at the recipe's size.

Kiln's trainer cannot run on a GPU until its image carries libtorch 2.7.1 for CUDA (see
scripts/gpu-smoke.sh), so this checks the memory model (model/MemoryModel) there through PyTorch:
the decoder below is Kiln's, op for op (model/Decoder, model/Ops, model/Autocast), and keeps what
Kiln's trainer keeps: every array a block makes lives until the block ends (BlockScope), the
rest as long as autograd holds it. Parameters are fp32 and trained; the visual tokens are a leaf
standing for the projector's output. The frozen SigLIP encoder and the projector are measured
apart, on a micro-batch's images. One JSON line per configuration: the peak bytes above the
parameters and gradients, and the seconds.

  python3 scripts/gpu-memory-check.py             # the recipe's Qwen2.5-1.5B decoder on cuda:0
  python3 scripts/gpu-memory-check.py --tiny --device cpu   # a small self-check anywhere
"""
import argparse
import json
import math
import subprocess
import time

import torch
import torch.nn.functional as F

SCOPE = []  # the arrays of the block being run, as BlockScope keeps them
STEP = []  # the arrays made outside any block, alive until the micro-batch ends (its NDManager)


def keep(t):
    SCOPE.append(t)
    return t


def const(value, device):
    return torch.tensor(value, dtype=torch.float32, device=device)


class Kiln:
    """Kiln's decoder ops (model/Ops) with its fp16 autocast (model/Autocast)."""

    def __init__(self, mixed, device):
        self.mixed = mixed
        self.device = device

    def cast(self, x, dtype):
        if x.dtype == dtype:
            return x
        return keep(keep(torch.zeros(x.shape, dtype=dtype, device=x.device)).add_(x))

    def for_matmul(self, x):
        return self.cast(x, torch.float16) if self.mixed else x

    def for_reduction(self, x):
        return self.cast(x, torch.float32) if x.dtype == torch.float16 else x

    def linear(self, x, w, b=None):
        return keep(F.linear(self.for_matmul(x), self.for_matmul(w), None if b is None else self.for_matmul(b)))

    def rms_norm(self, x, w, eps=1e-6):
        x = self.for_reduction(x)
        inv = keep(keep(keep(keep(x.square()).mean(-1, keepdim=True)).add(const(eps, x.device))).pow(const(-0.5, x.device)))
        return keep(keep(x.mul(inv)).mul(w))

    def rope(self, x, cos, signed_sin):
        half = x.shape[3] // 2
        swapped = keep(torch.cat([x[..., half:], x[..., :half]], 3))
        return keep(keep(x.mul(cos)).add(keep(swapped.mul(signed_sin))))

    def attend(self, q, k, v, mask, group):
        scale = 1 / math.sqrt(q.shape[-1])
        q = self.for_matmul(keep(q.mul(const(scale, q.device))))
        k = self.for_matmul(k)
        scores = self.for_reduction(keep(q.matmul(k.transpose(-2, -1))))
        flat = scores.shape
        split = flat[:-2] + (group, flat[-2] // group, flat[-1])
        scores = keep(keep(scores.reshape(split)).add(mask)).reshape(flat)
        weights = self.for_matmul(keep(scores.softmax(-1)))
        return keep(weights.matmul(self.for_matmul(v)))

    def attention(self, q, k, v, mask):
        b, h, t, hd = q.shape
        hkv = k.shape[1]
        g = h // hkv
        grouped = keep(q.reshape(b, hkv, g * t, hd))
        group_mask = mask.reshape(mask.shape[0], 1, 1, t, k.shape[2])
        return keep(self.attend(grouped, k, v, group_mask, g).reshape(q.shape))

    def key_windows(self, x, block, window):
        b, hkv, t, hd = x.shape
        before = keep(torch.zeros(b, hkv, (window - 1) * block, hd, dtype=x.dtype, device=x.device))
        padded = keep(torch.cat([before, x], 2))
        shifted = [keep(padded[:, :, w * block: w * block + t].reshape(b, hkv, t // block, block, hd)) for w in range(window)]
        return keep(keep(torch.stack(shifted, 3)).reshape(b, hkv, t // block, window * block, hd))

    def local_attention(self, q, k, v, mask, block, window):
        b, h, t, hd = q.shape
        hkv = k.shape[1]
        g = h // hkv
        nb = t // block
        grouped = keep(keep(q.reshape(b, hkv, g, nb, block, hd).permute(0, 1, 3, 2, 4, 5)).reshape(b, hkv, nb, g * block, hd))
        group_mask = mask.reshape(b, 1, nb, 1, block, window * block)
        out = self.attend(grouped, self.key_windows(k, block, window), self.key_windows(v, block, window), group_mask, g)
        return keep(keep(out.reshape(b, hkv, nb, g, block, hd).permute(0, 1, 3, 2, 4, 5)).reshape(q.shape))


def layer_norm(ops, x, w, b, eps=1e-6):
    return keep(F.layer_norm(ops.for_reduction(x), (x.shape[-1],), w, b, eps))


def gelu_tanh(x):
    two_z = keep(keep(keep(keep(x.square()).mul(const(2 * math.sqrt(2 / math.pi) * 0.044715, x.device)))
                      .add(const(2 * math.sqrt(2 / math.pi), x.device))).mul(x))
    return keep(x.mul(keep(torch.sigmoid(two_z))))


def encoder_block(ops, p, x, heads_count):
    """model/EncoderBlock: LayerNorm, attention with biases (no mask), LayerNorm, MLP with GELU-tanh."""
    n, t, w = x.shape
    hd = w // heads_count
    h = layer_norm(ops, x, p["ln1w"], p["ln1b"])
    q = heads(ops.linear(h, p["q"], p["qb"]), heads_count, hd)
    k = heads(ops.linear(h, p["k"], p["kb"]), heads_count, hd)
    v = heads(ops.linear(h, p["v"], p["vb"]), heads_count, hd)
    grouped = keep(q.reshape(n, heads_count, t, hd))
    scale = 1 / math.sqrt(hd)
    qs = ops.for_matmul(keep(grouped.mul(const(scale, x.device))))
    scores = ops.for_reduction(keep(qs.matmul(ops.for_matmul(k).transpose(-2, -1))))
    weights = ops.for_matmul(keep(scores.softmax(-1)))
    a = keep(keep(weights.matmul(ops.for_matmul(v))).reshape(q.shape))
    a = keep(keep(a.transpose(1, 2)).reshape(n, t, w))
    x = keep(x.add(ops.linear(a, p["o"], p["ob"])))
    h = layer_norm(ops, x, p["ln2w"], p["ln2b"])
    h = gelu_tanh(ops.linear(h, p["fc1"], p["fc1b"]))
    return keep(x.add(ops.linear(h, p["fc2"], p["fc2b"])))


def measure_encoder(images, visual, device, tiny):
    """The frozen SigLIP encoder and the trained projector on one micro-batch's images (model/VisionEncoder, Projector)."""
    size, patch, w, depth, hc, mlp, proj, d = (32, 4, 32, 3, 2, 64, 64, 64) if tiny else (384, 14, 1152, 27, 16, 4304, 1536, 1536)
    grid = size // patch
    ops = Kiln(device.type == "cuda", device)
    g = torch.Generator(device=device).manual_seed(2)

    def frozen(*shape):
        return torch.randn(*shape, generator=g, device=device) * 0.02

    blocks = [dict(ln1w=torch.ones(w, device=device), ln1b=frozen(w), q=frozen(w, w), qb=frozen(w), k=frozen(w, w),
                   kb=frozen(w), v=frozen(w, w), vb=frozen(w), o=frozen(w, w), ob=frozen(w),
                   ln2w=torch.ones(w, device=device), ln2b=frozen(w), fc1=frozen(mlp, w), fc1b=frozen(mlp),
                   fc2=frozen(w, mlp), fc2b=frozen(w)) for _ in range(depth - 1)]
    patch_w, patch_b, position = frozen(w, 3 * patch * patch), frozen(w), frozen(grid * grid, w)
    side = int(round(math.sqrt(visual)))
    pool = torch.rand(side * side, grid * grid, generator=g, device=device)
    fc1, fc1b = frozen(proj, w).requires_grad_(), frozen(proj).requires_grad_()
    fc2, fc2b = frozen(d, proj).requires_grad_(), frozen(d).requires_grad_()
    pixels = torch.rand(images, 3, size, size, generator=g, device=device) * 2 - 1
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
    start = time.perf_counter()
    covered = grid * patch
    x = pixels[:, :, :covered, :covered].reshape(images, 3, grid, patch, grid, patch).permute(0, 2, 4, 1, 3, 5) \
        .reshape(images, grid * grid, 3 * patch * patch)
    x = keep(keep(ops.linear(x, patch_w, patch_b)).add(position))
    STEP.extend(SCOPE)
    for blk in blocks:
        x = scoped(encoder_block, ops, blk, x, hc)
    features = x
    if side != grid:
        features = keep(ops.linear(keep(x.transpose(1, 2)), pool).transpose(1, 2))
    h = keep(F.gelu(ops.linear(features, fc1, fc1b)))
    out = ops.linear(h, fc2, fc2b)
    STEP.extend(SCOPE)
    SCOPE.clear()
    out.float().square().sum().backward()
    if device.type == "cuda":
        torch.cuda.synchronize()
    result = dict(part="vision", images=images, visual=visual, seconds=round(time.perf_counter() - start, 3))
    if device.type == "cuda":
        result.update(peak_above_bytes=torch.cuda.max_memory_allocated() - base)
    STEP.clear()
    return result


def heads(x, n, hd):
    b, t, _ = x.shape
    return keep(keep(x.reshape(b, t, n, hd)).transpose(1, 2))


def block(ops, p, x, cos, sin, mask, dims):
    d, layers, h, hkv, f, vocab = dims
    hd = d // h
    b, t, _ = x.shape
    hn = ops.rms_norm(x, p["ln1"])
    q = heads(ops.linear(hn, p["q"], p["qb"]), h, hd)
    k = heads(ops.linear(hn, p["k"], p["kb"]), hkv, hd)
    v = heads(ops.linear(hn, p["v"], p["vb"]), hkv, hd)
    q = ops.rope(q, cos, sin)
    k = ops.rope(k, cos, sin)
    if mask["block"]:
        a = ops.local_attention(q, k, v, mask["additive"], mask["block"], mask["window"])
    else:
        a = ops.attention(q, k, v, mask["additive"])
    a = keep(keep(a.transpose(1, 2)).reshape(b, t, d))
    x = keep(x.add(ops.linear(a, p["o"])))
    hn = ops.rms_norm(x, p["ln2"])
    gate = ops.linear(hn, p["gate"])
    gate = keep(gate.mul(keep(torch.sigmoid(gate))))
    up = ops.linear(hn, p["up"])
    return keep(x.add(ops.linear(keep(gate.mul(up)), p["down"])))


def scoped(fn, *args):
    """BlockScope: the block's arrays live until it ends; then only what autograd holds does."""
    SCOPE.clear()
    out = fn(*args)
    SCOPE.clear()
    return out


def packed_batch(cfg, device):
    """Samples of `visual` image tokens then `text` text tokens, packed into rows of `length`."""
    b, t, q, txt = cfg["batch"], cfg["length"], cfg["visual"], cfg["text"]
    per_row = t // (q + txt)
    sample = q + txt
    earliest = []
    positions = []
    for i in range(t):
        s = min(i // sample, per_row)
        start = s * sample if cfg["attention"] == "PerSample" else 0
        earliest.append(start)
        positions.append(i - start)
    is_text = [(i % sample) >= q and i < per_row * sample for i in range(t)]
    targets = [r * t + i for r in range(b) for i in range(t - 1) if is_text[i] and is_text[i + 1]]
    return per_row * b, earliest, positions, is_text, targets


def attention_mask(cfg, earliest, device):
    t, b = cfg["length"], cfg["batch"]
    if cfg["attention"] == "Continuous":
        m = torch.full((t, t), -1e9, device=device).triu(1)
        return {"block": 0, "window": 0, "additive": m.reshape(1, 1, t, t).expand(b, 1, t, t).contiguous()}
    best = None
    for c in (256, 128, 64, 32):
        if t % c:
            continue
        w = max(i // c - earliest[i] // c + 1 for i in range(t))
        if w * c <= t // 2 and (best is None or w * c < best[0] * best[1]):
            best = (w, c)
    w, c = best
    rows = torch.arange(t, device=device).reshape(t // c, c, 1)
    first = (rows // c - w + 1) * c
    keys = first + torch.arange(w * c, device=device).reshape(1, 1, w * c)
    early = torch.tensor(earliest, device=device).reshape(t // c, c, 1)
    visible = (keys >= early) & (keys <= rows) & (keys >= 0)
    m = torch.where(visible, 0.0, -1e9).to(torch.float32)
    return {"block": c, "window": w, "additive": m.reshape(1, 1, t // c, c, w * c).expand(b, 1, t // c, c, w * c).contiguous()}


def rotary(positions, hd, theta, b, device):
    inv = 1.0 / (theta ** (torch.arange(0, hd, 2, device=device, dtype=torch.float64) / hd))
    angles = torch.tensor(positions, device=device, dtype=torch.float64).reshape(-1, 1) * inv.reshape(1, -1)
    cos = torch.cat([angles.cos(), angles.cos()], -1).float()
    sin = torch.cat([-angles.sin(), angles.sin()], -1).float()
    return (cos.reshape(1, 1, -1, hd).expand(b, 1, -1, hd).contiguous(),
            sin.reshape(1, 1, -1, hd).expand(b, 1, -1, hd).contiguous())


def parameters(dims, device):
    d, layers, h, hkv, f, vocab = dims
    kv = d // h * hkv
    g = torch.Generator(device=device).manual_seed(1)

    def normal(*shape):
        return (torch.randn(*shape, generator=g, device=device) * 0.02).requires_grad_()

    def ones(n):
        return torch.ones(n, device=device).requires_grad_()

    def zeros(n):
        return torch.zeros(n, device=device).requires_grad_()

    blocks = [dict(ln1=ones(d), q=normal(d, d), qb=zeros(d), k=normal(kv, d), kb=zeros(kv), v=normal(kv, d),
                   vb=zeros(kv), o=normal(d, d), ln2=ones(d), gate=normal(f, d), up=normal(f, d), down=normal(d, f))
              for _ in range(layers)]
    return dict(embed=normal(vocab, d), norm=ones(d), blocks=blocks)


def micro_batch(cfg, dims, p, device):
    """Loss and gradients of one micro-batch, as VisionLanguageModel.lossAndGradients computes them."""
    d, layers, h, hkv, f, vocab = dims
    torch.manual_seed(0)  # the same tokens and targets every micro-batch
    ops = Kiln(cfg["precision"] == "Float16Mixed", device)
    b, t = cfg["batch"], cfg["length"]
    images, earliest, positions, is_text, targets = packed_batch(cfg, device)
    mask = attention_mask(cfg, earliest, device)
    cos, sin = rotary(positions, d // h, 1_000_000.0, b, device)
    tokens = torch.randint(10, vocab, (b * t,), device=device)
    text = F.embedding(tokens, p["embed"])
    visual = p["visual"]
    table = torch.cat([text, visual], 0)
    q = cfg["visual"]
    index = []
    for r in range(b):
        v = 0
        for i in range(t):
            if not is_text[i] and i < (t // (q + cfg["text"])) * (q + cfg["text"]):
                index.append(b * t + (r * (images // b) + v // q) * q + v % q)
                v += 1
            else:
                index.append(r * t + i)
    x0 = F.embedding(torch.tensor(index, device=device), table).reshape(b, t, d)
    at = torch.tensor(targets, device=device)
    goal = torch.randint(10, vocab, (len(targets), 1), device=device)

    def loss_of(hidden):
        SCOPE.clear()
        flat = hidden.reshape(b * t, d)
        selected = F.embedding(at, flat)
        log_probs = keep(ops.for_reduction(ops.linear(selected, p["embed"])).log_softmax(-1))
        loss = log_probs.gather(1, goal).mean().neg()
        STEP.extend(SCOPE)
        SCOPE.clear()
        return loss

    def run(i, x):
        return scoped(block, ops, p["blocks"][i], x, cos, sin, mask, dims)

    if not cfg["recompute"]:
        x = x0
        for i in range(layers):
            x = run(i, x)
        loss = loss_of(ops.rms_norm(x, p["norm"]))
        loss.backward()
        STEP.clear()
        return loss.item()
    inputs = []
    x = x0.detach()
    with torch.no_grad():
        for i in range(layers):
            inputs.append(x)
            x = run(i, x)
    x.requires_grad_()
    loss = loss_of(ops.rms_norm(x, p["norm"]))
    loss.backward()
    upstream = x.grad
    for i in reversed(range(layers)):
        inp = inputs[i].requires_grad_()
        out = run(i, inp)
        torch.autograd.backward(out, upstream)
        del out
        upstream = inp.grad
        inputs[i] = None
    torch.autograd.backward(x0, upstream)
    STEP.clear()
    return loss.item()


def used_by_driver(device):
    if device.type != "cuda":
        return None
    out = subprocess.run(["nvidia-smi", "--query-gpu=memory.used", "--format=csv,noheader,nounits"],
                         capture_output=True, text=True).stdout.split()
    return int(out[0]) * (1 << 20) if out else None


def measure(cfg, dims, device):
    d, layers, h, hkv, f, vocab = dims
    p = parameters(dims, device)
    images = packed_batch(cfg, device)[0]
    torch.manual_seed(1)
    p["visual"] = (torch.randn(images * cfg["visual"], d, device=device) * 0.02).requires_grad_()
    micro_batch(cfg, dims, p, device)  # gradients allocated
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
    start = time.perf_counter()
    loss = micro_batch(cfg, dims, p, device)
    if device.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    squares = sum(float(t.grad.double().square().sum()) for t in [p["embed"], p["norm"], p["visual"]]
                  + [t for blk in p["blocks"] for t in blk.values()])
    # Equal with and without recomputation: the same gradients (two micro-batches accumulated).
    result = dict(cfg, dims=list(dims), loss=round(loss, 5), grad_norm=float("%.6g" % math.sqrt(squares)),
                  seconds=round(seconds, 3))
    if device.type == "cuda":
        result.update(parameters_and_gradients_bytes=base,
                      peak_above_bytes=torch.cuda.max_memory_allocated() - base,
                      reserved_peak_bytes=torch.cuda.max_memory_reserved(),
                      driver_used_bytes=used_by_driver(device))
    del p
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--tiny", action="store_true", help="a small model and sequence, for a self-check")
    args = parser.parse_args()
    device = torch.device(args.device)
    if args.tiny:
        dims, length, visual = (64, 2, 4, 2, 128, 512), 256, 16
    else:
        dims, length, visual = (1536, 28, 12, 2, 8960, 151936), 4096, 144
    if device.type == "cuda":
        torch.ones(1, device=device).matmul(torch.ones(1, 1, device=device))
        empty = used_by_driver(device)
        print(json.dumps({"runtime": "cuda", "torch": torch.__version__, "gpu": torch.cuda.get_device_name(device),
                          "driver_used_bytes_before_tensors": empty,
                          "torch_reserved_bytes": torch.cuda.memory_reserved()}), flush=True)
    configs = [
        dict(attention="Continuous", precision="Float16Mixed", recompute=False, batch=1, visual=visual, text=28),
        dict(attention="Continuous", precision="Float16Mixed", recompute=True, batch=1, visual=visual, text=28),
        dict(attention="PerSample", precision="Float16Mixed", recompute=False, batch=1, visual=visual, text=28),
        dict(attention="Continuous", precision="Float32", recompute=False, batch=1, visual=visual, text=28),
        dict(attention="PerSample", precision="Float16Mixed", recompute=False, batch=2,
             visual=729 if not args.tiny else 64, text=28),
        dict(attention="PerSample", precision="Float16Mixed", recompute=True, batch=2,
             visual=729 if not args.tiny else 64, text=28),
    ]
    for images, visual in ((23, 144), (10, 729)) if not args.tiny else ((3, 16), (2, 64)):
        print(json.dumps(measure_encoder(images, visual, device, args.tiny)), flush=True)
    for cfg in configs:
        cfg["length"] = length
        if device.type == "cpu":
            cfg["precision"] = "Float32"  # CPU PyTorch may have no float16 matrix products
        try:
            print(json.dumps(measure(cfg, dims, device)), flush=True)
        except RuntimeError as e:  # torch.OutOfMemoryError is one
            if "out of memory" not in str(e):
                raise
            print(json.dumps(dict(cfg, error="out of memory: " + str(e).splitlines()[0])), flush=True)
            torch.cuda.empty_cache()


if __name__ == "__main__":
    main()
