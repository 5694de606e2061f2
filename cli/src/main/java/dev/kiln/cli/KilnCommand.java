package dev.kiln.cli;

import dev.kiln.trainer.ExportCommand;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code kiln} command: validate and inspect MultimodalPretrainJobs, run them locally. */
@Command(name = "kiln", mixinStandardHelpOptions = true, versionProvider = KilnCommand.Version.class,
    description = "Compute-efficient multimodal-LLM training (the Open-Qwen2VL recipe) as one Kubernetes resource.",
    subcommands = {ValidateCommand.class, CrdCommand.class, RunCommand.class, StatusCommand.class, PinCommand.class,
        EstimateCommand.class, DataCommand.class, ExportCommand.class, BenchCommand.class, WeightsCommand.class,
        CommandLine.HelpCommand.class})
public final class KilnCommand implements Runnable {

  @CommandLine.Spec
  CommandLine.Model.CommandSpec spec;

  @Override
  public void run() {
    spec.commandLine().usage(spec.commandLine().getOut());
  }

  public static void main(String[] args) {
    // The API server and clients log every request at info; the command line prints its own story.
    if (System.getProperty("org.slf4j.simpleLogger.defaultLogLevel") == null) {
      System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", "warn");
      // DJL probes for CUDA on every start; on a machine without GPUs that is expected, not a warning.
      System.setProperty("org.slf4j.simpleLogger.log.ai.djl.util.cuda", "error");
      // v1alpha1 is Kiln's own API version, on purpose; the client's reminder is not for users.
      System.setProperty("org.slf4j.simpleLogger.log.io.fabric8.kubernetes.client.dsl.internal.VersionUsageUtils", "error");
    }
    System.exit(commandLine().execute(args));
  }

  /** The command line with Kiln's error handling, for main and for tests. */
  public static CommandLine commandLine() {
    return new CommandLine(new KilnCommand()).setCaseInsensitiveEnumValuesAllowed(true)
        .setExecutionExceptionHandler(new CommandErrors());
  }

  /** Version from the jar manifest, or "development" when run from classes. */
  static final class Version implements CommandLine.IVersionProvider {
    @Override
    public String[] getVersion() {
      String version = KilnCommand.class.getPackage().getImplementationVersion();
      return new String[] {"kiln " + (version != null ? version : "development")};
    }
  }
}
