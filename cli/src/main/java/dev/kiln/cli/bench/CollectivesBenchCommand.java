package dev.kiln.cli.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.api.v1alpha1.ModelPreset;
import dev.kiln.trainer.bench.CollectivesBench;
import dev.kiln.trainer.bench.TrainerBench;
import dev.kiln.trainer.device.ComputeDevice;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code kiln bench collectives}: ring all-reduce / reduce-scatter / all-gather bandwidth against loopback. */
@Command(name = "collectives", mixinStandardHelpOptions = true,
    description = "Bus bandwidth of the CPU ring collectives for 2 and 4 local ranks, against a loopback copy.")
public final class CollectivesBenchCommand implements Callable<Integer> {

  @Option(names = "--megabytes", defaultValue = "64")
  int megabytes;

  @Option(names = "--repeats", defaultValue = "3")
  int repeats;

  @Option(names = "--backend", defaultValue = "tcp", description = "tcp (the CPU ring), or nccl (GPU r per rank; unverified)")
  String backend;

  @Spec
  CommandSpec spec;

  @Override
  public Integer call() throws Exception {
    // The small preset's step at world 1 (kiln bench trainer's defaults) and its gradient bucket.
    var small = TrainerBench.run(ModelPreset.SMALL.dimensions(), "small", 512, 16, 2, 3, ComputeDevice.cpu());
    long parameters = ((Number) small.get("parameters")).longValue();
    double stepSeconds = ((Number) small.get("step_seconds_median")).doubleValue();
    var result = "nccl".equalsIgnoreCase(backend)
        ? CollectivesBench.run(CollectivesBench.NCCL, megabytes, new int[] {2}, parameters, stepSeconds, repeats)
        : CollectivesBench.run(CollectivesBench.TCP_RING, megabytes, new int[] {2, 4}, parameters, stepSeconds, repeats);
    spec.commandLine().getOut().println(new ObjectMapper().writeValueAsString(result));
    spec.commandLine().getOut().flush();
    return 0;
  }
}
