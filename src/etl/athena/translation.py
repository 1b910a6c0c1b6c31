"""What the translator's parts share: typed nodes, scopes, output columns, SQL builders, errors."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from sqlglot import exp
from sqlglot.dialects.trino import Trino

from etl.athena.results import SqlType
from etl.errors import QueryError, QueryRefusedError

RUN_ON_ATHENA = "run this query on Athena"


class AthenaSql(Trino):
    """sqlglot's Trino dialect, except that a function is parsed under its own name where sqlglot would turn it
    into another one: Trino's Teradata ``to_char`` is not ``date_format`` (its format is Teradata's, not
    MySQL's), so it is refused under its own name instead of being translated as another function."""

    class Parser(Trino.Parser):  # type: ignore[valid-type,misc]  # sqlglot builds it at run time
        FUNCTIONS: ClassVar = {name: build for name, build in Trino.Parser.FUNCTIONS.items() if name != "TO_CHAR"}


# --- errors ----------------------------------------------------------------------------------------
def _one_line(text: str) -> str:
    return text.replace("\r", "\\r").replace("\n", "\\n")


def refuse(
    construct: str, why: str = "the local engine cannot guarantee Athena's result for it"
) -> QueryRefusedError:
    """The local engine will not run this construct: one line naming it, saying to run on Athena."""
    return QueryRefusedError(_one_line(construct), f"{_one_line(why)}; {RUN_ON_ATHENA}")


def invalid(message: str) -> QueryError:
    """A query Athena itself rejects."""
    return QueryError(f"{_one_line(message)} (Athena rejects this query too)")


# --- translation state -------------------------------------------------------------------------------
@dataclass(frozen=True)
class OutputColumn:
    name: str
    type: SqlType | None  # None: a catalog type the local engine does not support
    glue_type: str = ""


@dataclass
class _Relation:
    alias: str
    columns: list[OutputColumn]


@dataclass
class _Scope:
    relations: list[_Relation]
    parent: _Scope | None
    ctes: dict[str, list[OutputColumn]]
    using: bool = False


@dataclass(frozen=True)
class _Ctx:
    scope: _Scope
    aggregates: bool = False
    windows: bool = False


@dataclass
class Typed:
    node: exp.Expr
    type: SqlType


# What a family translates: sqlglot node types, and (lower-case) names of functions sqlglot parses as
# Anonymous, each mapped to the handler that translates it.
Handlers = dict[type | str, Callable[[Any, _Ctx], Typed]]


@dataclass
class _Aggregate:
    call: exp.Expr
    type: SqlType
    wrap: Callable[[exp.Expr], exp.Expr] = field(default=lambda node: node)


@dataclass(frozen=True)
class TableVersion:
    """A table read as of an earlier state (Athena's time travel on an Iceberg table).

    The query reads the view ``"<database>"."<view>"``; ``kind`` is VERSION (a snapshot id) or
    TIMESTAMP, and ``value_sql`` the DuckDB expression of the id or the moment.
    """

    database: str
    table: str
    view: str
    kind: str
    value_sql: str


@dataclass
class Translation:
    sql: str
    columns: list[str]
    types: list[SqlType]
    tables: list[tuple[str, str]]
    parameters: list[Any]
    versions: list[TableVersion] = field(default_factory=list)


def _ident(name: str) -> exp.Identifier:
    return exp.to_identifier(name, quoted=True)


def _cast(node: exp.Expr, duck_type: str) -> exp.Cast:
    return exp.Cast(this=node, to=exp.DataType.build(duck_type, dialect="duckdb"))


def _call(name: str, *args: exp.Expr) -> exp.Anonymous:
    return exp.Anonymous(this=name, expressions=list(args))


def _number(value: int | str) -> exp.Expr:
    return exp.Literal.number(value)


def _string(value: str) -> exp.Literal:
    return exp.Literal.string(value)


def _fails(message: str) -> exp.Expr:
    """DuckDB's error(): the query fails with ``message`` on the row that reaches it."""
    return _call("error", _string(message))


def _is_null(*nodes: exp.Expr) -> exp.Expr:
    """Whether any of ``nodes`` is NULL."""
    condition: exp.Expr = exp.Is(this=nodes[0].copy(), expression=exp.Null())
    for node in nodes[1:]:
        condition = exp.Or(this=condition, expression=exp.Is(this=node.copy(), expression=exp.Null()))
    return condition


def _case(*branches: tuple[exp.Expr, exp.Expr], default: exp.Expr) -> exp.Expr:
    """CASE WHEN condition THEN value ... ELSE default END (DuckDB evaluates a branch only for its rows)."""
    case = exp.Case()
    for condition, value in branches:
        case = case.when(condition, value)
    return case.else_(default)


def _list_has_null(array: exp.Expr) -> exp.Expr:
    """Whether a DuckDB list holds a NULL element (list_count counts the others)."""
    return exp.GT(this=_call("len", array.copy()), expression=_call("list_count", array.copy()))


def _hugeint_power_of_ten(exponent: int) -> exp.Expr:
    return _cast(_string("1" + "0" * exponent), "HUGEINT")


def _decimal_power_of_ten(exponent: int) -> exp.Expr:
    """10 ** exponent as an exact DECIMAL literal (exponent may be negative)."""
    if exponent >= 0:
        return _cast(_string("1" + "0" * exponent), f"DECIMAL({exponent + 1},0)")
    digits = -exponent
    return _cast(_string("0." + "0" * (digits - 1) + "1"), f"DECIMAL({digits},{digits})")


def _unit(node: exp.Expr | None) -> str:
    if node is None:
        return ""
    text = node.name if isinstance(node, (exp.Var, exp.Literal, exp.Identifier)) else node.sql()
    return text.strip("'\"").lower()


_CONSTRUCT_NAMES = {
    "bracket": "array/map subscript [ ]", "dot": "field access", "lambda": "lambda expression",
    "attimezone": "AT TIME ZONE", "struct": "ROW constructor", "array": "ARRAY constructor",
    "map": "MAP constructor", "interval": "INTERVAL outside date arithmetic", "tuple": "row value ( , )",
    "trycast": "TRY_CAST", "ilike": "ILIKE", "similarto": "SIMILAR TO", "rlike": "regular expression match",
    "unnest": "UNNEST", "lateral": "LATERAL", "jsonextract": "JSON operator",
    "hexstring": "varbinary literal X'..'",
}


def _func_name(node: exp.Expr) -> str:
    """How a refusal names ``node``: the function as written (``approx_distinct()``) or the construct."""
    if node.key in _CONSTRUCT_NAMES:
        return _CONSTRUCT_NAMES[node.key]
    if isinstance(node, exp.Anonymous):
        return f"{node.name.lower()}()"
    if isinstance(node, exp.Func):
        try:
            text = node.sql(dialect="trino")
        except Exception:
            text = node.key
        name = re.split(r"[(\[ ]", text.strip(), maxsplit=1)[0].lower()
        return f"{name}()"
    return node.key.upper()


_CAST_TEXT_PATTERNS = {
    "integral": r"[+-]?[0-9]+", "decimal": r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)",
    "double": r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?", "boolean": r"(?i:true|false)",
    "date": r"[0-9]{4}-[0-9]{2}-[0-9]{2}",
}


def _timestamp_text_pattern(precision: int) -> str:
    fraction = rf"(\.[0-9]{{1,{precision}}})?" if precision else ""
    return rf"[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}( [0-9]{{2}}:[0-9]{{2}}(:[0-9]{{2}}{fraction})?)?"


_DATE_PARTS: dict[type[exp.Expr], tuple[str, str, bool]] = {
    exp.Year: ("year", "year", True), exp.Month: ("month", "month", True), exp.Day: ("day", "day", True),
    exp.DayOfMonth: ("day", "day", True), exp.Quarter: ("quarter", "quarter", True),
    exp.DayOfWeekIso: ("isodow", "day_of_week", True), exp.DayOfYear: ("dayofyear", "day_of_year", True),
    exp.WeekOfYear: ("week", "week", True), exp.YearOfWeek: ("isoyear", "year_of_week", True),
    exp.Hour: ("hour", "hour", False), exp.Minute: ("minute", "minute", False),
    exp.Second: ("second", "second", False),
}
_EXTRACT_FIELDS = {
    "year": ("year", True), "quarter": ("quarter", True), "month": ("month", True), "week": ("week", True),
    "day": ("day", True), "day_of_month": ("day", True), "day_of_week": ("isodow", True),
    "dow": ("isodow", True), "day_of_year": ("dayofyear", True), "doy": ("dayofyear", True),
    "year_of_week": ("isoyear", True), "yow": ("isoyear", True), "hour": ("hour", False),
    "minute": ("minute", False), "second": ("second", False),
}
_DATE_UNITS = ("day", "week", "month", "quarter", "year")
_TIME_UNITS = ("millisecond", "second", "minute", "hour")
_UNIT_MILLIS = {
    "millisecond": 1, "second": 1000, "minute": 60_000, "hour": 3_600_000, "day": 86_400_000,
    "week": 604_800_000,
}
_COMPARISONS = (exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE)
_RANKING = (exp.RowNumber, exp.Rank, exp.DenseRank, exp.PercentRank, exp.CumeDist)
_VARIANCE = (exp.Stddev, exp.StddevSamp, exp.StddevPop, exp.Variance, exp.VariancePop)
_AGGREGATES = (
    exp.Count, exp.Sum, exp.Avg, exp.Min, exp.Max, exp.CountIf, exp.LogicalAnd, exp.LogicalOr, *_VARIANCE,
)
_WINDOW_ONLY = (*_RANKING, exp.Ntile, exp.Lag, exp.Lead, exp.FirstValue, exp.LastValue, exp.NthValue)
_SELECT_ARGS = {
    "expressions", "from_", "joins", "where", "group", "having", "order", "limit", "offset", "with_",
    "distinct",
}
_SETOP_ARGS = {"this", "expression", "distinct", "with_", "order", "limit", "offset"}
_CLAUSE_NAMES = {
    "windows": "WINDOW clause", "qualify": "QUALIFY", "sample": "TABLESAMPLE", "laterals": "LATERAL",
    "by_name": "UNION BY NAME", "kind": "SELECT AS", "pivots": "PIVOT", "settings": "SETTINGS",
}


def _renamed_outputs(select: exp.Select) -> frozenset[str]:
    """Output names of ``select`` that do not simply pass the input column of that name through."""
    names = set()
    for item in select.expressions:
        if isinstance(item, exp.Alias):
            inner = item.this
            if not (isinstance(inner, exp.Column) and inner.name.lower() == item.alias.lower()):
                names.add(item.alias.lower())
    return frozenset(names)


def _set(value: Any) -> bool:
    return value not in (None, False, []) and value != ""


