"""Operators and conditionals: literals, columns, arithmetic, comparisons, logic, IN, LIKE, CASE, IF, COALESCE."""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal

from sqlglot import exp

from etl.athena.core import TranslatorCore
from etl.athena.functions.maps import map_comparison
from etl.athena.parameters import _decimal_literal_type, _parameter_type
from etl.athena.results import (
    BIGINT,
    BOOLEAN,
    DATE,
    DOUBLE,
    INT32_BOUND,
    INT64_BOUND,
    INTEGER,
    MAX_DECIMAL_PRECISION,
    UNKNOWN,
    VARCHAR,
    SqlType,
    as_decimal,
    common_super_type,
    decimal_type,
    timestamp_type,
)
from etl.athena.translation import (
    _COMPARISONS,
    Handlers,
    Typed,
    _call,
    _cast,
    _Ctx,
    _hugeint_power_of_ten,
    _ident,
    _number,
    _Scope,
    _string,
    _unit,
    invalid,
    refuse,
)
from etl.errors import QueryError


class Expressions(TranslatorCore):
    """Operators, predicates and conditional expressions, with Trino's types."""

    def _expression_handlers(self) -> Handlers:
        return {
            exp.Literal: self._literal, exp.Null: lambda n, c: Typed(exp.Null(), UNKNOWN),
            exp.Boolean: lambda n, c: Typed(exp.Boolean(this=n.this), BOOLEAN),
            exp.Placeholder: self._placeholder, exp.Column: self._column,
            exp.Paren: lambda n, c: self._paren(n, c), exp.Neg: self._neg, exp.Add: self._arithmetic,
            exp.Sub: self._arithmetic, exp.Mul: self._arithmetic, exp.Div: self._arithmetic,
            exp.Mod: self._arithmetic, exp.NullSafeEQ: self._comparison, exp.NullSafeNEQ: self._comparison,
            exp.And: self._logical, exp.Or: self._logical, exp.Not: self._not, exp.Is: self._is,
            exp.In: self._in, exp.Exists: self._exists, exp.Subquery: self._scalar_subquery,
            exp.Between: self._between, exp.Like: self._like, exp.Escape: self._escape, exp.Case: self._case,
            exp.If: self._if, exp.Coalesce: self._coalesce, exp.Nullif: self._nullif,
            exp.Greatest: self._greatest, exp.Least: self._greatest,
            **{comparison: self._comparison for comparison in _COMPARISONS},
        }

    def _paren(self, node: exp.Paren, ctx: _Ctx) -> Typed:
        inner = self._expr(node.this, ctx)
        return Typed(exp.Paren(this=inner.node), inner.type)

    def _literal(self, node: exp.Literal, ctx: _Ctx) -> Typed:
        text = node.this
        if node.is_string:
            return Typed(_string(text), VARCHAR)
        if re.fullmatch(r"[0-9]+", text):
            value = int(text)
            if value < INT32_BOUND:
                return Typed(_number(value), INTEGER)
            if value < INT64_BOUND:
                return Typed(_cast(_number(value), "BIGINT"), BIGINT)
            raise invalid(f"integer literal {text} is out of the bigint range")
        if re.fullmatch(r"[0-9]+\.[0-9]*|\.[0-9]+", text):
            literal_type = _decimal_literal_type(text)
            return Typed(_cast(_string(text), literal_type.duck), literal_type)
        return Typed(_cast(_string(text), "DOUBLE"), DOUBLE)

    def _placeholder(self, node: exp.Placeholder, ctx: _Ctx) -> Typed:
        if node.name and node.name != "?":
            raise refuse(f"named parameter {node.sql(dialect='trino')}")
        index = self._placeholders
        self._placeholders += 1
        if index >= len(self._parameters):
            raise QueryError(
                f"the query has more ? placeholders than the {len(self._parameters)} parameters given"
            )
        value = self._parameters[index]
        value_type = _parameter_type(value)
        if value_type.is_unknown:
            return Typed(exp.Null(), UNKNOWN)
        if isinstance(value, Decimal):
            value = format(value, "f")
        elif isinstance(value, datetime):
            value = value.isoformat(sep=" ")
        elif isinstance(value, date):
            value = value.isoformat()
        self._bound.append(value)
        return Typed(_cast(exp.Placeholder(this=str(len(self._bound))), value_type.duck), value_type)

    def _column(self, node: exp.Column, ctx: _Ctx) -> Typed:
        if isinstance(node.this, exp.Star):
            raise invalid("* is only allowed in the select list and count(*)")
        name = node.name.lower()
        table = node.table.lower()
        scope: _Scope | None = ctx.scope
        while scope is not None:
            matches = [
                (relation, column)
                for relation in scope.relations
                if not table or relation.alias == table
                for column in relation.columns
                if column.name == name
            ]
            if len(matches) > 1:
                raise invalid(f"column {node.sql(dialect='trino')} is ambiguous")
            if matches:
                relation, column = matches[0]
                if column.type is None:
                    raise refuse(
                        f"column {column.name} of type {column.glue_type}",
                        "complex and binary types are not supported by the local engine",
                    )
                return Typed(exp.column(_ident(column.name), table=_ident(relation.alias)), column.type)
            scope = scope.parent
        raise invalid(f"column {node.sql(dialect='trino')} cannot be resolved")

    def _neg(self, node: exp.Neg, ctx: _Ctx) -> Typed:
        inner = self._expr(node.this, ctx)
        if not inner.type.is_numeric:
            raise invalid(f"cannot negate a {inner.type}")
        return Typed(exp.Neg(this=inner.node), inner.type)

    def _arithmetic(self, node: exp.Binary, ctx: _Ctx) -> Typed:
        if isinstance(node.this, exp.Interval) or isinstance(node.expression, exp.Interval):
            return self._date_arithmetic(node, ctx)
        left, right = self._expr(node.this, ctx), self._expr(node.expression, ctx)
        operator = {exp.Add: "+", exp.Sub: "-", exp.Mul: "*", exp.Div: "/", exp.Mod: "%"}[type(node)]
        if left.type.is_unknown and right.type.is_unknown:
            raise refuse(f"NULL {operator} NULL", "the type of arithmetic on two NULL literals is ambiguous")
        if left.type.is_unknown:
            left = self._coerce(left, right.type)
        if right.type.is_unknown:
            right = self._coerce(right, left.type)
        if left.type.is_temporal or right.type.is_temporal:
            raise refuse(
                f"{left.type} {operator} {right.type}", "only date/timestamp +/- INTERVAL runs locally"
            )
        if not (left.type.is_numeric and right.type.is_numeric):
            raise invalid(f"cannot apply {operator} to {left.type} and {right.type}")
        common = common_super_type(left.type, right.type)
        assert common is not None  # both numeric
        if common.is_integral:
            a, b = self._coerce(left, common).node, self._coerce(right, common).node
            if isinstance(node, exp.Div):
                return Typed(_call("trino_idiv", a, b), common)
            if isinstance(node, exp.Mod):
                return Typed(_call("trino_imod", a, b), common)
            return Typed(type(node)(this=a, expression=b), common)
        if common.is_double:
            a, b = self._coerce(left, DOUBLE).node, self._coerce(right, DOUBLE).node
            return Typed(type(node)(this=a, expression=b), DOUBLE)
        return self._decimal_arithmetic(node, left, right, operator)

    def _decimal_arithmetic(self, node: exp.Binary, left: Typed, right: Typed, operator: str) -> Typed:
        lt, rt = as_decimal(left.type), as_decimal(right.type)
        p1, s1, p2, s2 = lt.precision, lt.scale, rt.precision, rt.scale
        a = _cast(left.node, f"DECIMAL(38,{s1})")
        b = _cast(right.node, f"DECIMAL(38,{s2})")
        if isinstance(node, (exp.Add, exp.Sub)):
            scale = max(s1, s2)
            result = decimal_type(min(38, 1 + scale + max(p1 - s1, p2 - s2)), scale)
            return Typed(_cast(type(node)(this=a, expression=b), result.duck), result)
        if isinstance(node, exp.Mul):
            if s1 + s2 > MAX_DECIMAL_PRECISION:
                raise invalid(f"decimal multiplication scale {s1 + s2} exceeds 38")
            result = decimal_type(min(38, p1 + p2), s1 + s2)
            return Typed(_cast(exp.Mul(this=a, expression=b), result.duck), result)
        if isinstance(node, exp.Div):
            scale = max(s1, s2)
            result = decimal_type(min(38, p1 + s2 + max(0, s2 - s1)), scale)
            return Typed(self._exact_division(left.node, s1, right.node, s2, result), result)
        return self._decimal_remainder(left, right)

    def _decimal_remainder(self, left: Typed, right: Typed) -> Typed:
        """x % y of decimals: exact, with the sign of x, typed decimal(min(p1-s1, p2-s2) + s, s)."""
        lt, rt = as_decimal(left.type), as_decimal(right.type)
        scale = max(lt.scale, rt.scale)
        if max(lt.precision - lt.scale, rt.precision - rt.scale) + scale > MAX_DECIMAL_PRECISION:
            raise refuse(f"{lt} % {rt}", "the operands do not fit 38 digits at a common scale")
        result = decimal_type(min(lt.precision - lt.scale, rt.precision - rt.scale) + scale, scale)
        a = self._unscaled(self._coerce(left, lt).node, scale)
        b = self._unscaled(self._coerce(right, rt).node, scale)
        return Typed(self._from_unscaled(_call("trino_decimal_mod", a, b), result), result)

    def _exact_division(self, a: exp.Expr, s1: int, b: exp.Expr, s2: int, result: SqlType) -> exp.Expr:
        """round_half_up(a / b) at the result scale, computed on unscaled HUGEINTs."""
        numerator = self._unscaled(a, s1)
        denominator = self._unscaled(b, s2)
        shift = result.scale - s1 + s2
        if shift:
            numerator = exp.Mul(this=numerator, expression=_hugeint_power_of_ten(shift))
        quotient = _call("trino_decimal_div", numerator, denominator)
        return self._from_unscaled(quotient, result)

    def _date_arithmetic(self, node: exp.Binary, ctx: _Ctx) -> Typed:
        interval_first = isinstance(node.this, exp.Interval)
        interval_node, other = (
            (node.this, node.expression) if interval_first else (node.expression, node.this)
        )
        if isinstance(other, exp.Interval) or not isinstance(node, (exp.Add, exp.Sub)):
            raise refuse("INTERVAL arithmetic", "only date/timestamp +/- INTERVAL runs locally")
        if isinstance(node, exp.Sub) and interval_first:
            raise invalid("cannot subtract a date from an interval")
        base = self._expr(other, ctx)
        amount, unit = self._interval(interval_node)
        if base.type == DATE and unit not in ("day", "month", "year"):
            raise refuse(
                f"date + INTERVAL {unit.upper()}", "adding a time interval to a date is not supported locally"
            )
        if base.type.base != "timestamp" and base.type != DATE:
            raise invalid(f"cannot add an interval to {base.type}")
        sign = -1 if isinstance(node, exp.Sub) else 1
        shifted = self._shifted(base, sign * amount, unit)
        if base.type.base == "timestamp" and unit not in ("month", "year"):
            # A day-to-second interval holds milliseconds, so Trino widens the result to at least timestamp(3);
            # a year-to-month interval keeps the timestamp's precision.
            return Typed(shifted.node, timestamp_type(max(base.type.precision or 0, 3)))
        return shifted

    @staticmethod
    def _interval(node: exp.Interval) -> tuple[int, str]:
        value, unit = node.this, _unit(node.args.get("unit"))
        if not isinstance(value, exp.Literal) or not re.fullmatch(r"-?[0-9]+", value.name.strip()):
            raise refuse(
                f"INTERVAL {node.sql(dialect='trino')}", "only INTERVAL '<integer>' <unit> runs locally"
            )
        if unit not in ("second", "minute", "hour", "day", "month", "year"):
            raise refuse(f"INTERVAL ... {unit.upper() or '(no unit)'}")
        return int(value.name.strip()), unit

    def _comparison(self, node: exp.Binary, ctx: _Ctx) -> Typed:
        left, right = self._expr(node.this, ctx), self._expr(node.expression, ctx)
        common = common_super_type(left.type, right.type)
        if common is None:
            raise invalid(f"cannot compare {left.type} with {right.type}")
        if common.is_map:  # the map family's
            a, b = self._coerce(left, common).node, self._coerce(right, common).node
            return Typed(map_comparison(type(node), a, b, common), BOOLEAN)
        _refuse_container_comparison(common)
        a, b = self._coerce(left, common).node, self._coerce(right, common).node
        compared = type(node)(this=a, expression=b)
        if common.is_double and not isinstance(node, (exp.NullSafeEQ, exp.NullSafeNEQ)):
            if isinstance(node, exp.NEQ):
                return Typed(
                    exp.Not(
                        this=exp.Paren(this=_call("trino_nan_guard", a, b, exp.EQ(this=a, expression=b)))
                    ),
                    BOOLEAN,
                )
            return Typed(_call("trino_nan_guard", a, b, compared), BOOLEAN)
        return Typed(compared, BOOLEAN)

    def _logical(self, node: exp.Binary, ctx: _Ctx) -> Typed:
        word = "AND" if isinstance(node, exp.And) else "OR"
        a, b = self._boolean(node.this, ctx, word), self._boolean(node.expression, ctx, word)
        return Typed(type(node)(this=a, expression=b), BOOLEAN)

    def _not(self, node: exp.Not, ctx: _Ctx) -> Typed:
        return Typed(exp.Not(this=self._boolean(node.this, ctx, "NOT")), BOOLEAN)

    def _is(self, node: exp.Is, ctx: _Ctx) -> Typed:
        if not isinstance(node.expression, exp.Null):
            raise refuse(f"IS {node.expression.sql(dialect='trino')}")
        inner = self._expr(node.this, ctx)
        test: exp.Expr = exp.Is(this=inner.node, expression=exp.Null())
        return Typed(exp.Not(this=test) if node.args.get("negate") else test, BOOLEAN)

    def _in(self, node: exp.In, ctx: _Ctx) -> Typed:
        self._check_args(node, {"this", "expressions", "query"})
        value = self._expr(node.this, ctx)
        if node.args.get("query") is not None:
            query, columns = self._query(node.args["query"].this, ctx.scope, ctx.scope.ctes)
            if len(columns) != 1 or columns[0].type is None:
                raise invalid("the subquery of IN must return exactly one column")
            common = common_super_type(value.type, columns[0].type)
            if common is None:
                raise invalid(f"cannot compare {value.type} with {columns[0].type} in IN")
            _refuse_container_comparison(common)
            query = self._cast_shape(query, columns, [common])
            return Typed(
                exp.In(this=self._coerce(value, common).node, query=exp.Subquery(this=query)), BOOLEAN
            )
        items, common = self._unify([value, *[self._expr(e, ctx) for e in node.expressions]], "IN list")
        if common.is_map:  # the map family's: x IN (a, b) is x = a OR x = b
            return Typed(exp.or_(*[map_comparison(exp.EQ, items[0].node, i.node, common) for i in items[1:]]), BOOLEAN)
        _refuse_container_comparison(common)
        return Typed(exp.In(this=items[0].node, expressions=[i.node for i in items[1:]]), BOOLEAN)

    def _exists(self, node: exp.Exists, ctx: _Ctx) -> Typed:
        query, _ = self._query(node.this, ctx.scope, ctx.scope.ctes)
        return Typed(exp.Exists(this=query), BOOLEAN)

    def _scalar_subquery(self, node: exp.Subquery, ctx: _Ctx) -> Typed:
        self._check_args(node, {"this"})
        query, columns = self._query(node.this, ctx.scope, ctx.scope.ctes)
        if len(columns) != 1 or columns[0].type is None:
            raise invalid("a scalar subquery must return exactly one column")
        return Typed(exp.Subquery(this=query), columns[0].type)

    def _between(self, node: exp.Between, ctx: _Ctx) -> Typed:
        self._check_args(node, {"this", "low", "high"})
        items, common = self._unify(
            [
                self._expr(node.this, ctx), self._expr(node.args["low"], ctx),
                self._expr(node.args["high"], ctx),
            ],
            "BETWEEN",
        )
        _refuse_container_comparison(common)
        value, low, high = (i.node for i in items)
        if common.is_double:
            lower = _call("trino_nan_guard", value, low, exp.GTE(this=value, expression=low))
            upper = _call("trino_nan_guard", value, high, exp.LTE(this=value, expression=high))
            return Typed(exp.Paren(this=exp.And(this=lower, expression=upper)), BOOLEAN)
        return Typed(exp.Between(this=value, low=low, high=high), BOOLEAN)

    def _like(self, node: exp.Like, ctx: _Ctx, escape: exp.Expr | None = None) -> Typed:
        value, pattern = self._expr(node.this, ctx), self._expr(node.expression, ctx)
        for part in (value, pattern):
            if part.type not in (VARCHAR, UNKNOWN):
                raise invalid(f"LIKE needs varchar operands, not {part.type}")
        like: exp.Expr = exp.Like(
            this=self._coerce(value, VARCHAR).node, expression=self._coerce(pattern, VARCHAR).node
        )
        if escape is not None:
            like = exp.Escape(this=like, expression=escape)
        if node.args.get("negate"):  # sqlglot reads `x NOT LIKE p` as one Like node marked negate
            like = exp.Not(this=exp.Paren(this=like))
        return Typed(like, BOOLEAN)

    def _escape(self, node: exp.Escape, ctx: _Ctx) -> Typed:
        escape = node.expression
        if not isinstance(node.this, exp.Like):
            raise refuse("ESCAPE")
        if isinstance(escape, exp.Null):  # Trino: NULL, whatever the operands
            self._like(node.this, ctx)  # still checked for Athena's type rules
            return Typed(_cast(exp.Null(), "BOOLEAN"), BOOLEAN)
        if not (isinstance(escape, exp.Literal) and escape.is_string and len(escape.this) == 1):
            raise invalid("the ESCAPE of LIKE must be a single character")
        return self._like(node.this, ctx, _string(escape.this))

    def _case(self, node: exp.Case, ctx: _Ctx) -> Typed:
        operand = node.args.get("this")
        whens = node.args.get("ifs") or []
        results = [self._expr(w.args["true"], ctx) for w in whens]
        default = self._expr(node.args["default"], ctx) if node.args.get("default") is not None else None
        coerced, common = self._unify([*results, *([default] if default else [])], "CASE results")
        ifs = []
        if operand is not None:
            keys, _ = self._unify(
                [self._expr(operand, ctx), *[self._expr(w.this, ctx) for w in whens]],
                "CASE operand and WHEN values",
            )
            operand_node: exp.Expr | None = keys[0].node
            conditions = [k.node for k in keys[1:]]
        else:
            operand_node = None
            conditions = [self._boolean(w.this, ctx, "WHEN") for w in whens]
        for condition, result in zip(conditions, coerced, strict=False):
            ifs.append(exp.If(this=condition, true=result.node))
        new = exp.Case(ifs=ifs)
        if operand_node is not None:
            new.set("this", operand_node)
        if default is not None:
            new.set("default", coerced[-1].node)
        return Typed(new, common)

    def _if(self, node: exp.If, ctx: _Ctx) -> Typed:
        condition = self._boolean(node.this, ctx, "IF")
        branches = [self._expr(node.args["true"], ctx)]
        if node.args.get("false") is not None:
            branches.append(self._expr(node.args["false"], ctx))
        coerced, common = self._unify(branches, "IF results")
        new = exp.Case(ifs=[exp.If(this=condition, true=coerced[0].node)])
        if len(coerced) > 1:
            new.set("default", coerced[1].node)
        return Typed(new, common)

    def _coalesce(self, node: exp.Coalesce, ctx: _Ctx) -> Typed:
        self._check_args(node, {"this", "expressions"})
        items, common = self._unify([self._expr(e, ctx) for e in [node.this, *node.expressions]], "COALESCE")
        return Typed(exp.Coalesce(this=items[0].node, expressions=[i.node for i in items[1:]]), common)

    def _nullif(self, node: exp.Nullif, ctx: _Ctx) -> Typed:
        value, other = self._expr(node.this, ctx), self._expr(node.expression, ctx)
        common = common_super_type(value.type, other.type)
        if common is None:
            raise invalid(f"NULLIF cannot compare {value.type} with {other.type}")
        equal = self._comparison_node(self._coerce(value, common), self._coerce(other, common), common)
        return Typed(exp.Case(ifs=[exp.If(this=equal, true=exp.Null())], default=value.node), value.type)

    @staticmethod
    def _comparison_node(a: Typed, b: Typed, common: SqlType) -> exp.Expr:
        _refuse_container_comparison(common)
        equal = exp.EQ(this=a.node, expression=b.node)
        return _call("trino_nan_guard", a.node, b.node, equal) if common.is_double else equal

    def _greatest(self, node: exp.Greatest | exp.Least, ctx: _Ctx) -> Typed:
        name = "greatest" if isinstance(node, exp.Greatest) else "least"
        items, common = self._unify([self._expr(e, ctx) for e in [node.this, *node.expressions]], name)
        _refuse_container_comparison(common)
        if common.is_unknown or common == BOOLEAN:
            raise refuse(f"{name}() of {common}", "the local engine does not order these values as Trino does")
        any_null = exp.or_(*[exp.Is(this=i.node, expression=exp.Null()) for i in items])
        values = [i.node for i in items]
        call = _double_extreme(name, values) if common.is_double else _call(name, *values)
        return Typed(
            exp.Case(ifs=[exp.If(this=any_null, true=_cast(exp.Null(), common.duck))], default=call), common
        )


def _double_extreme(name: str, values: list[exp.Expr]) -> exp.Expr:
    """greatest()/least() of doubles with no NULL among them, as Trino orders doubles.

    Trino orders NaN below every number for greatest() and above every number for least(): a NaN
    never wins unless every value is NaN. DuckDB's greatest/least skip NULLs, so each NaN becomes a
    NULL for them. Which of 0.0 and -0.0 wins changed between Trino versions: that case is refused.
    """
    numbers = [exp.Case(ifs=[exp.If(this=_call("isnan", v), true=exp.Null())], default=v.copy()) for v in values]
    chosen = _call(name, *numbers)
    zeros = [exp.EQ(this=v.copy(), expression=_number(0)) for v in values]
    negative_zero = exp.or_(*[exp.and_(z, _call("signbit", v.copy())) for z, v in zip(zeros, values, strict=True)])
    positive_zero = exp.or_(*[exp.and_(z.copy(), exp.Not(this=_call("signbit", v.copy())))
                              for z, v in zip(zeros, values, strict=True)])
    zero_wins = exp.and_(exp.EQ(this=chosen.copy(), expression=_number(0)), negative_zero, positive_zero)
    refused = _call("error", _string(f"refused locally: {name}() of 0.0 and -0.0: Trino versions differ on which "
                                     "wins; run this query on Athena"))
    return exp.Case(ifs=[exp.If(this=zero_wins, true=refused)],
                    default=_call("coalesce", chosen, _cast(exp.Literal.string("NaN"), "DOUBLE")))


def _refuse_container_comparison(common: SqlType) -> None:
    """Trino compares arrays and maps element by element with its own NULL rules (an equal array holding a
    NULL compares as NULL); DuckDB's list comparison does not, so such comparisons are refused."""
    if common.args:
        raise refuse(f"comparison of {common} values")
