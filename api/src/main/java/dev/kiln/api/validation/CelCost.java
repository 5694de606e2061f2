package dev.kiln.api.validation;

import com.fasterxml.jackson.databind.JsonNode;
import dev.cel.common.ast.CelExpr;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The worst-case cost of a CEL rule, estimated from the schema's declared bounds the way the API
 * server's static estimator does before it accepts a CRD: every value is as large as its
 * {@code maxLength} / {@code maxItems} allow (an undeclared bound means as large as a 3 MiB request
 * can hold), a comprehension costs its body once per possible element, and comparing strings costs
 * a tenth of a unit per character. Conservative where the API server is finer; never lower.
 */
public final class CelCost {

  /** The API server's limit on one evaluation of one rule (k8s.io/apiserver cel PerCallLimit). */
  public static final long PER_CALL_LIMIT = 1_000_000;
  /** The API server's budget for all rules on one object (RuntimeCELCostBudget). */
  public static final long OBJECT_BUDGET = 10_000_000;
  /** The largest request the API server takes; undeclared sizes are estimated from it. */
  static final long MAX_REQUEST_BYTES = 3L * 1024 * 1024;
  private static final double STRING_TRAVERSAL = 0.1;

  /** What the estimator knows of a value: its kind, how large it can be, and its parts. */
  private record Shape(Kind kind, long size, Shape element, JsonNode schema) {
    static final Shape SCALAR = new Shape(Kind.SCALAR, 1, null, null);

    /** Bytes the value may take, for comparisons of whole objects and lists. */
    long bytes() {
      return switch (kind) {
        case STRING -> size;
        case LIST -> size * (element == null ? 1 : element.bytes());
        case OBJECT -> {
          long total = 2;
          for (var property : schema.path("properties").properties()) {
            total = saturatingAdd(total, of(property.getValue()).bytes() + property.getKey().length() + 3);
          }
          yield total;
        }
        case SCALAR -> 8;
      };
    }
  }

  private enum Kind { STRING, LIST, OBJECT, SCALAR }

  /** An estimate: the cost of computing a value, and the value's shape. */
  private record Estimate(double cost, Shape shape) {}

  private final Map<String, Shape> variables = new HashMap<>();

  private CelCost() {}

  /** The worst-case cost of one evaluation of {@code rule}. */
  public static long of(CrdSchema.Rule rule) {
    CelCost estimator = new CelCost();
    Shape self = of(rule.schema());
    estimator.variables.put("self", self);
    estimator.variables.put("oldSelf", self);
    return (long) Math.ceil(estimator.estimate(rule.ast().getExpr()).cost());
  }

  /** How many times the rule may run on one object: the product of the bounds of the lists above it. */
  public static long cardinality(CrdSchema schema, CrdSchema.Rule rule) {
    long times = 1;
    JsonNode node = schema.schema();
    for (String segment : rule.location()) {
      if (segment.equals("[]")) {
        times = saturatingMultiply(times, of(node).size());
        node = node.path("items");
      } else {
        node = node.path("properties").path(segment);
      }
    }
    return times;
  }

  private static Shape of(JsonNode schema) {
    String type = schema.path("type").asText("");
    return switch (type) {
      case "string" -> new Shape(Kind.STRING, maxLength(schema), null, schema);
      case "array" -> {
        Shape element = of(schema.path("items"));
        long size = schema.has("maxItems") ? schema.get("maxItems").asLong()
            : (MAX_REQUEST_BYTES - 2) / (minimumBytes(schema.path("items")) + 1);
        yield new Shape(Kind.LIST, size, element, schema);
      }
      case "object" -> new Shape(Kind.OBJECT, 1, null, schema);
      default -> Shape.SCALAR;
    };
  }

  /** A string's longest value: its maxLength, its longest enum value, or what a request can hold. */
  private static long maxLength(JsonNode schema) {
    if (schema.has("maxLength")) {
      return schema.get("maxLength").asLong();
    }
    if (schema.has("enum")) {
      long longest = 0;
      for (JsonNode value : schema.get("enum")) {
        longest = Math.max(longest, value.asText().length());
      }
      return longest;
    }
    return MAX_REQUEST_BYTES - 2;
  }

  /** The fewest bytes one element can take in a request: {@code ""}, {@code {}}, a digit. */
  private static long minimumBytes(JsonNode schema) {
    return switch (schema.path("type").asText("")) {
      case "string", "object", "array" -> 2;
      default -> 1;
    };
  }

  private Estimate estimate(CelExpr expr) {
    return switch (expr.getKind()) {
      case CONSTANT -> new Estimate(0, expr.constant().getKind() == dev.cel.common.ast.CelConstant.Kind.STRING_VALUE
          ? new Shape(Kind.STRING, expr.constant().stringValue().length(), null, null) : Shape.SCALAR);
      case IDENT -> new Estimate(1, variables.getOrDefault(expr.ident().name(), Shape.SCALAR));
      case SELECT -> select(expr.select());
      case CALL -> call(expr.call());
      case LIST -> list(expr.list().elements());
      case COMPREHENSION -> comprehension(expr.comprehension());
      default -> new Estimate(1, Shape.SCALAR);
    };
  }

  private Estimate select(CelExpr.CelSelect select) {
    Estimate operand = estimate(select.operand());
    if (select.testOnly()) {
      return new Estimate(operand.cost() + 1, Shape.SCALAR);
    }
    Shape from = operand.shape();
    Shape field = from.kind() == Kind.OBJECT ? of(from.schema().path("properties").path(select.field())) : Shape.SCALAR;
    return new Estimate(operand.cost() + 1, field);
  }

  private Estimate list(List<CelExpr> elements) {
    double cost = 0;
    Shape element = null;
    for (CelExpr e : elements) {
      Estimate estimate = estimate(e);
      cost += estimate.cost();
      element = larger(element, estimate.shape());
    }
    return new Estimate(cost, new Shape(Kind.LIST, elements.size(), element, null));
  }

  private Estimate call(CelExpr.CelCall call) {
    double cost = 0;
    Shape target = null;
    if (call.target().isPresent()) {
      Estimate t = estimate(call.target().get());
      cost += t.cost();
      target = t.shape();
    }
    Shape[] args = new Shape[call.args().size()];
    double[] argCosts = new double[args.length];
    for (int i = 0; i < args.length; i++) {
      Estimate a = estimate(call.args().get(i));
      argCosts[i] = a.cost();
      args[i] = a.shape();
    }
    String function = call.function();
    if (function.equals("_?_:_")) {
      // Only one branch runs: the dearer one is the worst case.
      return new Estimate(cost + argCosts[0] + Math.max(argCosts[1], argCosts[2]) , larger(args[1], args[2]));
    }
    for (double c : argCosts) {
      cost += c;
    }
    return switch (function) {
      case "_==_", "_!=_" -> new Estimate(cost + compare(args[0], args[1]), Shape.SCALAR);
      case "indexOf", "lastIndexOf" -> {
        Shape list = target != null ? target : args[0];
        Shape value = args[args.length - 1];
        yield new Estimate(cost + list.size() * compare(list.element() == null ? Shape.SCALAR : list.element(), value),
            Shape.SCALAR);
      }
      case "@in" -> new Estimate(cost + args[1].size() * compare(args[0],
          args[1].element() == null ? Shape.SCALAR : args[1].element()), Shape.SCALAR);
      case "_+_" -> {
        if (args[0].kind() == Kind.LIST || args[0].kind() == Kind.STRING) {
          long size = saturatingAdd(args[0].size(), args[1].size());
          yield new Estimate(cost + 1 + STRING_TRAVERSAL * size,
              new Shape(args[0].kind(), size, larger(args[0].element(), args[1].element()), null));
        }
        yield new Estimate(cost + 1, Shape.SCALAR);
      }
      // Kubernetes' quantity library: parsing reads the string once; comparing costs 1.
      case "quantity", "isQuantity" -> new Estimate(cost + STRING_TRAVERSAL * args[0].size(), Shape.SCALAR);
      case "matches", "contains", "startsWith", "endsWith" -> new Estimate(
          cost + 1 + STRING_TRAVERSAL * (target != null ? target.size() : args[0].size()) * Math.max(1,
              args[args.length - 1].size()), Shape.SCALAR);
      default -> new Estimate(cost + 1, Shape.SCALAR);
    };
  }

  /** The cost of comparing two values for equality: a tenth per character, once per element of lists. */
  private static double compare(Shape a, Shape b) {
    if (a.kind() == Kind.SCALAR || b.kind() == Kind.SCALAR) {
      return 1;
    }
    return 1 + STRING_TRAVERSAL * Math.min(a.bytes(), b.bytes());
  }

  private Estimate comprehension(CelExpr.CelComprehension c) {
    Estimate range = estimate(c.iterRange());
    long iterations = range.shape().kind() == Kind.LIST ? range.shape().size() : 1;
    Estimate init = estimate(c.accuInit());
    Shape elementShape = range.shape().element() == null ? Shape.SCALAR : range.shape().element();
    Shape previousIter = variables.put(c.iterVar(), elementShape);
    // map() and filter() build a list as they go: the accumulator can end as long as the range.
    Shape accumulator = init.shape().kind() == Kind.LIST
        ? new Shape(Kind.LIST, iterations, init.shape().element(), null) : init.shape();
    Shape previousAccu = variables.put(c.accuVar(), accumulator);
    Estimate step = estimate(c.loopStep());
    if (accumulator.kind() == Kind.LIST && step.shape().kind() == Kind.LIST) {
      accumulator = new Shape(Kind.LIST, iterations, step.shape().element(), null);
      variables.put(c.accuVar(), accumulator);
      step = estimate(c.loopStep());
    }
    Estimate condition = estimate(c.loopCondition());
    Estimate result = estimate(c.result());
    restore(c.iterVar(), previousIter);
    restore(c.accuVar(), previousAccu);
    double cost = range.cost() + init.cost() + iterations * (condition.cost() + step.cost()) + result.cost();
    return new Estimate(cost, result.shape());
  }

  private void restore(String name, Shape previous) {
    if (previous == null) {
      variables.remove(name);
    } else {
      variables.put(name, previous);
    }
  }

  private static Shape larger(Shape a, Shape b) {
    if (a == null) {
      return b;
    }
    if (b == null) {
      return a;
    }
    return a.bytes() >= b.bytes() ? a : b;
  }

  private static long saturatingAdd(long a, long b) {
    long sum = a + b;
    return ((a ^ sum) & (b ^ sum)) < 0 ? Long.MAX_VALUE : sum;
  }

  private static long saturatingMultiply(long a, long b) {
    long high = Math.multiplyHigh(a, b);
    return high != 0 || a * b < 0 ? Long.MAX_VALUE : a * b;
  }
}
