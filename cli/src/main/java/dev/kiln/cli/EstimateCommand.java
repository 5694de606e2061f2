package dev.kiln.cli;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import dev.kiln.api.sizing.GpuPeaks;
import dev.kiln.api.sizing.MemoryFit;
import dev.kiln.api.sizing.PackingSizing;
import dev.kiln.api.v1alpha1.ModelDimensions;
import dev.kiln.api.v1alpha1.MultimodalPretrainJob;
import dev.kiln.api.v1alpha1.Precision;
import dev.kiln.api.v1alpha1.StageSpec;
import dev.kiln.api.v1alpha1.TrainablePart;
import dev.kiln.model.TrainingFlops;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code kiln estimate FILE}: GPU-hours and wall-clock of each stage on its declared GPUs, from
 * tokens x model FLOPs per token / (MFU x peak), and memory per GPU by the {@link dev.kiln.api.sizing.MemoryModel}
 * against the GPU's. An assumption-laden estimate, and it says which assumptions it made.
 */
@Command(name = "estimate", mixinStandardHelpOptions = true,
    description = "Estimate GPU-hours, wall-clock time and memory per GPU of a job on its declared GPUs, and its packing's CPU-hours.")
final class EstimateCommand implements Callable<Integer> {

  static final String DEFAULT_GPU = "NVIDIA-A100-SXM4-40GB";

  @Parameters(index = "0", paramLabel = "FILE")
  Path file;

  @Option(names = "--mfu", defaultValue = "0.3", description = "Model FLOPs utilization to assume (default ${DEFAULT-VALUE})")
  double mfu;

  @Option(names = "--tokens", paramLabel = "STAGE=N",
      description = "Packed tokens per epoch of a stage's data (needed for budgets in epochs), e.g. pretrain=5e9")
  Map<String, Double> epochTokens = new LinkedHashMap<>();

  @Option(names = "--text-tokens-per-sample", defaultValue = "28",
      description = "Mean text tokens per image sample, to count images per token (default ${DEFAULT-VALUE}, captions)")
  double textTokensPerSample;

  @Option(names = "--json", description = "One JSON line instead of a table")
  boolean json;

  @Spec
  CommandSpec spec;

  private final Map<String, MemoryFit.Verdict> memory = new LinkedHashMap<>();

  private static String trim(double cpus) {
    return cpus == Math.rint(cpus) ? Long.toString((long) cpus) : Double.toString(cpus);
  }

  private static double round(double gib) {
    return Math.round(gib * 10) / 10.0;
  }

  /** One stage's estimate; memory per GPU (and whether it fits) for GPU stages only. */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  record StageEstimate(String name, String gpu, int gpus, Double tokens, double flopsPerToken, Double gpuHours,
      Double wallHours, Double memoryGibPerGpu, Double gpuMemoryGib, Boolean fits, String note,
      PackingSizing.Estimate packing) {

    StageEstimate withPacking(PackingSizing.Estimate estimate) {
      return new StageEstimate(name, gpu, gpus, tokens, flopsPerToken, gpuHours, wallHours, memoryGibPerGpu, gpuMemoryGib,
          fits, note, estimate);
    }
  }

  @Override
  public Integer call() throws Exception {
    PrintWriter out = spec.commandLine().getOut();
    var read = ValidateCommand.readValid(file, out);
    if (read.isEmpty()) {
      out.flush();
      return ValidateCommand.INVALID;
    }
    MultimodalPretrainJob job = read.get();
    ModelDimensions dims = job.getSpec().model().resolve();
    int sequenceLength = job.getSpec().data().packing().sequenceLength();
    List<StageEstimate> stages = new ArrayList<>();
    for (StageSpec stage : job.getSpec().stages()) {
      int visualTokens = stage.visualTokens() != null ? stage.visualTokens() : job.getSpec().data().packing().visualTokens();
      StageEstimate time = estimate(stage, dims, sequenceLength, visualTokens);
      var fit = MemoryFit.of(job, stage, textTokensPerSample);
      fit.ifPresent(f -> memory.put(stage.name(), f));
      StageEstimate estimate = fit.isEmpty() ? time : new StageEstimate(time.name(), time.gpu(), time.gpus(), time.tokens(),
          time.flopsPerToken(), time.gpuHours(), time.wallHours(), round(fit.get().neededGiB()),
          fit.get().gpuGiB() == null ? null : round(fit.get().gpuGiB()), fit.get().fits(), time.note(), null);
      Double dataTokens = epochTokens.containsKey(stage.name()) ? epochTokens.get(stage.name()) : time.tokens();
      if (dataTokens != null) {
        estimate = estimate.withPacking(PackingSizing.estimate(job.getSpec(), stage,
            dataTokens / (visualTokens + textTokensPerSample)));
      }
      stages.add(estimate);
    }
    if (json) {
      Map<String, Object> line = new LinkedHashMap<>();
      line.put("job", job.getMetadata().getName());
      line.put("mfu", mfu);
      line.put("text_tokens_per_sample", textTokensPerSample);
      line.put("stages", stages);
      line.put("gpu_hours", stages.stream().filter(s -> s.gpuHours() != null).mapToDouble(StageEstimate::gpuHours).sum());
      out.println(new ObjectMapper().setPropertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE)
          .writeValueAsString(line));
    } else {
      out.printf("%s at MFU %.2f (--mfu):%n", job.getMetadata().getName(), mfu);
      for (StageEstimate s : stages) {
        out.printf("  %-10s %s%n", s.name(), s.gpuHours() == null ? s.note()
            : String.format("%.2e tokens x %.1f GFLOP/token on %d x %s: %.0f GPU-hours, %.1f h wall-clock%s", s.tokens(),
                s.flopsPerToken() / 1e9, s.gpus(), s.gpu(), s.gpuHours(), s.wallHours(),
                s.note() == null ? "" : " (" + s.note() + ")"));
        if (s.packing() != null) {
          PackingSizing.Estimate p = s.packing();
          out.printf("  %-10s packing %.2e samples: %.0f CPU-hours, %.1f h on %d pods x %s CPU (preparing at %.0f images/s"
              + " per core, measured; filtering not estimated, it depends on the scorers)%n", "", p.samples(), p.cpuHours(),
              p.wallHours(), p.pods(), trim(p.cpusPerPod()), PackingSizing.PREPARE_IMAGES_PER_CORE_SECOND);
        }
        if (s.memoryGibPerGpu() != null) {
          out.printf("  %-10s memory per GPU %.1f GiB (%s)%s%n", "", s.memoryGibPerGpu(),
              MemoryFit.breakdown(memory.get(s.name()).estimate()), s.gpuMemoryGib() == null
                  ? ": memory of " + s.gpu() + " unknown, set resources.gpuMemory"
                  : String.format(" of %.1f GiB: %s", s.gpuMemoryGib(), s.fits() ? "fits" : "DOES NOT FIT"));
        }
      }
      MemoryFit.warnings(job, textTokensPerSample).forEach(w -> out.println("warning: " + w));
    }
    out.flush();
    return 0;
  }

  StageEstimate estimate(StageSpec stage, ModelDimensions dims, int sequenceLength, int visualTokens) {
    var resources = stage.resources();
    int gpus = resources.nodes() * resources.gpusPerNode();
    boolean visionTrained = stage.trainable().contains(TrainablePart.VISION);
    double imagesPerPosition = 1.0 / (visualTokens + textTokensPerSample);
    double flopsPerToken = TrainingFlops.decoderPerPosition(dims, sequenceLength)
        + imagesPerPosition * TrainingFlops.perImage(dims, visualTokens, visionTrained);
    Double tokens = tokens(stage, sequenceLength);
    if (gpus == 0) {
      return new StageEstimate(stage.name(), "CPU", 0, tokens, flopsPerToken, null, null, null, null, null,
          "runs on CPU: time it with kiln run, not estimated", null);
    }
    if (tokens == null) {
      return new StageEstimate(stage.name(), null, gpus, null, flopsPerToken, null, null, null, null, null,
          "budget is in epochs: give the tokens per epoch with --tokens " + stage.name() + "=N", null);
    }
    String gpu = resources.gpuProduct() != null ? resources.gpuProduct() : DEFAULT_GPU;
    GpuPeaks.Peak peaks = GpuPeaks.of(gpu).orElse(null);
    if (peaks == null) {
      return new StageEstimate(stage.name(), gpu, gpus, tokens, flopsPerToken, null, null, null, null, null,
          "no peak FLOP/s known for " + gpu + " (known: " + String.join(", ", GpuPeaks.known()) + ")", null);
    }
    Precision precision = stage.trainingPrecision();
    double gpuSeconds = tokens * flopsPerToken / (mfu * peaks.of(precision));
    List<String> notes = new ArrayList<>();
    if (resources.gpuProduct() == null) {
      notes.add("no gpuProduct given: assumed " + DEFAULT_GPU);
    }
    if (Boolean.TRUE.equals(stage.recomputeActivations())) {
      notes.add("recomputeActivations runs the decoder's forward twice: a third more work than these model FLOPs, 1.5-1.6x the"
          + " step time measured on an H200");
    }
    if (precision == Precision.FLOAT32) {
      notes.add("Float32: fp32 peak, no tensor cores; precision: Float16Mixed uses them");
    }
    return new StageEstimate(stage.name(), gpu, gpus, tokens, flopsPerToken, gpuSeconds / 3600, gpuSeconds / 3600 / gpus,
        null, null, null, notes.isEmpty() ? null : String.join("; ", notes), null);
  }

  private Double tokens(StageSpec stage, int sequenceLength) {
    var budget = stage.budget();
    if (budget.tokens() != null) {
      return budget.tokens().doubleValue();
    }
    if (budget.steps() != null) {
      return (double) budget.steps() * stage.batch().globalBatchSize() * sequenceLength;
    }
    Double perEpoch = epochTokens.get(stage.name());
    return perEpoch == null ? null : perEpoch * budget.epochs();
  }
}
