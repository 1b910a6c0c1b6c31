"""CAST from JSON text to Trino's scalar types, arrays and maps, value by value as Trino converts them.

A scalar target reads exactly one JSON value; a JSON number, string or boolean converts by Trino's rules
(a float rounds half away from zero into an integer type, a string parses as Java parses it, true is 1);
an array or object where a scalar is wanted, a value out of range, or trailing text fails the cast.
Where Java's parsing accepts more than the local engine checks (``Long.parseLong`` reads any Unicode
digit), the value is refused.
"""

from __future__ import annotations

import math
import re
from decimal import ROUND_HALF_UP, Decimal, localcontext
from typing import Any

from etl.athena.functions.json_text import (
    END_OBJECT,
    FALSE,
    FIELD_NAME,
    FLOAT,
    INT,
    NULL,
    START_ARRAY,
    START_OBJECT,
    TRUE,
    JsonRefusal,
    JsonSyntaxError,
    JsonTokens,
    Token,
    iterate_array,
    java_scientific,
    write_value,
)


class JsonCastError(ValueError):
    """CAST from JSON fails in Trino for this value."""


INTEGRAL_BITS = {"tinyint": 8, "smallint": 16, "integer": 32, "bigint": 64}
_JAVA_DOUBLE_TEXT = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")
_DECIMAL_TEXT = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?")
_DECIMAL_TYPE = re.compile(r"decimal\((\d+),(\d+)\)")


# What Java's Double.parseDouble might accept beyond the forms handled here (hex, a d/f suffix).
_JAVA_DOUBLE_EXTRAS = re.compile(
    r"[+-]?(NaN|Infinity|0[xX][0-9a-fA-F.]*([pP][+-]?[0-9]*)?[fFdD]?|[0-9.]+([eE][+-]?[0-9]*)?[fFdD]?)"
)


def _text_fails_java_parse(text: str, construct: str, maybe_valid: re.Pattern[str] | None = None) -> JsonCastError:
    """A string Java's number parsing rejects is an error; one it might accept is refused (Java reads
    any Unicode digit, and Double.parseDouble trims whitespace and reads hex)."""
    if not text.isascii() or re.search(r"\s", text) or (maybe_valid is not None and maybe_valid.fullmatch(text)):
        raise JsonRefusal(construct, "Java's number parsing accepts forms the local engine does not check")
    return JsonCastError(f"Cannot cast '{text}'")


def _round_half_up(value: float, construct: str) -> int:
    exact = int(Decimal(value).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    if math.floor(abs(value) + 0.5) != abs(exact):  # Math.round-style rounding would differ
        raise JsonRefusal(construct, "Trino's rounding of this double is not certain")
    return exact


def _integral(token: Token, target: str) -> int | None:
    bound = 2 ** (INTEGRAL_BITS[target] - 1)
    value: int | None
    if token.kind == NULL:
        return None
    if token.kind in (TRUE, FALSE):
        value = int(token.kind == TRUE)
    elif token.kind == INT:
        value = int(token.value)
    elif token.kind == FLOAT:
        number = float(token.value)
        if math.isinf(number):
            raise JsonCastError(f"Cannot cast '{token.value}' to {target}")
        value = _round_half_up(number, f"CAST of the JSON number {token.value} to {target}")
    elif re.fullmatch(r"[+-]?[0-9]+", token.value):
        value = int(token.value)
    else:
        raise _text_fails_java_parse(token.value, f"CAST of a JSON string to {target}")
    if not -bound <= value < bound:
        raise JsonCastError(f"Cannot cast input json to {target}: out of range")
    return value


def _double(token: Token) -> float | None:
    if token.kind == NULL:
        return None
    if token.kind in (TRUE, FALSE):
        return float(token.kind == TRUE)
    if token.kind == INT:
        try:
            return float(int(token.value))
        except OverflowError:
            return -math.inf if token.value.startswith("-") else math.inf
    if token.kind == FLOAT or _JAVA_DOUBLE_TEXT.fullmatch(token.value):
        return float(token.value)
    if token.value in ("NaN", "Infinity", "+Infinity", "-Infinity"):
        return float(token.value.replace("Infinity", "inf").replace("NaN", "nan"))
    raise _text_fails_java_parse(token.value, "CAST of a JSON string to double", _JAVA_DOUBLE_EXTRAS)


def _boolean(token: Token) -> bool | None:
    if token.kind == NULL:
        return None
    if token.kind in (TRUE, FALSE):
        return token.kind == TRUE
    if token.kind == INT:
        if not -(2**63) <= int(token.value) < 2**63:
            raise JsonCastError("Cannot cast input json to boolean: out of range")
        return int(token.value) != 0
    if token.kind == FLOAT:
        return float(token.value) != 0
    if token.value.lower() in ("true", "false"):
        return bool(token.value.lower() == "true")
    if len(token.value) <= 1 or not token.value.isascii() or re.search(r"\s", token.value):
        raise JsonRefusal("CAST of a JSON string to boolean", "Trino's spellings of a boolean beyond true/false")
    raise JsonCastError(f"Cannot cast '{token.value}' to boolean")


def _varchar(token: Token) -> str | None:
    if token.kind == NULL:
        return None
    if token.kind in (TRUE, FALSE):
        return token.kind
    if token.kind == FLOAT:
        return java_scientific(float(token.value))
    return str(token.value)


def _decimal(token: Token, target: str) -> str | None:
    match = _DECIMAL_TYPE.fullmatch(target)
    assert match is not None
    precision, scale = int(match.group(1)), int(match.group(2))
    if token.kind == NULL:
        return None
    if token.kind in (TRUE, FALSE):
        value = Decimal(int(token.kind == TRUE))
    elif token.kind in (INT, FLOAT) or _DECIMAL_TEXT.fullmatch(token.value):
        value = Decimal(token.value)
    elif not token.value.isascii():
        raise JsonRefusal(f"CAST of a JSON string to {target}", "Java's decimal parsing accepts other digits")
    else:
        raise JsonCastError(f"Cannot cast '{token.value}' to {target}")
    with localcontext() as context:
        context.prec = 1000
        rounded = value.quantize(Decimal(1).scaleb(-scale), rounding=ROUND_HALF_UP)
    if len(rounded.as_tuple().digits) > precision:
        raise JsonCastError(f"Cannot cast input json to {target}")
    return format(rounded, "f")


def scalar_from_token(tokens: JsonTokens, token: Token, target: str) -> Any:
    """The value of the JSON value starting at ``token`` as Trino type ``target`` (a scalar type name)."""
    if target == "json":  # an element of ARRAY(JSON): the value's own text, JSON null included
        return write_value(tokens, sort_keys=False, keep_duplicates=False)
    if token.kind in (START_ARRAY, START_OBJECT):
        raise JsonCastError(f"Cannot cast a JSON array or object to {target}")
    if token.kind == FIELD_NAME:  # a map key converts as a string would
        token = Token("string", token.value)
    if target in INTEGRAL_BITS:
        return _integral(token, target)
    if target == "double":
        return _double(token)
    if target == "boolean":
        return _boolean(token)
    if target == "varchar":
        return _varchar(token)
    return _decimal(token, target)


def _first(text: str, target: str) -> tuple[JsonTokens, Token]:
    tokens = JsonTokens(text)
    try:
        token = tokens.next()
    except JsonSyntaxError as exc:
        raise JsonCastError(f"Cannot cast input json to {target}") from exc
    if token is None:
        raise JsonCastError(f"Cannot cast input json to {target}")
    return tokens, token


def _end(tokens: JsonTokens, target: str) -> None:
    try:
        trailing = tokens.next()
    except JsonSyntaxError as exc:
        raise JsonCastError(f"Cannot cast input json to {target}") from exc
    if trailing is not None:
        raise JsonCastError(f"Cannot cast input json to {target}")


def json_to_scalar(text: str, target: str) -> Any:
    """CAST(json AS target) for a scalar type; a decimal comes back as its exact text."""
    tokens, token = _first(text, target)
    value = scalar_from_token(tokens, token, target)
    _end(tokens, target)
    return value


def _text(value: Any) -> str | None:
    """A converted value as text DuckDB casts back exactly (a double by its shortest digits)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value)


def _type_parts(descriptor: str) -> tuple[str, list[str]]:
    """``array(x)`` -> ("array", [x]); ``map(k, v)`` -> ("map", [k, v]); a scalar type -> (it, [])."""
    for base in ("array", "map"):
        if descriptor.startswith(base + "("):
            inner, parts, depth, start = descriptor[len(base) + 1 : -1], [], 0, 0
            for position, char in enumerate(inner):
                depth += {"(": 1, ")": -1}.get(char, 0)
                if char == "," and depth == 0:
                    parts.append(inner[start:position].strip())
                    start = position + 1
            parts.append(inner[start:].strip())
            return base, parts
    return descriptor, []


def _container_value(tokens: JsonTokens, token: Token, descriptor: str) -> Any:
    """The value starting at ``token`` as Trino type ``descriptor``: scalars as text DuckDB casts back
    exactly, arrays as lists, maps as DuckDB's {"key": [...], "value": [...]}."""
    base, parts = _type_parts(descriptor)
    if not parts:
        return _text(scalar_from_token(tokens, token, descriptor))
    if token.kind == NULL:
        return None
    if base == "array":
        if token.kind != START_ARRAY:
            raise JsonCastError(f"Cannot cast to {descriptor}: expected a json array")
        return [_container_value(tokens, item, parts[0]) for item in iterate_array(tokens)]
    if token.kind != START_OBJECT:
        raise JsonCastError(f"Cannot cast to {descriptor}: expected a json object")
    keys: list[str | None] = []
    values: list[Any] = []
    while (field := tokens.next()) is not None and field.kind == FIELD_NAME:
        keys.append(_text(scalar_from_token(tokens, field, parts[0])))
        item = tokens.next()
        if item is None:
            raise JsonCastError(f"Cannot cast input json to {descriptor}")
        values.append(_container_value(tokens, item, parts[1]))
    if field is None or field.kind != END_OBJECT:
        raise JsonCastError(f"Cannot cast input json to {descriptor}")
    if len(set(keys)) != len(keys):
        raise JsonRefusal(f"CAST to {descriptor} with keys that convert to the same value", "Trino fails on it")
    return {"key": keys, "value": values}


def json_to_container(text: str, descriptor: str) -> Any:
    """CAST(json AS an array or map type), for DuckDB to cast from text elements to the target type."""
    tokens, token = _first(text, descriptor)
    value = _container_value(tokens, token, descriptor)
    _end(tokens, descriptor)
    return value


def text_shape(descriptor: str) -> str:
    """The DuckDB type ``json_to_container`` returns for ``descriptor``: its shape, with VARCHAR scalars."""
    base, parts = _type_parts(descriptor)
    if base == "array":
        return f"{text_shape(parts[0])}[]"
    if base == "map":
        return f"MAP(VARCHAR, {text_shape(parts[1])})"
    return "VARCHAR"


# The shapes of array and map casts from JSON that run locally (up to two levels of nesting).
CONTAINER_SHAPES = (
    "VARCHAR[]", "VARCHAR[][]", "MAP(VARCHAR, VARCHAR)", "MAP(VARCHAR, VARCHAR)[]", "MAP(VARCHAR, VARCHAR[])",
    "MAP(VARCHAR, MAP(VARCHAR, VARCHAR))",
)


def shape_function_name(shape: str) -> str:
    return f"trino_json_to_shape{CONTAINER_SHAPES.index(shape)}"
