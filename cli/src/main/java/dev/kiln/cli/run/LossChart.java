package dev.kiln.cli.run;

import dev.kiln.trainer.loop.StepMetrics;
import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import javax.imageio.ImageIO;

/** Draws the loss of every stage against the global step, stage after stage, as a PNG. */
final class LossChart {

  static final int WIDTH = 900;
  static final int HEIGHT = 420;
  static final int MARGIN = 56;
  static final Color[] STAGE_COLORS = {new Color(31, 119, 180), new Color(255, 127, 14), new Color(44, 160, 44),
      new Color(214, 39, 40)};

  private LossChart() {}

  static void write(List<StageMetrics> stages, Path file) throws IOException {
    long totalSteps = stages.stream().mapToLong(s -> s.steps().size()).sum();
    double maxLoss = stages.stream().flatMap(s -> s.steps().stream()).mapToDouble(StepMetrics::loss)
        .filter(Double::isFinite).max().orElse(1);
    BufferedImage image = new BufferedImage(WIDTH, HEIGHT, BufferedImage.TYPE_INT_RGB);
    Graphics2D g = image.createGraphics();
    g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
    g.setColor(Color.WHITE);
    g.fillRect(0, 0, WIDTH, HEIGHT);
    g.setColor(Color.DARK_GRAY);
    g.drawLine(MARGIN, HEIGHT - MARGIN, WIDTH - MARGIN / 2, HEIGHT - MARGIN);
    g.drawLine(MARGIN, MARGIN / 2, MARGIN, HEIGHT - MARGIN);
    g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
    g.drawString("loss", 8, MARGIN / 2 + 4);
    g.drawString(String.format("%.2f", maxLoss), 8, MARGIN / 2 + 20);
    g.drawString("0", MARGIN - 14, HEIGHT - MARGIN + 4);
    g.drawString("step " + totalSteps, WIDTH - MARGIN * 2, HEIGHT - MARGIN + 20);
    double plotWidth = WIDTH - MARGIN * 1.5;
    double plotHeight = HEIGHT - MARGIN * 1.5;
    long offset = 0;
    int legendX = MARGIN + 10;
    for (int s = 0; s < stages.size(); s++) {
      StageMetrics stage = stages.get(s);
      Color color = STAGE_COLORS[s % STAGE_COLORS.length];
      g.setColor(color);
      g.setStroke(new BasicStroke(1.6f));
      int previousX = -1;
      int previousY = -1;
      for (int i = 0; i < stage.steps().size(); i++) {
        double loss = stage.steps().get(i).loss();
        int x = (int) (MARGIN + plotWidth * (offset + i) / Math.max(1, totalSteps - 1));
        int y = (int) (HEIGHT - MARGIN - plotHeight * Math.min(1, Math.max(0, loss / maxLoss)));
        if (previousX >= 0) {
          g.drawLine(previousX, previousY, x, y);
        }
        previousX = x;
        previousY = y;
      }
      g.drawString(stage.stage(), legendX, MARGIN / 2 + 4);
      legendX += 12 + g.getFontMetrics().stringWidth(stage.stage()) + 12;
      offset += stage.steps().size();
    }
    g.dispose();
    ImageIO.write(image, "png", file.toFile());
  }
}
