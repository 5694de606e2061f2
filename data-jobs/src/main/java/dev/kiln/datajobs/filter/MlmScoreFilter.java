package dev.kiln.datajobs.filter;

import dev.kiln.data.webdataset.Sample;
import dev.kiln.model.mlm.MlmScorer;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.OptionalInt;

/**
 * MLM-Filter as the recipe used it: keeps a sample when the scoring model's Semantic
 * Understanding score is at least {@code min} (85 in the recipe); an answer with no integer on
 * its first line is counted bad ({@value #UNPARSABLE}), as MLM-Filter fails it.
 */
public final class MlmScoreFilter implements SampleFilter {

  static final String UNPARSABLE = "mlm_unparsable";

  private final String spec;
  private final MlmScorer scorer;
  private final int min;
  private final int batch;

  MlmScoreFilter(String spec, Path model, int min, String promptTemplate, int batch, dev.kiln.model.ComputeDevice device) {
    this.spec = spec;
    this.min = min;
    this.batch = batch;
    try {
      this.scorer = MlmScorer.load(model, promptTemplate, device);
    } catch (IOException | RuntimeException e) {
      throw new IllegalArgumentException("--filter " + spec + ": cannot load the scoring model from " + model + ": "
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

  /** Answers up to {@code batch} samples at a time, side by side: the same verdicts as one by one. */
  @Override
  public List<Verdict> judge(List<Sample> samples) {
    CaptionedBatch pairs = CaptionedBatch.of(samples);
    for (int from = 0; from < pairs.scored().size(); from += batch) {
      int to = Math.min(pairs.scored().size(), from + batch);
      List<String> answers = scorer.answers(pairs.images().subList(from, to), pairs.captions().subList(from, to));
      for (int j = from; j < to; j++) {
        pairs.judge(j, verdict(MlmScorer.score(answers.get(j - from))));
      }
    }
    return pairs.result();
  }

  private Verdict verdict(OptionalInt score) {
    if (score.isEmpty()) {
      return Verdict.bad(UNPARSABLE);
    }
    return score.getAsInt() >= min ? Verdict.keep((double) score.getAsInt()) : Verdict.drop((double) score.getAsInt());
  }

  @Override
  public void close() {
    scorer.close();
  }
}
