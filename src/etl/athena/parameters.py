"""Execution parameters as Athena takes them: SQL literals (``5000``, ``'main_city'``, ``DATE '2024-01-15'``)."""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

from etl.athena.results import (
    BIGINT,
    BOOLEAN,
    DATE,
    DOUBLE,
    INT32_BOUND,
    INT64_BOUND,
    INTEGER,
    MAX_DECIMAL_PRECISION,
    TIMESTAMP,
    UNKNOWN,
    VARCHAR,
    SqlType,
)
from etl.athena.translation import _set, invalid, refuse
from etl.errors import QueryError

_PARAM_INT_TYPES = ((INT32_BOUND, INTEGER), (INT64_BOUND, BIGINT))
_LITERAL_EXAMPLES = "5000, 1.5, 'main_city', DATE '2024-01-15', TIMESTAMP '2024-01-15 10:00:00', true or NULL"


def parameter_from_literal(text: str) -> Any:
    """The value of an execution parameter written as Athena takes them: one SQL literal.

    Athena's ExecutionParameters are literals, not bare text: ``'main_city'`` is a string, ``5000`` an
    integer, ``DATE '2024-01-15'`` a date. Anything else (a bare word, an expression) is refused.
    """
    refusal = QueryError(f"parameter {text!r} is not a SQL literal; Athena's execution parameters are "
                         f"literals such as {_LITERAL_EXAMPLES} (quote text: 'main_city')")
    try:
        parsed = sqlglot.parse_one(f"SELECT {text}", read="trino")
    except (ParseError, TokenError):
        raise refusal from None
    clauses = [key for key, value in parsed.args.items() if key != "expressions" and _set(value)]
    if not isinstance(parsed, exp.Select) or len(parsed.expressions) != 1 or clauses:
        raise refusal
    node = parsed.expressions[0]
    sign = 1
    if isinstance(node, exp.Neg):
        node, sign = node.this, -1
    if isinstance(node, exp.Literal) and not node.is_string:
        number = node.this
        if re.fullmatch(r"[0-9]+", number):
            return sign * int(number)
        if re.fullmatch(r"[0-9]*\.[0-9]*", number):
            return sign * Decimal(number)  # a decimal literal, as in Trino
        return sign * float(number)
    if sign == -1:
        raise refusal
    if isinstance(node, exp.Literal):
        return node.this
    if isinstance(node, exp.Boolean):
        return bool(node.this)
    if isinstance(node, exp.Null):
        return None
    if isinstance(node, exp.Cast) and isinstance(node.this, exp.Literal) and node.this.is_string:
        try:
            if node.to.this == exp.DataType.Type.DATE:
                return date.fromisoformat(node.this.this)
            if node.to.this == exp.DataType.Type.TIMESTAMP:
                return datetime.fromisoformat(node.this.this)
        except ValueError:
            raise QueryError(f"parameter {text!r}: {node.this.this!r} is not a valid {node.to.sql()}") from None
    raise refusal


def _parameter_type(value: Any) -> SqlType:
    if value is None:
        return UNKNOWN
    if isinstance(value, bool):
        return BOOLEAN
    if isinstance(value, int):
        for bound, sql_type in _PARAM_INT_TYPES:
            if -bound <= value < bound:
                return sql_type
        raise QueryError(f"parameter {value} does not fit in a bigint")
    if isinstance(value, float):
        return DOUBLE
    if isinstance(value, Decimal):
        return _decimal_literal_type(format(value, "f").lstrip("+-"))
    if isinstance(value, str):
        return VARCHAR
    if isinstance(value, datetime):
        if value.tzinfo is not None or value.microsecond % 1000:
            raise refuse(
                "timestamp parameter", "only naive timestamps with at most millisecond precision are bound"
            )
        return TIMESTAMP
    if isinstance(value, date):
        return DATE
    raise QueryError(
        f"parameter {value!r} has type {type(value).__name__}; use int, float, Decimal, str, bool, "
        "date, datetime or None"
    )


def _decimal_literal_type(text: str) -> SqlType:
    """Trino's type of a decimal literal: leading zeros do not count, trailing ones do."""
    integral, _, fraction = text.partition(".")
    integral = integral.lstrip("0")
    precision = len(integral) + len(fraction) or 1
    if precision > MAX_DECIMAL_PRECISION:
        raise invalid(f"decimal literal {text} exceeds the maximum precision of 38")
    return SqlType("decimal", precision, len(fraction))


