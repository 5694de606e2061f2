package dev.kiln.trainer;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.kiln.api.runconfig.RunConfig;
import dev.kiln.trainer.checkpoint.CheckpointStore;
import dev.kiln.model.weights.SafeTensors;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * Exports a checkpoint as HF-layout safetensors: {@code model.safetensors} with Qwen2 names
 * ({@code model.*}), SigLIP names ({@code vision_model.*}) and the projector, plus a
 * {@code config.json} with the dimensions.
 */
@Command(name = "export", mixinStandardHelpOptions = true, description = "Export a checkpoint as HF-layout safetensors.")
final class ExportCommand implements Callable<Integer> {

  @Option(names = "--checkpoint", required = true, description = "A step-NNNNNNNN folder, or a stage folder (its latest)")
  Path checkpoint;

  @Option(names = "--config", required = true, description = "The run config the checkpoint was trained with")
  Path config;

  @Option(names = "--output", required = true)
  Path output;

  @Override
  public Integer call() throws Exception {
    RunConfig run = TrainCommand.readConfig(config);
    var loaded = CheckpointStore.load(checkpoint);
    Files.createDirectories(output);
    Map<String, SafeTensors.Tensor> tensors = new LinkedHashMap<>(loaded.model());
    String patch = "vision_model.embeddings.patch_embedding.weight";
    var vision = run.model().vision();
    if (tensors.containsKey(patch)) {
      // Back to SigLIP's Conv2d layout (w, 3, p, p); the numbers are already in that order.
      tensors.put(patch, new SafeTensors.Tensor(new long[] {vision.width(), 3, vision.patchSize(), vision.patchSize()},
          tensors.get(patch).data()));
    }
    SafeTensors.write(output.resolve("model.safetensors"), tensors, Map.of("format", "pt"));
    var lm = run.model().languageModel();
    Map<String, Object> hf = new LinkedHashMap<>();
    hf.put("architectures", new String[] {"KilnVisionLanguageModel"});
    hf.put("text_config", Map.of("model_type", "qwen2", "hidden_size", lm.hiddenSize(), "num_hidden_layers", lm.layers(),
        "num_attention_heads", lm.heads(), "num_key_value_heads", lm.kvHeads(), "intermediate_size", lm.intermediateSize(),
        "vocab_size", lm.vocabSize(), "rope_theta", lm.ropeTheta(), "rms_norm_eps", lm.rmsNormEps(),
        "tie_word_embeddings", lm.tieEmbeddings()));
    hf.put("vision_config", Map.of("model_type", "siglip_vision_model", "image_size", vision.imageSize(),
        "patch_size", vision.patchSize(), "hidden_size", vision.width(), "num_hidden_layers", vision.depth() - 1,
        "num_attention_heads", vision.heads(), "intermediate_size", vision.mlpDim()));
    hf.put("projector", Map.of("type", "avgpool", "hidden_size", run.model().projectorHidden(),
        "visual_tokens", run.data().visualTokens()));
    hf.put("kiln_checkpoint", Map.of("step", loaded.state().step(), "manifest_sha256", loaded.manifestSha256()));
    Files.writeString(output.resolve("config.json"),
        new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsString(hf));
    System.out.println("exported " + loaded.model().size() + " tensors to " + output);
    return 0;
  }
}
