package dev.kiln.api.validation;

import dev.cel.common.CelFunctionDecl;
import dev.cel.common.CelOverloadDecl;
import dev.cel.common.types.CelType;
import dev.cel.common.types.OpaqueType;
import dev.cel.common.types.SimpleType;
import dev.cel.runtime.CelFunctionBinding;
import io.fabric8.kubernetes.api.model.Quantity;
import java.math.BigDecimal;
import java.util.List;
import java.util.regex.Pattern;

/**
 * The part of Kubernetes' CEL quantity library (in API servers since 1.29) that Kiln's rules use:
 * {@code quantity(string)}, {@code isQuantity(string)}, and comparing two quantities with
 * {@code compareTo}, {@code isGreaterThan} and {@code isLessThan}, with the overload names and type
 * name of the API server's, so a rule checked here means the same there.
 */
final class QuantityLibrary {

  /** A parsed quantity: its value, exactly. */
  record KubernetesQuantity(BigDecimal value) {}

  static final CelType QUANTITY = OpaqueType.create("kubernetes.Quantity");

  /** What Kubernetes parses as a quantity: a signed decimal with a binary or decimal suffix, or a whole exponent. */
  private static final Pattern GRAMMAR = Pattern.compile(
      "^[+-]?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE][+-]?[0-9]+))?$");

  private QuantityLibrary() {}

  static List<CelFunctionDecl> declarations() {
    return List.of(
        CelFunctionDecl.newFunctionDeclaration("quantity",
            CelOverloadDecl.newGlobalOverload("string_to_quantity", QUANTITY, SimpleType.STRING)),
        CelFunctionDecl.newFunctionDeclaration("isQuantity",
            CelOverloadDecl.newGlobalOverload("is_quantity_string", SimpleType.BOOL, SimpleType.STRING)),
        CelFunctionDecl.newFunctionDeclaration("compareTo",
            CelOverloadDecl.newMemberOverload("quantity_compare_to", SimpleType.INT, QUANTITY, QUANTITY)),
        CelFunctionDecl.newFunctionDeclaration("isGreaterThan",
            CelOverloadDecl.newMemberOverload("quantity_is_greater_than", SimpleType.BOOL, QUANTITY, QUANTITY)),
        CelFunctionDecl.newFunctionDeclaration("isLessThan",
            CelOverloadDecl.newMemberOverload("quantity_is_less_than", SimpleType.BOOL, QUANTITY, QUANTITY)));
  }

  static List<CelFunctionBinding> bindings() {
    return List.of(
        CelFunctionBinding.from("string_to_quantity", String.class, QuantityLibrary::parse),
        CelFunctionBinding.from("is_quantity_string", String.class, text -> GRAMMAR.matcher(text).matches()),
        CelFunctionBinding.from("quantity_compare_to", KubernetesQuantity.class, KubernetesQuantity.class,
            (a, b) -> (long) Integer.signum(a.value().compareTo(b.value()))),
        CelFunctionBinding.from("quantity_is_greater_than", KubernetesQuantity.class, KubernetesQuantity.class,
            (a, b) -> a.value().compareTo(b.value()) > 0),
        CelFunctionBinding.from("quantity_is_less_than", KubernetesQuantity.class, KubernetesQuantity.class,
            (a, b) -> a.value().compareTo(b.value()) < 0));
  }

  /** The quantity a string spells; an error (the rule cannot be evaluated) when it spells none, as on an API server. */
  static KubernetesQuantity parse(String text) {
    if (!GRAMMAR.matcher(text).matches()) {
      throw new IllegalArgumentException("quantities must match the regular expression '" + GRAMMAR.pattern() + "'");
    }
    return new KubernetesQuantity(new Quantity(text).getNumericalAmount());
  }
}
