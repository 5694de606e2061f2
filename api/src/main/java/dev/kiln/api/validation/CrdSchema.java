package dev.kiln.api.validation;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import com.networknt.schema.JsonMetaSchema;
import com.networknt.schema.JsonSchema;
import com.networknt.schema.JsonSchemaFactory;
import com.networknt.schema.NonValidationKeyword;
import com.networknt.schema.SpecVersion;
import com.networknt.schema.ValidationMessage;
import dev.cel.common.CelAbstractSyntaxTree;
import dev.cel.common.CelFunctionDecl;
import dev.cel.common.CelOverloadDecl;
import dev.cel.common.CelValidationException;
import dev.cel.common.types.ListType;
import dev.cel.common.types.SimpleType;
import dev.cel.common.types.TypeParamType;
import dev.cel.compiler.CelCompiler;
import dev.cel.compiler.CelCompilerFactory;
import dev.cel.parser.CelStandardMacro;
import dev.cel.runtime.CelEvaluationException;
import dev.cel.runtime.CelFunctionBinding;
import dev.cel.runtime.CelRuntime;
import dev.cel.runtime.CelRuntimeFactory;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * A CRD's own validation, evaluated as the API server evaluates it on create and update: schema
 * defaults, the OpenAPI v3 schema (types, bounds, patterns, enums, required fields) and every
 * {@code x-kubernetes-validations} CEL rule, transition rules ({@code oldSelf}) included. The rules
 * are read from the generated CRD, so each exists once: {@code kiln validate}, the operator and the
 * local API server all ask this class.
 */
public final class CrdSchema {

  /** Where the build puts the generated MultimodalPretrainJob CRD on the class path. */
  public static final String JOB_CRD = "/META-INF/fabric8/multimodalpretrainjobs.kiln.dev-v1.yml";

  private static final class JobHolder {
    static final CrdSchema INSTANCE = fromResource(JOB_CRD);
  }

  private static final YAMLMapper YAML = new YAMLMapper();
  /** Draft 4, which OpenAPI 3.0 schemas follow, knowing the keywords Kubernetes adds (they validate nothing here). */
  private static final JsonSchemaFactory OPEN_API = JsonSchemaFactory.getInstance(SpecVersion.VersionFlag.V4,
      factory -> factory.metaSchema(JsonMetaSchema.builder(JsonMetaSchema.getV4())
          .keywords(Stream.of("nullable", "x-kubernetes-validations", "x-kubernetes-preserve-unknown-fields",
              "x-kubernetes-int-or-string", "x-kubernetes-embedded-resource", "x-kubernetes-list-type",
              "x-kubernetes-list-map-keys", "x-kubernetes-map-type").map(NonValidationKeyword::new).toList())
          .build()));
  private static final CelCompiler COMPILER = CelCompilerFactory.standardCelCompilerBuilder()
      .setStandardMacros(CelStandardMacro.STANDARD_MACROS)
      .addVar("self", SimpleType.DYN)
      .addVar("oldSelf", SimpleType.DYN)
      // Kubernetes' list library: indexOf(x) is the first index of x, or -1.
      .addFunctionDeclarations(CelFunctionDecl.newFunctionDeclaration("indexOf",
          CelOverloadDecl.newMemberOverload("list_indexOf", SimpleType.INT,
              ListType.create(TypeParamType.create("T")), TypeParamType.create("T"))))
      .addFunctionDeclarations(QuantityLibrary.declarations())
      .build();
  private static final CelRuntime RUNTIME = CelRuntimeFactory.standardCelRuntimeBuilder()
      .addFunctionBindings(CelFunctionBinding.from("list_indexOf", List.class, Object.class,
          (list, value) -> (long) list.indexOf(value)))
      .addFunctionBindings(QuantityLibrary.bindings())
      .build();

  /** One CEL rule and where in the schema it sits ({@code spec.data.sources[]}). */
  public record Rule(List<String> location, String expression, String message, JsonNode schema,
      CelAbstractSyntaxTree ast, CelRuntime.Program program, String fieldPath) {

    /** A transition rule compares with the stored object and runs only on updates. */
    public boolean transition() {
      return expression.contains("oldSelf");
    }

    /** The rule's place as a field path, arrays as {@code []}. */
    public String path() {
      return String.join(".", location).replace(".[]", "[]");
    }
  }

  private final ObjectNode schema;
  private final JsonSchema structure;
  private final List<Rule> rules = new ArrayList<>();

  private CrdSchema(ObjectNode schema) {
    this.schema = schema;
    this.structure = OPEN_API.getSchema(schema);
    collectRules(schema, new ArrayList<>());
  }

  /** The MultimodalPretrainJob CRD's validation. */
  public static CrdSchema multimodalPretrainJob() {
    return JobHolder.INSTANCE;
  }

  /** The validation of the first version of a CRD on the class path. */
  public static CrdSchema fromResource(String resource) {
    try (InputStream in = CrdSchema.class.getResourceAsStream(resource)) {
      if (in == null) {
        throw new IllegalStateException("CRD " + resource + " is not on the class path; build the api module");
      }
      return fromCrd(YAML.readTree(in));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read CRD " + resource, e);
    }
  }

  /** The validation of the first version of a parsed CRD. */
  public static CrdSchema fromCrd(JsonNode crd) {
    JsonNode schema = crd.path("spec").path("versions").path(0).path("schema").path("openAPIV3Schema");
    if (!schema.isObject()) {
      throw new IllegalArgumentException("not a CRD with an openAPIV3Schema");
    }
    return new CrdSchema((ObjectNode) schema.deepCopy());
  }

  /** The openAPIV3Schema. */
  public JsonNode schema() {
    return schema;
  }

  /** Every CEL rule of the schema, outermost first. */
  public List<Rule> rules() {
    return List.copyOf(rules);
  }

  /** Problems with a new object, as a create would report them; empty when the API server would store it. */
  public List<Violation> validate(JsonNode object) {
    return validate(object, null);
  }

  /**
   * Problems with an object as the API server would report them: on create ({@code old} null) or on
   * update from {@code old}, which is when transition rules run. The object is defaulted first.
   */
  public List<Violation> validate(JsonNode object, JsonNode old) {
    JsonNode defaulted = withDefaults(object);
    List<Violation> violations = new ArrayList<>();
    for (ValidationMessage message : structure.validate(defaulted)) {
      violations.add(violation(message));
    }
    // CEL sees only objects that pass the schema (the API server does the same): rules may rely on types.
    if (violations.isEmpty()) {
      JsonNode defaultedOld = old == null ? null : withDefaults(old);
      for (Rule rule : rules) {
        evaluate(rule, 0, defaulted, defaultedOld, "", violations);
      }
    }
    violations.sort(Comparator.comparing(Violation::field));
    return violations;
  }

  /** A copy of {@code object} with every schema default filled in where the field is absent. */
  public JsonNode withDefaults(JsonNode object) {
    JsonNode copy = object.deepCopy();
    applyDefaults(schema, copy);
    return copy;
  }

  private static void applyDefaults(JsonNode schema, JsonNode value) {
    if (value instanceof ObjectNode object) {
      schema.path("properties").properties().forEach(property -> {
        JsonNode propertySchema = property.getValue();
        if (!object.has(property.getKey()) && propertySchema.has("default")) {
          object.set(property.getKey(), propertySchema.get("default").deepCopy());
        }
        if (object.has(property.getKey())) {
          applyDefaults(propertySchema, object.get(property.getKey()));
        }
      });
    } else if (value instanceof ArrayNode array && schema.has("items")) {
      array.forEach(item -> applyDefaults(schema.get("items"), item));
    }
  }

  private static Violation violation(ValidationMessage message) {
    String field = message.getInstanceLocation().toString().replaceFirst("^\\$\\.?", "");
    if ("required".equals(message.getType()) && message.getProperty() != null) {
      field = field.isEmpty() ? message.getProperty() : field + "." + message.getProperty();
      return new Violation(field, "required");
    }
    String text = message.getError() != null ? message.getError() : message.getMessage();
    return new Violation(field.isEmpty() ? "(object)" : field, text.replaceFirst("^\\$[^:]*: ", ""));
  }

  private void collectRules(JsonNode node, List<String> location) {
    for (JsonNode rule : node.path("x-kubernetes-validations")) {
      String expression = rule.path("rule").asText();
      try {
        CelAbstractSyntaxTree ast = COMPILER.compile(expression).getAst();
        rules.add(new Rule(List.copyOf(location), expression, rule.path("message").asText(expression), node, ast,
            RUNTIME.createProgram(ast), rule.path("fieldPath").asText("")));
      } catch (CelValidationException | CelEvaluationException e) {
        throw new IllegalArgumentException("CEL rule at " + String.join(".", location) + " does not compile: "
            + expression + ": " + e.getMessage(), e);
      }
    }
    node.path("properties").properties().forEach(property -> {
      location.add(property.getKey());
      collectRules(property.getValue(), location);
      location.removeLast();
    });
    if (node.has("items")) {
      location.add("[]");
      collectRules(node.get("items"), location);
      location.removeLast();
    }
  }

  /** Runs {@code rule} at every place its location matches, with the matching part of {@code old} if any. */
  private static void evaluate(Rule rule, int depth, JsonNode value, JsonNode old, String path, List<Violation> out) {
    if (value == null || value.isMissingNode() || value.isNull()) {
      return;
    }
    if (depth == rule.location().size()) {
      if (rule.transition() && (old == null || old.isMissingNode() || old.isNull())) {
        return;
      }
      Map<String, Object> variables = new LinkedHashMap<>();
      variables.put("self", celValue(value));
      if (rule.transition()) {
        variables.put("oldSelf", celValue(old));
      }
      // A rule's fieldPath names the field its error is about, under the place it sits, as the API server reports it.
      String at = rule.fieldPath().isEmpty() ? path : (path.isEmpty() ? "" : path + ".") + rule.fieldPath().substring(1);
      String field = at.isEmpty() ? "(object)" : at;
      try {
        if (!Boolean.TRUE.equals(rule.program().eval(variables))) {
          out.add(new Violation(field, rule.message()));
        }
      } catch (CelEvaluationException e) {
        out.add(new Violation(field, rule.message() + " (the rule could not be evaluated: " + e.getMessage() + ")"));
      }
      return;
    }
    String segment = rule.location().get(depth);
    if (segment.equals("[]")) {
      // Items of atomic lists have no identity across versions, so transition rules see no old item.
      for (int i = 0; i < value.size(); i++) {
        evaluate(rule, depth + 1, value.get(i), null, path + "[" + i + "]", out);
      }
    } else {
      evaluate(rule, depth + 1, value.get(segment), old == null ? null : old.get(segment),
          path.isEmpty() ? segment : path + "." + segment, out);
    }
  }

  /** JSON as CEL sees it: objects as maps, integers as int, other numbers as double. */
  private static final CelCompiler ADMISSION_POLICY_COMPILER = CelCompilerFactory.standardCelCompilerBuilder()
      .setStandardMacros(CelStandardMacro.STANDARD_MACROS)
      .addVar("object", SimpleType.DYN)
      .addVar("oldObject", SimpleType.DYN)
      .addVar("namespaceObject", SimpleType.DYN)
      .build();

  /**
   * Whether a ValidatingAdmissionPolicy's validation {@code expression} holds for the request's
   * {@code object} and its {@code namespaceObject} (a create: no oldObject), as the API server
   * evaluates it; for checking the policies Kiln's examples ship.
   */
  public static boolean admissionPolicyAllows(String expression, JsonNode object, JsonNode namespaceObject) {
    try {
      CelAbstractSyntaxTree ast = ADMISSION_POLICY_COMPILER.compile(expression).getAst();
      Map<String, Object> variables = new LinkedHashMap<>();
      variables.put("object", celValue(object));
      variables.put("namespaceObject", celValue(namespaceObject));
      return Boolean.TRUE.equals(RUNTIME.createProgram(ast).eval(variables));
    } catch (CelValidationException | CelEvaluationException e) {
      throw new IllegalArgumentException("the policy's expression does not evaluate: " + expression + ": "
          + e.getMessage(), e);
    }
  }

  static Object celValue(JsonNode node) {
    if (node.isObject()) {
      Map<String, Object> map = new LinkedHashMap<>();
      node.properties().forEach(e -> {
        if (!e.getValue().isNull()) {
          map.put(e.getKey(), celValue(e.getValue()));
        }
      });
      return map;
    }
    if (node.isArray()) {
      List<Object> list = new ArrayList<>();
      node.forEach(item -> list.add(celValue(item)));
      return list;
    }
    if (node.isIntegralNumber()) {
      return node.longValue();
    }
    if (node.isNumber()) {
      return node.doubleValue();
    }
    if (node.isBoolean()) {
      return node.booleanValue();
    }
    return node.asText();
  }
}
