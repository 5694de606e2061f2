package dev.kiln.api.runconfig;

/**
 * Where things live inside Kiln's pods. The operator mounts volumes here and writes these paths
 * into run configs; data jobs and the trainer only ever read them from the config.
 */
public final class PodPaths {

  /** The job's working volume: prepared data, checkpoints, metrics. */
  public static final String WORK = "/kiln/workspace";
  /** The raw-data claim, read-only. */
  public static final String DATA = "/kiln/data";
  /** The initial-weights claim, read-only. */
  public static final String WEIGHTS = "/kiln/weights";
  /** The run config ConfigMap. */
  public static final String CONFIG_DIR = "/kiln/config";
  public static final String RUN_CONFIG_FILE = "run.json";
  public static final String RUN_CONFIG = CONFIG_DIR + "/" + RUN_CONFIG_FILE;
  /** Scratch space on an emptyDir (the root filesystem is read-only). */
  public static final String TMP = "/tmp";
  /** Summary JSON the operator reads when a container ends. */
  public static final String TERMINATION_MESSAGE = "/dev/termination-log";

  private PodPaths() {}

  public static String filtered(String source) {
    return WORK + "/data/filtered/" + source;
  }

  public static String packed(String stage) {
    return WORK + "/data/packed/" + stage;
  }

  public static String checkpoints(String stage) {
    return WORK + "/checkpoints/" + stage;
  }

  public static String metrics(String stage) {
    return WORK + "/metrics/" + stage;
  }

  public static String data(String relative) {
    return DATA + "/" + relative;
  }

  public static String weights(String relative) {
    return relative == null ? null : WEIGHTS + "/" + relative;
  }
}
