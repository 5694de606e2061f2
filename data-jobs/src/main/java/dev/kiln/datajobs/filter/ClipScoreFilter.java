package dev.kiln.datajobs.filter;

import dev.kiln.data.webdataset.Sample;
import dev.kiln.model.clip.ClipScorer;
import java.nio.file.Path;
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
    CaptionedBatch batch = CaptionedBatch.of(samples);
    if (!batch.scored().isEmpty()) {
      double[] scores = scorer.scores(batch.images(), batch.captions());
      for (int j = 0; j < scores.length; j++) {
        batch.judge(j, scores[j] >= min ? Verdict.keep(scores[j]) : Verdict.drop(scores[j]));
      }
    }
    return batch.result();
  }

  @Override
  public void close() {
    scorer.close();
  }
}
