package dev.kiln.model.clip;

import ai.djl.huggingface.tokenizers.Encoding;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.kiln.data.image.Images;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * CLIP scores of image-caption pairs from a model folder (config.json, model.safetensors,
 * tokenizer.json in HF layout): images resized and centre-cropped, normalized with CLIP's mean
 * and deviation; captions tokenized with the model's tokenizer (its special tokens added) and
 * cut to the context length, ending on the end-of-text token. One forward per batch.
 */
public final class ClipScorer implements AutoCloseable {

  static final float[] MEAN = {0.48145466f, 0.4578275f, 0.40821073f};
  static final float[] STD = {0.26862954f, 0.26130258f, 0.27577711f};

  private final NDManager manager;
  private final ClipModel model;
  private final HuggingFaceTokenizer tokenizer;

  private ClipScorer(NDManager manager, ClipModel model, HuggingFaceTokenizer tokenizer) {
    this.manager = manager;
    this.model = model;
    this.tokenizer = tokenizer;
  }

  public static ClipScorer load(Path dir) throws IOException {
    return load(dir, dev.kiln.model.ComputeDevice.cpu());
  }

  /** The model in {@code dir}, its weights and every forward pass on {@code device}. */
  public static ClipScorer load(Path dir, dev.kiln.model.ComputeDevice device) throws IOException {
    NDManager manager = NDManager.newBaseManager(device.device());
    try {
      ClipModel model = ClipModel.load(dir, manager);
      HuggingFaceTokenizer tokenizer = HuggingFaceTokenizer.newInstance(dir.resolve("tokenizer.json"),
          Map.of("truncation", "false", "padding", "false", "addSpecialTokens", "true"));
      return new ClipScorer(manager, model, tokenizer);
    } catch (IOException | RuntimeException e) {
      manager.close();
      throw e;
    }
  }

  /** Cosine similarity of each image with its caption. */
  public double[] scores(List<BufferedImage> images, List<String> captions) {
    int n = images.size();
    int size = model.imageSize();
    float[] pixels = new float[n * 3 * size * size];
    for (int i = 0; i < n; i++) {
      normalize(Images.resizeCenterCrop(images.get(i), size), pixels, i * 3 * size * size);
    }
    int[][] ids = new int[n][];
    int length = 1;
    for (int i = 0; i < n; i++) {
      ids[i] = tokens(captions.get(i));
      length = Math.max(length, ids[i].length);
    }
    long[] padded = new long[n * length];
    int[] eos = new int[n];
    for (int i = 0; i < n; i++) {
      for (int j = 0; j < ids[i].length; j++) {
        padded[i * length + j] = ids[i][j];
      }
      eos[i] = ids[i].length - 1;
    }
    try (NDManager step = manager.newSubManager()) {
      NDArray image = model.embedImages(step.create(pixels, new Shape(n, 3, size, size)));   // (N, E)
      NDArray text = model.embedTexts(step.create(padded, new Shape(n, length)), eos);        // (N, E)
      float[] cosine = image.mul(text).sum(new int[] {1}).toFloatArray();                     // (N)
      double[] out = new double[n];
      for (int i = 0; i < n; i++) {
        out[i] = cosine[i];
      }
      return out;
    }
  }

  /** The caption's ids, cut to the context length with the end-of-text token kept last. */
  int[] tokens(String caption) {
    Encoding encoding = tokenizer.encode(caption, true, false);
    long[] all = encoding.getIds();
    int limit = model.contextLength();
    int length = Math.max(1, Math.min(all.length, limit));
    int[] ids = new int[length];
    for (int i = 0; i < length; i++) {
      ids[i] = Math.toIntExact(all[i]);
    }
    if (all.length > limit && model.eosTokenId() >= 0) {
      ids[length - 1] = model.eosTokenId();
    }
    return ids;
  }

  private static void normalize(BufferedImage image, float[] into, int offset) {
    int size = image.getWidth();
    int plane = size * size;
    for (int y = 0; y < size; y++) {
      for (int x = 0; x < size; x++) {
        int rgb = image.getRGB(x, y);
        int at = offset + y * size + x;
        into[at] = (((rgb >> 16) & 0xff) / 255f - MEAN[0]) / STD[0];
        into[at + plane] = (((rgb >> 8) & 0xff) / 255f - MEAN[1]) / STD[1];
        into[at + 2 * plane] = ((rgb & 0xff) / 255f - MEAN[2]) / STD[2];
      }
    }
  }

  @Override
  public void close() {
    model.close();
    tokenizer.close();
    manager.close();
  }
}
