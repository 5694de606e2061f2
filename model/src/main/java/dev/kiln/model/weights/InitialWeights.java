package dev.kiln.model.weights;

import ai.djl.ndarray.types.Shape;
import dev.kiln.api.Canonical;
import dev.kiln.model.Parameters;
import dev.kiln.model.VisionLanguageModel;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;
import java.util.stream.StreamSupport;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Loads HF-layout safetensors (Qwen2ForCausalLM, SiglipVisionModel) into the model by their
 * public tensor names; bf16 and f16 files are converted to float32 in Java.
 */
public final class InitialWeights {

  private static final Logger LOG = LoggerFactory.getLogger(InitialWeights.class);

  private InitialWeights() {}

  /**
   * Checks the folders against the model first ({@link WeightsCheck}: config.json, names, shapes,
   * dtypes) and refuses weights that do not fit, naming every problem; then loads them. What no
   * published checkpoint has (the projector, and a part whose folder is not given) starts from
   * the model's own initialization.
   */
  public static void loadChecked(VisionLanguageModel model, Path languageModel, Path visionEncoder) throws IOException {
    WeightsCheck.Report report = WeightsCheck.check(model.dimensions(), languageModel, visionEncoder);
    if (!report.fits()) {
      throw new IOException("the initial weights do not fit the model:\n" + report.describe());
    }
    load(model.parameters(), languageModel, visionEncoder);
  }

  /**
   * What the initial weights are, as one sha256: over a line per file of both folders ({@code
   * languageModel/<path> <sha256>}, then {@code visionEncoder/...}, each sorted by path), so that
   * where the folders sit does not count, and any file in them (weights, config, tokenizer) does;
   * hidden files and folders (a downloader's metadata) do not.
   */
  public static String sha256(Path languageModel, Path visionEncoder) throws IOException {
    StringBuilder listing = new StringBuilder();
    String[] roles = {"languageModel", "visionEncoder"};
    Path[] folders = {languageModel, visionEncoder};
    for (int i = 0; i < roles.length; i++) {
      if (folders[i] == null) {
        continue;
      }
      List<Path> files;
      try (Stream<Path> walk = Files.walk(folders[i])) {
        Path base = folders[i];
        // Hidden files are a tool's bookkeeping (huggingface-cli keeps download metadata with times in .cache/), not weights.
        files = walk.filter(Files::isRegularFile)
            .filter(f -> StreamSupport.stream(base.relativize(f).spliterator(), false)
                .noneMatch(part -> part.toString().startsWith(".")))
            .sorted().toList();
      }
      for (Path file : files) {
        listing.append(roles[i]).append('/').append(folders[i].relativize(file).toString().replace('\\', '/'))
            .append(' ').append(Canonical.sha256(file)).append('\n');
      }
    }
    return Canonical.sha256(listing.toString().getBytes(StandardCharsets.UTF_8));
  }

  /** Loads every *.safetensors of the folders; returns names of model tensors the files did not have. */
  public static List<String> load(Parameters parameters, Path... folders) throws IOException {
    return load(parameters, UnaryOperator.identity(), folders);
  }

  /**
   * As {@link #load(Parameters, Path...)}, each file's tensor taken under the name {@code rename}
   * gives it (a LLaVA checkpoint's names to Kiln's: {@link LlavaLayout#kilnName}).
   */
  static List<String> load(Parameters parameters, UnaryOperator<String> rename, Path... folders) throws IOException {
    Set<String> loaded = new HashSet<>();
    int[] ignored = {0};
    for (Path folder : folders) {
      if (folder == null) {
        continue;
      }
      List<Path> files = WeightsCheck.files(folder);
      if (files.isEmpty()) {
        throw new IOException(folder + ": no *.safetensors files");
      }
      for (Path file : files) {
        // Tensors the model does not have (a SigLIP file's text tower) are never decoded.
        SafeTensors.each(file, name -> {
          boolean wanted = parameters.all().containsKey(rename.apply(name));
          ignored[0] += wanted ? 0 : 1;
          return wanted;
        }, (name, tensor) -> {
          parameters.load(rename.apply(name), tensor.data(), new Shape(tensor.shape()));
          loaded.add(rename.apply(name));
        });
      }
    }
    List<String> missing = parameters.all().keySet().stream().filter(n -> !loaded.contains(n)).toList();
    LOG.info("weights: {} tensors loaded, {} in the files unused, {} of the model not in the files",
        loaded.size(), ignored[0], missing.size());
    return missing;
  }
}
