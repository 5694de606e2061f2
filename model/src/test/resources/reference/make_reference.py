#!/usr/bin/env python3
"""PyTorch reference values for the trainer's building blocks (the way llm.c checks itself).
Writes reference.json; run with a Python that has torch: python3 make_reference.py"""
import json
import math
import torch
import torch.nn.functional as F

torch.manual_seed(0)
out = {"torch": torch.__version__}

def flat(t):
    return [round(float(x), 7) for x in t.detach().reshape(-1).tolist()]

# Adaptive average pooling of a 27x27 grid (width 3) to 12x12 and of 8x8 to 4x4.
for grid, side in ((27, 12), (8, 4)):
    x = torch.randn(1, 3, grid, grid)
    out[f"pool_{grid}_{side}"] = {"input": flat(x), "output": flat(F.adaptive_avg_pool2d(x, side))}

# RMSNorm (Qwen2RMSNorm).
x = torch.randn(2, 5, 8)
w = torch.randn(8)
y = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6) * w
out["rmsnorm"] = {"x": flat(x), "w": flat(w), "y": flat(y)}

# LayerNorm and GELU (tanh approximation, SigLIP's) and exact GELU.
x = torch.randn(3, 6)
w = torch.randn(6)
b = torch.randn(6)
out["layernorm"] = {"x": flat(x), "w": flat(w), "b": flat(b), "y": flat(F.layer_norm(x, (6,), w, b, 1e-6))}
out["gelu"] = {"x": flat(x), "tanh": flat(F.gelu(x, approximate="tanh")), "exact": flat(F.gelu(x))}

# Rotary embeddings, HF Qwen2 (rotate_half), positions restarting mid-sequence.
B, H, T, D, theta = 1, 2, 6, 8, 10000.0
q = torch.randn(B, H, T, D)
positions = torch.tensor([[0, 1, 2, 0, 1, 2]])
inv_freq = 1.0 / (theta ** (torch.arange(0, D, 2).float() / D))
freqs = positions[..., None].float() * inv_freq
emb = torch.cat((freqs, freqs), dim=-1)
cos, sin = emb.cos()[:, None], emb.sin()[:, None]
def rotate_half(x):
    return torch.cat((-x[..., D // 2:], x[..., :D // 2]), dim=-1)
out["rope"] = {"q": flat(q), "positions": positions.reshape(-1).tolist(), "theta": theta,
               "y": flat(q * cos + rotate_half(q) * sin)}

# Grouped-query attention (4 query heads, 2 kv heads) with a block-diagonal causal mask.
H, KV, T, D = 4, 2, 6, 4
q, k, v = torch.randn(1, H, T, D), torch.randn(1, KV, T, D), torch.randn(1, KV, T, D)
segment = torch.tensor([0, 0, 0, 1, 1, 1])
allowed = (segment[:, None] == segment[None, :]) & (torch.arange(T)[None, :] <= torch.arange(T)[:, None])
mask = torch.where(allowed, 0.0, -1e9)[None, None]
kr, vr = k.repeat_interleave(H // KV, dim=1), v.repeat_interleave(H // KV, dim=1)
y = torch.softmax(q @ kr.transpose(-1, -2) / math.sqrt(D) + mask, dim=-1) @ vr
out["attention"] = {"q": flat(q), "k": flat(k), "v": flat(v), "segment": segment.tolist(), "y": flat(y)}

# Two AdamW steps with weight decay, as torch.optim.AdamW does them.
p = torch.randn(3, 4, requires_grad=True)
start = p.detach().clone()
opt = torch.optim.AdamW([p], lr=1e-2, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.1)
grads = [torch.randn(3, 4), torch.randn(3, 4)]
for g in grads:
    p.grad = g.clone()
    opt.step()
out["adamw"] = {"p": flat(start), "g1": flat(grads[0]), "g2": flat(grads[1]), "lr": 1e-2, "beta1": 0.9,
                "beta2": 0.95, "eps": 1e-8, "weight_decay": 0.1, "after": flat(p)}

with open("reference.json", "w") as f:
    json.dump(out, f)
print("wrote reference.json with torch", torch.__version__)
