package dev.kiln.datajobs.filter;

import dev.kiln.data.webdataset.Sample;
import dev.kiln.datajobs.SampleChecks;
import dev.kiln.model.mlm.MlmScorer;
import java.io.IOException;
import java.nio.file.Path;
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

  MlmScoreFilter(String spec, Path model, int min, String promptTemplate, dev.kiln.model.ComputeDevice device) {
    this.spec = spec;
    this.min = min;
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
    SampleChecks.Captioned pair = SampleChecks.captioned(sample);
    if (pair.problem() != null) {
      return Verdict.bad(pair.problem());
    }
    OptionalInt score = MlmScorer.score(scorer.answer(pair.image(), pair.caption()));
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
