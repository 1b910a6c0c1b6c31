"""Aggregates and window functions: count, sum, avg, min, max, count_if, variance, ranking, lag and lead, frames."""

from __future__ import annotations

from collections.abc import Callable

from sqlglot import exp

from etl.athena.core import TranslatorCore
from etl.athena.results import BIGINT, BOOLEAN, DOUBLE, SqlType, decimal_type
from etl.athena.translation import (
    _AGGREGATES,
    _RANKING,
    _VARIANCE,
    _WINDOW_ONLY,
    Handlers,
    Typed,
    _Aggregate,
    _call,
    _cast,
    _Ctx,
    _decimal_power_of_ten,
    _func_name,
    _number,
    invalid,
    refuse,
)


class Aggregates(TranslatorCore):
    """Aggregates (with FILTER and DISTINCT) and window functions."""

    def _aggregate_handlers(self) -> Handlers:
        return {
            exp.Window: self._window, exp.Filter: self._aggregate_expr,
            **{aggregate: self._aggregate_expr for aggregate in _AGGREGATES},
        }

    def _aggregate_expr(self, node: exp.Expr, ctx: _Ctx) -> Typed:
        if not ctx.aggregates:
            raise invalid(
                f"aggregate {_func_name(node if not isinstance(node, exp.Filter) else node.this)} "
                "is not allowed here"
            )
        aggregate = self._aggregate(node, ctx)
        return Typed(aggregate.wrap(aggregate.call), aggregate.type)

    def _aggregate(self, node: exp.Expr, ctx: _Ctx) -> _Aggregate:
        inner_ctx = _Ctx(ctx.scope)
        if isinstance(node, exp.Filter):
            aggregate = self._aggregate(node.this, ctx)
            if isinstance(aggregate.call, exp.Anonymous) and aggregate.call.name == "__decimal_avg__":
                raise refuse("avg(decimal) FILTER (...)")
            condition = self._boolean(node.expression.this, inner_ctx, "FILTER")
            return _Aggregate(
                exp.Filter(this=aggregate.call, expression=exp.Where(this=condition)), aggregate.type,
                aggregate.wrap,
            )
        if not isinstance(node, _AGGREGATES):
            raise refuse(_func_name(node), "not supported by the local engine")
        argument = node.this
        distinct = isinstance(argument, exp.Distinct)
        if distinct:
            if len(argument.expressions) != 1:
                raise refuse(f"{_func_name(node)} with several DISTINCT arguments")
            argument = argument.expressions[0]
        if isinstance(node, exp.Count):
            if isinstance(argument, exp.Star):
                return _Aggregate(exp.Count(this=exp.Star()), BIGINT)
            value = self._expr(argument, inner_ctx)
            return _Aggregate(exp.Count(this=self._distinct(value.node, distinct)), BIGINT)
        value = self._expr(argument, inner_ctx)
        return self._typed_aggregate(node, value, distinct)

    @staticmethod
    def _distinct(node: exp.Expr, distinct: bool) -> exp.Expr:
        return exp.Distinct(expressions=[node]) if distinct else node

    def _typed_aggregate(self, node: exp.Expr, value: Typed, distinct: bool) -> _Aggregate:
        name = _func_name(node)
        if value.type.is_unknown:
            raise refuse(f"{name} of NULL", "the type of a NULL literal argument is ambiguous")
        argument = self._distinct(value.node, distinct)
        if isinstance(node, (exp.Min, exp.Max)):
            return _Aggregate(type(node)(this=argument), value.type)
        if isinstance(node, (exp.CountIf, exp.LogicalAnd, exp.LogicalOr)):
            if value.type != BOOLEAN:
                raise invalid(f"{name} needs a boolean, not {value.type}")
            if isinstance(node, exp.CountIf):
                # Trino counts 0 over no rows; DuckDB's count_if gives NULL there.
                return _Aggregate(_call("count_if", argument), BIGINT,
                                  lambda n: exp.Coalesce(this=_cast(n, "BIGINT"), expressions=[_number(0)]))
            return _Aggregate(
                _call("bool_and" if isinstance(node, exp.LogicalAnd) else "bool_or", argument), BOOLEAN
            )
        if not value.type.is_numeric:
            raise invalid(f"{name} needs a number, not {value.type}")
        if isinstance(node, _VARIANCE):
            duck = {
                exp.Stddev: "stddev_samp", exp.StddevSamp: "stddev_samp", exp.StddevPop: "stddev_pop",
                exp.Variance: "var_samp", exp.VariancePop: "var_pop",
            }[type(node)]
            return _Aggregate(_call(duck, self._distinct(self._coerce(value, DOUBLE).node, distinct)), DOUBLE)
        if isinstance(node, exp.Sum):
            if value.type.is_integral:
                return _Aggregate(exp.Sum(this=argument), BIGINT, lambda n: _cast(n, "BIGINT"))
            if value.type.is_decimal:
                return _Aggregate(exp.Sum(this=argument), decimal_type(38, value.type.scale))
            return _Aggregate(exp.Sum(this=argument), DOUBLE)
        if isinstance(node, exp.Avg):
            if value.type.is_decimal:
                return self._decimal_average(value, distinct)
            return _Aggregate(
                exp.Avg(this=self._distinct(self._coerce(value, DOUBLE).node, distinct)), DOUBLE
            )
        raise refuse(name)

    def _decimal_average(self, value: Typed, distinct: bool) -> _Aggregate:
        """avg(decimal(p,s)) is decimal(p,s): the sum divided by the count, rounded HALF_UP."""
        scale = value.type.scale
        total = _cast(
            exp.Mul(
                this=exp.Sum(this=self._distinct(_cast(value.node, f"DECIMAL(38,{scale})"), distinct)),
                expression=_decimal_power_of_ten(scale),
            ),
            "HUGEINT",
        )
        count = _cast(exp.Count(this=self._distinct(value.node, distinct)), "HUGEINT")
        quotient = _call("trino_div_half_up", total, count)
        marker = exp.Anonymous(this="__decimal_avg__", expressions=[quotient])
        return _Aggregate(marker, value.type, lambda n: self._from_unscaled(n.expressions[0], value.type))

    def _window(self, node: exp.Window, ctx: _Ctx) -> Typed:
        if not ctx.windows:
            raise invalid("window functions are not allowed here")
        self._check_args(node, {"this", "partition_by", "order", "spec", "over"})
        if isinstance(node.this, (exp.IgnoreNulls, exp.RespectNulls)):
            raise refuse("IGNORE NULLS / RESPECT NULLS")
        inner_ctx = _Ctx(ctx.scope, aggregates=ctx.aggregates)
        function = node.this
        if isinstance(function, _WINDOW_ONLY):
            call, result_type = self._window_function(function, _Ctx(ctx.scope))
            wrap: Callable[[exp.Expr], exp.Expr] = lambda n: n  # noqa: E731
        else:
            aggregate = self._aggregate(function, _Ctx(ctx.scope, aggregates=True))
            if isinstance(aggregate.call, exp.Anonymous) and aggregate.call.name == "__decimal_avg__":
                raise refuse("avg(decimal) OVER (...)")
            call, result_type, wrap = aggregate.call, aggregate.type, aggregate.wrap
        window = exp.Window(this=call, over="OVER")
        partition = [self._expr(p, inner_ctx).node for p in node.args.get("partition_by") or []]
        if partition:
            window.set("partition_by", partition)
        if node.args.get("order"):
            window.set("order", self._order(node.args["order"], [], inner_ctx))
        if node.args.get("spec") is not None:
            window.set("spec", self._frame(node.args["spec"]))
        return Typed(wrap(window), result_type)

    def _frame(self, spec: exp.WindowSpec) -> exp.WindowSpec:
        self._check_args(spec, {"kind", "start", "start_side", "end", "end_side"})
        kind = (spec.args.get("kind") or "").upper()
        if kind not in ("ROWS", "RANGE"):
            raise refuse(f"{kind or 'window'} frame")
        new = exp.WindowSpec(kind=kind)
        for bound, side in (("start", "start_side"), ("end", "end_side")):
            value = spec.args.get(bound)
            if value is None:
                continue
            if isinstance(value, str) and value.upper() in ("UNBOUNDED", "CURRENT ROW"):
                new.set(bound, value.upper())
            elif kind == "ROWS" and isinstance(value, exp.Literal) and value.this.isdigit():
                new.set(bound, _number(int(value.this)))
            else:
                raise refuse(f"{kind} frame bound {value if isinstance(value, str) else value.sql()}")
            if spec.args.get(side):
                new.set(side, spec.args[side])
        return new

    def _window_function(self, node: exp.Expr, ctx: _Ctx) -> tuple[exp.Expr, SqlType]:
        if isinstance(node, _RANKING):
            if node.expressions:
                raise invalid(f"{_func_name(node)} takes no arguments")
            result = DOUBLE if isinstance(node, (exp.PercentRank, exp.CumeDist)) else BIGINT
            return type(node)(), result
        if isinstance(node, exp.Ntile):
            buckets = self._integer_literal(node.this, "ntile() buckets")
            if buckets <= 0:
                raise invalid("ntile() needs a positive number of buckets")
            return exp.Ntile(this=_number(buckets)), BIGINT
        value = self._expr(node.this, ctx)
        if value.type.is_unknown:
            raise refuse(f"{_func_name(node)} of NULL")
        if isinstance(node, (exp.FirstValue, exp.LastValue)):
            return type(node)(this=value.node), value.type
        if isinstance(node, exp.NthValue):
            if node.args.get("from_first") is not None:
                raise refuse("nth_value FROM FIRST/LAST")
            offset = self._integer_literal(node.args.get("offset"), "nth_value() offset")
            if offset <= 0:
                raise invalid("nth_value() needs a positive offset")
            return exp.NthValue(this=value.node, offset=_number(offset)), value.type
        new = type(node)(this=value.node)
        offset_node = node.args.get("offset")
        if offset_node is not None:
            offset = self._integer_literal(offset_node, f"{_func_name(node)} offset")
            if offset < 0:
                raise invalid(f"{_func_name(node)} needs a non-negative offset")
            new.set("offset", _number(offset))
        if node.args.get("default") is not None:
            if offset_node is None:
                new.set("offset", _number(1))
            default = self._coerce(self._expr(node.args["default"], ctx), value.type)
            new.set("default", default.node)
        return new, value.type

