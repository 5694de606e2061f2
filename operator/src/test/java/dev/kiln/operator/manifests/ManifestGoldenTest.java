package dev.kiln.operator.manifests;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.api.v1alpha1.MultimodalPretrainJob;
import dev.kiln.operator.Golden;
import dev.kiln.operator.TestJobs;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** Every builder's output for the cases that differ: 1 vs N nodes, GPU vs CPU, resume, SFT with initFrom. */
class ManifestGoldenTest {

  static final OperatorSettings SETTINGS = OperatorSettings.defaults("0.1.0");

  final MultimodalPretrainJob recipe = TestJobs.example("open-qwen2vl.yaml");
  final MultimodalPretrainJob quickstart = TestJobs.example("quickstart.yaml");
  final MultimodalPretrainJob multinode = TestJobs.resource("multinode.yaml");

  @Test
  void workspaceClaim() {
    Golden.assertYaml("claim-retained", CheckpointClaimManifest.build(recipe));
    Golden.assertYaml("claim-owned", CheckpointClaimManifest.build(quickstart));
  }

  @Test
  void filterJobs() {
    Golden.assertYaml("filter-datacomp-anyof", FilterJobManifest.build(recipe, recipe.getSpec().data().source("datacomp-medium"), SETTINGS));
    Golden.assertYaml("filter-precomputed-cpu", FilterJobManifest.build(quickstart, quickstart.getSpec().data().source("shapes"), SETTINGS));
    Golden.assertYaml("filter-kueue", FilterJobManifest.build(multinode, multinode.getSpec().data().source("datacomp"), SETTINGS));
  }

  @Test
  void whatASourceSetsOfItsResourcesReplacesThatDefaultOnly() {
    var datacomp = recipe.getSpec().data().source("datacomp-medium");
    var withMemory = new dev.kiln.api.v1alpha1.DataSourceSpec(datacomp.name(), datacomp.shards(), datacomp.kind(),
        datacomp.filter(), datacomp.shardsPerTask(), new dev.kiln.api.v1alpha1.DataJobResourcesSpec(null, "64Gi"));

    var resources = FilterJobManifest.build(recipe, withMemory, SETTINGS).getSpec().getTemplate().getSpec()
        .getContainers().getFirst().getResources();

    assertThat(resources.getRequests().get("memory").toString()).isEqualTo("64Gi");
    assertThat(resources.getLimits().get("memory").toString()).isEqualTo("64Gi");
    assertThat(resources.getRequests().get("cpu").toString()).as("an MLM-Filter scorer's default").isEqualTo("8");
  }

  @Test
  void aClipFiltersBatchSizeIsTheFilterJobsBatchAndAnMlmFilterAsksItsMetric() {
    var datacomp = recipe.getSpec().data().source("datacomp-medium");
    var filter = new dev.kiln.api.v1alpha1.FilterSpec(null,
        new dev.kiln.api.v1alpha1.FilterSpec.ClipScoreFilter("clip-vit-b-32", 0.3, 64), null, null,
        new dev.kiln.api.v1alpha1.FilterSpec.MlmFilter("mlm-filter",
            dev.kiln.api.v1alpha1.FilterSpec.MlmMetric.OBJECT_DETAIL_FULFILLMENT, 80, null));
    var source = new dev.kiln.api.v1alpha1.DataSourceSpec(datacomp.name(), datacomp.shards(), datacomp.kind(), filter,
        datacomp.shardsPerTask(), null);

    List<String> args = FilterJobManifest.build(recipe, source, SETTINGS).getSpec().getTemplate().getSpec()
        .getContainers().getFirst().getArgs();

    assertThat(String.join(" ", args)).contains("--filter clip:model=/kiln/data/clip-vit-b-32,min=0.3 ",
        "--filter mlm:model=/kiln/data/mlm-filter,min=80,metric=object_detail_fulfillment", "--batch 64");
  }

  @Test
  void packJobs() {
    for (PackJobManifest.Step step : PackJobManifest.Step.values()) {
      Golden.assertYaml("pack-pretrain-" + step.argument(),
          PackJobManifest.build(recipe, recipe.getSpec().stage("pretrain"), step, SETTINGS));
    }
    Golden.assertYaml("pack-sft-729", PackJobManifest.build(recipe, recipe.getSpec().stage("sft"),
        PackJobManifest.Step.FINISH, SETTINGS));
  }

  @Test
  void stageOnOneGpuNode() {
    Golden.assertYaml("stage-pretrain-1node-gpu", StageJobManifest.build(recipe, 0, 1, SETTINGS));
    Golden.assertYaml("service-pretrain", StageServiceManifest.build(recipe, "pretrain", SETTINGS));
  }

  @Test
  void stageOnFourGpuNodesUnderKueue() {
    Job job = StageJobManifest.build(multinode, 0, 1, SETTINGS);
    Golden.assertYaml("stage-pretrain-4node-kueue", job);
    assertThat(job.getSpec().getCompletions()).isEqualTo(4);
    assertThat(job.getSpec().getParallelism()).isEqualTo(4);
  }

  @Test
  void stageOnCpu() {
    Golden.assertYaml("stage-quickstart-cpu", StageJobManifest.build(quickstart, 0, 1, SETTINGS));
  }

  @Test
  void admissionCountsWhatTheBuiltPodRequests() {
    for (MultimodalPretrainJob job : List.of(recipe, quickstart, multinode)) {
      for (int stage = 0; stage < job.getSpec().stages().size(); stage++) {
        var container = StageJobManifest.build(job, stage, 1, SETTINGS).getSpec().getTemplate().getSpec()
            .getContainers().getFirst();
        assertThat(StageJobManifest.podRequests(job.getSpec().stages().get(stage)))
            .as(job.getMetadata().getName() + " stage " + stage).isEqualTo(container.getResources().getRequests());
      }
    }
    assertThat(StageJobManifest.podRequests(multinode.getSpec().stages().getFirst()))
        .as("the pod settings' extra resources count too").containsKey("vpc.amazonaws.com/efa");
  }

  @Test
  void gpuStagesRunTheCudaImageUnderTheOperatorsRuntimeClassUnlessTheJobSaysOtherwise() {
    OperatorSettings nvidia = new OperatorSettings(SETTINGS.trainerImage(), SETTINGS.trainerGpuImage(),
        SETTINGS.dataJobsImage(), SETTINGS.imagePullPolicy(), "nvidia", SETTINGS.masterPort());
    var gpuPod = StageJobManifest.build(multinode, 0, 1, nvidia).getSpec().getTemplate().getSpec();
    assertThat(gpuPod.getContainers().getFirst().getImage()).isEqualTo("ghcr.io/kiln-dev/kiln-trainer:0.1.0-cuda");
    assertThat(gpuPod.getRuntimeClassName()).isEqualTo("nvidia");
    var cpuPod = StageJobManifest.build(quickstart, 0, 1, nvidia).getSpec().getTemplate().getSpec();
    assertThat(cpuPod.getContainers().getFirst().getImage()).isEqualTo("ghcr.io/kiln-dev/kiln-trainer:0.1.0");
    assertThat(cpuPod.getRuntimeClassName()).isNull();
    var filterPod = FilterJobManifest.build(multinode, multinode.getSpec().data().source("datacomp"), nvidia)
        .getSpec().getTemplate().getSpec();
    assertThat(filterPod.getRuntimeClassName()).as("data prep runs on CPU").isNull();
    assertThat(filterPod.getNodeSelector()).containsEntry("pool", "cpu");
    assertThat(filterPod.getPriorityClassName()).isEqualTo("research-low");
  }

  @Test
  void resumeAttemptDiffersOnlyInAttempt() {
    Job first = StageJobManifest.build(recipe, 0, 1, SETTINGS);
    Job third = StageJobManifest.build(recipe, 0, 3, SETTINGS);
    Golden.assertYaml("stage-pretrain-attempt3", third);
    assertThat(third.getMetadata().getName()).isEqualTo("open-qwen2vl-pretrain-a3");
    assertThat(third.getSpec().getTemplate().getSpec().getContainers().getFirst().getEnv())
        .anySatisfy(e -> assertThat(e.getName() + "=" + e.getValue())
            .isEqualTo("MASTER_ADDR=open-qwen2vl-pretrain-a3-0.open-qwen2vl-pretrain"));
    assertThat(first.getSpec().getTemplate().getSpec().getVolumes())
        .isEqualTo(third.getSpec().getTemplate().getSpec().getVolumes());
  }

  @Test
  void sftRunConfigStartsFromThePromotedCheckpoint() {
    var config = RunConfigs.render(recipe, 1, "/kiln/workspace/checkpoints/pretrain/step-0009500", SETTINGS);
    Golden.assertYaml("config-sft", RunConfigMapManifest.build(recipe, config));
    // The contract with the trainer: it parses this very file in its own tests.
    Golden.assertText("run-config-sft.json", RunConfigMapManifest.json(config));
  }

  /** The API server's rules for what the builders name: object names, Service names, Indexed pods' hostnames. */
  @Test
  void everyGeneratedNameIsOneTheApiServerAccepts() {
    Pattern dns1123Label = Pattern.compile("[a-z0-9]([-a-z0-9]*[a-z0-9])?");
    Pattern dns1035Label = Pattern.compile("[a-z]([-a-z0-9]*[a-z0-9])?");
    for (MultimodalPretrainJob job : List.of(recipe, quickstart, multinode)) {
      List<Job> indexed = new ArrayList<>();
      job.getSpec().data().sources().stream().filter(source -> source.filter() != null)
          .forEach(source -> indexed.add(FilterJobManifest.build(job, source, SETTINGS)));
      for (int stage = 0; stage < job.getSpec().stages().size(); stage++) {
        String name = job.getSpec().stages().get(stage).name();
        indexed.add(StageJobManifest.build(job, stage, 9_999, SETTINGS));
        for (PackJobManifest.Step step : PackJobManifest.Step.values()) {
          indexed.add(PackJobManifest.build(job, job.getSpec().stages().get(stage), step, SETTINGS));
        }
        assertThat(StageServiceManifest.build(job, name, SETTINGS).getMetadata().getName()).as("a Service name")
            .matches(dns1035Label).hasSizeLessThanOrEqualTo(63);
      }
      for (Job child : indexed) {
        int lastIndex = child.getSpec().getCompletions() - 1;
        assertThat(child.getMetadata().getName()).as("a Job name (also a label value)").matches(dns1123Label)
            .hasSizeLessThanOrEqualTo(63);
        assertThat(child.getMetadata().getName() + "-" + lastIndex).as("the last pod's hostname").matches(dns1123Label)
            .hasSizeLessThanOrEqualTo(63);
      }
    }
  }

  @Test
  void everyPodIsLockedDown() {
    for (Job job : new Job[] {StageJobManifest.build(recipe, 0, 1, SETTINGS),
        FilterJobManifest.build(recipe, recipe.getSpec().data().source("datacomp-medium"), SETTINGS),
        PackJobManifest.build(quickstart, quickstart.getSpec().stage("sft"), PackJobManifest.Step.PREPARE, SETTINGS)}) {
      var pod = job.getSpec().getTemplate().getSpec();
      assertThat(pod.getSecurityContext().getRunAsNonRoot()).isTrue();
      assertThat(pod.getSecurityContext().getSeccompProfile().getType()).isEqualTo("RuntimeDefault");
      assertThat(pod.getContainers()).allSatisfy(c -> {
        assertThat(c.getSecurityContext().getReadOnlyRootFilesystem()).isTrue();
        assertThat(c.getSecurityContext().getAllowPrivilegeEscalation()).isFalse();
        assertThat(c.getSecurityContext().getCapabilities().getDrop()).containsExactly("ALL");
      });
      assertThat(job.getMetadata().getOwnerReferences()).singleElement()
          .satisfies(o -> assertThat(o.getController()).isTrue());
    }
  }
}
