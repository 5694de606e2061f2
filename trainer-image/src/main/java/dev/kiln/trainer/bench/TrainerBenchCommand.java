package dev.kiln.trainer.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.api.v1alpha1.ModelPreset;
import dev.kiln.api.v1alpha1.Precision;
import dev.kiln.trainer.device.ComputeDevice;
import dev.kiln.trainer.device.EngineThreads;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
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

  @Spec
  CommandSpec spec;

  @Override
  public Integer call() throws Exception {
    EngineThreads.configureForTraining();
    ModelPreset model = ModelPreset.valueOf(preset.toUpperCase().replace('-', '_'));
    var result = TrainerBench.run(model.dimensions(), preset, sequenceLength, visualTokens, batch, steps,
        "gpu".equalsIgnoreCase(device) ? ComputeDevice.gpu(0) : ComputeDevice.cpu(),
        "Float16Mixed".equalsIgnoreCase(precision) ? Precision.FLOAT16_MIXED : Precision.FLOAT32);
    spec.commandLine().getOut().println(new ObjectMapper().writeValueAsString(result));
    spec.commandLine().getOut().flush();
    return 0;
  }
}
