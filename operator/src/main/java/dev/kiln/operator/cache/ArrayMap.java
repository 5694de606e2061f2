package dev.kiln.operator.cache;

import java.util.AbstractMap;
import java.util.AbstractSet;
import java.util.Iterator;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.Objects;
import java.util.Set;
import java.util.function.Function;

/**
 * A read-only map over one array of keys and values, in the order it was given: what a cached
 * object's labels, annotations and resource maps become. A {@code LinkedHashMap} of a pod's dozen
 * labels takes about 700 bytes (a table, and an entry object per label); this takes about 130.
 * Lookups scan the array, which for the few entries such maps hold is as fast as hashing.
 */
final class ArrayMap<K, V> extends AbstractMap<K, V> {

  /** Keys at even indices, each followed by its value. */
  private final Object[] keysAndValues;

  private ArrayMap(Object[] keysAndValues) {
    this.keysAndValues = keysAndValues;
  }

  /** The same entries in the same order, read-only, each key and value as {@code key} and {@code value} give it. */
  static <K, V> Map<K, V> copyOf(Map<? extends K, ? extends V> map,
      Function<? super K, ? extends K> key, Function<? super V, ? extends V> value) {
    Object[] keysAndValues = new Object[map.size() * 2];
    int i = 0;
    for (Map.Entry<? extends K, ? extends V> entry : map.entrySet()) {
      keysAndValues[i++] = key.apply(entry.getKey());
      keysAndValues[i++] = value.apply(entry.getValue());
    }
    return new ArrayMap<>(keysAndValues);
  }

  @Override
  public int size() {
    return keysAndValues.length / 2;
  }

  @Override
  public boolean containsKey(Object key) {
    return indexOf(key) >= 0;
  }

  @Override
  @SuppressWarnings("unchecked")
  public V get(Object key) {
    int i = indexOf(key);
    return i < 0 ? null : (V) keysAndValues[i + 1];
  }

  private int indexOf(Object key) {
    for (int i = 0; i < keysAndValues.length; i += 2) {
      if (Objects.equals(keysAndValues[i], key)) {
        return i;
      }
    }
    return -1;
  }

  @Override
  public Set<Map.Entry<K, V>> entrySet() {
    return new AbstractSet<>() {
      @Override
      public int size() {
        return ArrayMap.this.size();
      }

      @Override
      public Iterator<Map.Entry<K, V>> iterator() {
        return new Iterator<>() {
          private int next;

          @Override
          public boolean hasNext() {
            return next < keysAndValues.length;
          }

          @Override
          @SuppressWarnings("unchecked")
          public Map.Entry<K, V> next() {
            if (!hasNext()) {
              throw new NoSuchElementException();
            }
            Map.Entry<K, V> entry = new SimpleImmutableEntry<>((K) keysAndValues[next], (V) keysAndValues[next + 1]);
            next += 2;
            return entry;
          }
        };
      }
    };
  }
}
