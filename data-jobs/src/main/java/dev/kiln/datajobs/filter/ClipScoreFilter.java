package dev.kiln.datajobs.filter;

import dev.kiln.data.webdataset.Sample;
import dev.kiln.datajobs.SampleChecks;
import dev.kiln.model.clip.ClipScorer;
import java.awt.image.BufferedImage;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Keeps samples whose image and caption have a CLIP cosine similarity of at least {@code min},
 * computed here with a CLIP model in HF layout (the way DataComp's clip_score was made).
 */
public final class ClipScoreFilter implements SampleFilter {

  private final String spec;
  private final ClipScorer scorer;
  private final double min;

  ClipScoreFilter(String spec, Path model, double min, dev.kiln.model.ComputeDevice device) {
    this.spec = spec;
    this.min = min;
    try {
      this.scorer = ClipScorer.load(model, device);
    } catch (java.io.IOException | RuntimeException e) {
      throw new IllegalArgumentException("--filter " + spec + ": cannot load the CLIP model from " + model + ": "
          + e.getMessage(), e);
    }
  }

  @Override
  public String name() {
    return spec;
  }

  @Override
  public Verdict judge(Sample sample) {
    return judge(List.of(sample)).getFirst();
  }

  @Override
  public List<Verdict> judge(List<Sample> samples) {
    Verdict[] verdicts = new Verdict[samples.size()];
    List<Integer> scored = new ArrayList<>();
    List<BufferedImage> images = new ArrayList<>();
    List<String> captions = new ArrayList<>();
    for (int i = 0; i < samples.size(); i++) {
      SampleChecks.Captioned pair = SampleChecks.captioned(samples.get(i));
      if (pair.problem() != null) {
        verdicts[i] = Verdict.bad(pair.problem());
      } else {
        scored.add(i);
        images.add(pair.image());
        captions.add(pair.caption());
      }
    }
    if (!scored.isEmpty()) {
      double[] scores = scorer.scores(images, captions);
      for (int j = 0; j < scores.length; j++) {
        verdicts[scored.get(j)] = scores[j] >= min ? Verdict.keep(scores[j]) : Verdict.drop(scores[j]);
      }
    }
    return Arrays.asList(verdicts);
  }

  @Override
  public void close() {
    scorer.close();
  }
}
