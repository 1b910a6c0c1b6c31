"""try() and TRY_CAST: NULL exactly where Trino's evaluation fails, every other error left alone.

Trino's try() turns the run-time failures a query can meet (division by zero, an invalid cast,
an invalid function argument, a value out of range) into NULL. The translated SQL raises those
failures two ways: DuckDB's own errors (a failed cast, an overflow), which DuckDB's TRY turns into
NULL, and ``error('…')`` calls in CASE branches (directly or inside the macros), which DuckDB's TRY
cannot wrap (``error`` is volatile). So the inner expression is rewritten first: the macros that can
fail are inlined, each failure branch becomes NULL, and a branch that would say "refused locally"
makes the whole try() refused, since nobody knows what Athena gives there.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache

import sqlglot
from sqlglot import exp

from etl.athena.core import TranslatorCore
from etl.athena.macros import MACROS
from etl.athena.results import DATE, VARCHAR, SqlType
from etl.athena.translation import (
    _CAST_TEXT_PATTERNS,
    Handlers,
    Typed,
    _call,
    _cast,
    _Ctx,
    _string,
    _timestamp_text_pattern,
    refuse,
)
from etl.errors import QueryError, QueryRefusedError

_MACRO_DEFINITION = re.compile(r"CREATE OR REPLACE MACRO (\w+)\(([^)]*)\) AS (.*)", re.S)
_REFUSAL_MARK = "refused locally"


@cache
def _failing_macros() -> dict[str, tuple[list[str], exp.Expr]]:
    """The macros whose body can raise an error (directly or through another macro), by name."""
    parsed: dict[str, tuple[list[str], exp.Expr]] = {}
    for definition in MACROS:
        match = _MACRO_DEFINITION.fullmatch(definition)
        if match is None:
            continue
        params = [p.strip() for p in match.group(2).split(",") if p.strip()]
        parsed[match.group(1).lower()] = (params, sqlglot.parse_one(match.group(3), read="duckdb"))

    def calls(body: exp.Expr) -> set[str]:
        return {f.name.lower() for f in body.find_all(exp.Anonymous)} | {
            type(f).__name__.lower() for f in body.find_all(exp.Func) if not isinstance(f, exp.Anonymous)
        }

    failing = {name for name, (_, body) in parsed.items() if "error" in calls(body)}
    grown = True
    while grown:
        grown = False
        for name, (_, body) in parsed.items():
            if name not in failing and calls(body) & failing:
                failing.add(name)
                grown = True
    return {name: parsed[name] for name in failing}


def _call_name(node: exp.Expr) -> str | None:
    if isinstance(node, exp.Anonymous):
        return node.name.lower()
    return None


def _inlined(node: exp.Expr) -> exp.Expr:
    """The expression with every call of a failing macro replaced by the macro's body."""
    macros = _failing_macros()

    def expand(current: exp.Expr) -> exp.Expr:
        name = _call_name(current)
        if name is None or name not in macros:
            return current
        params, body = macros[name]
        args = [expand(a) if isinstance(a, exp.Expr) else a for a in current.expressions]
        if len(args) != len(params):
            raise refuse(f"try() around {name}", "the local engine cannot inline it")
        bound = dict(zip(params, args, strict=True))

        def substitute(inner: exp.Expr) -> exp.Expr:
            if isinstance(inner, exp.Column) and not inner.table and inner.name in bound:
                return exp.Paren(this=bound[inner.name].copy())
            return inner

        return _inlined(body.copy().transform(substitute))

    return node.transform(expand)


def _failures_to_null(node: exp.Expr) -> exp.Expr:
    """Every ``error('…')`` becomes NULL; one that would refuse the query refuses the try() now."""

    def replace(current: exp.Expr) -> exp.Expr:
        if _call_name(current) == "error":
            if _REFUSAL_MARK in current.sql(dialect="duckdb"):
                raise refuse("try() of an expression the local engine may refuse on some rows")
            return exp.Null()
        return current

    return node.transform(replace)


class ConditionalFunctions(TranslatorCore):
    """try() and TRY_CAST."""

    # Casts' methods (the Translator has both mixins).
    _target_type: Callable[[exp.DataType], tuple[SqlType, int | None]]
    convert: Callable[[Typed, SqlType], Typed]

    def _conditional_handlers(self) -> Handlers:
        return {exp.Try: self._try, exp.TryCast: self._try_cast}

    def _try(self, node: exp.Try, ctx: _Ctx) -> Typed:
        inner = node.this
        typed_literal = isinstance(inner.this, exp.Literal) and inner.this.meta.get("start") in self._typed_literals
        if isinstance(inner, exp.Cast) and not isinstance(inner, exp.TryCast) and not typed_literal:
            return self._try_cast(inner, ctx)
        return self._guarded(inner, ctx)

    def _try_cast(self, node: exp.Cast, ctx: _Ctx) -> Typed:
        self._check_args(node, {"this", "to", "_type", "safe"})
        target, length = self._target_type(node.args["to"])
        if length is not None:
            raise refuse(f"TRY_CAST(... AS varchar({length}))")
        source = self._caught(node.this, ctx)
        if source.type == VARCHAR:
            return self._text_cast_or_null(source, target)
        converted = self.convert(source, target)
        return Typed(_call("try", _failures_to_null(_inlined(converted.node))), target)

    def _caught(self, node: exp.Expr, ctx: _Ctx) -> Typed:
        """The expression translated with its failures as NULL (no DuckDB TRY around it yet)."""
        if node.find(exp.AggFunc, exp.Window, exp.Subquery, exp.Select):
            raise refuse("try() around an aggregate, a window or a subquery")
        try:
            typed = self._expr(node, ctx)
        except QueryRefusedError:
            raise
        except QueryError as exc:
            # The translator rejects some failures Trino only meets at run time, which try() would catch.
            raise refuse("try() of an expression the local engine rejects", str(exc)) from exc
        return Typed(_failures_to_null(_inlined(typed.node)), typed.type)

    def _guarded(self, node: exp.Expr, ctx: _Ctx) -> Typed:
        typed = self._caught(node, ctx)
        if typed.type.is_unknown:
            return typed
        return Typed(_call("try", typed.node), typed.type)

    def _text_cast_or_null(self, source: Typed, target: SqlType) -> Typed:
        """CAST of text where Trino fails: NULL when the text certainly fails, refused when unsure."""
        if target == VARCHAR:
            return source
        # Every one of these types is written with digits: text without one can only fail; and Java's
        # parseLong takes no letter and no point.
        failing = "^[^0-9]*$"
        if target.is_integral:
            pattern, failing = _CAST_TEXT_PATTERNS["integral"], "^[^0-9]*$|[A-Za-z.]"
        elif target.is_decimal:
            pattern = _CAST_TEXT_PATTERNS["decimal"]
        elif target == DATE:
            pattern = _CAST_TEXT_PATTERNS["date"]
        elif target.base == "timestamp":
            pattern = _timestamp_text_pattern(target.precision)
        else:
            return Typed(_call("try", self.convert(source, target).node), target)
        text = source.node
        if isinstance(text, exp.Literal) and text.is_string:
            if re.fullmatch(pattern, text.this):
                return Typed(_call("try", _cast(text, target.duck)), target)
            if re.search(failing, text.this):
                return Typed(_cast(exp.Null(), target.duck), target)
            raise refuse(f"TRY_CAST('{text.this}' AS {target})", "only canonical text is cast locally")
        refusal = _string(
            f"{_REFUSAL_MARK}: TRY_CAST(varchar AS {target}) of text that is not canonical: "
            "only canonical text is cast locally; run this query on Athena"
        )
        return Typed(
            exp.Case(
                ifs=[
                    exp.If(
                        this=_call("regexp_full_match", text, _string(pattern)),
                        true=_call("try", _cast(text, target.duck)),
                    ),
                    exp.If(this=_call("regexp_matches", text, _string(failing)), true=exp.Null()),
                ],
                default=_call("error", refusal),
            ),
            target,
        )
