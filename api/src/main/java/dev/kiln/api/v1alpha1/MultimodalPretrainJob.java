package dev.kiln.api.v1alpha1;

import io.fabric8.crd.generator.annotation.AdditionalPrinterColumn;
import io.fabric8.kubernetes.api.model.Namespaced;
import io.fabric8.kubernetes.client.CustomResource;
import io.fabric8.generator.annotation.ValidationRule;
import io.fabric8.kubernetes.model.annotation.Categories;
import io.fabric8.kubernetes.model.annotation.Group;
import io.fabric8.kubernetes.model.annotation.Kind;
import io.fabric8.kubernetes.model.annotation.Plural;
import io.fabric8.kubernetes.model.annotation.ShortNames;
import io.fabric8.kubernetes.model.annotation.Singular;
import io.fabric8.kubernetes.model.annotation.Version;
import java.util.Map;
import java.util.Optional;

/** One multimodal-LLM training run: data filtering, packing, and ordered training stages. */
@Group(MultimodalPretrainJob.GROUP)
@Version(MultimodalPretrainJob.VERSION)
@Kind(MultimodalPretrainJob.KIND)
@Plural("multimodalpretrainjobs")
@Singular("multimodalpretrainjob")
@ShortNames("mpj")
@Categories("kiln")
@ValidationRule(value = "self.metadata.name.size() <= 30 && self.metadata.name.matches('^[a-z]([-a-z0-9]*[a-z0-9])?$')",
    message = "metadata.name must be a DNS label of at most 30 characters that starts with a letter, so that the "
        + "names of its Jobs, pods and Services fit")
@ValidationRule(value = "!has(oldSelf.status) || !has(oldSelf.status.stages)"
    + " || !oldSelf.status.stages.exists(s, has(s.startTime))"
    + " || ((has(self.spec.scheduling) && has(self.spec.scheduling.mode) ? self.spec.scheduling.mode : 'Builtin')"
    + " == (has(oldSelf.spec.scheduling) && has(oldSelf.spec.scheduling.mode) ? oldSelf.spec.scheduling.mode : 'Builtin')"
    + " && (has(self.spec.scheduling) && has(self.spec.scheduling.queue) ? self.spec.scheduling.queue : 'default')"
    + " == (has(oldSelf.spec.scheduling) && has(oldSelf.spec.scheduling.queue) ? oldSelf.spec.scheduling.queue : 'default'))",
    message = "spec.scheduling.mode and spec.scheduling.queue cannot change once a stage has started (its Jobs were"
        + " admitted by that queue); they may change while the job waits", fieldPath = ".spec.scheduling")
@AdditionalPrinterColumn(name = "Phase", jsonPath = ".status.phase", type = AdditionalPrinterColumn.Type.STRING)
@AdditionalPrinterColumn(name = "Stage", jsonPath = ".status.stage", type = AdditionalPrinterColumn.Type.STRING)
@AdditionalPrinterColumn(name = "Progress", jsonPath = ".status.progress.display", type = AdditionalPrinterColumn.Type.STRING)
@AdditionalPrinterColumn(name = "Restarts", jsonPath = ".status.restarts", type = AdditionalPrinterColumn.Type.INTEGER)
@AdditionalPrinterColumn(name = "Age", jsonPath = ".metadata.creationTimestamp", type = AdditionalPrinterColumn.Type.DATE)
@AdditionalPrinterColumn(name = "Queue", jsonPath = ".status.queue.name", type = AdditionalPrinterColumn.Type.STRING, priority = 1)
@AdditionalPrinterColumn(name = "Position", jsonPath = ".status.queue.position", type = AdditionalPrinterColumn.Type.INTEGER, priority = 1)
public class MultimodalPretrainJob extends CustomResource<MultimodalPretrainJobSpec, MultimodalPretrainJobStatus>
    implements Namespaced {

  public static final String GROUP = "kiln.dev";
  public static final String VERSION = "v1alpha1";
  public static final String KIND = "MultimodalPretrainJob";
  public static final String API_VERSION = GROUP + "/" + VERSION;
  /** Names a sample dataset the operator writes into the data claim before data preparation (the quickstarts). */
  public static final String SAMPLE_DATA_ANNOTATION = "kiln.dev/sample-data";

  /** The value of the job's {@value #SAMPLE_DATA_ANNOTATION} annotation, as written. */
  public Optional<String> sampleDataAnnotation() {
    Map<String, String> annotations = getMetadata().getAnnotations();
    return Optional.ofNullable(annotations == null ? null : annotations.get(SAMPLE_DATA_ANNOTATION));
  }

  @Override
  protected MultimodalPretrainJobStatus initStatus() {
    return new MultimodalPretrainJobStatus();
  }
}
