package dev.kiln.operator.cache;

import dev.kiln.api.v1alpha1.MultimodalPretrainJob;
import dev.kiln.api.v1alpha1.MultimodalPretrainJobStatus;
import dev.kiln.api.v1alpha1.StageStatus;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.fabric8.kubernetes.client.informers.cache.BasicItemStore;
import io.fabric8.kubernetes.client.informers.cache.Cache;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Predicate;
import java.util.function.UnaryOperator;

/**
 * The parts of pods and Jobs the operator reads, copied out of what its informers receive, so that
 * its caches hold a few hundred bytes per object instead of whole pod specs and Job templates (at
 * 1,000 jobs the whole objects were most of the operator's heap). Nothing the operator reads is
 * left out: a queue's plan reads names, labels, node, every container's requests, overhead and
 * phase; the job lifecycle reads pod status, container ports, scheduling gates and node selector
 * (to release a gated pod to its planned node), and a Job's status and suspend. Each copy is
 * also compact: the model classes allocate every list and map field up front, so the empty ones
 * (most of them) are replaced by the shared immutable empties, the others by read-only ones no
 * larger than their contents (labels in a {@code LinkedHashMap} were the largest part of a cached
 * pod), and its strings, repeated across thousands of objects (namespaces, label values,
 * condition types and messages, images), are interned. A pod, the object with the most watch
 * events, and a Job are built that way field by field ({@link CompactCopy}); a claim is compacted
 * by a reflective walk ({@link #compact}).
 */
public final class CachedCopies {

  private CachedCopies() {}

  /** Field lists of the model classes met so far, for {@link #compact}. */
  private static final Map<Class<?>, List<Field>> MODEL_FIELDS = new ConcurrentHashMap<>();
  private static final String MODEL_PACKAGE = "io.fabric8.kubernetes.api.model";

  /** An informer store that keeps {@code copy} of each object it is given. */
  public static <T extends HasMetadata> BasicItemStore<T> store(UnaryOperator<T> copy) {
    return store(copy, object -> true);
  }

  /**
   * An informer store that keeps {@code copy} of each object {@code keep} accepts, and forgets an
   * object it held once an update makes {@code keep} refuse it (its handlers still hear the update).
   */
  public static <T extends HasMetadata> BasicItemStore<T> store(UnaryOperator<T> copy, Predicate<T> keep) {
    return new BasicItemStore<>(Cache::metaNamespaceKeyFunc) {
      @Override
      public T put(String key, T object) {
        return keep.test(object) ? super.put(key, copy.apply(object)) : super.remove(key);
      }
    };
  }

  /** For planning: name, labels and deletion; node, gates and selector; each container's resources and ports; phase. */
  public static Pod planningPod(Pod pod) {
    return CompactCopy.pod(pod, false);
  }

  /** For the lifecycle as well: as for planning, with the status the lifecycle reads. */
  public static Pod pod(Pod pod) {
    return CompactCopy.pod(pod, true);
  }

  /** The Job without its pod template: metadata, suspend, parallelism, completions, and its status. */
  public static Job job(Job job) {
    return CompactCopy.job(job);
  }

  /**
   * For planning: metadata and spec; of the status, the phase, the queue and each stage's requeue
   * time (its conditions, progress and data preparation are what most of a job's status holds).
   */
  public static MultimodalPretrainJob planningJob(MultimodalPretrainJob job) {
    MultimodalPretrainJob copy = new MultimodalPretrainJob();
    copy.setMetadata(CompactCopy.metadata(job.getMetadata()));
    copy.setSpec(job.getSpec());
    MultimodalPretrainJobStatus status = job.getStatus();
    if (status != null) {
      MultimodalPretrainJobStatus kept = new MultimodalPretrainJobStatus();
      kept.setPhase(status.getPhase());
      kept.setQueue(status.getQueue());
      kept.setStages(status.getStages() == null ? null : status.getStages().stream().map(stage -> {
        StageStatus requeue = new StageStatus();
        requeue.setName(stage.getName());
        requeue.setRequeueTime(stage.getRequeueTime());
        return requeue;
      }).toList());
      copy.setStatus(kept);
    }
    return copy;
  }

  /**
   * The same object, its lists and maps (and those of every model object it holds) made read-only
   * and no larger than their contents (the empty ones the shared immutable empties, maps an
   * {@link ArrayMap}), and its strings interned. A cached copy is only read (an informer's objects
   * are never edited in place; a reconcile works on a clone), so nothing writes to what was made
   * read-only.
   */
  public static <T> T compact(T object) {
    compactModel(object);
    return object;
  }

  private static void compactModel(Object object) {
    if (object == null || !object.getClass().getName().startsWith(MODEL_PACKAGE)) {
      return;
    }
    for (Field field : modelFields(object.getClass())) {
      try {
        Object value = field.get(object);
        if (value instanceof List<?> list) {
          list.forEach(CachedCopies::compactModel);
          // contains(null) would throw on a list already compacted: an object may be compacted twice.
          field.set(object, list.isEmpty() ? List.of() : list.stream().anyMatch(Objects::isNull) ? list : List.copyOf(list));
        } else if (value instanceof Map<?, ?> map) {
          field.set(object, map.isEmpty() ? Map.of() : interned(map));
        } else if (value instanceof String string) {
          field.set(object, string.intern());
        } else {
          compactModel(value);
        }
      } catch (IllegalAccessException e) {
        throw new IllegalStateException("cannot compact " + field, e);
      }
    }
  }

  /** The map in the same order, read-only, its string keys and values interned and its other values compacted. */
  private static Map<Object, Object> interned(Map<?, ?> map) {
    return ArrayMap.<Object, Object>copyOf(map, CachedCopies::interned, value -> {
      compactModel(value);
      return interned(value);
    });
  }

  private static Object interned(Object value) {
    return value instanceof String s ? s.intern() : value;
  }

  private static List<Field> modelFields(Class<?> type) {
    return MODEL_FIELDS.computeIfAbsent(type, t -> {
      List<Field> fields = new ArrayList<>();
      for (Class<?> c = t; c != null && c != Object.class; c = c.getSuperclass()) {
        for (Field field : c.getDeclaredFields()) {
          if (!Modifier.isStatic(field.getModifiers())) {
            field.setAccessible(true);
            fields.add(field);
          }
        }
      }
      return fields;
    });
  }
}
