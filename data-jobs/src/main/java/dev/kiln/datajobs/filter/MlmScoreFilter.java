package dev.kiln.datajobs.filter;

import dev.kiln.data.webdataset.Sample;
import dev.kiln.datajobs.SampleChecks;
import dev.kiln.model.mlm.MlmScorer;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
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
    Verdict[] verdicts = new Verdict[samples.size()];
    List<Integer> asked = new ArrayList<>();
    List<BufferedImage> images = new ArrayList<>();
    List<String> captions = new ArrayList<>();
    for (int i = 0; i < samples.size(); i++) {
      SampleChecks.Captioned pair = SampleChecks.captioned(samples.get(i));
      if (pair.problem() != null) {
        verdicts[i] = Verdict.bad(pair.problem());
        continue;
      }
      asked.add(i);
      images.add(pair.image());
      captions.add(pair.caption());
    }
    for (int from = 0; from < asked.size(); from += batch) {
      int to = Math.min(asked.size(), from + batch);
      List<String> answers = scorer.answers(images.subList(from, to), captions.subList(from, to));
      for (int j = from; j < to; j++) {
        verdicts[asked.get(j)] = verdict(MlmScorer.score(answers.get(j - from)));
      }
    }
    return Arrays.asList(verdicts);
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
