"""The translator's core: expression dispatch and the coercions shared by every family."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

from sqlglot import exp

from etl.athena.results import (
    BIGINT,
    BOOLEAN,
    DATE,
    UNKNOWN,
    VARCHAR,
    SqlType,
    common_super_type,
    implicitly_coercible,
    scalar_or_array,
)
from etl.athena.translation import (
    _CLAUSE_NAMES,
    _WINDOW_ONLY,
    OutputColumn,
    TableVersion,
    Typed,
    _cast,
    _Ctx,
    _decimal_power_of_ten,
    _func_name,
    _number,
    _Scope,
    _set,
    invalid,
    refuse,
)


class TranslatorCore(ABC):
    """Dispatch of an expression to its family's handler, and the coercions every family uses.

    The query-level methods (``_query``, ``_cast_shape``, ``_order``) belong to ``Queries``; they are
    declared here for the families that nest a query (IN, EXISTS, a scalar subquery, a window's ORDER BY).
    """

    # The query's state, set by Translator.__init__ and reset by each translate().
    _tables: dict[tuple[str, str], list[OutputColumn]]
    _default_database: str
    _parameters: list[Any]
    _bound: list[Any]
    _placeholders: int
    _used: list[tuple[str, str]]
    _versions: list[TableVersion]
    _typed_literals: set[int]
    _source_sql: str  # the query as written (sqlglot rewrites date_format's format string)
    _aliases: int
    _handlers: dict[type, Callable[[Any, _Ctx], Typed]]
    # Functions sqlglot parses as Anonymous (no node type of their own), by lower-case name.
    _named_handlers: dict[str, Callable[[exp.Anonymous, _Ctx], Typed]]

    @abstractmethod
    def _query(
        self, node: exp.Expr, parent: _Scope | None, ctes: dict[str, list[OutputColumn]]
    ) -> tuple[exp.Expr, list[OutputColumn]]:
        ...

    @abstractmethod
    def _cast_shape(self, query: exp.Expr, columns: list[OutputColumn], targets: list[SqlType]) -> exp.Expr:
        ...

    @abstractmethod
    def _order(
        self,
        order: exp.Order,
        columns: list[OutputColumn],
        ctx: _Ctx | None,
        renamed: frozenset[str] = frozenset(),
    ) -> exp.Order:
        ...

    def _expr(self, node: exp.Expr, ctx: _Ctx) -> Typed:
        if isinstance(node, exp.Anonymous) and node.name.lower() in self._named_handlers:
            return self._named_handlers[node.name.lower()](node, ctx)
        handler = self._handlers.get(type(node))
        if handler is None:
            if isinstance(node, _WINDOW_ONLY):
                raise invalid(f"{_func_name(node)} needs an OVER clause")
            raise refuse(_func_name(node), "not supported by the local engine")
        return handler(node, ctx)

    def _check_args(self, node: exp.Expr, allowed: set[str]) -> None:
        for key, value in node.args.items():
            if key not in allowed and _set(value):
                raise refuse(_CLAUSE_NAMES.get(key, key.upper()))

    def _boolean(self, node: exp.Expr, ctx: _Ctx, clause: str) -> exp.Expr:
        typed = self._expr(node, ctx)
        if typed.type not in (BOOLEAN, UNKNOWN):
            raise invalid(f"{clause} must be a boolean, not {typed.type}")
        return typed.node

    def _coerce(self, typed: Typed, target: SqlType) -> Typed:
        """Implicit coercion (widening only), as Trino applies it to operands."""
        if typed.type == target:
            return typed
        if typed.type.is_unknown:
            return Typed(_cast(exp.Null(), target.duck), target)
        if not implicitly_coercible(typed.type, target):
            raise invalid(f"cannot use {typed.type} where {target} is expected")
        return Typed(_cast(typed.node, target.duck), target)

    def _unify(self, items: list[Typed], what: str) -> tuple[list[Typed], SqlType]:
        common = UNKNOWN
        for item in items:
            merged = common_super_type(common, item.type)
            if merged is None:
                raise invalid(f"{what} mixes {common} and {item.type}")
            common = merged
        return [self._coerce(i, common) for i in items], common

    @staticmethod
    def _unscaled(node: exp.Expr, scale: int) -> exp.Expr:
        # The digits of the decimal's text: multiplying by 10^scale overflows DuckDB's 38 digits
        text = _cast(_cast(node, f"DECIMAL(38,{scale})"), "VARCHAR")
        digits = exp.Anonymous(this="replace", expressions=[text, exp.Literal.string("."), exp.Literal.string("")])
        return _cast(digits, "HUGEINT")

    @staticmethod
    def _from_unscaled(node: exp.Expr, result: SqlType) -> exp.Expr:
        value: exp.Expr = _cast(node, "DECIMAL(38,0)")
        if result.scale:
            value = exp.Mul(this=value, expression=_decimal_power_of_ten(-result.scale))
        return _cast(value, result.duck)

    def _integer_literal(self, node: exp.Expr | None, what: str) -> int:
        if isinstance(node, exp.Neg) and isinstance(node.this, exp.Literal) and node.this.this.isdigit():
            return -int(node.this.this)
        if isinstance(node, exp.Literal) and not node.is_string and node.this.isdigit():
            return int(node.this)
        raise refuse(f"{what} that is not an integer literal")

    def _shifted(self, base: Typed, amount: int | exp.Expr, unit: str) -> Typed:
        quantity = _number(amount) if isinstance(amount, int) else amount
        if unit == "quarter":
            unit, quantity = "month", exp.Mul(this=_number(3), expression=exp.Paren(this=quantity))
        elif unit == "week":
            unit, quantity = "day", exp.Mul(this=_number(7), expression=exp.Paren(this=quantity))
        interval = exp.Interval(this=exp.Paren(this=quantity), unit=exp.Var(this=unit.upper()))
        return Typed(_cast(exp.Add(this=base.node, expression=interval), base.type.duck), base.type)

    def _text_arg(self, node: exp.Expr, ctx: _Ctx, name: str) -> Typed:
        typed = self._expr(node, ctx)
        if typed.type not in (VARCHAR, UNKNOWN):
            raise invalid(f"{name}() needs varchar, not {typed.type}")
        return self._coerce(typed, VARCHAR)

    def _integer_arg(self, node: exp.Expr, ctx: _Ctx, name: str) -> Typed:
        typed = self._expr(node, ctx)
        if not (typed.type.is_integral or typed.type.is_unknown):
            raise invalid(f"{name}() needs an integer, not {typed.type}")
        return self._coerce(typed, BIGINT)

    def _numeric_arg(self, node: exp.Expr, ctx: _Ctx, name: str) -> Typed:
        typed = self._expr(node, ctx)
        if typed.type.is_unknown:
            raise refuse(f"{name}(NULL)", "the type of a NULL literal argument is ambiguous")
        if not typed.type.is_numeric:
            raise invalid(f"{name}() needs a number, not {typed.type}")
        return typed

    def _array_arg(self, node: exp.Expr, ctx: _Ctx, name: str, typed: Typed | None = None) -> Typed:
        """An array argument (``typed``: already translated) of element types the array functions handle."""
        typed = typed or self._expr(node, ctx)
        if typed.type.is_unknown:
            raise refuse(f"{name}(NULL)", "the type of a NULL literal argument is ambiguous")
        if typed.type.is_map:
            raise refuse(f"{name}() of a map")
        if not typed.type.is_array:
            raise invalid(f"{name}() needs an array, not {typed.type}")
        if not scalar_or_array(typed.type.element):
            raise refuse(f"{name}() of {typed.type}")
        return typed

    def _temporal_arg(self, node: exp.Expr, ctx: _Ctx, name: str, dates: bool = True) -> Typed:
        typed = self._expr(node, ctx)
        if typed.type.is_unknown:
            raise refuse(f"{name}(NULL)", "the type of a NULL literal argument is ambiguous")
        if typed.type.base != "timestamp" and not (dates and typed.type == DATE):
            raise invalid(f"{name}() is not defined for {typed.type}")
        return typed

