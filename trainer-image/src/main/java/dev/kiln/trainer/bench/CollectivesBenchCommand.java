package dev.kiln.trainer.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.api.runconfig.ExitCodes;
import dev.kiln.api.v1alpha1.ModelPreset;
import dev.kiln.api.v1alpha1.Precision;
import dev.kiln.model.ComputeDevice;
import dev.kiln.trainer.device.EngineThreads;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code bench collectives}: all-reduce / reduce-scatter / all-gather bandwidth against loopback. */
@Command(name = "collectives", mixinStandardHelpOptions = true,
    description = "Bus bandwidth of the collectives for local ranks, against a loopback copy.")
public final class CollectivesBenchCommand implements Callable<Integer> {

  @Option(names = "--megabytes", defaultValue = "64")
  int megabytes;

  @Option(names = "--repeats", defaultValue = "3")
  int repeats;

  @Option(names = "--backend", defaultValue = "tcp", description = "tcp (the CPU ring), or nccl (rank r on GPU r)")
  String backend;

  @Option(names = "--ranks", split = ",", description = "Local ranks to measure; default 2,4 for tcp, 2 for nccl.")
  List<Integer> ranks;

  @Spec
  CommandSpec spec;

  @Override
  public Integer call() throws Exception {
    EngineThreads.configureForTraining();
    boolean nccl = "nccl".equalsIgnoreCase(backend);
    int[] worlds = (ranks != null ? ranks : nccl ? List.of(2) : List.of(2, 4)).stream().mapToInt(Integer::intValue)
        .toArray();
    var result = nccl
        // On GPUs the bucket is the transfer size itself; the step overhead belongs to the CPU ring.
        ? CollectivesBench.run(CollectivesBench.NCCL, megabytes, worlds, megabytes * (1L << 20) / 4, 0, repeats)
        : cpuRing(worlds);
    spec.commandLine().getOut().println(new ObjectMapper().writeValueAsString(result));
    spec.commandLine().getOut().flush();
    return exitCode(result);
  }

  /** A measurement of collectives that give wrong sums is a failure, whatever their speed. */
  static int exitCode(Map<String, Object> result) {
    return Boolean.TRUE.equals(result.get("correct")) ? ExitCodes.OK : ExitCodes.FAILURE;
  }

  /** The ring, and its overhead on the small preset's step at world 1 (bench trainer's defaults). */
  private Map<String, Object> cpuRing(int[] worlds) throws Exception {
    var small = TrainerBench.run(TrainerBench.Setup.of("small", ModelPreset.SMALL.dimensions(), 512, 16, 2, 3,
        ComputeDevice.cpu(), Precision.FLOAT32));
    long parameters = ((Number) small.get("parameters")).longValue();
    double stepSeconds = ((Number) small.get("step_seconds_median")).doubleValue();
    return CollectivesBench.run(CollectivesBench.TCP_RING, megabytes, worlds, parameters, stepSeconds, repeats);
  }
}
