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

# A tiny CLIP dual encoder (HF CLIPModel semantics, quick_gelu), written out weight by weight.
def clip_reference():
    W, HEADS, MLP, E, LAYERS, EPS = 16, 2, 32, 8, 2, 1e-5
    IMAGE, PATCH, VOCAB, CONTEXT = 8, 4, 20, 8
    grid = IMAGE // PATCH
    weights = {}
    def param(name, *shape, scale=0.2):
        weights[name] = torch.randn(*shape) * scale
        return weights[name]
    def ln_params(prefix):
        weights[prefix + ".weight"] = 1 + 0.1 * torch.randn(W)
        weights[prefix + ".bias"] = 0.1 * torch.randn(W)
    def layers(tower):
        for i in range(LAYERS):
            b = f"{tower}.encoder.layers.{i}."
            ln_params(b + "layer_norm1")
            for proj in ("q_proj", "k_proj", "v_proj", "out_proj"):
                param(b + f"self_attn.{proj}.weight", W, W)
                param(b + f"self_attn.{proj}.bias", W, scale=0.05)
            ln_params(b + "layer_norm2")
            param(b + "mlp.fc1.weight", MLP, W)
            param(b + "mlp.fc1.bias", MLP, scale=0.05)
            param(b + "mlp.fc2.weight", W, MLP)
            param(b + "mlp.fc2.bias", W, scale=0.05)
    param("vision_model.embeddings.patch_embedding.weight", W, 3, PATCH, PATCH)
    param("vision_model.embeddings.class_embedding", W)
    param("vision_model.embeddings.position_embedding.weight", grid * grid + 1, W)
    ln_params("vision_model.pre_layrnorm")
    layers("vision_model")
    ln_params("vision_model.post_layernorm")
    param("visual_projection.weight", E, W)
    param("text_model.embeddings.token_embedding.weight", VOCAB, W)
    param("text_model.embeddings.position_embedding.weight", CONTEXT, W)
    layers("text_model")
    ln_params("text_model.final_layer_norm")
    param("text_projection.weight", E, W)

    def block(x, b, mask):
        n, t, _ = x.shape
        h = F.layer_norm(x, (W,), weights[b + "layer_norm1.weight"], weights[b + "layer_norm1.bias"], EPS)
        def proj(name, y):
            return F.linear(y, weights[b + f"self_attn.{name}.weight"], weights[b + f"self_attn.{name}.bias"])
        def split(y):
            return y.reshape(n, t, HEADS, W // HEADS).transpose(1, 2)
        q, k, v = split(proj("q_proj", h)), split(proj("k_proj", h)), split(proj("v_proj", h))
        scores = q @ k.transpose(-1, -2) / math.sqrt(W // HEADS)
        if mask is not None:
            scores = scores + mask
        a = (torch.softmax(scores, -1) @ v).transpose(1, 2).reshape(n, t, W)
        x = x + proj("out_proj", a)
        h = F.layer_norm(x, (W,), weights[b + "layer_norm2.weight"], weights[b + "layer_norm2.bias"], EPS)
        h = F.linear(h, weights[b + "mlp.fc1.weight"], weights[b + "mlp.fc1.bias"])
        h = h * torch.sigmoid(1.702 * h)
        return x + F.linear(h, weights[b + "mlp.fc2.weight"], weights[b + "mlp.fc2.bias"])

    pixels = torch.randn(2, 3, IMAGE, IMAGE)
    x = F.conv2d(pixels, weights["vision_model.embeddings.patch_embedding.weight"], stride=PATCH)
    x = x.flatten(2).transpose(1, 2)
    cls = weights["vision_model.embeddings.class_embedding"].expand(2, 1, W)
    x = torch.cat([cls, x], 1) + weights["vision_model.embeddings.position_embedding.weight"]
    x = F.layer_norm(x, (W,), weights["vision_model.pre_layrnorm.weight"], weights["vision_model.pre_layrnorm.bias"], EPS)
    for i in range(LAYERS):
        x = block(x, f"vision_model.encoder.layers.{i}.", None)
    pooled = F.layer_norm(x[:, 0], (W,), weights["vision_model.post_layernorm.weight"],
                          weights["vision_model.post_layernorm.bias"], EPS)
    image = F.linear(pooled, weights["visual_projection.weight"])
    image = image / image.norm(dim=-1, keepdim=True)

    ids = torch.tensor([[1, 5, 6, 7, 2, 0, 0, 0], [1, 9, 3, 11, 12, 13, 4, 2]])
    eos = [4, 7]
    x = weights["text_model.embeddings.token_embedding.weight"][ids] + weights["text_model.embeddings.position_embedding.weight"]
    causal = torch.triu(torch.full((CONTEXT, CONTEXT), -1e9), 1)[None, None]
    for i in range(LAYERS):
        x = block(x, f"text_model.encoder.layers.{i}.", causal)
    x = F.layer_norm(x, (W,), weights["text_model.final_layer_norm.weight"], weights["text_model.final_layer_norm.bias"], EPS)
    text = F.linear(x[torch.arange(2), eos], weights["text_projection.weight"])
    text = text / text.norm(dim=-1, keepdim=True)
    config = {"projection_dim": E,
              "vision_config": {"hidden_size": W, "num_hidden_layers": LAYERS, "num_attention_heads": HEADS,
                                "intermediate_size": MLP, "image_size": IMAGE, "patch_size": PATCH,
                                "hidden_act": "quick_gelu", "layer_norm_eps": EPS},
              "text_config": {"hidden_size": W, "num_hidden_layers": LAYERS, "num_attention_heads": HEADS,
                              "intermediate_size": MLP, "vocab_size": VOCAB, "max_position_embeddings": CONTEXT,
                              "hidden_act": "quick_gelu", "layer_norm_eps": EPS, "eos_token_id": 2}}
    return {"config": config,
            "weights": {name: {"shape": list(t.shape), "data": flat(t)} for name, t in weights.items()},
            "pixels": flat(pixels), "ids": ids.tolist(), "eos": eos,
            "image_embeds": flat(image), "text_embeds": flat(text), "scores": flat((image * text).sum(-1))}

out["clip"] = clip_reference()

with open("reference.json", "w") as f:
    json.dump(out, f)
print("wrote reference.json with torch", torch.__version__)
