package dev.kiln.operator;

import dev.kiln.api.v1alpha1.MultimodalPretrainJob;
import dev.kiln.operator.admission.BuiltinAdmission;
import dev.kiln.operator.admission.InformerClusterState;
import dev.kiln.operator.cache.CachedCopies;
import dev.kiln.operator.lifecycle.ChildResources;
import dev.kiln.operator.lifecycle.EventRecorder;
import dev.kiln.operator.lifecycle.HttpProgressReader;
import dev.kiln.operator.lifecycle.JobLifecycle;
import dev.kiln.operator.lifecycle.SpecValidations;
import dev.kiln.operator.lifecycle.ProgressReader;
import dev.kiln.operator.manifests.Labels;
import dev.kiln.operator.manifests.OperatorSettings;
import dev.kiln.operator.metrics.OperatorMetrics;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaim;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.javaoperatorsdk.operator.api.config.informer.InformerEventSourceConfiguration;
import io.javaoperatorsdk.operator.api.reconciler.Context;
import io.javaoperatorsdk.operator.api.reconciler.ControllerConfiguration;
import io.javaoperatorsdk.operator.api.reconciler.EventSourceContext;
import io.javaoperatorsdk.operator.api.reconciler.Reconciler;
import io.javaoperatorsdk.operator.api.reconciler.UpdateControl;
import io.javaoperatorsdk.operator.processing.event.ResourceID;
import io.javaoperatorsdk.operator.processing.event.source.EventSource;
import io.javaoperatorsdk.operator.processing.event.source.informer.InformerEventSource;
import io.javaoperatorsdk.operator.processing.event.source.informer.Mappers;
import io.quarkiverse.operatorsdk.annotations.RBACRule;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Set;

/**
 * The JOSDK entry point: wakes on changes to a job, its Jobs, their pods and its claim, and hands
 * the job to {@link JobLifecycle}, which reads children from the event sources' caches, writes
 * status itself (optimistically locked) and returns when to look again.
 */
@ControllerConfiguration(name = MultimodalPretrainJobReconciler.NAME, generationAwareEventProcessing = false)
@RBACRule(apiGroups = "batch", resources = "jobs", verbs = {"get", "list", "watch", "create", "delete", "patch"})
@RBACRule(apiGroups = "", resources = {"pods", "nodes", "namespaces"}, verbs = {"get", "list", "watch"})
@RBACRule(apiGroups = "", resources = "pods", verbs = "patch")
@RBACRule(apiGroups = "kiln.dev", resources = "trainingqueues", verbs = {"get", "list", "watch", "create"})
@RBACRule(apiGroups = "kiln.dev", resources = "trainingqueues/status", verbs = {"get", "patch", "update"})
@RBACRule(apiGroups = "", resources = {"configmaps", "services"}, verbs = {"get", "list", "watch", "create", "patch"})
@RBACRule(apiGroups = "", resources = "persistentvolumeclaims", verbs = {"get", "list", "watch", "create"})
@RBACRule(apiGroups = "", resources = "events", verbs = {"list", "create", "patch"})
@RBACRule(apiGroups = "coordination.k8s.io", resources = "leases", verbs = {"get", "create", "update", "patch"})
@RBACRule(apiGroups = "scheduling.k8s.io", resources = "priorityclasses", verbs = {"get", "list", "watch"})
@RBACRule(apiGroups = "node.k8s.io", resources = "runtimeclasses", verbs = {"get", "list", "watch"})
@RBACRule(apiGroups = "kueue.x-k8s.io", resources = "workloads", verbs = "list")
public class MultimodalPretrainJobReconciler implements Reconciler<MultimodalPretrainJob> {

  public static final String NAME = "multimodalpretrainjob";

  private final KubernetesClient client;
  private final OperatorMetrics metrics;
  private final Clock clock = Clock.systemUTC();
  private final OperatorSettings settings;
  private final EventRecorder events;
  private final ProgressReader progress = new HttpProgressReader();
  private final Duration progressInterval;
  private final BuiltinAdmission admission;
  private final InformerClusterState clusterState;
  /** Set once the event sources exist, before the first reconcile. */
  private InformerChildReads childReads;
  private final QueueWakeups wakeups = new QueueWakeups();
  private final SpecValidations validations = new SpecValidations();

  public MultimodalPretrainJobReconciler(KubernetesClient client, KilnOperatorConfig config, OperatorMetrics metrics) {
    this.client = client;
    this.metrics = metrics;
    this.settings = new OperatorSettings(config.trainerImage(), config.trainerGpuImage(), config.dataJobsImage(),
        config.imagePullPolicy(), config.gpuRuntimeClassName().orElse(""), config.masterPort());
    this.events = EventRecorder.inBackground(client, clock, metrics::event);
    this.progressInterval = Duration.ofSeconds(config.progressIntervalSeconds());
    TrainingQueues.ensureDefault(client);
    this.clusterState = new InformerClusterState(client, wakeups::roomMayHaveAppeared, wakeups::jobDeleted);
    metrics.readFrom(clusterState);
    this.admission = new BuiltinAdmission(clusterState, new QueueStatusWriter((queue, status) -> {
      metrics.queueSeen(queue);
      TrainingQueues.writeStatus(client, queue, status);
    }), wakeups::wake, clock, settings.gpuRuntimeClassName());
    wakeups.attach(admission);
  }

  @Override
  public UpdateControl<MultimodalPretrainJob> reconcile(MultimodalPretrainJob job, Context<MultimodalPretrainJob> context) {
    long start = System.nanoTime();
    boolean failed = true;
    try {
      UpdateControl<MultimodalPretrainJob> control = reconcileJob(job, context);
      failed = false;
      return control;
    } finally {
      metrics.reconciled(System.nanoTime() - start, failed);
    }
  }

  private UpdateControl<MultimodalPretrainJob> reconcileJob(MultimodalPretrainJob job, Context<MultimodalPretrainJob> context) {
    // The job comes from the controller's cache, which holds our own last status write even
    // before its watch event (ChildResources.Reads.statusWritten), so the state machine never acts
    // twice on one transition; children come from the event sources' caches.
    ChildResources children = new ChildResources(client,
        childReads.during(context.eventSourceRetriever().getControllerEventSource()));
    JobLifecycle.Outcome outcome = new JobLifecycle(children, events, admission, progress, progressInterval, settings,
        clock, validations).reconcile(job);
    UpdateControl<MultimodalPretrainJob> control = UpdateControl.noUpdate();
    outcome.requeueAfter().ifPresent(control::rescheduleAfter);
    return control;
  }

  @Override
  public List<EventSource<?, MultimodalPretrainJob>> prepareEventSources(EventSourceContext<MultimodalPretrainJob> context) {
    String managed = Labels.MANAGED_BY + "=" + Labels.MANAGER;
    // JOSDK hands one item store to the informer of each watched namespace, and a relist of one
    // namespace would drop the others' objects from it: compact stores only where one informer
    // watches every namespace (listed namespaces keep JOSDK's own store per informer).
    boolean oneInformer = context.getControllerConfiguration().getInformerConfig().watchAllNamespaces();
    var jobs = InformerEventSourceConfiguration.from(Job.class, MultimodalPretrainJob.class)
        .withName("jobs")
        .withLabelSelector(managed)
        .withItemStore(oneInformer ? CachedCopies.store(CachedCopies::job) : null)
        .withSecondaryToPrimaryMapper(Mappers.fromOwnerReferences(MultimodalPretrainJob.class))
        .build();
    // Pods are owned by their Job, not by us: map them back through the job label.
    var pods = InformerEventSourceConfiguration.from(Pod.class, MultimodalPretrainJob.class)
        .withName("pods")
        .withLabelSelector(managed)
        .withItemStore(oneInformer ? CachedCopies.store(CachedCopies::pod) : null)
        .withSecondaryToPrimaryMapper((Pod pod) -> Set.of(new ResourceID(
            pod.getMetadata().getLabels().get(Labels.JOB), pod.getMetadata().getNamespace())))
        .build();
    var claims = InformerEventSourceConfiguration.from(PersistentVolumeClaim.class, MultimodalPretrainJob.class)
        .withName("claims")
        .withLabelSelector(managed)
        .withItemStore(oneInformer ? CachedCopies.store(CachedCopies::compact) : null)
        .withSecondaryToPrimaryMapper(Mappers.fromOwnerReferences(MultimodalPretrainJob.class))
        .build();
    var jobSource = new InformerEventSource<>(jobs, context);
    var podSource = new InformerEventSource<>(pods, context);
    var claimSource = new InformerEventSource<>(claims, context);
    childReads = new InformerChildReads(client, jobSource, podSource, claimSource, clusterState::node);
    return List.of(jobSource, podSource, claimSource, wakeups.source());
  }
}
