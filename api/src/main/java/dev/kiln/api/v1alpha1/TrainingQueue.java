package dev.kiln.api.v1alpha1;

import io.fabric8.crd.generator.annotation.AdditionalPrinterColumn;
import io.fabric8.kubernetes.client.CustomResource;
import io.fabric8.kubernetes.model.annotation.Categories;
import io.fabric8.kubernetes.model.annotation.Group;
import io.fabric8.kubernetes.model.annotation.Kind;
import io.fabric8.kubernetes.model.annotation.Plural;
import io.fabric8.kubernetes.model.annotation.ShortNames;
import io.fabric8.kubernetes.model.annotation.Singular;
import io.fabric8.kubernetes.model.annotation.Version;

/** A cluster-wide GPU queue: jobs naming it are admitted one stage at a time, as gangs, within its quota. */
@Group(MultimodalPretrainJob.GROUP)
@Version(MultimodalPretrainJob.VERSION)
@Kind(TrainingQueue.KIND)
@Plural("trainingqueues")
@Singular("trainingqueue")
@ShortNames("tq")
@Categories("kiln")
@AdditionalPrinterColumn(name = "Strategy", jsonPath = ".spec.strategy", type = AdditionalPrinterColumn.Type.STRING)
@AdditionalPrinterColumn(name = "Quota", jsonPath = ".spec.gpuQuota", type = AdditionalPrinterColumn.Type.INTEGER)
@AdditionalPrinterColumn(name = "GPUs", jsonPath = ".status.gpusInUse", type = AdditionalPrinterColumn.Type.INTEGER)
@AdditionalPrinterColumn(name = "Admitted", jsonPath = ".status.admittedCount", type = AdditionalPrinterColumn.Type.INTEGER)
@AdditionalPrinterColumn(name = "Pending", jsonPath = ".status.pendingCount", type = AdditionalPrinterColumn.Type.INTEGER)
@AdditionalPrinterColumn(name = "Age", jsonPath = ".metadata.creationTimestamp", type = AdditionalPrinterColumn.Type.DATE)
public class TrainingQueue extends CustomResource<TrainingQueueSpec, TrainingQueueStatus> {

  public static final String KIND = "TrainingQueue";
  /** The queue a job names when it names none; the operator creates it at start if it is missing. */
  public static final String DEFAULT = "default";

  @Override
  protected TrainingQueueStatus initStatus() {
    return new TrainingQueueStatus();
  }
}
