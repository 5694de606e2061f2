package dev.kiln.local;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.utils.Serialization;
import java.util.ArrayList;
import java.util.List;

/**
 * How the local node's controllers read every object of a kind in each pass. In the cluster they
 * read the store itself, as a real kubelet, scheduler and Job controller read their informers'
 * caches: listing the whole cluster over the API every pass kept the API server's one event loop
 * composing lists most of the time at a thousand jobs, and every other client's request, the
 * operator's too, waited behind them. Tests of one controller read over the API.
 */
interface ClusterReads {

  /** Every object of {@code type}, in all namespaces, as stored now. */
  <T extends HasMetadata> List<T> list(Class<T> type);

  /** Reads through the API server's list requests. */
  static ClusterReads over(KubernetesClient client) {
    return new ClusterReads() {
      @Override
      public <T extends HasMetadata> List<T> list(Class<T> type) {
        if (type == Node.class) {
          return client.resources(type).list().getItems();
        }
        return client.resources(type).inAnyNamespace().list().getItems();
      }
    };
  }

  /** Reads the store's objects directly, each parsed from its stored state as a list would answer it. */
  static ClusterReads from(IndexedCrudDispatcher store) {
    return new ClusterReads() {
      @Override
      public <T extends HasMetadata> List<T> list(Class<T> type) {
        List<T> objects = new ArrayList<>();
        for (String state : store.storedStates(HasMetadata.getPlural(type))) {
          objects.add(Serialization.unmarshal(state, type));
        }
        return objects;
      }
    };
  }
}
