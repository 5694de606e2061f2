package dev.kiln.model.weights;

import ai.djl.ndarray.types.Shape;
import dev.kiln.model.Parameters;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Loads HF-layout safetensors (Qwen2ForCausalLM, SiglipVisionModel) into the model by their
 * public tensor names; bf16 and f16 files are converted to float32 in Java.
 */
public final class InitialWeights {

  private static final Logger LOG = LoggerFactory.getLogger(InitialWeights.class);

  private InitialWeights() {}

  /** Loads every *.safetensors of the folders; returns names of model tensors the files did not have. */
  public static List<String> load(Parameters parameters, Path... folders) throws IOException {
    List<String> loaded = new ArrayList<>();
    int ignored = 0;
    for (Path folder : folders) {
      if (folder == null) {
        continue;
      }
      List<Path> files;
      try (Stream<Path> list = Files.list(folder)) {
        files = list.filter(p -> p.toString().endsWith(".safetensors")).sorted().toList();
      }
      if (files.isEmpty()) {
        throw new IOException(folder + ": no *.safetensors files");
      }
      int[] unused = {0};
      for (Path file : files) {
        SafeTensors.each(file, (name, tensor) -> {
          if (parameters.all().containsKey(name)) {
            parameters.load(name, tensor.data(), new Shape(tensor.shape()));
            loaded.add(name);
          } else {
            unused[0]++;
          }
        });
      }
      ignored += unused[0];
    }
    List<String> missing = parameters.all().keySet().stream().filter(n -> !loaded.contains(n)).toList();
    LOG.info("initial weights: {} tensors loaded, {} in the files unused, {} of the model not in the files",
        loaded.size(), ignored, missing.size());
    return missing;
  }
}
