package dev.kiln.model;

import ai.djl.ndarray.NDArray;
import ai.djl.nn.core.Embedding;
import dev.kiln.api.v1alpha1.LanguageModelSpec;

/**
 * Qwen2-style decoder: token embeddings, pre-norm blocks (RMSNorm, grouped-query attention with
 * biases on q/k/v and rotary positions, SwiGLU MLP), final RMSNorm, output tied to the embeddings.
 */
final class Decoder {

  static final String PREFIX = "model.";

  final LanguageModelSpec spec;
  private final Parameters p;
  private final long headDim;

  Decoder(LanguageModelSpec spec, Parameters p) {
    this.spec = spec;
    this.p = p;
    int d = spec.hiddenSize();
    headDim = d / spec.heads();
    long kv = headDim * spec.kvHeads();
    p.normal(PREFIX + "embed_tokens.weight", 0.02, spec.vocabSize(), d);
    for (int i = 0; i < spec.layers(); i++) {
      String b = layer(i);
      p.ones(b + "input_layernorm.weight", d);
      p.normal(b + "self_attn.q_proj.weight", 0.02, d, d);
      p.zeros(b + "self_attn.q_proj.bias", d);
      p.normal(b + "self_attn.k_proj.weight", 0.02, kv, d);
      p.zeros(b + "self_attn.k_proj.bias", kv);
      p.normal(b + "self_attn.v_proj.weight", 0.02, kv, d);
      p.zeros(b + "self_attn.v_proj.bias", kv);
      p.normal(b + "self_attn.o_proj.weight", 0.02 / Math.sqrt(2 * spec.layers()), d, d);
      p.ones(b + "post_attention_layernorm.weight", d);
      p.normal(b + "mlp.gate_proj.weight", 0.02, spec.intermediateSize(), d);
      p.normal(b + "mlp.up_proj.weight", 0.02, spec.intermediateSize(), d);
      p.normal(b + "mlp.down_proj.weight", 0.02 / Math.sqrt(2 * spec.layers()), d, spec.intermediateSize());
    }
    p.ones(PREFIX + "norm.weight", d);
    if (!spec.tieEmbeddings()) {
      p.normal("lm_head.weight", 0.02, spec.vocabSize(), d);
    }
  }

  static String layer(int i) {
    return PREFIX + "layers." + i + ".";
  }

  /** Token ids (any shape) to embeddings (..., d). */
  NDArray embed(NDArray tokens) {
    return Embedding.embedding(tokens, p.get(PREFIX + "embed_tokens.weight"), ai.djl.ndarray.types.SparseFormat.DENSE).singletonOrThrow();
  }

  /** Embeddings (B, T, d) and rotary tables (B, 1, T, hd) to final hidden states (B, T, d). */
  NDArray forward(NDArray x, NDArray cos, NDArray signedSin, AttentionMask mask) {
    for (int i = 0; i < spec.layers(); i++) {
      x = block(i, x, cos, signedSin, mask);
    }
    return norm(x);
  }

  /** Block {@code i}: (B, T, d) to (B, T, d), its intermediates freed but for what backward needs. */
  NDArray block(int i, NDArray x, NDArray cos, NDArray signedSin, AttentionMask mask) {
    String b = layer(i);
    return BlockScope.run(x, in -> block(in, b, cos, signedSin, mask));
  }

  /** The final RMSNorm, (B, T, d) to (B, T, d). */
  NDArray norm(NDArray x) {
    return Ops.rmsNorm(x, p.get(PREFIX + "norm.weight"), spec.rmsNormEps());
  }

  /** Hidden states (M, d) to logits (M, vocab). */
  NDArray logits(NDArray hidden) {
    String head = spec.tieEmbeddings() ? PREFIX + "embed_tokens.weight" : "lm_head.weight";
    return Ops.linear(hidden, p.get(head), null);
  }

  private NDArray block(NDArray x, String b, NDArray cos, NDArray signedSin, AttentionMask mask) {
    long batch = x.getShape().get(0);
    long t = x.getShape().get(1);
    NDArray h = Ops.rmsNorm(x, p.get(b + "input_layernorm.weight"), spec.rmsNormEps());            // (B, T, d)
    NDArray q = EncoderBlock.heads(Ops.linear(h, p.get(b + "self_attn.q_proj.weight"),
        p.get(b + "self_attn.q_proj.bias")), spec.heads(), headDim);                               // (B, H, T, hd)
    NDArray k = EncoderBlock.heads(Ops.linear(h, p.get(b + "self_attn.k_proj.weight"),
        p.get(b + "self_attn.k_proj.bias")), spec.kvHeads(), headDim);                             // (B, Hkv, T, hd)
    NDArray v = EncoderBlock.heads(Ops.linear(h, p.get(b + "self_attn.v_proj.weight"),
        p.get(b + "self_attn.v_proj.bias")), spec.kvHeads(), headDim);                             // (B, Hkv, T, hd)
    q = Ops.rope(q, cos, signedSin);
    k = Ops.rope(k, cos, signedSin);
    NDArray a = mask.attend(q, k, v)                                                               // (B, H, T, hd)
        .transpose(0, 2, 1, 3).reshape(batch, t, spec.hiddenSize());                               // (B, T, d)
    x = x.add(Ops.linear(a, p.get(b + "self_attn.o_proj.weight"), null));
    h = Ops.rmsNorm(x, p.get(b + "post_attention_layernorm.weight"), spec.rmsNormEps());
    NDArray gate = Ops.silu(Ops.linear(h, p.get(b + "mlp.gate_proj.weight"), null));             // (B, T, ff)
    NDArray up = Ops.linear(h, p.get(b + "mlp.up_proj.weight"), null);                            // (B, T, ff)
    return x.add(Ops.linear(gate.mul(up), p.get(b + "mlp.down_proj.weight"), null));              // (B, T, d)
  }
}
