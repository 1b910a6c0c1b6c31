"""Numeric functions: abs, ceil, floor, round, truncate, sqrt, sign."""

from __future__ import annotations

from sqlglot import exp

from etl.athena.core import TranslatorCore
from etl.athena.results import BIGINT, DOUBLE, INT32_BOUND, INT64_BOUND, decimal_type
from etl.athena.translation import Handlers, Typed, _call, _cast, _Ctx, _number, _string, invalid, refuse

_INTEGER_RANGES = {
    "tinyint": (-(2**7), 2**7 - 1), "smallint": (-(2**15), 2**15 - 1),
    "integer": (-INT32_BOUND, INT32_BOUND - 1), "bigint": (-INT64_BOUND, INT64_BOUND - 1),
}


def _unscaled_decimal(value: Typed) -> exp.Expr:
    """A decimal's digits as a HUGEINT, read from its text: scaling it up by arithmetic overflows
    DuckDB's 38 digits for a decimal(38, s)."""
    text = _cast(_cast(value.node, value.type.duck), "VARCHAR")
    return _cast(exp.Anonymous(this="replace", expressions=[text, _string("."), _string("")]), "HUGEINT")


def _signed_integer_literal(node: exp.Expr) -> int | None:
    """The value of an integer literal, possibly negated (Trino reads -2147483648 as an integer)."""
    sign = 1
    while isinstance(node, (exp.Neg, exp.Paren)):
        sign = -sign if isinstance(node, exp.Neg) else sign
        node = node.this
    if isinstance(node, exp.Literal) and not node.is_string and node.this.isdigit():
        return sign * int(node.this)
    return None


class NumericFunctions(TranslatorCore):
    """Numeric functions with Trino's result types."""

    def _numeric_handlers(self) -> Handlers:
        return {
            exp.Abs: self._abs, exp.Ceil: self._ceil_floor, exp.Floor: self._ceil_floor, exp.Round: self._round,
            exp.Trunc: self._truncate, exp.Sqrt: self._sqrt, exp.Sign: self._sign,
        }

    def _abs(self, node: exp.Abs, ctx: _Ctx) -> Typed:
        value = self._numeric_arg(node.this, ctx, "abs")
        return Typed(_call("abs", value.node), value.type)

    def _ceil_floor(self, node: exp.Ceil | exp.Floor, ctx: _Ctx) -> Typed:
        name = "ceil" if isinstance(node, exp.Ceil) else "floor"
        self._check_args(node, {"this"})
        value = self._numeric_arg(node.this, ctx, name)
        if value.type.is_integral:
            return value
        if value.type.is_double:
            return Typed(_call(name, value.node), DOUBLE)
        p, s = value.type.precision, value.type.scale
        result = decimal_type(p - s + min(s, 1), 0)
        return Typed(_cast(_call(name, value.node), result.duck), result)

    def _round(self, node: exp.Round, ctx: _Ctx) -> Typed:
        self._check_args(node, {"this", "decimals"})
        value = self._numeric_arg(node.this, ctx, "round")
        decimals_node = node.args.get("decimals")
        if decimals_node is None:
            if value.type.is_double:
                return Typed(_call("trino_round_double", value.node, _number(0)), DOUBLE)
            if value.type.is_integral:
                return value
            p, s = value.type.precision, value.type.scale
            result = decimal_type(min(38, p - s + min(1, s)), 0)
            return Typed(_cast(_call("round", value.node), result.duck), result)
        digits = self._digits_arg(decimals_node, ctx, "round")
        if value.type.is_double:
            return Typed(_call("trino_round_double", value.node, digits), DOUBLE)
        if value.type.is_integral:
            low, high = _INTEGER_RANGES[value.type.base]
            rounded = _call(
                "trino_round_integer", value.node, digits, _number(low), _number(high), _string(value.type.base)
            )
            return Typed(_cast(rounded, value.type.duck), value.type)
        # decimal(p, s) keeps its scale and gains a digit: decimal(min(38, p + 1), s)
        p, s = value.type.precision, value.type.scale
        result = decimal_type(min(38, p + 1), s)
        shift = exp.Sub(this=_number(s), expression=exp.Paren(this=digits))
        rounded = _call("trino_round_unscaled", _unscaled_decimal(value), shift)
        checked = _call("trino_decimal_fits", rounded, _number(result.precision))
        return Typed(self._from_unscaled(checked, result), result)

    def _truncate(self, node: exp.Trunc, ctx: _Ctx) -> Typed:
        self._check_args(node, {"this", "decimals"})
        value = self._numeric_arg(node.this, ctx, "truncate")
        decimals_node = node.args.get("decimals")
        if value.type.is_integral:
            raise refuse(f"truncate({value.type})", "Trino picks an implicit conversion for it")
        if decimals_node is not None:
            if not value.type.is_decimal:
                raise refuse(f"truncate({value.type}, n)")
            # truncate(decimal(p, s), n) keeps the type: dropping digits never needs one more
            digits = self._digits_arg(decimals_node, ctx, "truncate")
            s = value.type.scale
            shift = exp.Sub(this=_number(s), expression=exp.Paren(this=digits))
            truncated = _call("trino_truncate_unscaled", _unscaled_decimal(value), shift)
            return Typed(self._from_unscaled(truncated, value.type), value.type)
        if value.type.is_double:
            return Typed(_call("trunc", value.node), DOUBLE)
        p, s = value.type.precision, value.type.scale
        result = decimal_type(max(1, p - s), 0)
        return Typed(_cast(_call("trunc", value.node), result.duck), result)

    def _digits_arg(self, node: exp.Expr, ctx: _Ctx, name: str) -> exp.Expr:
        """The number of decimals of round/truncate: Trino's parameter is an integer, held here as BIGINT."""
        literal = _signed_integer_literal(node)
        if literal is not None:
            if not -INT32_BOUND <= literal < INT32_BOUND:
                raise refuse(f"{name}() decimals {literal}", "outside the integer range")
            return _cast(_number(literal), "BIGINT")
        digits = self._expr(node, ctx)
        if digits.type.is_unknown:
            return _cast(exp.Null(), "BIGINT")
        if not digits.type.is_integral:
            raise invalid(f"{name}() needs an integer number of decimals, not {digits.type}")
        if digits.type == BIGINT:
            raise refuse(f"{name}() decimals of type bigint", "Trino's parameter is an integer")
        return _cast(digits.node, "BIGINT")

    def _sqrt(self, node: exp.Sqrt, ctx: _Ctx) -> Typed:
        value = self._coerce(self._numeric_arg(node.this, ctx, "sqrt"), DOUBLE).node
        # Java's Math.sqrt of a negative number is NaN; DuckDB's sqrt fails on it
        negative = exp.LT(this=value, expression=exp.Literal.number(0))
        nan = _cast(exp.Literal.string("NaN"), "DOUBLE")
        return Typed(exp.Case(ifs=[exp.If(this=negative, true=nan)], default=_call("sqrt", value.copy())), DOUBLE)

    def _sign(self, node: exp.Sign, ctx: _Ctx) -> Typed:
        value = self._numeric_arg(node.this, ctx, "sign")
        if value.type.is_double:
            one = _cast(_number(1), "DOUBLE")
            signed = exp.Case(
                ifs=[
                    exp.If(this=_call("isnan", value.node), true=value.node),
                    exp.If(this=exp.GT(this=value.node, expression=_number(0)), true=one),
                    exp.If(this=exp.LT(this=value.node, expression=_number(0)), true=exp.Neg(this=one)),
                ],
                default=value.node,
            )
            return Typed(signed, DOUBLE)
        result = value.type if value.type.is_integral else decimal_type(1, 0)
        return Typed(_cast(_call("sign", value.node), result.duck), result)

