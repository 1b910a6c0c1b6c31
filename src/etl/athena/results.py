"""Athena's result shapes: values rendered as Athena renders them, and the GetQueryResults response."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from etl.errors import QueryError

MAX_DECIMAL_PRECISION = 38

# --- Athena (Trino) types ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class SqlType:
    """A Trino type. ``precision`` is a decimal's precision or a timestamp's fractional digits;
    ``args`` are a parametric type's element types (an array's element, a map's key and value)."""

    base: str
    precision: int = 0
    scale: int = 0
    args: tuple[SqlType, ...] = ()

    def __str__(self) -> str:
        if self.args:
            return f"{self.base}({', '.join(str(a) for a in self.args)})"
        if self.base == "decimal":
            return f"decimal({self.precision},{self.scale})"
        if self.base == "timestamp":
            return "timestamp" if self.precision == 3 else f"timestamp({self.precision})"
        return self.base

    @property
    def duck(self) -> str:
        """The DuckDB type holding exactly this type's values."""
        if self.base == "array":
            return f"{self.args[0].duck}[]"
        if self.base == "map":
            return f"MAP({self.args[0].duck}, {self.args[1].duck})"
        if self.base == "decimal":
            return f"DECIMAL({self.precision},{self.scale})"
        return _DUCK_TYPES[self.base]

    @property
    def is_integral(self) -> bool:
        return self.base in INTEGER_RANK

    @property
    def is_decimal(self) -> bool:
        return self.base == "decimal"

    @property
    def is_exact(self) -> bool:
        return self.is_integral or self.is_decimal

    @property
    def is_double(self) -> bool:
        return self.base == "double"

    @property
    def is_numeric(self) -> bool:
        return self.is_exact or self.is_double

    @property
    def is_unknown(self) -> bool:
        return self.base == "unknown"

    @property
    def is_temporal(self) -> bool:
        return self.base in ("date", "timestamp")

    @property
    def is_array(self) -> bool:
        return self.base == "array"

    @property
    def is_map(self) -> bool:
        return self.base == "map"

    @property
    def element(self) -> SqlType:
        """An array's element type."""
        return self.args[0]


INTEGER_RANK = {"tinyint": 0, "smallint": 1, "integer": 2, "bigint": 3}
INTEGER_DIGITS = {"tinyint": 3, "smallint": 5, "integer": 10, "bigint": 19}
_DUCK_TYPES = {
    "tinyint": "TINYINT", "smallint": "SMALLINT", "integer": "INTEGER", "bigint": "BIGINT",
    "double": "DOUBLE", "varchar": "VARCHAR", "date": "DATE", "timestamp": "TIMESTAMP", "boolean": "BOOLEAN",
    "unknown": "INTEGER",
    "json": "VARCHAR",  # Trino's JSON text
}
TINYINT, SMALLINT, INTEGER, BIGINT = (SqlType(n) for n in ("tinyint", "smallint", "integer", "bigint"))
DOUBLE, VARCHAR, DATE, BOOLEAN, UNKNOWN = (
    SqlType(n) for n in ("double", "varchar", "date", "boolean", "unknown")
)
TIMESTAMP = SqlType("timestamp", 3)
INT32_BOUND = 2**31
INT64_BOUND = 2**63


def scalar_or_array(element: SqlType) -> bool:
    """Element types the array functions handle: scalars (no JSON, whose text form differs) and arrays of them."""
    if element.is_array:
        return scalar_or_array(element.element)
    return not element.args and element.base != "json"


def array_type(element: SqlType) -> SqlType:
    return SqlType("array", args=(element,))


def map_type(key: SqlType, value: SqlType) -> SqlType:
    return SqlType("map", args=(key, value))


def decimal_type(precision: int, scale: int) -> SqlType:
    if precision > MAX_DECIMAL_PRECISION or scale > precision:
        raise QueryError(
            f"decimal({precision},{scale}) is not a valid type (precision at most 38, scale <= precision)"
        )
    return SqlType("decimal", precision, scale)


def timestamp_type(precision: int) -> SqlType:
    return SqlType("timestamp", precision)


_GLUE_DECIMAL = re.compile(r"decimal\((\d+),\s*(\d+)\)")


def sql_type_of_glue(glue_type: str) -> SqlType | None:
    """The Trino type Athena gives a catalog column of Glue type ``glue_type`` (None: not supported here)."""
    name = glue_type.strip().lower()
    simple = {
        "bigint": BIGINT, "int": INTEGER, "integer": INTEGER, "smallint": SMALLINT, "tinyint": TINYINT,
        "double": DOUBLE, "string": VARCHAR, "varchar": VARCHAR, "date": DATE, "timestamp": TIMESTAMP,
        "boolean": BOOLEAN, "decimal": SqlType("decimal", 10, 0),
    }
    if name in simple:
        return simple[name]
    if re.fullmatch(r"varchar\(\d+\)", name):
        return VARCHAR
    match = _GLUE_DECIMAL.fullmatch(name)
    if match:
        return decimal_type(int(match.group(1)), int(match.group(2)))
    return None


def as_decimal(t: SqlType) -> SqlType:
    if t.is_integral:
        return SqlType("decimal", INTEGER_DIGITS[t.base], 0)
    return t


def common_super_type(a: SqlType, b: SqlType) -> SqlType | None:
    """Trino's common super type of ``a`` and ``b`` (None when there is none)."""
    if a.is_unknown:
        return b
    if b.is_unknown or a == b:
        return a
    if a.is_integral and b.is_integral:
        return a if INTEGER_RANK[a.base] >= INTEGER_RANK[b.base] else b
    if a.is_exact and b.is_exact:
        da, db = as_decimal(a), as_decimal(b)
        scale = max(da.scale, db.scale)
        return SqlType(
            "decimal", min(38, max(da.precision - da.scale, db.precision - db.scale) + scale), scale
        )
    if a.is_numeric and b.is_numeric:
        return DOUBLE
    if a.is_temporal and b.is_temporal:
        return timestamp_type(
            max(a.precision if a.base == "timestamp" else 0, b.precision if b.base == "timestamp" else 0)
        )
    if a.args and b.args and a.base == b.base and len(a.args) == len(b.args):
        merged = [common_super_type(x, y) for x, y in zip(a.args, b.args, strict=True)]
        if any(m is None for m in merged):
            return None
        return SqlType(a.base, args=tuple(m for m in merged if m is not None))
    if a.base == b.base and not a.args and not b.args:
        return a
    return None


def implicitly_coercible(source: SqlType, target: SqlType) -> bool:
    return common_super_type(source, target) == target


# --- rendering -----------------------------------------------------------------------------------
# Digits Athena reports as ColumnInfo.Precision for each type (decimal: its own precision).
_PRECISION = {
    "boolean": 0, "tinyint": 3, "smallint": 5, "integer": 10, "bigint": 19, "real": 7, "double": 17,
    "varchar": 2147483647, "date": 0, "unknown": 0,
}
_DECIMAL = re.compile(r"decimal\((\d+),\s*(\d+)\)")
_TIMESTAMP = re.compile(r"timestamp(?:\((\d)\))?")


@dataclass
class QueryResult:
    columns: list[str]
    types: list[
        str
    ]  # Athena type names: bigint, integer, double, decimal(p,s), varchar, date, timestamp, ...
    rows: list[tuple[Any, ...]] = field(default_factory=list)


def java_double_to_string(value: float) -> str:
    """``Double.toString`` of Java: how Athena renders a double (``1500.0``, ``1.5E7``, ``1.0E-4``)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0:
        return "-0.0" if math.copysign(1.0, value) < 0 else "0.0"
    sign = "-" if value < 0 else ""
    digits_tuple = Decimal(repr(abs(value))).as_tuple()
    digits = "".join(str(d) for d in digits_tuple.digits).rstrip("0") or "0"
    # the value is 0.<digits> * 10**point
    point = len(digits_tuple.digits) + int(digits_tuple.exponent)
    magnitude = abs(value)
    if 1e-3 <= magnitude < 1e7:
        if point <= 0:
            return f"{sign}0.{'0' * -point}{digits}"
        whole = digits[:point].ljust(point, "0")
        fraction = digits[point:] or "0"
        return f"{sign}{whole}.{fraction}"
    fraction = digits[1:] or "0"
    return f"{sign}{digits[0]}.{fraction}E{point - 1}"


def render_value(value: Any, type_name: str) -> str | None:
    """The VarCharValue Athena gives ``value`` of type ``type_name`` (None for SQL NULL)."""
    if value is None:
        return None
    if type_name.startswith("array(") and isinstance(value, (list, tuple)):
        # Athena prints an array as [a, b], its NULL elements as null
        element_type = type_name[len("array("):-1]
        return "[" + ", ".join(_rendered_element(v, element_type) for v in value) + "]"
    if type_name.startswith("map(") and isinstance(value, dict):
        # Athena prints a map as {k=v, k2=v2}, in its entries' order, its NULL values as null
        key_type, value_type = _map_parts(type_name)
        return "{" + ", ".join(
            f"{_rendered_element(k, key_type)}={_rendered_element(v, value_type)}" for k, v in value.items()
        ) + "}"
    if type_name in ("double", "real"):
        return java_double_to_string(float(value))
    if type_name == "boolean":
        return "true" if value else "false"
    decimal_match = _DECIMAL.fullmatch(type_name)
    if decimal_match:
        scale = int(decimal_match.group(2))
        quantum = Decimal(1).scaleb(-scale)
        return format(Decimal(value).quantize(quantum), "f")
    timestamp_match = _TIMESTAMP.fullmatch(type_name)
    if timestamp_match and isinstance(value, datetime):
        precision = int(timestamp_match.group(1) or 3)
        text = value.strftime("%Y-%m-%d %H:%M:%S")
        if precision:
            text += "." + f"{value.microsecond:06d}"[:precision].ljust(precision, "0")
        return text
    if isinstance(value, date) and not isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def _map_parts(type_name: str) -> tuple[str, str]:
    """``map(k, v)`` -> (k, v), splitting at the comma outside parentheses."""
    inner, depth = type_name[len("map("):-1], 0
    for position, char in enumerate(inner):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            return inner[:position].strip(), inner[position + 1:].strip()
    raise ValueError(f"not a map type: {type_name}")


def _rendered_element(value: Any, type_name: str) -> str:
    text = render_value(value, type_name)
    return "null" if text is None else text


def column_info(name: str, type_name: str) -> dict[str, Any]:
    """One ColumnInfo entry of GetQueryResults' ResultSetMetadata."""
    decimal_match = _DECIMAL.fullmatch(type_name)
    timestamp_match = _TIMESTAMP.fullmatch(type_name)
    if decimal_match:
        athena_type, precision, scale = "decimal", int(decimal_match.group(1)), int(decimal_match.group(2))
    elif timestamp_match:
        athena_type, precision, scale = "timestamp", int(timestamp_match.group(1) or 3), 0
    else:
        athena_type, precision, scale = type_name, _PRECISION.get(type_name, 0), 0
    return {
        "CatalogName": "hive", "SchemaName": "", "TableName": "", "Name": name, "Label": name,
        "Type": athena_type, "Precision": precision, "Scale": scale, "Nullable": "UNKNOWN",
        "CaseSensitive": athena_type == "varchar",
    }


def _datum(text: str | None) -> dict[str, str]:
    return {} if text is None else {"VarCharValue": text}


def to_get_query_results(result: QueryResult) -> dict[str, Any]:
    """The response of Athena's GetQueryResults for ``result`` (header row first, as Athena sends it)."""
    header = {"Data": [_datum(name) for name in result.columns]}
    rows = [
        {
            "Data": [
                _datum(render_value(value, type_name))
                for value, type_name in zip(row, result.types, strict=True)
            ]
        }
        for row in result.rows
    ]
    return {
        "UpdateCount": 0,
        "ResultSet": {
            "Rows": [header, *rows],
            "ResultSetMetadata": {
                "ColumnInfo": [column_info(n, t) for n, t in zip(result.columns, result.types, strict=True)]
            },
        },
    }
