package dev.kiln.datajobs.pack;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.data.image.Images;
import dev.kiln.data.text.SampleTokens;
import dev.kiln.data.text.TextTokenizer;
import dev.kiln.data.webdataset.Sample;
import dev.kiln.datajobs.SampleChecks;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.charset.CharacterCodingException;
import java.util.ArrayList;
import java.util.List;

/**
 * Turns a raw sample into tokens and a resized JPEG. A caption sample has a {@code txt}; an
 * instruction sample has a {@code json} with LLaVA-style {@code conversations}
 * ({@code from}: human/gpt, {@code value}). A sample of the other layout than its source's kind,
 * or anything unusable, gets a reason instead.
 */
final class SamplePreparer {

  static final String UNDECODABLE_IMAGE = SampleChecks.UNDECODABLE_IMAGE;
  static final String MALFORMED_CONVERSATION = "malformed_conversation";
  /** A sample of the other layout than its source declares (a conversation in a Captions source, or the reverse). */
  static final String CAPTION_EXPECTED = "caption_expected";
  static final String CONVERSATION_EXPECTED = "conversation_expected";
  /** A conversation, and a tokenizer without ChatML's markers to lay it out with. */
  static final String NO_CHAT_TOKENS = "tokenizer_without_chat_tokens";

  /** What a source declares its samples to be; {@code ANY} takes each sample as its members say. */
  enum Kind { CAPTIONS, INSTRUCTIONS, ANY }
  static final float JPEG_QUALITY = 0.9f;

  private static final ObjectMapper JSON = new ObjectMapper();

  private final TextTokenizer tokenizer;
  private final int imageSize;

  SamplePreparer(TextTokenizer tokenizer, int imageSize) {
    this.tokenizer = tokenizer;
    this.imageSize = imageSize;
  }

  PreparedSample prepare(Sample sample, String source) {
    return prepare(sample, source, Kind.ANY);
  }

  PreparedSample prepare(Sample sample, String source, Kind kind) {
    var problem = SampleChecks.problem(sample);
    if (problem.isPresent()) {
      return PreparedSample.bad(sample.key(), source, problem.get());
    }
    boolean caption = sample.members().containsKey("txt");
    if (kind == Kind.CAPTIONS && !caption) {
      return PreparedSample.bad(sample.key(), source, CAPTION_EXPECTED);
    }
    if (kind == Kind.INSTRUCTIONS && caption) {
      return PreparedSample.bad(sample.key(), source, CONVERSATION_EXPECTED);
    }
    if (!caption && tokenizer.chat().isEmpty()) {
      return PreparedSample.bad(sample.key(), source, NO_CHAT_TOKENS);
    }
    SampleTokens tokens;
    try {
      tokens = tokens(sample);
    } catch (CharacterCodingException e) {
      return PreparedSample.bad(sample.key(), source, SampleChecks.TEXT_NOT_UTF8);
    } catch (IllegalArgumentException e) {
      return PreparedSample.bad(sample.key(), source, MALFORMED_CONVERSATION);
    }
    BufferedImage image = Images.decode(sample.image().orElseThrow().getValue());
    if (image == null) {
      return PreparedSample.bad(sample.key(), source, UNDECODABLE_IMAGE);
    }
    byte[] jpeg = Images.encodeJpeg(Images.resizeSquare(image, imageSize), JPEG_QUALITY);
    return new PreparedSample(sample.key(), source, tokens, jpeg, null);
  }

  private SampleTokens tokens(Sample sample) throws CharacterCodingException {
    if (sample.members().containsKey("txt")) {
      return SampleTokens.caption(tokenizer, sample.text("txt").orElseThrow());
    }
    JsonNode json;
    try {
      json = JSON.readTree(sample.text("json").orElseThrow());
    } catch (IOException e) {
      throw new IllegalArgumentException("json");
    }
    JsonNode conversations = json.path("conversations");
    if (!conversations.isArray() || conversations.isEmpty()) {
      throw new IllegalArgumentException("conversations");
    }
    List<SampleTokens.Turn> turns = new ArrayList<>();
    for (JsonNode turn : conversations) {
      String from = turn.path("from").asText(turn.path("role").asText(""));
      String value = turn.path("value").asText(turn.path("content").asText(null));
      if (from.isEmpty() || value == null) {
        throw new IllegalArgumentException("turn");
      }
      turns.add(new SampleTokens.Turn(from, value));
    }
    if (turns.stream().noneMatch(SampleTokens.Turn::assistant)) {
      throw new IllegalArgumentException("no assistant turn");
    }
    return SampleTokens.conversation(tokenizer, turns, true);
  }
}
