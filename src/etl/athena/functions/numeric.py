"""Numeric functions: abs, ceil, floor, round, truncate, sqrt, sign."""

from __future__ import annotations

from sqlglot import exp

from etl.athena.core import TranslatorCore
from etl.athena.results import DOUBLE, INTEGER, decimal_type
from etl.athena.translation import Handlers, Typed, _call, _cast, _Ctx, _number, _set, invalid, refuse


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
        if value.type.is_double:
            if decimals_node is None:
                return Typed(_call("trino_round_double", value.node, _number(0)), DOUBLE)
            digits = self._expr(decimals_node, ctx)
            if not digits.type.is_integral:
                raise invalid(f"round() needs an integer number of decimals, not {digits.type}")
            return Typed(_call("trino_round_double", value.node, self._coerce(digits, INTEGER).node), DOUBLE)
        decimals = 0 if decimals_node is None else self._integer_literal(decimals_node, "round() decimals")
        if value.type.is_integral:
            if decimals < 0:
                raise refuse("round(integer, negative decimals)")
            return value
        p, s = value.type.precision, value.type.scale
        if decimals_node is None:
            result = decimal_type(min(38, p - s + min(1, s)), 0)
            return Typed(_cast(_call("round", value.node), result.duck), result)
        if decimals < 0:
            raise refuse("round(decimal, negative decimals)")
        result = decimal_type(min(38, p + 1), s)
        rounded = _call("round", _cast(value.node, f"DECIMAL(38,{s})"), _number(min(decimals, s)))
        return Typed(_cast(rounded, result.duck), result)

    def _truncate(self, node: exp.Trunc, ctx: _Ctx) -> Typed:
        if any(_set(v) for k, v in node.args.items() if k != "this"):
            raise refuse("truncate(x, n)")
        value = self._numeric_arg(node.this, ctx, "truncate")
        if value.type.is_double:
            return Typed(_call("trunc", value.node), DOUBLE)
        if value.type.is_integral:
            raise refuse(f"truncate({value.type})", "Trino picks an implicit conversion for it")
        p, s = value.type.precision, value.type.scale
        result = decimal_type(max(1, p - s), 0)
        return Typed(_cast(_call("trunc", value.node), result.duck), result)

    def _sqrt(self, node: exp.Sqrt, ctx: _Ctx) -> Typed:
        value = self._numeric_arg(node.this, ctx, "sqrt")
        return Typed(_call("sqrt", self._coerce(value, DOUBLE).node), DOUBLE)

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

