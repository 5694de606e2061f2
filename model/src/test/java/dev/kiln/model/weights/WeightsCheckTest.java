package dev.kiln.model.weights;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDManager;
import dev.kiln.api.v1alpha1.LanguageModelSpec;
import dev.kiln.api.v1alpha1.ModelDimensions;
import dev.kiln.api.v1alpha1.ModelPreset;
import dev.kiln.api.v1alpha1.PackedAttention;
import dev.kiln.model.PackedBatch;
import dev.kiln.model.TinySequences;
import dev.kiln.model.VisionLanguageModel;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Published-layout folders (written by {@code scripts/published-checkpoints.py}) against the
 * model: they fit as published, single-file or sharded, with SigLIP's text tower and head present;
 * each kind of misfit is named; and what fits loads, bf16 converted.
 */
@Timeout(120)
class WeightsCheckTest {

  private static final ModelDimensions TINY = ModelPreset.TINY.dimensions();

  @TempDir
  Path dir;

  @Test
  void theModelsLayoutIsWhatItAllocates() {
    try (NDManager manager = NDManager.newBaseManager();
        VisionLanguageModel model = new VisionLanguageModel(ModelPreset.SMALL.dimensions(), manager, 1)) {
      Map<String, ai.djl.ndarray.types.Shape> layout = VisionLanguageModel.layout(ModelPreset.SMALL.dimensions());
      assertThat(layout.keySet()).containsExactlyElementsOf(model.parameters().all().keySet());
      model.parameters().all().forEach((name, array) -> assertThat(layout.get(name)).as(name).isEqualTo(array.getShape()));
    }
  }

  @Test
  void publishedFoldersFitSingleFileOrShardedAndLoad() throws IOException {
    Path lm = PublishedCheckpoints.qwen2(dir.resolve("qwen"), TINY, 3, "norms");
    Path vision = PublishedCheckpoints.siglip(dir.resolve("siglip"), TINY, "norms");
    assertThat(lm.resolve("model.safetensors.index.json")).exists();

    WeightsCheck.Report report = WeightsCheck.check(TINY, lm, vision);

    assertThat(report.problems()).isEmpty();
    assertThat(report.describe()).contains("in 3 file(s)").contains("the weights fit the model");
    try (NDManager manager = NDManager.newBaseManager(); VisionLanguageModel model = new VisionLanguageModel(TINY, manager, 1)) {
      InitialWeights.loadChecked(model, lm, vision);
      assertThat(model.parameters().get("model.norm.weight").toFloatArray()).containsOnly(1.0f);
      assertThat(model.parameters().get("vision_model.encoder.layers.0.layer_norm1.weight").toFloatArray()).containsOnly(1.0f);
      // The script's embedding pattern, (i * 7919 mod 255 - 127) / 4096, read back from bf16.
      float[] embedding = model.parameters().get("model.embed_tokens.weight").toFloatArray();
      for (int i : new int[] {0, 1, 254, 255, embedding.length - 1}) {
        assertThat(embedding[i]).as("element %d", i).isEqualTo(((i * 7919L) % 255 - 127) / 4096.0f);
      }
    }
  }

  @Test
  void eachMisfitIsNamedWithItsTensorAndShape() throws IOException {
    Path vision = PublishedCheckpoints.siglip(dir.resolve("siglip"), TINY, "zeros");
    LanguageModelSpec lm = TINY.languageModel();
    // A checkpoint of another width: config.json says so, and so does every tensor's shape.
    LanguageModelSpec wider = new LanguageModelSpec(lm.hiddenSize() * 2, lm.layers(), lm.heads(), lm.kvHeads(),
        lm.intermediateSize(), lm.vocabSize(), lm.ropeTheta(), lm.rmsNormEps(), lm.tieEmbeddings());
    Path other = PublishedCheckpoints.qwen2(dir.resolve("wider"), new ModelDimensions(TINY.vision(), TINY.projectorHidden(),
        wider), 1, "zeros");

    WeightsCheck.Report report = WeightsCheck.check(TINY, other, vision);

    assertThat(report.fits()).isFalse();
    assertThat(report.describe())
        .contains("config.json hidden_size is " + 2 * lm.hiddenSize() + ", the model has " + lm.hiddenSize())
        .contains("tensor model.norm.weight has shape (" + 2 * lm.hiddenSize() + "), the model needs (" + lm.hiddenSize() + ")");

    // A shard the index names is gone; a tensor no part of the model has; a dtype Kiln cannot convert.
    Path sharded = PublishedCheckpoints.qwen2(dir.resolve("sharded"), TINY, 2, "zeros");
    Files.delete(sharded.resolve("model-00002-of-00002.safetensors"));
    SafeTensors.write(vision.resolve("extra.safetensors"), Map.of("vision_model.merger.weight",
        new SafeTensors.Tensor(new long[] {2, 2}, new float[4])), Map.of());
    writeInt64(vision.resolve("ints.safetensors"), "vision_model.embeddings.position_ids");

    String problems = WeightsCheck.check(TINY, sharded, vision).describe();

    assertThat(problems).contains("shard model-00002-of-00002.safetensors named by model.safetensors.index.json is missing")
        .contains("missing tensor model.norm.weight (" + lm.hiddenSize() + ")")
        .contains("unexpected tensor vision_model.merger.weight (2, 2): not part of this model")
        .contains("tensor vision_model.embeddings.position_ids (4) has dtype I64");
    try (NDManager manager = NDManager.newBaseManager(); VisionLanguageModel model = new VisionLanguageModel(TINY, manager, 1)) {
      assertThatThrownBy(() -> InitialWeights.loadChecked(model, sharded, vision))
          .hasMessageContaining("the initial weights do not fit the model").hasMessageContaining("missing tensor");
    }
  }

  @Test
  void aKilnExportReloadsIntoTheSameLogitsAndServesAsInitialWeights() throws IOException {
    try (NDManager manager = NDManager.newBaseManager();
        VisionLanguageModel trained = new VisionLanguageModel(TINY, manager, 3)) {
      Map<String, SafeTensors.Tensor> weights = new java.util.LinkedHashMap<>();
      trained.parameters().all().forEach((name, array) -> weights.put(name,
          new SafeTensors.Tensor(array.getShape().getShape(), array.toFloatArray())));
      Path exported = dir.resolve("exported");
      ModelFolder.write(exported, weights, TINY, 16, Map.of());
      PackedBatch batch = PackedBatch.of(List.of(TinySequences.sequence(64, 16, 32, List.of(
          TinySequences.caption("a", 0, 10, 11, 12), TinySequences.caption("b", 1, 20, 21)))), 64,
          PackedAttention.PER_SAMPLE, 1);
      float[] expected;
      try (NDManager step = manager.newSubManager()) {
        expected = trained.logits(batch, step).toFloatArray();
      }

      ModelFolder.Loaded reloaded = ModelFolder.read(exported, manager);
      assertThat(WeightsCheck.check(TINY, exported, exported).problems()).isEmpty();
      try (VisionLanguageModel initialized = new VisionLanguageModel(TINY, manager, 99);
          NDManager step = manager.newSubManager()) {
        InitialWeights.loadChecked(initialized, exported, exported);
        assertThat(reloaded.model().logits(batch, step).toFloatArray()).containsExactly(expected);
        assertThat(initialized.logits(batch, step).toFloatArray()).containsExactly(expected);
      } finally {
        reloaded.model().close();
      }
    }
  }

  @Test
  void anMlmFilterModelInLlavasLayoutIsCheckedAndLoadsUnderKilnsNames() throws IOException {
    String mm = "{\"mm_projector_type\": \"mlp2x_gelu\", \"mm_vision_tower\": \"local/tiny-siglip\","
        + " \"mm_vision_select_layer\": -2, \"mm_hidden_size\": " + TINY.vision().width() + "}";
    Path folder = PublishedCheckpoints.llava(dir.resolve("mlm-filter"), new ModelDimensions(TINY.vision(),
        TINY.languageModel().hiddenSize(), TINY.languageModel()), mm, true, "norms");

    WeightsCheck.Report report = WeightsCheck.checkScoringModel(folder);

    assertThat(report.problems()).isEmpty();
    assertThat(report.describe()).contains("LLaVA layout, projector mlp2x_gelu, " + TINY.vision().gridSize()
        * TINY.vision().gridSize() + " visual tokens");
    try (NDManager manager = NDManager.newBaseManager()) {
      ModelFolder.Loaded loaded = ModelFolder.read(folder, manager);
      assertThat(loaded.visualTokens()).isEqualTo(TINY.vision().gridSize() * TINY.vision().gridSize());
      assertThat(loaded.model().parameters().get("vision_model.encoder.layers.0.layer_norm1.weight").toFloatArray())
          .as("read from model.vision_tower.vision_tower.vision_model...").containsOnly(1.0f);
      assertThat(loaded.model().parameters().get("projector.fc1.weight").toFloatArray())
          .as("read from model.mm_projector.0.weight").containsOnly(0.0f);
      loaded.model().close();
    }
  }

  @Test
  void anMlmFilterModelKilnCannotRunIsRefusedNamingTheField() throws IOException {
    String mm = "{\"mm_projector_type\": \"linear\", \"mm_vision_tower\": \"openai/clip-vit-large-patch14-336\","
        + " \"mm_vision_select_layer\": -1}";
    Path folder = PublishedCheckpoints.llava(dir.resolve("other"), new ModelDimensions(TINY.vision(),
        TINY.languageModel().hiddenSize(), TINY.languageModel()), mm, false, "zeros");

    assertThat(WeightsCheck.checkScoringModel(folder).describe())
        .contains("mm_vision_tower openai/clip-vit-large-patch14-336: Kiln knows the dimensions of [google/siglip-so400m-patch14-384]")
        .contains("mm_vision_select_layer is -1")
        .contains("mm_projector_type is linear");
    try (NDManager manager = NDManager.newBaseManager()) {
      assertThatThrownBy(() -> ModelFolder.read(folder, manager)).hasMessageContaining("cannot score with this model");
    }
  }

  @Test
  void aFolderWithoutConfigJsonCannotBeChecked() throws IOException {
    Path lm = PublishedCheckpoints.qwen2(dir.resolve("qwen"), TINY, 1, "zeros");
    Files.delete(lm.resolve("config.json"));

    assertThat(WeightsCheck.check(TINY, lm, null).describe()).contains("no config.json");
  }

  /** A file with one I64 tensor of 4 elements, as a position-ids buffer would be saved. */
  private static void writeInt64(Path file, String name) throws IOException {
    String header = "{\"" + name + "\":{\"dtype\":\"I64\",\"shape\":[4],\"data_offsets\":[0,32]}}";
    byte[] json = header.getBytes(java.nio.charset.StandardCharsets.UTF_8);
    java.nio.ByteBuffer out = java.nio.ByteBuffer.allocate(8 + json.length + 32).order(java.nio.ByteOrder.LITTLE_ENDIAN);
    out.putLong(json.length).put(json);
    Files.write(file, out.array());
  }
}
