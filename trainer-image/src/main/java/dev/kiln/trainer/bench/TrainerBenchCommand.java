package dev.kiln.trainer.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.api.v1alpha1.LanguageModelSpec;
import dev.kiln.api.v1alpha1.ModelDimensions;
import dev.kiln.api.v1alpha1.ModelPreset;
import dev.kiln.api.v1alpha1.PackedAttention;
import dev.kiln.api.v1alpha1.Precision;
import dev.kiln.api.v1alpha1.TrainablePart;
import dev.kiln.model.ComputeDevice;
import dev.kiln.trainer.device.EngineThreads;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/** {@code bench trainer [--preset small]}: tokens/s, model FLOPs per token and MFU against measured matmul. */
@Command(name = "trainer", mixinStandardHelpOptions = true, description = "Training throughput and MFU on this machine.")
public final class TrainerBenchCommand implements Callable<Integer> {

  @Option(names = "--preset", defaultValue = "small", description = "tiny, small, open-qwen2vl-2b")
  String preset;

  @Option(names = "--seq-len", defaultValue = "512")
  int sequenceLength;

  @Option(names = "--visual-tokens", defaultValue = "16")
  int visualTokens;

  @Option(names = "--batch", defaultValue = "2")
  int batch;

  @Option(names = "--steps", defaultValue = "6")
  int steps;

  @Option(names = "--device", defaultValue = "cpu", description = "cpu, or gpu (GPU 0; see scripts/gpu-smoke.sh)")
  String device;

  @Option(names = "--precision", defaultValue = "Float32", description = "Float32, or Float16Mixed (meant for GPUs)")
  String precision;

  @Option(names = "--attention", defaultValue = "PerSample", description = "PerSample, or Continuous (dense over the sequence)")
  String attention;

  @Option(names = "--recompute", description = "Recompute each decoder block's activations in backward")
  boolean recompute;

  @Option(names = "--trainable", split = ",", defaultValue = "vision,projector,languageModel",
      description = "Parts trained (default ${DEFAULT-VALUE})")
  List<String> trainable;

  @Option(names = "--language-model", paramLabel = "WIDTH:LAYERS:HEADS:KV_HEADS:FF:VOCAB",
      description = "Replaces the preset's language model, e.g. 768:8:12:4:2048:32000 (about 75M parameters)")
  String languageModel;

  @Option(names = "--memory-only",
      description = "Only the peak memory against the memory model: no warm-up steps, no timing, no matmul rate")
  boolean memoryOnly;

  @Spec
  CommandSpec spec;

  @Override
  public Integer call() throws Exception {
    EngineThreads.configureForTraining();
    ModelDimensions dims = ModelPreset.valueOf(preset.toUpperCase().replace('-', '_')).dimensions();
    if (languageModel != null) {
      int[] v = Arrays.stream(languageModel.split(":")).mapToInt(Integer::parseInt).toArray();
      if (v.length != 6) {
        throw new ParameterException(spec.commandLine(), "--language-model takes WIDTH:LAYERS:HEADS:KV_HEADS:FF:VOCAB");
      }
      dims = new ModelDimensions(dims.vision(), dims.projectorHidden(),
          new LanguageModelSpec(v[0], v[1], v[2], v[3], v[4], v[5], null, null, null));
    }
    var result = TrainerBench.run(new TrainerBench.Setup(languageModel == null ? preset : preset + "+" + languageModel,
        dims, sequenceLength, visualTokens, batch, steps,
        "gpu".equalsIgnoreCase(device) ? ComputeDevice.gpu(0) : ComputeDevice.cpu(),
        "Float16Mixed".equalsIgnoreCase(precision) ? Precision.FLOAT16_MIXED : Precision.FLOAT32,
        PackedAttention.valueOf(attention.replaceAll("([a-z])([A-Z])", "$1_$2").toUpperCase()), recompute,
        trainable.stream().map(p -> TrainablePart.valueOf(p.replaceAll("([a-z])([A-Z])", "$1_$2").toUpperCase())).toList(),
        memoryOnly));
    spec.commandLine().getOut().println(new ObjectMapper().writeValueAsString(result));
    spec.commandLine().getOut().flush();
    return 0;
  }
}
