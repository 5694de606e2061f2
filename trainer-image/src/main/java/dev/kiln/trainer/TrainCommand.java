package dev.kiln.trainer;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.api.runconfig.ExitCodes;
import dev.kiln.api.runconfig.FailureReport;
import dev.kiln.api.runconfig.WritableFolder;
import dev.kiln.api.v1alpha1.CollectiveBackend;
import dev.kiln.api.runconfig.RunConfig;
import dev.kiln.api.runconfig.TerminationMessage;
import dev.kiln.api.runconfig.TrainerProgress;
import dev.kiln.api.runconfig.TrainerSummary;
import dev.kiln.api.runconfig.PodRoot;
import dev.kiln.trainer.checkpoint.CheckpointStore;
import dev.kiln.trainer.data.PackedDataset;
import dev.kiln.model.ComputeDevice;
import dev.kiln.trainer.loop.ProgressServer;
import dev.kiln.trainer.loop.TrainingRun;
import dev.kiln.trainer.parallel.Collectives;
import dev.kiln.trainer.parallel.LocalRanks;
import dev.kiln.trainer.parallel.NcclCollectives;
import dev.kiln.trainer.parallel.RendezvousStore;
import dev.kiln.trainer.parallel.StopRequest;
import dev.kiln.trainer.parallel.TcpRingCollectives;
import java.io.IOException;
import java.net.InetAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code train --config /kiln/config/run.json}: trains one stage. Rank comes from
 * the environment the operator sets (KILN_NODE_RANK, KILN_GPUS_PER_NODE, WORLD_SIZE). Exit codes
 * tell the operator what to do: 0 done, 78 bad config (not retried), 143 stopped by SIGTERM with
 * the step it was on checkpointed, anything else retried from the latest checkpoint. The final
 * summary goes to the termination message.
 */
@Command(name = "train", mixinStandardHelpOptions = true, description = "Train one stage of a MultimodalPretrainJob.")
public final class TrainCommand implements Callable<Integer> {

  @Option(names = "--config", required = true, description = "Run config (kiln.dev/run-config/v1)")
  Path config;

  @Option(names = "--root", description = "Folder standing in for the pod's / when run outside a container"
      + " (default: $KILN_ROOT)")
  Path root;

  @Option(names = "--termination-log", description = "Where to write the final summary",
      defaultValue = "${env:KILN_TERMINATION_LOG:-/dev/termination-log}")
  Path terminationLog;

  @Override
  public Integer call() throws IOException, InterruptedException {
    PodRoot pod = root != null ? new PodRoot(root) : PodRoot.fromEnvironment();
    RunConfig run;
    try {
      run = readConfig(pod.resolve(config));
    } catch (IllegalArgumentException e) {
      System.err.println(e.getMessage());
      return ExitCodes.CONFIG;
    }
    var unwritable = WritableFolder.problem(pod.resolve(run.checkpoints().dir()), System.getenv());
    if (unwritable.isPresent()) {
      System.err.println("train: " + unwritable.get());
      return ExitCodes.CONFIG;
    }
    int nodeRank = intEnv("KILN_NODE_RANK", 0);
    int world = intEnv("WORLD_SIZE", 1);
    // SIGTERM (preemption, eviction, drain) stops training at the next step, checkpointed; each local rank hears it.
    StopRequest stop = StopRequest.onSigterm(() -> System.out.println(
        "SIGTERM: finishing the current step, writing a checkpoint, then exiting " + ExitCodes.STOPPED));
    int ranksPerPod = Math.max(1, run.world().gpusPerNode());
    if (world > 1 && ranksPerPod > 1 && LocalRanks.current() < 0) {
      List<String> args = new ArrayList<>(List.of("train", "--config", config.toString(), "--termination-log",
          terminationLog.toString()));
      if (root != null) {
        args.addAll(List.of("--root", root.toString()));
      }
      return LocalRanks.launch(ranksPerPod, TrainerMain.class.getName(), args);
    }
    int localRank = Math.max(0, LocalRanks.current());
    int rank = nodeRank * ranksPerPod + localRank;
    ComputeDevice device;
    try {
      device = ComputeDevice.forRank(run.world().gpusPerNode(), localRank, System.getenv(ComputeDevice.ENV));
    } catch (IllegalStateException e) {
      System.err.println(e.getMessage());
      return ExitCodes.CONFIG;
    }
    if (run.world().gpusPerNode() > 0 && !device.gpu()) {
      System.err.println(ComputeDevice.ENV + "=" + ComputeDevice.CPU + ": a GPU stage on a node whose GPUs are fake;"
          + " training on the CPU");
    }
    Collectives collectives;
    try {
      collectives = world == 1 ? Collectives.single() : join(rank, world, localRank, device, run.world().collectives());
    } catch (RendezvousStore.RendezvousTimeoutException e) {
      System.err.println(e.getMessage());
      return ExitCodes.RENDEZVOUS_TIMEOUT;
    }
    TrainerSummary summary;
    TrainingRun training = new TrainingRun(run, pod, rank, world).stopOn(stop);
    ProgressServer progress = rank == 0 ? serveProgress(run.stage()) : null;
    try (collectives; progress) {
      summary = training.on(device).across(collectives)
        .onStep(m -> {
          System.out.printf("step %d/%d loss %.4f lr %.2e grad %.3f tokens/s %.0f data-wait %.0f%%%n",
              m.step(), m.totalSteps(), m.loss(), m.lr(), m.gradNorm(), m.tokensPerSecond(), 100 * m.dataWaitFraction());
          if (progress != null) {
            progress.step(m);
          }
        })
        .onCheckpoint(seconds -> {
          if (progress != null) {
            progress.checkpointed(seconds);
          }
        })
        .run();
    } catch (TrainingRun.ConfigMismatchException e) {
      // Not retryable: the next attempt would find the same checkpoint.
      System.err.println(e.getMessage());
      TerminationMessage.write(pod.resolve(terminationLog), e.getMessage());
      return ExitCodes.CONFIG;
    } catch (TrainingRun.PinMismatchException e) {
      System.err.println(e.getMessage());
      TerminationMessage.write(pod.resolve(terminationLog), e.getMessage());
      return ExitCodes.PIN_MISMATCH;
    } catch (TrainingRun.DivergedException e) {
      System.err.println(e.getMessage());
      if (rank == 0) {
        TerminationMessage.write(pod.resolve(terminationLog), e.getMessage());
      }
      return ExitCodes.DIVERGED;
    } catch (CheckpointStore.NoUsableCheckpointException | PackedDataset.UnusableException e) {
      System.err.println(e.getMessage());
      TerminationMessage.write(pod.resolve(terminationLog), e.getMessage());
      return ExitCodes.DATA;
    } catch (RuntimeException e) {
      // Unexpected: one line for the pod's status, then the program's usual report (exit 1, retried).
      TerminationMessage.write(pod.resolve(terminationLog), FailureReport.describe(e));
      throw e;
    } catch (java.nio.file.FileSystemException e) {
      // A write failed (a full disk, a volume gone read-only): say which file and why; the next
      // attempt resumes from the latest complete checkpoint, once there is room.
      String message = FailureReport.describe(e);
      System.err.println("rank " + rank + " of " + world + ": " + message);
      TerminationMessage.write(pod.resolve(terminationLog), message);
      return ExitCodes.FAILURE;
    } catch (IOException e) {
      // A peer rank failed or hung: this attempt is over, the next one resumes from the checkpoint.
      System.err.println("rank " + rank + " of " + world + ": " + e.getMessage());
      return ExitCodes.FAILURE;
    }
    if (training.stopped()) {
      String message = "stopped by SIGTERM at step " + summary.step() + " after writing checkpoint " + summary.checkpoint();
      System.out.println(message);
      if (localRank == 0) {
        TerminationMessage.write(pod.resolve(terminationLog), message);
      }
      return ExitCodes.STOPPED;
    }
    String json = new ObjectMapper().writeValueAsString(summary);
    System.out.println("summary " + json);
    if (localRank == 0) {  // the pod's message; the other local ranks' summaries are the same run's
      TerminationMessage.write(pod.resolve(terminationLog), json);
    }
    return ExitCodes.OK;
  }

  /**
   * Rank 0's /progress and /metrics on KILN_METRICS_PORT, bound to the pod IP (KILN_RANK_ADDRESS);
   * a port that cannot be bound costs the live progress, never the training.
   */
  private static ProgressServer serveProgress(String stage) {
    String address = podAddress();
    int port = intEnv(TrainerProgress.PORT_ENV, TrainerProgress.DEFAULT_PORT);
    String attempt = System.getenv("KILN_ATTEMPT");
    try {
      ProgressServer server = ProgressServer.start(address, port, stage,
          attempt == null || attempt.isBlank() ? null : Integer.valueOf(attempt.strip()));
      System.out.println("progress and metrics on " + (address == null ? "*" : address) + ":" + server.port());
      return server;
    } catch (IOException e) {
      System.err.println("cannot serve progress on " + address + ":" + port + " (" + e.getMessage()
          + "); training goes on without live progress");
      return null;
    }
  }

  /** Reads and checks the run config; the message names the file and what is wrong. */
  public static RunConfig readConfig(Path file) {
    try {
      RunConfig config = new ObjectMapper().disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
          .readValue(file.toFile(), RunConfig.class);
      if (!RunConfig.API_VERSION.equals(config.apiVersion())) {
        throw new IllegalArgumentException(file + ": apiVersion " + config.apiVersion() + " is not "
            + RunConfig.API_VERSION + " (an operator newer than this trainer?)");
      }
      if (config.batch().globalBatchSize() % (config.batch().microBatchSize() * config.world().worldSize()) != 0) {
        throw new IllegalArgumentException(file + ": batch.globalBatchSize must be a multiple of microBatchSize x worldSize");
      }
      return config;
    } catch (IOException e) {
      throw new IllegalArgumentException(file + ": cannot read run config: " + e.getMessage(), e);
    }
  }

  /**
   * Rank 0 serves the rendezvous store on MASTER_PORT; every rank joins it at MASTER_ADDR (the
   * headless Service name of index 0), then the backend the stage chose: NCCL (GPU stages unless
   * they say Tcp; UNVERIFIED between GPUs), or the TCP ring, offering KILN_RANK_ADDRESS (the pod IP,
   * set by the operator) to its neighbour. A GPU stage on the local node's fake GPUs trains on the
   * CPU, where the ring stands in for NCCL.
   */
  private static Collectives join(int rank, int world, int localRank, ComputeDevice device, CollectiveBackend backend)
      throws IOException {
    // The operator sets it from the stage's scheduling.startupDeadlineSeconds; 300 s outside a pod.
    Duration timeout = Duration.ofSeconds(intEnv("KILN_RENDEZVOUS_TIMEOUT_SECONDS", 300));
    int port = intEnv("MASTER_PORT", 29500);
    String address = podAddress() != null ? podAddress() : InetAddress.getLocalHost().getHostAddress();
    try (RendezvousStore store = rank == 0 ? RendezvousStore.serve(podAddress(), port, timeout)
        : RendezvousStore.join(System.getenv().getOrDefault("MASTER_ADDR", "127.0.0.1"), port, timeout)) {
      if (backend == CollectiveBackend.NCCL && device.gpu()) {
        NcclCollectives nccl = NcclCollectives.connect(store, rank, world, localRank);
        System.out.println("rank " + rank + " of " + world + " joined NCCL");
        return nccl;
      }
      TcpRingCollectives ring = TcpRingCollectives.connect(store, rank, world, address, timeout);
      System.out.println("rank " + rank + " of " + world + " joined the ring");
      return ring;
    }
  }

  /** The pod IP the operator passes in KILN_RANK_ADDRESS, or null outside a pod. */
  private static String podAddress() {
    String address = System.getenv("KILN_RANK_ADDRESS");
    return address == null || address.isBlank() ? null : address.strip();
  }

  private static int intEnv(String name, int fallback) {
    String value = System.getenv(name);
    return value == null || value.isBlank() ? fallback : Integer.parseInt(value.strip());
  }
}
