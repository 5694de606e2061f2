package dev.kiln.local;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.client.server.mock.KubernetesAttributesExtractor;
import io.fabric8.kubernetes.client.server.mock.KubernetesCrudDispatcher;
import io.fabric8.kubernetes.client.server.mock.KubernetesResponseComposer;
import io.fabric8.mockwebserver.crud.Attribute;
import io.fabric8.mockwebserver.crud.AttributeSet;
import io.fabric8.mockwebserver.crud.AttributeType;
import io.fabric8.mockwebserver.http.MockResponse;
import java.lang.reflect.Field;
import java.net.HttpURLConnection;
import java.net.URI;
import java.net.URISyntaxException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CopyOnWriteArraySet;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;

/**
 * The in-memory store, read by resource. The store keeps every object of every kind in one map and
 * answers each read, a GET by name included, by testing every entry, so a request's cost grows
 * with all the objects in the cluster (tens of thousands at a thousand jobs, which left the API
 * server's one event loop busy all the time). This keeps the same entries grouped by resource,
 * in the store's order, and by resource and name, so that a list tests only its resource's
 * objects and a named read a handful; it answers as the store would. Writes go through the store
 * unchanged, and every change it makes is mirrored here.
 */
class IndexedCrudDispatcher extends KubernetesCrudDispatcher {

  private static final KubernetesResponseComposer LISTS = new KubernetesResponseComposer();

  /** The store's entries by resource (plural), each in the store's order. */
  private final Map<String, Map<AttributeSet, String>> byResource = new ConcurrentHashMap<>();
  /** The store's entries by resource and name ({@code pods/trainer-0}); one per namespace holding that name. */
  private final Map<String, Set<AttributeSet>> byName = new ConcurrentHashMap<>();
  /** The newest resourceVersion handed out: what a list reports, as the store's does. */
  private final AtomicLong resourceVersion = new AtomicLong();
  /** Told of every change as it is stored. */
  private final List<Consumer<ApiCommit>> commitListeners = new CopyOnWriteArrayList<>();

  IndexedCrudDispatcher() {
    everyWatcherHearsEveryChange();
  }

  /**
   * The store tells its watchers of a change one after another, and a watch that is closing
   * throws when told (its sender is shut down while it is still listed, for up to a minute): the
   * watchers after it then never heard of the change, and an informer kept a deleted pod for
   * good. A real API server tells each watcher on its own, so here each is told apart too. The
   * store keeps its watchers in a private final field, replaced here by reflection: a Java that
   * refuses that (final fields are to become truly final) fails here, at the cluster's start.
   */
  private void everyWatcherHearsEveryChange() {
    try {
      Field listeners = KubernetesCrudDispatcher.class.getDeclaredField("watchEventListeners");
      listeners.setAccessible(true);
      listeners.set(this, new EachToldApart<>());
    } catch (ReflectiveOperationException e) {
      throw new IllegalStateException("the in-memory API server's watchers could not be replaced", e);
    }
  }

  /** Watchers, each told of a change whatever telling another did. */
  static final class EachToldApart<E> extends CopyOnWriteArraySet<E> {

    @Override
    public void forEach(Consumer<? super E> tell) {
      for (E watcher : this) {
        try {
          tell.accept(watcher);
        } catch (RuntimeException closing) {
          // That watch ends and its client watches again from a fresh list; the others go on.
        }
      }
    }
  }

  @Override
  public long requestResourceVersion() {
    long version = super.requestResourceVersion();
    resourceVersion.accumulateAndGet(version, Math::max);
    return version;
  }

  @Override
  public void processEvent(String path, AttributeSet pathAttributes, AttributeSet oldAttributes,
      GenericKubernetesResource resource, String newState) {
    long storedAt = System.nanoTime();  // before any watcher is told of it
    try {
      super.processEvent(path, pathAttributes, oldAttributes, resource, newState);
    } finally {
      index(storedAt, pathAttributes, oldAttributes, resource, newState);
    }
  }

  /** From now on, {@code listener} is told of every change as it is stored, on the writer's thread: it must be quick. */
  void onCommit(Consumer<ApiCommit> listener) {
    commitListeners.add(listener);
  }

  /**
   * Mirrors in the index the change the store has just made. An update replaces the entry under
   * its resource's lock, so that a reader of the store ({@link #storedStates}, from another
   * thread) never sees the object missing between its old state and its new.
   */
  private void index(long storedAt, AttributeSet pathAttributes, AttributeSet oldAttributes,
      GenericKubernetesResource resource, String newState) {
    AttributeSet attributes = null;
    if (newState != null) {
      // As the store keys the new state: from the object, with the path's resource when the object does not say it.
      var extractor = (KubernetesAttributesExtractor) attributeExtractor;
      attributes = resource != null ? extractor.extract(resource) : extractor.fromResource(newState);
      if (!attributes.containsKey(KubernetesAttributesExtractor.PLURAL)) {
        attributes = AttributeSet.merge(pathAttributes, attributes);
      }
    }
    AttributeSet changed = attributes != null ? attributes : oldAttributes;
    if (changed == null) {
      return;
    }
    boolean told = !commitListeners.isEmpty();
    String plural = single(changed, KubernetesAttributesExtractor.PLURAL);
    String before;
    synchronized (entries(plural)) {
      before = oldAttributes != null && told ? stored(oldAttributes) : null;
      if (oldAttributes != null) {
        forget(oldAttributes);
      }
      if (attributes != null) {
        remember(attributes, newState);
      }
    }
    if (told) {
      ApiCommit commit = new ApiCommit(storedAt, plural, before, newState);
      for (Consumer<ApiCommit> listener : commitListeners) {
        try {
          listener.accept(commit);
        } catch (RuntimeException e) {
          // the change is stored whatever a listener does with it
        }
      }
    }
  }

  private Map<AttributeSet, String> entries(String resource) {
    return byResource.computeIfAbsent(String.valueOf(resource), r -> Collections.synchronizedMap(new LinkedHashMap<>()));
  }

  /** The state of every object of {@code resource} (its plural) as stored now, in the store's order. */
  List<String> storedStates(String resource) {
    Map<AttributeSet, String> entries = byResource.get(resource);
    if (entries == null) {
      return List.of();
    }
    synchronized (entries) {
      return new ArrayList<>(entries.values());
    }
  }

  private String stored(AttributeSet attributes) {
    return entries(single(attributes, KubernetesAttributesExtractor.PLURAL)).get(attributes);
  }

  @Override
  public void reset() {
    super.reset();
    byResource.clear();
    byName.clear();
  }

  @Override
  public Map.Entry<AttributeSet, String> findResource(AttributeSet query) {
    String resource = single(query, KubernetesAttributesExtractor.PLURAL);
    if (resource == null) {
      return super.findResource(query);
    }
    List<Map.Entry<AttributeSet, String>> found = matching(resource, query, true);
    return found.isEmpty() ? null : found.getFirst();
  }

  @Override
  public MockResponse handleGet(String path) {
    AttributeSet query = attributeExtractor.fromPath(path);
    String resource = single(query, KubernetesAttributesExtractor.PLURAL);
    if (resource == null || watch(path)) {
      return super.handleGet(path);
    }
    List<String> items = matching(resource, query, false).stream().map(Map.Entry::getValue).toList();
    if (query.containsKey(KubernetesAttributesExtractor.NAME)) {
      return items.isEmpty() ? new MockResponse().setResponseCode(HttpURLConnection.HTTP_NOT_FOUND)
          : new MockResponse().setResponseCode(HttpURLConnection.HTTP_OK).setBody(items.getFirst());
    }
    if (items.isEmpty() && !listPath(path)) {
      return super.handleGet(path);  // a discovery request, which the store answers from the CRDs it knows
    }
    return new MockResponse().setResponseCode(HttpURLConnection.HTTP_OK)
        .setBody(LISTS.compose(items, String.valueOf(resourceVersion.get())));
  }

  private void remember(AttributeSet attributes, String state) {
    String resource = single(attributes, KubernetesAttributesExtractor.PLURAL);
    entries(resource).put(attributes, state);
    String name = single(attributes, KubernetesAttributesExtractor.NAME);
    if (name != null) {
      byName.computeIfAbsent(resource + "/" + name, k -> Collections.synchronizedSet(new LinkedHashSet<>())).add(attributes);
    }
  }

  private void forget(AttributeSet attributes) {
    String resource = single(attributes, KubernetesAttributesExtractor.PLURAL);
    Map<AttributeSet, String> entries = byResource.get(String.valueOf(resource));
    if (entries != null) {
      entries.remove(attributes);
    }
    String name = single(attributes, KubernetesAttributesExtractor.NAME);
    Set<AttributeSet> named = name == null ? null : byName.get(resource + "/" + name);
    if (named != null) {
      named.remove(attributes);
    }
  }

  /** The entries of {@code resource} that {@code query} matches, in the store's order (the first only, if asked). */
  private List<Map.Entry<AttributeSet, String>> matching(String resource, AttributeSet query, boolean firstOnly) {
    Map<AttributeSet, String> entries = byResource.getOrDefault(resource, Map.of());
    String name = single(query, KubernetesAttributesExtractor.NAME);
    List<Map.Entry<AttributeSet, String>> candidates;
    if (name != null) {
      Set<AttributeSet> named = byName.getOrDefault(resource + "/" + name, Set.of());
      List<AttributeSet> keys;
      synchronized (named) {
        keys = new ArrayList<>(named);  // copied first: a writer takes the entries' lock, then this one
      }
      candidates = new ArrayList<>();
      for (AttributeSet attributes : keys) {
        String state = entries.get(attributes);
        if (state != null) {
          candidates.add(Map.entry(attributes, state));
        }
      }
    } else {
      synchronized (entries) {
        candidates = new ArrayList<>(entries.entrySet());
      }
    }
    List<Map.Entry<AttributeSet, String>> found = new ArrayList<>();
    for (var entry : candidates) {
      if (entry.getKey().matches(query)) {
        found.add(entry);
        if (firstOnly) {
          break;
        }
      }
    }
    return found;
  }

  /** The attribute's one value when {@code attributes} requires exactly it, else null. */
  private static String single(AttributeSet attributes, String key) {
    Attribute attribute = attributes.getAttribute(key);
    if (attribute == null || attribute.getType() != AttributeType.WITH || attribute.getValues().size() != 1) {
      return null;
    }
    return attribute.getValues().getFirst().toString();
  }

  /**
   * Whether the path names a collection ({@code /api/v1/pods}, {@code /apis/batch/v1/namespaces/a/jobs}),
   * not a discovery document ({@code /api/v1}, {@code /apis/kiln.dev/v1alpha1}) that the path
   * parser also reads as a resource: an empty collection is answered here, as the store would,
   * without the store testing every object it holds (every pod creation lists the namespace's
   * ResourceQuotas, which is usually empty).
   */
  static boolean listPath(String path) {
    int query = path.indexOf('?');
    String[] segments = (query < 0 ? path : path.substring(0, query)).replaceAll("^/+|/+$", "").split("/+");
    return switch (segments[0]) {
      case "api" -> segments.length >= 3;
      case "apis" -> segments.length >= 4;
      default -> false;
    };
  }

  private static boolean watch(String path) {
    try {
      String query = new URI(path).getQuery();
      return query != null && query.contains("watch=true");
    } catch (URISyntaxException e) {
      return false;
    }
  }
}
