package dev.kiln.operator.manifests;

import dev.kiln.api.runconfig.PodPaths;
import dev.kiln.api.runconfig.RunConfig;
import dev.kiln.api.v1alpha1.CollectiveBackend;
import dev.kiln.api.v1alpha1.InitialWeightsSpec;
import dev.kiln.api.v1alpha1.MultimodalPretrainJob;
import dev.kiln.api.v1alpha1.StageSpec;

/** Renders a stage of the custom resource into the trainer's run config. */
public final class RunConfigs {

  private RunConfigs() {}

  /**
   * @param initFromCheckpoint the promoted checkpoint of {@code stage.initFrom}, or null
   */
  public static RunConfig render(MultimodalPretrainJob job, int stageIndex, String initFromCheckpoint,
      OperatorSettings settings) {
    StageSpec stage = job.getSpec().stages().get(stageIndex);
    InitialWeightsSpec weights = job.getSpec().model().initialWeights();
    return new RunConfig(
        RunConfig.API_VERSION,
        job.getMetadata().getName(),
        job.getMetadata().getNamespace(),
        stage.name(),
        stageIndex,
        job.getSpec().seed(),
        job.getSpec().model().resolve(),
        weights == null ? null
            : new RunConfig.Weights(PodPaths.weights(weights.languageModel()), PodPaths.weights(weights.visionEncoder()),
                job.getSpec().reproduce() == null ? null : job.getSpec().reproduce().initialWeightsSha256()),
        new RunConfig.Data(PodPaths.packed(stage.name()), PodParts.tokenizer(job),
            job.getSpec().data().packing().sequenceLength(), PackJobManifest.visualTokens(job, stage),
            stage.packedAttention()),
        stage.trainable(),
        stage.optimizer(),
        stage.budget(),
        stage.batch(),
        new RunConfig.World(stage.resources().nodes(), stage.resources().gpusPerNode(), stage.resources().worldSize(),
            stage.sharding(), settings.masterPort(),
            CollectiveBackend.forStage(stage.collectives(), stage.resources().gpusPerNode())),
        stage.trainingPrecision(),
        new RunConfig.Checkpoints(PodPaths.checkpoints(stage.name()), stage.checkpointIntervalSteps(),
            job.getSpec().checkpoints().keepLast(), initFromCheckpoint),
        PodPaths.metrics(stage.name()),
        stage.recomputeActivations());
  }
}
