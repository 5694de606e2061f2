#!/usr/bin/env python3
"""Writes checkpoint folders laid out as the Hugging Face hub publishes them, at any size, without
downloading anything: a Qwen2 causal LM (Qwen2.5-1.5B-Instruct's layout: config.json, bf16
safetensors with tied embeddings, optionally sharded with model.safetensors.index.json), a
SigLIP dual encoder (siglip-so400m-patch14-384's layout: vision tower, text tower, logit_scale and
logit_bias, the vision attention-pooling head), and a LLaVA model as MLM-Filter publishes its
scoring models (the Qwen2 model holding the SigLIP tower under model.vision_tower.vision_tower.
and the projector under model.mm_projector., described by config.json's mm_* fields).

Tensor names and shapes follow Transformers' Qwen2ForCausalLM and SiglipModel state dicts. The
data are zeros written as holes in sparse files (a 1.5B-parameter folder costs no disk), except
what --fill asks for: "norms" writes the norm weights as 1.0 and the token embedding as small
deterministic values, so that a forward pass has gradients.

  published-checkpoints.py qwen2 OUT --config '{"hidden_size": 1536, ...}' [--shards N] [--fill norms]
  published-checkpoints.py siglip OUT --vision '{"hidden_size": 1152, ...}' [--text '{...}'] [--fill norms]
  published-checkpoints.py llava OUT --config '{...}' --vision '{...}' --mm '{"mm_projector_type": "mlp2x_gelu", ...}'
"""
import argparse
import json
import os
import struct

BF16 = "BF16"


def qwen2_tensors(c):
    h, layers, heads = c["hidden_size"], c["num_hidden_layers"], c["num_attention_heads"]
    kv = c.get("num_key_value_heads", heads) * (h // heads)
    inter, vocab = c["intermediate_size"], c["vocab_size"]
    t = [("model.embed_tokens.weight", [vocab, h])]
    for i in range(layers):
        b = f"model.layers.{i}."
        t += [(b + "input_layernorm.weight", [h]),
              (b + "self_attn.q_proj.weight", [h, h]), (b + "self_attn.q_proj.bias", [h]),
              (b + "self_attn.k_proj.weight", [kv, h]), (b + "self_attn.k_proj.bias", [kv]),
              (b + "self_attn.v_proj.weight", [kv, h]), (b + "self_attn.v_proj.bias", [kv]),
              (b + "self_attn.o_proj.weight", [h, h]),
              (b + "post_attention_layernorm.weight", [h]),
              (b + "mlp.gate_proj.weight", [inter, h]), (b + "mlp.up_proj.weight", [inter, h]),
              (b + "mlp.down_proj.weight", [h, inter])]
    t.append(("model.norm.weight", [h]))
    if not c.get("tie_word_embeddings", False):
        t.append(("lm_head.weight", [vocab, h]))
    return t


def siglip_encoder(prefix, w, layers, mlp):
    t = []
    for i in range(layers):
        b = f"{prefix}encoder.layers.{i}."
        t += [(b + "layer_norm1.weight", [w]), (b + "layer_norm1.bias", [w])]
        for p in ("q_proj", "k_proj", "v_proj", "out_proj"):
            t += [(b + f"self_attn.{p}.weight", [w, w]), (b + f"self_attn.{p}.bias", [w])]
        t += [(b + "layer_norm2.weight", [w]), (b + "layer_norm2.bias", [w]),
              (b + "mlp.fc1.weight", [mlp, w]), (b + "mlp.fc1.bias", [mlp]),
              (b + "mlp.fc2.weight", [w, mlp]), (b + "mlp.fc2.bias", [w])]
    return t


def siglip_tensors(v, text):
    w, p, size = v["hidden_size"], v["patch_size"], v["image_size"]
    mlp, layers = v["intermediate_size"], v["num_hidden_layers"]
    t = [("vision_model.embeddings.patch_embedding.weight", [w, 3, p, p]),
         ("vision_model.embeddings.patch_embedding.bias", [w]),
         ("vision_model.embeddings.position_embedding.weight", [(size // p) ** 2, w])]
    t += siglip_encoder("vision_model.", w, layers, mlp)
    t += [("vision_model.post_layernorm.weight", [w]), ("vision_model.post_layernorm.bias", [w]),
          ("vision_model.head.probe", [1, 1, w]),
          ("vision_model.head.attention.in_proj_weight", [3 * w, w]),
          ("vision_model.head.attention.in_proj_bias", [3 * w]),
          ("vision_model.head.attention.out_proj.weight", [w, w]),
          ("vision_model.head.attention.out_proj.bias", [w]),
          ("vision_model.head.layernorm.weight", [w]), ("vision_model.head.layernorm.bias", [w]),
          ("vision_model.head.mlp.fc1.weight", [mlp, w]), ("vision_model.head.mlp.fc1.bias", [mlp]),
          ("vision_model.head.mlp.fc2.weight", [w, mlp]), ("vision_model.head.mlp.fc2.bias", [w])]
    if text:
        tw = text["hidden_size"]
        t += [("text_model.embeddings.token_embedding.weight", [text["vocab_size"], tw]),
              ("text_model.embeddings.position_embedding.weight", [text["max_position_embeddings"], tw])]
        t += siglip_encoder("text_model.", tw, text["num_hidden_layers"], text["intermediate_size"])
        t += [("text_model.final_layer_norm.weight", [tw]), ("text_model.final_layer_norm.bias", [tw]),
              ("text_model.head.weight", [tw, tw]), ("text_model.head.bias", [tw])]
    t += [("logit_scale", [1]), ("logit_bias", [1])]
    return t


def llava_tensors(c, v, projector):
    """MLM-Filter's published layout: LLaVA's Qwen2 model holding the SigLIP tower and the projector."""
    h, tower = c["hidden_size"], "model.vision_tower.vision_tower."
    t = qwen2_tensors(c)
    t += [(tower + name, shape) for name, shape in siglip_tensors(v, None) if name.startswith("vision_model.")]
    prefix = "model.mm_projector." + ("mlp_projector." if projector == "aapool_mlp" else "")
    t += [(prefix + "0.weight", [h, v["hidden_size"]]), (prefix + "0.bias", [h]),
          (prefix + "2.weight", [h, h]), (prefix + "2.bias", [h])]
    return t


def filled(name, shape, fill):
    """The bf16 bytes to write for a tensor, or None for zeros (left as a hole)."""
    if fill != "norms":
        return None
    count = 1
    for d in shape:
        count *= d
    if "norm" in name and name.endswith(".weight"):
        return struct.pack("<H", 0x3F80) * count  # 1.0
    if name == "model.embed_tokens.weight":
        # Small values that differ by position: (i * 7919 mod 255 - 127) / 4096 as bf16, a period of 255.
        period = b"".join(struct.pack("<f", ((i * 7919) % 255 - 127) / 4096.0)[2:] for i in range(255))
        return (period * (count // 255 + 1))[: 2 * count]
    return None


def write(path, tensors, fill):
    header, offset = {"__metadata__": {"format": "pt"}}, 0
    for name, shape in tensors:
        size = 2
        for d in shape:
            size *= d
        header[name] = {"dtype": BF16, "shape": shape, "data_offsets": [offset, offset + size]}
        offset += size
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(raw)) + raw)
        start = f.tell()
        for name, shape in tensors:
            data = filled(name, shape, fill)
            if data is not None:
                f.seek(start + header[name]["data_offsets"][0])
                f.write(data)
        f.truncate(start + offset)


def write_folder(out, tensors, config, shards, fill):
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    if shards <= 1:
        write(os.path.join(out, "model.safetensors"), tensors, fill)
        return
    per = (len(tensors) + shards - 1) // shards
    weight_map = {}
    for s in range(shards):
        part = tensors[s * per:(s + 1) * per]
        name = f"model-{s + 1:05d}-of-{shards:05d}.safetensors"
        write(os.path.join(out, name), part, fill)
        weight_map.update({t: name for t, _ in part})
    with open(os.path.join(out, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {}, "weight_map": weight_map}, f, indent=2)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("kind", choices=["qwen2", "siglip", "llava"])
    parser.add_argument("out")
    parser.add_argument("--config", help="qwen2: config.json's fields")
    parser.add_argument("--vision", help="siglip: vision_config's fields")
    parser.add_argument("--text", help="siglip: text_config's fields (the text tower, unused by Kiln)")
    parser.add_argument("--mm", help="llava: LLaVA's mm_* fields of config.json (mm_projector_type, mm_vision_tower, ...)")
    parser.add_argument("--vision-config-in-config", action="store_true",
                        help="llava: also write the tower's dimensions as config.json's vision_config")
    parser.add_argument("--shards", type=int, default=1)
    parser.add_argument("--fill", choices=["zeros", "norms"], default="zeros")
    args = parser.parse_args()
    if args.kind == "qwen2":
        c = json.loads(args.config)
        config = {"architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "torch_dtype": "bfloat16", **c}
        write_folder(args.out, qwen2_tensors(c), config, args.shards, args.fill)
    elif args.kind == "llava":
        c, v, mm = json.loads(args.config), json.loads(args.vision), json.loads(args.mm)
        config = {"architectures": ["LlavaQwenForCausalLM"], "model_type": "llava_qwen", "torch_dtype": "bfloat16",
                  **c, **mm}
        if args.vision_config_in_config:
            config["vision_config"] = v
        write_folder(args.out, llava_tensors(c, v, mm.get("mm_projector_type")), config, args.shards, args.fill)
    else:
        v = json.loads(args.vision)
        text = json.loads(args.text) if args.text else None
        config = {"architectures": ["SiglipModel"], "model_type": "siglip",
                  "vision_config": {"model_type": "siglip_vision_model", **v},
                  "text_config": {"model_type": "siglip_text_model", **(text or {})}}
        write_folder(args.out, siglip_tensors(v, text), config, args.shards, args.fill)


if __name__ == "__main__":
    main()
