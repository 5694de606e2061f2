package dev.kiln.cli.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.api.v1alpha1.ModelPreset;
import dev.kiln.trainer.bench.TrainerBench;
import dev.kiln.trainer.device.ComputeDevice;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code kiln bench trainer [--preset small]}: tokens/s, model FLOPs per token and MFU against measured matmul. */
@Command(name = "trainer", mixinStandardHelpOptions = true, description = "Training throughput and MFU on this machine.")
public final class TrainerBenchCommand implements Callable<Integer> {

  @Option(names = "--preset", defaultValue = "small", description = "tiny, small")
  String preset;

  @Option(names = "--seq-len", defaultValue = "512")
  int sequenceLength;

  @Option(names = "--visual-tokens", defaultValue = "16")
  int visualTokens;

  @Option(names = "--batch", defaultValue = "2")
  int batch;

  @Option(names = "--steps", defaultValue = "6")
  int steps;

  @Option(names = "--device", defaultValue = "cpu", description = "cpu, or gpu (GPU 0; unverified, see scripts/gpu-smoke.sh)")
  String device;

  @Spec
  CommandSpec spec;

  @Override
  public Integer call() throws Exception {
    ModelPreset model = ModelPreset.valueOf(preset.toUpperCase().replace('-', '_'));
    var result = TrainerBench.run(model.dimensions(), preset, sequenceLength, visualTokens, batch, steps,
        "gpu".equalsIgnoreCase(device) ? ComputeDevice.gpu(0) : ComputeDevice.cpu());
    spec.commandLine().getOut().println(new ObjectMapper().writeValueAsString(result));
    spec.commandLine().getOut().flush();
    return 0;
  }
}
