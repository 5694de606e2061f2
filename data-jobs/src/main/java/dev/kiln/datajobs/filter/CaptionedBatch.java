package dev.kiln.datajobs.filter;

import dev.kiln.data.webdataset.Sample;
import dev.kiln.datajobs.SampleChecks;
import java.awt.image.BufferedImage;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * A batch of samples split for a model scorer: the image-caption pairs it scores, and a verdict
 * already for each sample that has no usable pair.
 */
record CaptionedBatch(Verdict[] verdicts, List<Integer> scored, List<BufferedImage> images, List<String> captions) {

  static CaptionedBatch of(List<Sample> samples) {
    CaptionedBatch batch = new CaptionedBatch(new Verdict[samples.size()], new ArrayList<>(), new ArrayList<>(),
        new ArrayList<>());
    for (int i = 0; i < samples.size(); i++) {
      SampleChecks.Captioned pair = SampleChecks.captioned(samples.get(i));
      if (pair.problem() != null) {
        batch.verdicts[i] = Verdict.bad(pair.problem());
      } else {
        batch.scored.add(i);
        batch.images.add(pair.image());
        batch.captions.add(pair.caption());
      }
    }
    return batch;
  }

  /** Gives the {@code j}th scored pair its verdict. */
  void judge(int j, Verdict verdict) {
    verdicts[scored.get(j)] = verdict;
  }

  List<Verdict> result() {
    return Arrays.asList(verdicts);
  }
}
