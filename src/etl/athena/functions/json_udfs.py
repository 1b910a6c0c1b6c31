"""The JSON functions and casts as DuckDB Python functions, computing Trino's answers on JSON text.

Each function reads the text as Trino's does (see ``json_text``): the array functions and the path
extraction stop at their answer and return NULL for text that is not JSON before it; the casts read
one whole value and fail on anything else. A failure Trino reports raises ``JsonCastError`` or
``JsonSyntaxError`` (the query fails); a case the local engine cannot reproduce raises ``JsonRefusal``.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable
from typing import Any

import duckdb

from etl.athena.functions.json_casts import (
    CONTAINER_SHAPES,
    json_to_container,
    json_to_scalar,
    shape_function_name,
)
from etl.athena.functions.json_text import (
    END_ARRAY,
    END_OBJECT,
    FALSE,
    FIELD_NAME,
    FLOAT,
    INT,
    NULL,
    START_ARRAY,
    START_OBJECT,
    STRING,
    TRUE,
    JsonRefusal,
    JsonSyntaxError,
    JsonTokens,
    Token,
    canonical,
    iterate_array,
    number_text,
    quote,
    write_value,
)
from etl.athena.results import java_double_to_string


# --- casts from JSON: one function per DuckDB result type -------------------------------------------------
def json_to_integral(text: str, target: str) -> int | None:
    return json_to_scalar(text, target)  # type: ignore[no-any-return]


def json_to_double(text: str) -> float | None:
    return json_to_scalar(text, "double")  # type: ignore[no-any-return]


def json_to_boolean(text: str) -> bool | None:
    return json_to_scalar(text, "boolean")  # type: ignore[no-any-return]


def json_to_varchar(text: str) -> str | None:
    return json_to_scalar(text, "varchar")  # type: ignore[no-any-return]


def json_to_decimal(text: str, target: str) -> str | None:
    return json_to_scalar(text, target)  # type: ignore[no-any-return]


# --- casts to JSON ----------------------------------------------------------------------------------------
def double_to_json(value: float) -> str:
    if math.isnan(value) or math.isinf(value):
        return quote(java_double_to_string(value))
    return java_double_to_string(value)


# --- json_parse, is_json_scalar -------------------------------------------------------------------------------
def json_parse(text: str) -> str:
    try:
        return canonical(text)
    except JsonSyntaxError as exc:
        raise JsonSyntaxError(f"Cannot convert value to JSON: '{text}'") from exc


def is_json_scalar(text: str) -> bool:
    tokens = JsonTokens(text)
    try:
        token = tokens.next()
        if token is None:
            raise JsonSyntaxError("no value")
        tokens.skip_children()
        if tokens.next() is not None:
            raise JsonSyntaxError("more than one value")
    except JsonSyntaxError as exc:
        raise JsonSyntaxError(f"Invalid JSON value: {text}") from exc
    return token.kind not in (START_ARRAY, START_OBJECT)


# --- array functions: NULL for text that is not a JSON array before the answer --------------------------
def _null_on_syntax_error(function: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(function)  # DuckDB reads the parameters from the wrapped signature
    def guarded(*args: Any) -> Any:
        try:
            return function(*args)
        except JsonSyntaxError:
            return None

    return guarded


def _array_tokens(text: str) -> JsonTokens | None:
    tokens = JsonTokens(text)
    first = tokens.next()
    return tokens if first is not None and first.kind == START_ARRAY else None


@_null_on_syntax_error
def json_array_length(text: str) -> int | None:
    tokens = _array_tokens(text)
    if tokens is None:
        return None
    count = 0
    for _ in iterate_array(tokens):
        tokens.skip_children()
        count += 1
    return count


def _contains(text: str, matches: Callable[[Token], bool]) -> bool | None:
    tokens = _array_tokens(text)
    if tokens is None:
        return None
    for token in iterate_array(tokens):
        tokens.skip_children()
        if matches(token):
            return True
    return False


@_null_on_syntax_error
def json_array_contains_boolean(text: str, value: bool) -> bool | None:
    wanted = TRUE if value else FALSE
    return _contains(text, lambda token: token.kind == wanted)


@_null_on_syntax_error
def json_array_contains_bigint(text: str, value: int) -> bool | None:
    # Only integer tokens that fit a long match (Jackson's INT and LONG number types).
    return _contains(
        text, lambda token: token.kind == INT and -(2**63) <= int(token.value) < 2**63 and int(token.value) == value
    )


@_null_on_syntax_error
def json_array_contains_double(text: str, value: float) -> bool | None:
    if math.isnan(value) or math.isinf(value):
        return False
    return _contains(text, lambda token: token.kind == FLOAT and float(token.value) == value)


@_null_on_syntax_error
def json_array_contains_varchar(text: str, value: str) -> bool | None:
    return _contains(text, lambda token: token.kind == STRING and token.value == value)


def _element_text(tokens: JsonTokens, token: Token) -> str | None:
    """An element as json_array_get gives it: a container compact, a scalar's bare text (a string
    unquoted), JSON null as SQL NULL."""
    if token.kind in (START_ARRAY, START_OBJECT):
        return write_value(tokens, sort_keys=False, keep_duplicates=False)
    if token.kind == NULL:
        return None
    if token.kind in (TRUE, FALSE):
        return token.kind
    return str(token.value)


@_null_on_syntax_error
def json_array_get(text: str, index: int) -> str | None:
    if index == -(2**63):
        return None
    tokens = _array_tokens(text)
    if tokens is None:
        return None
    last: list[str | None] = []
    for count, token in enumerate(iterate_array(tokens)):
        element = _element_text(tokens, token)
        if count == index:
            return element
        if index < 0:
            last.append(element)
            if len(last) > -index:
                last.pop(0)
    if index < 0 and len(last) == -index:
        if last[0] is None:
            raise JsonRefusal("json_array_get() of a JSON null counted from the end", "Trino fails on it")
        return last[0]
    return None


# --- JSON paths: $, .name, ["name"], [index] ----------------------------------------------------------------
_PATH_PART = re.compile(r'\.([A-Za-z0-9_:]+)|\[([0-9]+)\]|\["([^"\\]*)"\]')


def parse_path(path: str) -> list[str]:
    """The keys of a path in Trino's simple JSONPath; a numeric key also indexes an array."""
    if not path.startswith("$"):
        raise JsonSyntaxError(f"Invalid JSON path: '{path}'")
    keys, pos = [], 1
    while pos < len(path):
        match = _PATH_PART.match(path, pos)
        if match is None:
            if re.fullmatch(r"(\.|\[\]?)?", path[pos:]):
                raise JsonSyntaxError(f"Invalid JSON path: '{path}'")
            raise JsonRefusal(f"the JSON path {path}", "only $, .name, [\"name\"] and [index] run locally")
        key = next(group for group in match.groups() if group is not None)
        if re.fullmatch(r"[+-][0-9]+", key):  # Java reads it as an array index too
            raise JsonRefusal(f"the JSON path {path}", "a signed number as a key is not run locally")
        keys.append(key)
        pos = match.end()
    return keys


def _locate(text: str, keys: list[str]) -> tuple[JsonTokens, Token] | None:
    """The first token of the value at ``keys`` (None: not there)."""
    tokens = JsonTokens(text)
    token = tokens.next()
    if token is None:
        raise JsonSyntaxError("no JSON value")
    for key in keys:
        if token.kind == START_OBJECT:
            found = None
            while (field := tokens.next()) is not None and field.kind == FIELD_NAME:
                value = tokens.next()
                if field.value == key and value is not None:
                    found = value
                    break
                tokens.skip_children()
            if found is None:
                return None
            token = found
        elif token.kind == START_ARRAY and key.isdecimal():  # Java's Integer.parseInt reads any decimal digit
            wanted, found = int(key), None
            for position, element in enumerate(iterate_array(tokens)):
                if position == wanted:
                    found = element
                    break
                tokens.skip_children()
            if found is None:
                return None
            token = found
        else:
            return None
    return tokens, token


def _extracting(function: Callable[[JsonTokens, Token], Any]) -> Callable[[str, str], Any]:
    def extract(text: str, path: str) -> Any:
        keys = parse_path(path)  # a bad path fails the query, as in Trino
        try:
            located = _locate(text, keys)
            return None if located is None else function(*located)
        except JsonSyntaxError:
            return None

    extract.__name__ = function.__name__
    return extract


@_extracting
def json_extract(tokens: JsonTokens, token: Token) -> str:
    return write_value(tokens, sort_keys=False, keep_duplicates=True)


@_extracting
def json_extract_scalar(tokens: JsonTokens, token: Token) -> str | None:
    if token.kind in (START_ARRAY, START_OBJECT, NULL):
        return None
    if token.kind in (TRUE, FALSE):
        return token.kind
    return str(token.value)


@_extracting
def json_size(tokens: JsonTokens, token: Token) -> int:
    if token.kind not in (START_ARRAY, START_OBJECT):
        return 0
    size, depth = 0, 1
    while depth:
        inner = tokens.next()
        if inner is None:
            raise JsonSyntaxError("unexpected end of input")
        counted = token.kind == START_ARRAY or inner.kind == FIELD_NAME  # an element, or an object's field
        if depth == 1 and counted and inner.kind not in (END_OBJECT, END_ARRAY):
            size += 1
        if inner.kind in (START_ARRAY, START_OBJECT):
            depth += 1
        elif inner.kind in (END_OBJECT, END_ARRAY):
            depth -= 1
    return size


# --- registration -----------------------------------------------------------------------------------------
_FUNCTIONS: tuple[tuple[str, Callable[..., Any], list[str], str], ...] = (
    ("trino_json_parse", json_parse, ["VARCHAR"], "VARCHAR"),
    ("trino_json_quote", quote, ["VARCHAR"], "VARCHAR"),
    ("trino_json_from_double", double_to_json, ["DOUBLE"], "VARCHAR"),
    ("trino_json_to_integral", json_to_integral, ["VARCHAR", "VARCHAR"], "BIGINT"),
    ("trino_json_to_double", json_to_double, ["VARCHAR"], "DOUBLE"),
    ("trino_json_to_boolean", json_to_boolean, ["VARCHAR"], "BOOLEAN"),
    ("trino_json_to_varchar", json_to_varchar, ["VARCHAR"], "VARCHAR"),
    ("trino_json_to_decimal", json_to_decimal, ["VARCHAR", "VARCHAR"], "VARCHAR"),
    *((shape_function_name(shape), json_to_container, ["VARCHAR", "VARCHAR"], shape) for shape in CONTAINER_SHAPES),
    ("trino_is_json_scalar", is_json_scalar, ["VARCHAR"], "BOOLEAN"),
    ("trino_json_array_length", json_array_length, ["VARCHAR"], "BIGINT"),
    ("trino_json_array_contains_boolean", json_array_contains_boolean, ["VARCHAR", "BOOLEAN"], "BOOLEAN"),
    ("trino_json_array_contains_bigint", json_array_contains_bigint, ["VARCHAR", "BIGINT"], "BOOLEAN"),
    ("trino_json_array_contains_double", json_array_contains_double, ["VARCHAR", "DOUBLE"], "BOOLEAN"),
    ("trino_json_array_contains_varchar", json_array_contains_varchar, ["VARCHAR", "VARCHAR"], "BOOLEAN"),
    ("trino_json_array_get", json_array_get, ["VARCHAR", "BIGINT"], "VARCHAR"),
    ("trino_json_extract", json_extract, ["VARCHAR", "VARCHAR"], "VARCHAR"),
    ("trino_json_extract_scalar", json_extract_scalar, ["VARCHAR", "VARCHAR"], "VARCHAR"),
    ("trino_json_size", json_size, ["VARCHAR", "VARCHAR"], "BIGINT"),
)


def register_json_functions(con: duckdb.DuckDBPyConnection) -> None:
    """Make the JSON functions the translated SQL calls available on ``con``."""
    for name, function, parameters, result in _FUNCTIONS:
        con.create_function(
            name, _null_in_null_out(function), parameters, result, null_handling="special"  # type: ignore[arg-type]
        )


def _null_in_null_out(function: Callable[..., Any]) -> Callable[..., Any]:
    """SQL NULL in any argument gives NULL; the function itself may return NULL too (DuckDB's default
    handling fails on a function that returns None)."""

    @functools.wraps(function)
    def called(*args: Any) -> Any:
        return None if any(arg is None for arg in args) else function(*args)

    return called


__all__ = ["json_parse", "number_text", "register_json_functions"]
