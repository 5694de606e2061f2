package dev.kiln.trainer.checkpoint;

/**
 * Where training stands, saved with every checkpoint: enough to continue bit for bit. The data
 * cursor is the epoch and the position in that epoch's seeded order, over all ranks.
 */
public record TrainerState(int formatVersion, long step, long tokensSeen, int epoch, long cursor, long seed,
    int worldSize, String configHash, double lastLoss) {

  public static final int FORMAT_VERSION = 1;
}
