package dev.kiln.datajobs.filter;

import dev.kiln.data.webdataset.Sample;

/** One filter of a source: {@code precomputed}, {@code uids}, {@code clip} or {@code mlm}. */
public interface SampleFilter {

  /** Name used in reports: the spec as written. */
  String name();

  Verdict judge(Sample sample);
}
