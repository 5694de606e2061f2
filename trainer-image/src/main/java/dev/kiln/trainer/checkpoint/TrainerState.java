package dev.kiln.trainer.checkpoint;

import com.fasterxml.jackson.annotation.JsonInclude;
import dev.kiln.trainer.optim.LossScaler;

/**
 * Where training stands, saved with every checkpoint: enough to continue bit for bit. The data
 * cursor is the epoch and the position in that epoch's seeded order, over all ranks. The loss
 * scaler's state is there when the stage trains in Float16Mixed.
 */
public record TrainerState(int formatVersion, long step, long tokensSeen, int epoch, long cursor, long seed,
    int worldSize, String configHash, double lastLoss,
    @JsonInclude(JsonInclude.Include.NON_NULL) LossScaler.State lossScaler) {

  public static final int FORMAT_VERSION = 1;

  /** Optimizer updates applied so far: steps minus those skipped for overflowing gradients. */
  public long optimizerSteps() {
    return lossScaler == null ? step : step - lossScaler.skippedSteps();
  }
}
