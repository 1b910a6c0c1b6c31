"""The JSON type and its functions: JSON literals, json_parse, json_format, json_extract,
json_extract_scalar, json_size, json_array_length, json_array_contains, json_array_get, is_json_scalar,
CAST to and from JSON, and JSON equality.

A JSON value is held in DuckDB as the text Trino holds (``json_parse`` sorts object keys and writes
compact text), so equality of two JSON values is equality of their texts, as in Trino. The functions
run as DuckDB Python functions (``json_udfs``) that read the text as Trino's Jackson parser does.
"""

from __future__ import annotations

from typing import ClassVar

from sqlglot import exp

from etl.athena.expressions import Expressions
from etl.athena.functions.casts import Casts
from etl.athena.functions.json_casts import (
    CONTAINER_SHAPES,
    JsonCastError,
    json_to_container,
    shape_function_name,
    text_shape,
)
from etl.athena.functions.json_text import JsonRefusal, JsonSyntaxError, as_written, canonical
from etl.athena.results import (
    BIGINT,
    BOOLEAN,
    DATE,
    DOUBLE,
    UNKNOWN,
    VARCHAR,
    SqlType,
    array_type,
    map_type,
)
from etl.athena.translation import Handlers, Typed, _call, _cast, _Ctx, _number, _string, invalid, refuse
from etl.errors import QueryError, QueryRefusedError

JSON = SqlType("json")
_ORDERING = (exp.GT, exp.GTE, exp.LT, exp.LTE)
_EXACT_DOUBLE_DIGITS = 15  # a decimal of at most 15 digits converts to the nearest double in DuckDB


class _Translated(exp.Expression):
    """An operand already translated (its Typed in ``meta``), handed back to a generic handler."""

    arg_types: ClassVar[dict[str, bool]] = {"this": False}


def _translated(typed: Typed) -> _Translated:
    node = _Translated()
    node.meta["typed"] = typed
    return node


def _refusal(error: JsonRefusal) -> Exception:
    return refuse(error.construct, error.why)


def _same_cast(written: str, canonical_text: str, target: SqlType) -> bool:
    """Whether casting the text as written and its canonical text to ``target`` give the same answer."""
    outcomes: list[object] = []
    for text in (written, canonical_text):
        try:
            outcomes.append(json_to_container(text, str(target)))
        except JsonCastError:
            outcomes.append(JsonCastError)
        except JsonRefusal:
            return False
    return outcomes[0] == outcomes[1]


def _map_key_types(kind: SqlType) -> list[SqlType]:
    if kind.is_map:
        return [kind.args[0], *_map_key_types(kind.args[1])]
    if kind.is_array:
        return _map_key_types(kind.element)
    return []


def _scalars_castable_from_text(kind: SqlType) -> bool:
    if kind.args:
        return all(_scalars_castable_from_text(arg) for arg in kind.args)
    return kind.is_integral or kind.is_decimal or kind in (DOUBLE, BOOLEAN, VARCHAR, JSON)


class JsonFunctions(Expressions, Casts):
    """Trino's JSON functions and casts over JSON text; it extends CAST and the comparisons to JSON."""

    def _json_handlers(self) -> Handlers:
        return {
            _Translated: lambda node, ctx: node.meta["typed"],
            exp.ParseJSON: self._json_parse, exp.JSONFormat: self._json_format,
            exp.JSONExtract: self._json_extract, exp.JSONExtractScalar: self._json_extract,
            exp.JSONArrayContains: self._json_array_contains,
            "json_array_length": self._json_array_length, "json_array_get": self._json_array_get,
            "json_size": self._json_size, "is_json_scalar": self._is_json_scalar,
        }

    # --- arguments ------------------------------------------------------------------------------------------
    def _json_or_text(self, node: exp.Expr, ctx: _Ctx, name: str) -> Typed:
        typed = self._expr(node, ctx)
        if typed.type not in (JSON, VARCHAR, UNKNOWN):
            raise invalid(f"{name}() needs json or varchar, not {typed.type}")
        return typed if typed.type != UNKNOWN else Typed(_cast(exp.Null(), "VARCHAR"), VARCHAR)

    def _json_path(self, node: exp.Expr | None, ctx: _Ctx, name: str) -> exp.Expr:
        if node is None:
            raise invalid(f"{name}() needs a JSON value and a JSON path")
        if isinstance(node, exp.JSONPath):
            return _string(self._path_text(node))
        return self._text_arg(node, ctx, name).node

    @staticmethod
    def _path_text(path: exp.JSONPath) -> str:
        """The path sqlglot parsed, written back in the subset of Trino's path syntax run locally."""
        parts = path.expressions
        unsupported = "a JSON path with a wildcard, a slice, a filter or a recursive step"
        if not parts or not isinstance(parts[0], exp.JSONPathRoot):
            raise refuse(unsupported, "only $, .name and [index] run locally")
        text = "$"
        for part in parts[1:]:
            if isinstance(part, exp.JSONPathKey) and isinstance(part.this, str):
                key = part.this
                if key.isascii() and key and all(c.isalnum() or c in "_:" for c in key):
                    text += f".{key}"
                    continue
                if '"' not in key and "\\" not in key:
                    text += f'["{key}"]'
                    continue
            if isinstance(part, exp.JSONPathSubscript) and isinstance(part.this, int) and part.this >= 0:
                text += f"[{part.this}]"
                continue
            raise refuse(unsupported, "only $, .name and [index] run locally")
        return text

    # --- JSON values --------------------------------------------------------------------------------------
    def _json_parse(self, node: exp.ParseJSON, ctx: _Ctx) -> Typed:
        self._check_args(node, {"this", "is_literal"})
        literal = bool(node.args.get("is_literal"))
        if isinstance(node.this, exp.Literal) and node.this.is_string:
            try:
                text = canonical(node.this.this)
                folded = _string(text)
                written = as_written(node.this.this)
                if written != text:  # Trino may cast the literal to an array or map from this text instead
                    folded.meta["json_as_written"] = written
                return Typed(folded, JSON)
            except JsonRefusal as error:
                raise _refusal(error) from error
            except JsonSyntaxError as error:
                if literal:
                    raise invalid(f"JSON '{node.this.this}' is not a JSON literal") from error
                # json_parse fails only when the row reaches it (it may sit in a CASE branch never taken);
                # a cast of it fails too, whether Trino reads the text as written or not.
                failing = _call("trino_json_parse", _string(node.this.this))
                failing.meta["invalid_json"] = True
                return Typed(failing, JSON)
        value = self._text_arg(node.this, ctx, "json_parse")
        return Typed(_call("trino_json_parse", value.node), JSON)

    def _json_format(self, node: exp.JSONFormat, ctx: _Ctx) -> Typed:
        self._check_args(node, {"this", "is_json"})
        value = self._expr(node.this, ctx)
        if value.type not in (JSON, UNKNOWN):
            raise invalid(f"json_format() needs json, not {value.type}")
        return Typed(self._coerce_json(value).node, VARCHAR)

    def _coerce_json(self, typed: Typed) -> Typed:
        return Typed(_cast(exp.Null(), "VARCHAR"), JSON) if typed.type.is_unknown else typed

    def _json_extract(self, node: exp.JSONExtract | exp.JSONExtractScalar, ctx: _Ctx) -> Typed:
        self._check_args(node, {"this", "expression", "scalar_only"})
        scalar = isinstance(node, exp.JSONExtractScalar)
        name = "json_extract_scalar" if scalar else "json_extract"
        value = self._json_or_text(node.this, ctx, name)
        path = self._json_path(node.expression, ctx, name)
        return Typed(_call(f"trino_{name}", value.node, path), VARCHAR if scalar else JSON)

    def _json_size(self, node: exp.Anonymous, ctx: _Ctx) -> Typed:
        if len(node.expressions) != 2:
            raise invalid("json_size() takes a JSON value and a JSON path")
        value = self._json_or_text(node.expressions[0], ctx, "json_size")
        path = self._json_path(node.expressions[1], ctx, "json_size")
        return Typed(_call("trino_json_size", value.node, path), BIGINT)

    def _is_json_scalar(self, node: exp.Anonymous, ctx: _Ctx) -> Typed:
        if len(node.expressions) != 1:
            raise invalid("is_json_scalar() takes one JSON value")
        value = self._json_or_text(node.expressions[0], ctx, "is_json_scalar")
        return Typed(_call("trino_is_json_scalar", value.node), BOOLEAN)

    def _json_array_length(self, node: exp.Anonymous, ctx: _Ctx) -> Typed:
        if len(node.expressions) != 1:
            raise invalid("json_array_length() takes one JSON value")
        value = self._json_or_text(node.expressions[0], ctx, "json_array_length")
        return Typed(_call("trino_json_array_length", value.node), BIGINT)

    def _json_array_get(self, node: exp.Anonymous, ctx: _Ctx) -> Typed:
        if len(node.expressions) != 2:
            raise invalid("json_array_get() takes a JSON array and an index")
        value = self._json_or_text(node.expressions[0], ctx, "json_array_get")
        index = self._integer_arg(node.expressions[1], ctx, "json_array_get")
        return Typed(_call("trino_json_array_get", value.node, index.node), JSON)

    def _json_array_contains(self, node: exp.JSONArrayContains, ctx: _Ctx) -> Typed:
        self._check_args(node, {"this", "expression"})
        value = self._json_or_text(node.this, ctx, "json_array_contains")
        element = self._expr(node.expression, ctx)
        kind = element.type
        if kind == BOOLEAN:
            overload, argument = "boolean", element.node
        elif kind.is_integral:
            overload, argument = "bigint", self._coerce(element, BIGINT).node
        elif kind.is_double or kind.is_decimal:
            if kind.is_decimal and kind.precision > _EXACT_DOUBLE_DIGITS:
                raise refuse(f"json_array_contains() with a {kind}", "its conversion to double is not exact here")
            overload, argument = "double", self._coerce(element, DOUBLE).node
        elif kind == VARCHAR:
            overload, argument = "varchar", element.node
        elif kind.is_unknown:  # whichever overload Trino picks, a NULL argument gives NULL
            return Typed(_cast(exp.Null(), "BOOLEAN"), BOOLEAN)
        else:
            raise invalid(f"json_array_contains() cannot look for a {kind}")
        return Typed(_call(f"trino_json_array_contains_{overload}", value.node, argument), BOOLEAN)

    # --- JSON is compared for equality only ------------------------------------------------------------------
    def _comparison(self, node: exp.Binary, ctx: _Ctx) -> Typed:
        if not isinstance(node, _ORDERING):
            return super()._comparison(node, ctx)
        left, right = self._expr(node.this, ctx), self._expr(node.expression, ctx)
        if JSON in (left.type, right.type):
            raise invalid("json values can be compared for equality only, not ordered")
        return super()._comparison(type(node)(this=_translated(left), expression=_translated(right)), ctx)

    def _between(self, node: exp.Between, ctx: _Ctx) -> Typed:
        self._check_args(node, {"this", "low", "high"})
        parts = {key: self._expr(node.args[key], ctx) for key in ("this", "low", "high")}
        if any(part.type == JSON for part in parts.values()):
            raise invalid("json values can be compared for equality only, not ordered (BETWEEN)")
        return super()._between(exp.Between(**{key: _translated(part) for key, part in parts.items()}), ctx)

    def _greatest(self, node: exp.Greatest | exp.Least, ctx: _Ctx) -> Typed:
        items = [self._expr(e, ctx) for e in [node.this, *node.expressions]]
        if any(item.type == JSON for item in items):
            raise invalid(f"{node.key}() needs orderable values, and json is not")
        translated = [_translated(item) for item in items]
        return super()._greatest(type(node)(this=translated[0], expressions=translated[1:]), ctx)

    # --- CAST ----------------------------------------------------------------------------------------------
    def _target_type(self, data_type: exp.DataType) -> tuple[SqlType, int | None]:
        kind = data_type.this
        if kind == exp.DType.JSON:
            return JSON, None
        if kind in (exp.DType.ARRAY, exp.DType.MAP):
            elements = [self._target_type(e)[0] for e in data_type.expressions if isinstance(e, exp.DataType)]
            if kind == exp.DType.ARRAY and len(elements) == 1:
                return array_type(elements[0]), None
            if kind == exp.DType.MAP and len(elements) == 2:
                return map_type(elements[0], elements[1]), None
            raise invalid(f"{data_type.sql(dialect='trino')} is not a valid type")
        return super()._target_type(data_type)

    def convert(self, source: Typed, target: SqlType) -> Typed:
        if source.type == JSON and target != JSON:
            return self._from_json(source, target)
        if target == JSON and source.type not in (JSON, UNKNOWN):
            return self._to_json(source)
        if source.type.args or target.args:
            try:
                return super().convert(source, target)
            except QueryRefusedError:
                raise
            except QueryError as error:  # the array family may cast arrays; the base casts do not
                raise refuse(f"CAST({source.type} AS {target})") from error
        return super().convert(source, target)

    def _from_json(self, source: Typed, target: SqlType) -> Typed:
        node = source.node
        if target.is_array or target.is_map:
            return self._json_to_container(source, target)
        if target.is_integral:
            converted = _call("trino_json_to_integral", node, _string(target.base))
            return Typed(_cast(converted, target.duck), target)
        if target.is_decimal:
            return Typed(_cast(_call("trino_json_to_decimal", node, _string(str(target))), target.duck), target)
        simple = {DOUBLE: "trino_json_to_double", BOOLEAN: "trino_json_to_boolean", VARCHAR: "trino_json_to_varchar"}
        if target in simple:
            return Typed(_call(simple[target], node), target)
        raise invalid(f"cannot cast json to {target}")

    def _json_to_container(self, source: Typed, target: SqlType) -> Typed:
        for key_type in _map_key_types(target):
            if key_type.args:
                raise invalid(f"cannot cast json to {target}")
            if not (key_type.is_integral or key_type.is_decimal or key_type in (DOUBLE, BOOLEAN, VARCHAR)):
                raise refuse(f"CAST(json AS {target})")
        shape = text_shape(str(target))
        if shape not in CONTAINER_SHAPES or not _scalars_castable_from_text(target):
            raise refuse(f"CAST(json AS {target})", "only arrays and maps of scalars, nested twice at most, run here")
        node = source.node
        # Trino casts json_parse(x) to an array or map straight from x: the keys' order and the numbers
        # as x wrote them, which the canonical text here may have changed.
        if isinstance(node, exp.Anonymous) and node.name == "trino_json_parse" and not node.meta.get("invalid_json"):
            raise refuse(f"CAST(json_parse(...) AS {target})", "Trino reads the text as written for this cast")
        written = node.meta.get("json_as_written")
        if written is not None and not _same_cast(written, node.name, target):
            raise refuse(f"CAST(JSON literal AS {target})", "Trino may read the literal as written for this cast")
        converted = _call(shape_function_name(shape), node, _string(str(target)))
        return Typed(_cast(converted, target.duck), target)

    def _to_json(self, source: Typed) -> Typed:
        return Typed(self._json_text(source.node, source.type, 0), JSON)

    def _json_text(self, node: exp.Expr, kind: SqlType, depth: int) -> exp.Expr:
        """The JSON text Trino's CAST(... AS JSON) writes for ``node`` of type ``kind`` (NULL stays NULL)."""
        if kind.is_array or kind.is_map:
            return self._container_json(node, kind, depth)
        if kind.is_unknown:
            return _cast(exp.Null(), "VARCHAR")
        if kind == JSON:
            return node
        return self._scalar_json(Typed(node, kind)).node

    def _container_json(self, node: exp.Expr, kind: SqlType, depth: int) -> exp.Expr:
        item = exp.column(f"json_item{depth}")

        def each(over: exp.Expr, body: exp.Expr) -> exp.Expr:
            return _call("list_transform", over, exp.Lambda(this=body, expressions=[item.this]))

        def joined(texts: exp.Expr, opening: str, closing: str) -> exp.Expr:
            inner = exp.Coalesce(this=_call("array_to_string", texts, _string(",")), expressions=[_string("")])
            return exp.DPipe(this=exp.DPipe(this=_string(opening), expression=inner), expression=_string(closing))

        def or_null(text: exp.Expr) -> exp.Expr:
            return exp.Coalesce(this=text, expressions=[_string("null")])

        if kind.is_array:
            texts = each(node, or_null(self._json_text(item, kind.element, depth + 1)))
            text = joined(texts, "[", "]")
        else:
            key_type, value_type = kind.args
            key = self._map_key_text(_call("struct_extract", item, _string("key")), key_type)
            value = or_null(self._json_text(_call("struct_extract", item, _string("value")), value_type, depth + 1))
            # Trino writes a map's entries ordered by the keys' text
            pairs = _call("list_sort", each(_call("map_entries", node), exp.Array(expressions=[key, value])))
            field = exp.DPipe(
                this=exp.DPipe(this=_call("trino_json_quote", _call("list_extract", item, _number(1))),
                               expression=_string(":")),
                expression=_call("list_extract", item, _number(2)),
            )
            text = joined(each(pairs, field), "{", "}")
        return exp.Case(ifs=[exp.If(this=exp.Is(this=node, expression=exp.Null()), true=exp.Null())], default=text)

    def _map_key_text(self, key: exp.Expr, kind: SqlType) -> exp.Expr:
        if kind.is_integral or kind.is_decimal or kind == BOOLEAN:
            text = self._scalar_json(Typed(key, kind)).node
            return text
        if kind == VARCHAR:
            # DuckDB orders text by code point, Java by UTF-16 unit: they differ only past U+FFFF
            beyond_bmp = _call("regexp_matches", key, _string("[\\x{10000}-\\x{10FFFF}]"))
            failure = _call("error", _string(
                "refused locally: CAST(map AS JSON) with a key past U+FFFF: Java orders such keys differently; "
                "run this query on Athena"))
            return exp.Case(ifs=[exp.If(this=beyond_bmp, true=failure)], default=key)
        raise refuse(f"CAST(map({kind}, ...) AS JSON)")

    def _scalar_json(self, source: Typed) -> Typed:
        kind, node = source.type, source.node
        if kind == BOOLEAN:
            text: exp.Expr = exp.Case(
                ifs=[exp.If(this=node, true=_string("true"))], default=_string("false")
            )
            return Typed(exp.Case(ifs=[exp.If(this=exp.Is(this=node, expression=exp.Null()), true=exp.Null())],
                                  default=text), JSON)
        if kind.is_integral:
            return Typed(_cast(node, "VARCHAR"), JSON)
        if kind.is_decimal:
            return Typed(self._decimal_json(node, kind), JSON)
        if kind.is_double:
            return Typed(_call("trino_json_from_double", node), JSON)
        if kind == VARCHAR:
            return Typed(_call("trino_json_quote", node), JSON)
        if kind == DATE or kind.base == "timestamp":
            return Typed(self._temporal_json(node, kind), JSON)
        raise refuse(f"CAST({kind} AS JSON)")

    def _decimal_json(self, node: exp.Expr, kind: SqlType) -> exp.Expr:
        text: exp.Expr = _cast(node, "VARCHAR")
        if kind.precision == kind.scale:  # DuckDB writes '.5', Trino '0.5'
            text = _call("regexp_replace", text, _string(r"^(-?)\."), _string(r"\10."))
        if kind.scale < 7:
            return text
        # Java's BigDecimal.toString writes a value below 10^-6 in scientific notation (1E-7, 0E-8).
        tiny = exp.LT(this=_call("abs", node), expression=_cast(_string("0.000001"), "DECIMAL(38,7)"))
        failure = _call(
            "error", _string(f"refused locally: CAST({kind} AS JSON) of a value below 0.000001: "
                             "Trino may write it in scientific notation; run this query on Athena"),
        )
        return exp.Case(ifs=[exp.If(this=tiny, true=failure)], default=text)

    @staticmethod
    def _temporal_json(node: exp.Expr, kind: SqlType) -> exp.Expr:
        if kind == DATE:
            text: exp.Expr = _call("strftime", node, _string("%Y-%m-%d"))
        else:
            full = _call("strftime", node, _string("%Y-%m-%d %H:%M:%S.%f"))
            length = 19 + (kind.precision + 1 if kind.precision else 0)
            text = _call("substring", full, _number(1), _number(length))
        year = _call("year", node)
        outside = exp.or_(exp.LT(this=year, expression=_number(1)), exp.GT(this=year, expression=_number(9999)))
        failure = _call(
            "error", _string(f"refused locally: CAST({kind} AS JSON) of a year outside 1-9999: "
                             "Trino writes such years differently; run this query on Athena"),
        )
        quoted = exp.DPipe(this=exp.DPipe(this=_string('"'), expression=text), expression=_string('"'))
        return exp.Case(ifs=[exp.If(this=outside, true=failure)], default=quoted)
