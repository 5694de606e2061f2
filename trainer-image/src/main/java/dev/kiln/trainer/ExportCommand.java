package dev.kiln.trainer;

import dev.kiln.api.runconfig.RunConfig;
import dev.kiln.trainer.checkpoint.CheckpointStore;
import dev.kiln.model.weights.ModelFolder;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * Exports a checkpoint as a {@link ModelFolder}: HF-layout safetensors with Qwen2 names
 * ({@code model.*}), SigLIP names ({@code vision_model.*}) and the projector, plus a
 * {@code config.json} with the dimensions. Copy the tokenizer.json next to it to score with it.
 */
@Command(name = "export", mixinStandardHelpOptions = true, description = "Export a checkpoint as HF-layout safetensors.")
public final class ExportCommand implements Callable<Integer> {

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
    ModelFolder.write(output, loaded.model(), run.model(), run.data().visualTokens(),
        Map.of("kiln_checkpoint", Map.of("step", loaded.state().step(), "manifest_sha256", loaded.manifestSha256())));
    System.out.println("exported " + loaded.model().size() + " tensors to " + output);
    return 0;
  }
}
