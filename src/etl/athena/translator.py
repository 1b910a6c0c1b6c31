"""The translator: one class made of the families' mixins, and the table from node type to handler."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlglot import exp

from etl.athena.expressions import Expressions
from etl.athena.functions.aggregates import Aggregates
from etl.athena.functions.casts import Casts
from etl.athena.functions.datetimes import DatetimeFunctions
from etl.athena.functions.numeric import NumericFunctions
from etl.athena.functions.regexps import RegexpFunctions
from etl.athena.functions.strings import StringFunctions
from etl.athena.queries import Queries
from etl.athena.results import BOOLEAN, UNKNOWN, sql_type_of_glue
from etl.athena.translation import _AGGREGATES, _COMPARISONS, _DATE_PARTS, OutputColumn, TableVersion, Typed, _Ctx


class Translator(
    Queries, Expressions, Casts, NumericFunctions, StringFunctions, RegexpFunctions, DatetimeFunctions, Aggregates
):
    """Translates one Athena query to DuckDB SQL over views named ``"<database>"."<table>"``.

    Each family of SQL constructs is a mixin of its own module; this class holds the query's state
    and the table of which node type each family translates.
    """

    def __init__(
        self, tables: Mapping[tuple[str, str], Sequence[tuple[str, str]]], default_database: str
    ) -> None:
        self._tables = {
            (db.lower(), name.lower()): [OutputColumn(c.lower(), sql_type_of_glue(t), t) for c, t in columns]
            for (db, name), columns in tables.items()
        }
        self._default_database = default_database.lower()
        self._parameters: list[Any] = []
        self._bound: list[Any] = []
        self._placeholders = 0
        self._used: list[tuple[str, str]] = []
        self._versions: list[TableVersion] = []
        self._typed_literals: set[int] = set()
        self._aliases = 0
        self._handlers = self._build_handlers()
        self._named_handlers = {"codepoint": self._codepoint, "hamming_distance": self._hamming_distance,
                                "regexp_position": self._regexp_position}

    def _build_handlers(self) -> dict[type, Callable[[Any, _Ctx], Typed]]:
        handlers: dict[type, Callable[[Any, _Ctx], Typed]] = {
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
            exp.Greatest: self._greatest, exp.Least: self._greatest, exp.Cast: self._cast_expr,
            exp.Abs: self._abs, exp.Ceil: self._ceil_floor, exp.Floor: self._ceil_floor,
            exp.Round: self._round, exp.Trunc: self._truncate, exp.Sqrt: self._sqrt, exp.Sign: self._sign,
            exp.Length: self._length, exp.Lower: self._lower_upper, exp.Upper: self._lower_upper,
            exp.Trim: self._trim, exp.Substring: self._substring, exp.Replace: self._replace,
            exp.StrPosition: self._strpos, exp.Concat: self._concat, exp.DPipe: self._concat,
            exp.StartsWith: self._starts_with, exp.ConcatWs: self._concat_ws, exp.Pad: self._pad,
            exp.SplitPart: self._split_part, exp.Translate: self._translate, exp.Reverse: self._reverse,
            exp.Chr: self._chr, exp.Levenshtein: self._levenshtein, exp.Extract: self._extract,
            exp.TimestampTrunc: self._date_trunc, exp.DateTrunc: self._date_trunc,
            exp.DateAdd: self._date_add, exp.DateDiff: self._date_diff, exp.LastDay: self._last_day,
            exp.RegexpLike: self._regexp_like, exp.RegexpExtract: self._regexp_extract,
            exp.RegexpReplace: self._regexp_replace, exp.RegexpCount: self._regexp_count,
            exp.Window: self._window, exp.Filter: self._aggregate_expr,
        }
        for comparison in _COMPARISONS:
            handlers[comparison] = self._comparison
        for part in _DATE_PARTS:
            handlers[part] = self._date_part
        for aggregate in _AGGREGATES:
            handlers[aggregate] = self._aggregate_expr
        return handlers

