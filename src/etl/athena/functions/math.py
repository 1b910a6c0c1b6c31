"""Math functions whose results the local engine matches bit for bit: constants, NaN and infinity tests,
radians/degrees, to_base/from_base, width_bucket (bounds or an array of bins) and the Wilson score interval.

ln, exp, power and the trigonometric functions stay refused: Java's and DuckDB's (the C library's)
implementations may differ in the last bit, and Athena prints every bit of a double. So do the
distribution functions (normal_cdf, beta_cdf, t_cdf and their inverses): Trino computes them with
Apache Commons Math's series and continued fractions. The Wilson interval needs only arithmetic and a
square root, which IEEE 754 rounds exactly on both engines, so it runs as Trino writes it, operation
for operation.
"""

from __future__ import annotations

from sqlglot import exp

from etl.athena.core import TranslatorCore
from etl.athena.results import BIGINT, BOOLEAN, DOUBLE, VARCHAR, array_type
from etl.athena.translation import (
    Handlers,
    Typed,
    _call,
    _case,
    _cast,
    _Ctx,
    _fails,
    _number,
    _string,
    invalid,
    refuse,
)

# Java's Math.E and Math.PI, and the factors of Math.toRadians / Math.toDegrees (one multiplication each)
_CONSTANTS = {"e": "2.718281828459045", "pi": "3.141592653589793", "infinity": "Infinity", "nan": "NaN"}
_DEGREES_TO_RADIANS = "0.017453292519943295"
_RADIANS_TO_DEGREES = "57.29577951308232"


def _double(text: str) -> exp.Expr:
    return _cast(_string(text), "DOUBLE")


class MathFunctions(TranslatorCore):
    """Exact math functions with Trino's result types and errors."""

    def _math_handlers(self) -> Handlers:
        return {
            exp.Pi: lambda node, ctx: self._constant("pi", node),
            "e": lambda node, ctx: self._constant("e", node),
            "infinity": lambda node, ctx: self._constant("infinity", node),
            "nan": lambda node, ctx: self._constant("nan", node),
            exp.IsNan: lambda node, ctx: self._double_test("isnan", node.this, ctx, "is_nan"),
            "is_finite": lambda node, ctx: self._double_test("isfinite", self._one_arg(node), ctx, "is_finite"),
            "is_infinite": lambda node, ctx: self._double_test("isinf", self._one_arg(node), ctx, "is_infinite"),
            exp.Radians: lambda node, ctx: self._scaled(node, ctx, "radians", _DEGREES_TO_RADIANS),
            exp.Degrees: lambda node, ctx: self._scaled(node, ctx, "degrees", _RADIANS_TO_DEGREES),
            "to_base": self._to_base, exp.FromBase: self._from_base, exp.WidthBucket: self._width_bucket,
            "wilson_interval_lower": lambda node, ctx: self._wilson(node, ctx, -1),
            "wilson_interval_upper": lambda node, ctx: self._wilson(node, ctx, 1),
        }

    def _constant(self, name: str, node: exp.Expr) -> Typed:
        if isinstance(node, exp.Anonymous) and node.expressions:
            raise invalid(f"{name}() takes no arguments")
        return Typed(_double(_CONSTANTS[name]), DOUBLE)

    @staticmethod
    def _one_arg(node: exp.Anonymous) -> exp.Expr:
        if len(node.expressions) != 1:
            raise invalid(f"{node.name.lower()}() takes one argument")
        return node.expressions[0]

    def _double_arg(self, node: exp.Expr, ctx: _Ctx, name: str) -> exp.Expr:
        typed = self._expr(node, ctx)
        if not (typed.type.is_numeric or typed.type.is_unknown):
            raise invalid(f"{name}() needs a double, not {typed.type}")
        return self._coerce(typed, DOUBLE).node

    def _double_test(self, test: str, node: exp.Expr, ctx: _Ctx, name: str) -> Typed:
        return Typed(_call(test, self._double_arg(node, ctx, name)), BOOLEAN)

    def _scaled(self, node: exp.Radians | exp.Degrees, ctx: _Ctx, name: str, factor: str) -> Typed:
        value = self._double_arg(node.this, ctx, name)
        return Typed(exp.Mul(this=value, expression=_double(factor)), DOUBLE)

    def _to_base(self, node: exp.Anonymous, ctx: _Ctx) -> Typed:
        if len(node.expressions) != 2:
            raise invalid("to_base() takes a number and a radix")
        value, radix = (self._integer_arg(arg, ctx, "to_base") for arg in node.expressions)
        return Typed(_call("trino_to_base", value.node, radix.node), VARCHAR)

    def _from_base(self, node: exp.FromBase, ctx: _Ctx) -> Typed:
        text = self._text_arg(node.this, ctx, "from_base")
        radix = self._integer_arg(node.expression, ctx, "from_base")
        return Typed(_call("trino_from_base", text.node, radix.node), BIGINT)

    def _width_bucket(self, node: exp.WidthBucket, ctx: _Ctx) -> Typed:
        self._check_args(node, {"this", "min_value", "max_value", "num_buckets"})
        if node.args.get("max_value") is None and node.args.get("num_buckets") is None:
            return self._width_bucket_of_bins(node, ctx)
        if node.args.get("min_value") is None or node.args.get("num_buckets") is None:
            raise invalid("width_bucket() takes (x, bins) or (x, bound1, bound2, bucketCount)")
        operand, low, high = (
            self._double_arg(node.args[key], ctx, "width_bucket") for key in ("this", "min_value", "max_value")
        )
        count = self._integer_arg(node.args["num_buckets"], ctx, "width_bucket")
        return Typed(_call("trino_width_bucket", operand, low, high, count.node), BIGINT)

    def _width_bucket_of_bins(self, node: exp.WidthBucket, ctx: _Ctx) -> Typed:
        operand = self._double_arg(node.this, ctx, "width_bucket")
        bins = self._expr(node.args["min_value"], ctx)
        if bins.type.is_unknown:
            return Typed(_cast(exp.Null(), "BIGINT"), BIGINT)
        if not bins.type.is_array or not (bins.type.element.is_double or bins.type.element.is_integral):
            # Decimal bins would be converted to doubles first; that conversion is not checked here.
            if bins.type.is_array and bins.type.element.is_decimal:
                raise refuse("width_bucket(x, bins) of decimal bins", "write the bins as doubles (1.5E0)")
            raise invalid(f"width_bucket() needs array(double) bins, not {bins.type}")
        as_doubles = _cast(bins.node, array_type(DOUBLE).duck)
        return Typed(_call("trino_width_bucket_bins", operand, as_doubles), BIGINT)

    def _wilson(self, node: exp.Anonymous, ctx: _Ctx, bound: int) -> Typed:
        """Trino's WilsonInterval: (p + z²/2n ± z·sqrt(p(1-p)/n + z²/4n²)) / (1 + z²/n), in Java's order."""
        name = node.name.lower()
        if len(node.expressions) != 3:
            raise invalid(f"{name}() takes successes, trials and z")
        successes = self._integer_arg(node.expressions[0], ctx, name).node
        trials = self._integer_arg(node.expressions[1], ctx, name).node
        z = self._double_arg(node.expressions[2], ctx, name)
        s, n = _cast(successes, "DOUBLE"), _cast(trials, "DOUBLE")
        p = exp.Div(this=exp.Mul(this=s, expression=_double("1.0")), expression=n)
        z2 = exp.Paren(this=exp.Mul(this=z, expression=z.copy()))

        def times(*factors: exp.Expr) -> exp.Expr:
            product = factors[0]
            for factor in factors[1:]:
                product = exp.Mul(this=product, expression=factor)
            return exp.Paren(this=product)

        def over(a: exp.Expr, b: exp.Expr) -> exp.Expr:
            return exp.Paren(this=exp.Div(this=a, expression=b))

        spread = exp.Add(
            this=over(times(p, exp.Paren(this=exp.Sub(this=_double("1"), expression=p.copy()))), n.copy()),
            expression=over(z2.copy(), times(_double("4"), n.copy(), n.copy())),
        )
        numerator = exp.Add(
            this=exp.Add(this=p.copy(), expression=over(z2.copy(), times(_double("2"), n.copy()))),
            expression=times(_double(str(float(bound))), z.copy(), _call("sqrt", spread)),
        )
        value = over(exp.Paren(this=numerator), exp.Paren(this=exp.Add(this=_double("1"), expression=over(z2, n))))
        checks = [
            (exp.LT(this=successes.copy(), expression=_number(0)), "number of successes must not be negative"),
            (exp.LTE(this=trials.copy(), expression=_number(0)), "number of trials must be positive"),
            (exp.GT(this=successes.copy(), expression=trials.copy()),
             "number of successes must not be larger than number of trials"),
            # Java tests z >= 0, which a NaN z fails too (DuckDB orders NaN above every number)
            (exp.or_(_call("isnan", z.copy()), exp.LT(this=z.copy(), expression=_double("0"))),
             "z-score must not be negative"),
        ]
        failures = [(condition, _fails(message)) for condition, message in checks]
        return Typed(_cast(_case(*failures, default=value), "DOUBLE"), DOUBLE)
