package dev.kiln.datajobs.filter;

import dev.kiln.data.webdataset.Sample;
import java.util.ArrayList;
import java.util.List;

/** One filter of a source: {@code precomputed}, {@code uids}, {@code clip} or {@code mlm}. */
public interface SampleFilter extends AutoCloseable {

  /** Name used in reports: the spec as written. */
  String name();

  Verdict judge(Sample sample);

  /** Verdicts for a batch, in order; model-based filters score the whole batch in one forward. */
  default List<Verdict> judge(List<Sample> samples) {
    List<Verdict> verdicts = new ArrayList<>(samples.size());
    for (Sample sample : samples) {
      verdicts.add(judge(sample));
    }
    return verdicts;
  }

  /** Releases a model, if the filter holds one. */
  @Override
  default void close() {}
}
