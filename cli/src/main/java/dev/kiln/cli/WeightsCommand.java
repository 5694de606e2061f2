package dev.kiln.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.api.JobFiles;
import dev.kiln.api.v1alpha1.ModelDimensions;
import dev.kiln.api.v1alpha1.ModelPreset;
import dev.kiln.api.v1alpha1.MultimodalPretrainJob;
import dev.kiln.model.weights.WeightsCheck;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code kiln weights}: checkpoint folders checked against a model before they are trained from. */
@Command(name = "weights", mixinStandardHelpOptions = true,
    description = "Check checkpoint folders (as the hub publishes them) against a model.",
    subcommands = {WeightsCommand.Check.class})
final class WeightsCommand implements Runnable {

  @CommandLine.Spec
  CommandLine.Model.CommandSpec spec;

  @Override
  public void run() {
    spec.commandLine().usage(spec.commandLine().getOut());
  }

  /**
   * {@code kiln weights check}: reads the folders' config.json and safetensors headers (no
   * weights), and says whether every tensor the model needs is there with its shape and a dtype
   * Kiln converts, and nothing unexpected is; exit 0 when the weights fit, 1 when they do not.
   */
  @Command(name = "check", mixinStandardHelpOptions = true,
      description = "Check a language model's and a vision encoder's folders against a preset or a job's model, and an"
          + " MLM-Filter scoring model against its own config; exit 0 when they fit, 1 when they do not (each offending"
          + " tensor named with its shape).")
  static final class Check implements Callable<Integer> {

    /** The model to check against: a preset, or a job file's {@code spec.model}. */
    static final class Model {
      @Option(names = "--preset", paramLabel = "PRESET", description = "tiny, small or open-qwen2vl-2b")
      String preset;

      @Option(names = "--job", paramLabel = "FILE", description = "A job file; its spec.model is the model")
      Path job;
    }

    @ArgGroup(multiplicity = "0..1")
    Model model;

    @Option(names = "--language-model", paramLabel = "DIR",
        description = "Qwen2 folder: config.json and model.safetensors (or shards with model.safetensors.index.json)")
    Path languageModel;

    @Option(names = "--vision-encoder", paramLabel = "DIR",
        description = "SigLIP folder: config.json and model.safetensors (the dual encoder, or the vision tower only)")
    Path visionEncoder;

    @Option(names = "--mlm-filter", paramLabel = "DIR",
        description = "A scoring model for the mlmFilter filter: as MLM-Filter publishes it (LLaVA's layout), or a Kiln"
            + " export; checked against the model its own config.json describes")
    Path mlmFilter;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws Exception {
      if (languageModel == null && visionEncoder == null && mlmFilter == null) {
        throw new CommandLine.ParameterException(spec.commandLine(),
            "give --language-model DIR, --vision-encoder DIR, --mlm-filter DIR, or several");
      }
      if ((languageModel != null || visionEncoder != null) && model == null) {
        throw new CommandLine.ParameterException(spec.commandLine(),
            "--language-model and --vision-encoder are checked against a model: give --preset or --job");
      }
      PrintWriter out = spec.commandLine().getOut();
      boolean fits = true;
      if (languageModel != null || visionEncoder != null) {
        WeightsCheck.Report report = WeightsCheck.check(dimensions(), languageModel, visionEncoder);
        out.println(report.describe());
        fits = report.fits();
      }
      if (mlmFilter != null) {
        WeightsCheck.Report report = WeightsCheck.checkScoringModel(mlmFilter);
        out.println(report.describe());
        fits &= report.fits();
      }
      out.flush();
      return fits ? 0 : 1;
    }

    private ModelDimensions dimensions() throws java.io.IOException {
      if (model.preset != null) {
        try {
          return new ObjectMapper().convertValue(model.preset, ModelPreset.class).dimensions();
        } catch (IllegalArgumentException e) {
          throw new CommandLine.ParameterException(spec.commandLine(), "--preset " + model.preset
              + " is not a preset (tiny, small, open-qwen2vl-2b)");
        }
      }
      List<MultimodalPretrainJob> jobs = JobFiles.read(model.job);
      if (jobs.size() != 1) {
        throw new CommandLine.ParameterException(spec.commandLine(), model.job + " holds " + jobs.size()
            + " jobs; give a file with one");
      }
      return jobs.getFirst().getSpec().model().resolve();
    }
  }
}
