"""Math functions whose results the local engine matches bit for bit: constants, NaN and infinity tests,
radians/degrees, to_base/from_base and width_bucket.

ln, exp, power and the trigonometric functions stay refused: Java's and DuckDB's (the C library's)
implementations may differ in the last bit, and Athena prints every bit of a double.
"""

from __future__ import annotations

from sqlglot import exp

from etl.athena.core import TranslatorCore
from etl.athena.results import BIGINT, BOOLEAN, DOUBLE, VARCHAR
from etl.athena.translation import Handlers, Typed, _call, _cast, _Ctx, _string, invalid, refuse

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
        if node.args.get("min_value") is None or node.args.get("num_buckets") is None:
            raise refuse("width_bucket(x, bins)", "only width_bucket(x, bound1, bound2, n) runs locally")
        operand, low, high = (
            self._double_arg(node.args[key], ctx, "width_bucket") for key in ("this", "min_value", "max_value")
        )
        count = self._integer_arg(node.args["num_buckets"], ctx, "width_bucket")
        return Typed(_call("trino_width_bucket", operand, low, high, count.node), BIGINT)
