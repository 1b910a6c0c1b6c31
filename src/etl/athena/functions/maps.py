"""Map functions: the MAP constructor, subscript ``m[k]``, element_at, cardinality, map_keys and map_values.

Maps are DuckDB MAPs, which keep their entries in insertion order as Trino's maps built from arrays do.
Trino fails at run time where DuckDB differs: the constructor fails on a NULL key, on a duplicate key and
on arrays of different lengths, and the subscript fails on a missing key (element_at answers NULL). Those
edges go through ``error()`` inside a CASE that fires only on the failing row. Keys are limited to
scalars whose equality is the same in both engines; double keys that are NaN or zero (Trino's NaN and
-0.0 rules) are refused at run time.
"""

from __future__ import annotations

from sqlglot import exp

from etl.athena.core import TranslatorCore
from etl.athena.results import BIGINT, UNKNOWN, SqlType, array_type, implicitly_coercible, map_type
from etl.athena.translation import (
    Handlers,
    Typed,
    _call,
    _case,
    _cast,
    _Ctx,
    _fails,
    _is_null,
    _number,
    invalid,
    refuse,
)

# Key types whose equality (and so duplicate detection and lookup) is the same in both engines.
_KEY_BASES = ("tinyint", "smallint", "integer", "bigint", "decimal", "double", "varchar", "boolean", "date")


def _supported_value(value: SqlType) -> bool:
    """Value types this family handles: scalars (no JSON, whose text form differs), arrays and maps of them."""
    if value.is_array:
        return _supported_value(value.element)
    if value.is_map:
        return _supported_key(value.args[0]) and _supported_value(value.args[1])
    return not value.args and value.base != "json"


def _supported_key(key: SqlType) -> bool:
    return key.base in _KEY_BASES


def _double_keys_refused(keys: exp.Expr) -> tuple[exp.Expr, exp.Expr]:
    """A branch failing (as a refusal) on a NaN or zero double key: Trino's NaN and -0.0 key rules."""
    item = exp.column("map_key")
    odd = exp.Or(
        this=_call("isnan", item.copy()), expression=exp.EQ(this=item.copy(), expression=_number(0))
    )
    found = _call("len", _call("list_filter", keys.copy(), exp.Lambda(this=odd, expressions=[item.this])))
    return (
        exp.GT(this=found, expression=_number(0)),
        _fails("refused locally: a map with a NaN or zero double key: run this query on Athena"),
    )


class MapFunctions(TranslatorCore):
    """Map constructors and functions as Trino computes them."""

    def _map_handlers(self) -> Handlers:
        return {
            exp.Map: self._map_constructor, exp.MapKeys: self._map_keys, "map_values": self._map_values,
            "map_concat": self._map_concat,
        }

    def _map_arg(self, node: exp.Expr, ctx: _Ctx, name: str) -> Typed:
        typed = self._expr(node, ctx)
        if typed.type.is_unknown:
            raise refuse(f"{name}(NULL)", "the type of a NULL literal argument is ambiguous")
        if not typed.type.is_map:
            raise invalid(f"{name}() needs a map, not {typed.type}")
        return self._checked_map(typed, name)

    @staticmethod
    def _checked_map(typed: Typed, name: str) -> Typed:
        key, value = typed.type.args
        if not (_supported_key(key) or key.is_unknown) or not _supported_value(value):
            raise refuse(f"{name}() of {typed.type}")
        return typed

    def _map_constructor(self, node: exp.Map, ctx: _Ctx) -> Typed:
        self._check_args(node, {"keys", "values"})
        if node.args.get("keys") is None and node.args.get("values") is None:
            result = map_type(UNKNOWN, UNKNOWN)
            return Typed(_cast(_call("map"), result.duck), result)
        if node.args.get("keys") is None or node.args.get("values") is None:
            raise invalid("MAP() takes an array of keys and an array of values")
        keys = self._expr(node.args["keys"], ctx)
        values = self._expr(node.args["values"], ctx)
        if keys.type.is_unknown or values.type.is_unknown:
            raise refuse("MAP constructor of NULL", "the type of a NULL literal argument is ambiguous")
        if not (keys.type.is_array and values.type.is_array):
            raise invalid(f"MAP() needs two arrays, not {keys.type} and {values.type}")
        key, value = keys.type.element, values.type.element
        if not _supported_key(key):
            raise refuse(f"MAP constructor with keys of {key}")
        if not _supported_value(value):
            raise refuse(f"MAP constructor with values of {value}")
        result = map_type(key, value)
        k, v = keys.node, values.node
        branches: list[tuple[exp.Expr, exp.Expr]] = [
            (_is_null(k, v), exp.Null()),
            (
                exp.NEQ(this=_call("len", k.copy()), expression=_call("len", v.copy())),
                _fails("Key and value arrays must be the same length"),
            ),
            (
                exp.GT(this=_call("len", k.copy()), expression=_call("list_count", k.copy())),
                _fails("map key cannot be null"),
            ),
        ]
        if key.is_double:
            branches.append(_double_keys_refused(k))
        branches.append((
            exp.GT(this=_call("len", k.copy()), expression=_call("len", _call("list_distinct", k.copy()))),
            _fails("Duplicate map keys are not allowed"),
        ))
        value_node = _case(*branches, default=_call("map", k.copy(), v.copy()))
        return Typed(_cast(value_node, result.duck), result)

    def _map_keys(self, node: exp.MapKeys, ctx: _Ctx) -> Typed:
        self._check_args(node, {"this"})
        typed = self._map_arg(node.this, ctx, "map_keys")
        result = array_type(typed.type.args[0])
        return Typed(_cast(_call("map_keys", typed.node), result.duck), result)

    def _map_values(self, node: exp.Anonymous, ctx: _Ctx) -> Typed:
        if len(node.expressions) != 1:
            raise invalid("map_values() takes one map")
        typed = self._map_arg(node.expressions[0], ctx, "map_values")
        result = array_type(typed.type.args[1])
        return Typed(_cast(_call("map_values", typed.node), result.duck), result)

    def _map_concat(self, node: exp.Anonymous, ctx: _Ctx) -> Typed:
        if len(node.expressions) < 2:
            raise invalid("There must be two or more concatenation arguments to map_concat")
        maps = [self._map_arg(item, ctx, "map_concat") for item in node.expressions]
        coerced, result = self._unify(maps, "map_concat()")
        nodes = [m.node for m in coerced]
        # Trino: NULL when any map is NULL; the last map's entries first (its values win), then each map
        # before it, from the last to the first, with the keys not seen yet (DuckDB keeps the first
        # map's order, so the entries are put in Trino's order here)
        entry = exp.column("map_entry")
        parts: list[exp.Expr] = [_call("map_entries", nodes[-1].copy())]
        for index in range(len(nodes) - 2, -1, -1):
            key = exp.Dot(this=entry.copy(), expression=exp.to_identifier("key"))
            seen: exp.Expr | None = None
            for later in nodes[index + 1:]:
                found = _call("map_contains", later.copy(), key.copy())
                seen = found if seen is None else exp.Or(this=seen, expression=found)
            assert seen is not None
            keep = exp.Lambda(this=exp.Not(this=exp.Paren(this=seen)), expressions=[entry.this])
            parts.append(_call("list_filter", _call("map_entries", nodes[index].copy()), keep))
        entries = _call("list_concat", *parts) if len(parts) > 1 else parts[0]
        value = _case((_is_null(*nodes), exp.Null()), default=_call("map_from_entries", entries))
        return Typed(_cast(value, result.duck), result)

    # --- called by the array family for its functions that also take maps -----------------------------
    def _map_cardinality(self, typed: Typed) -> Typed:
        self._checked_map(typed, "cardinality")
        return Typed(_cast(_call("cardinality", typed.node), BIGINT.duck), BIGINT)

    def _map_lookup(self, typed: Typed, key_node: exp.Expr, ctx: _Ctx, subscript: bool) -> Typed:
        """``m[k]`` (fails on a missing key) or ``element_at(m, k)`` (NULL for a missing key)."""
        name = "map subscript [ ]" if subscript else "element_at"
        self._checked_map(typed, name)
        key_type, value_type = typed.type.args
        wanted = self._expr(key_node, ctx)
        if key_type.is_unknown:
            raise refuse(f"{name} of an empty map", "the type of its keys is unknown")
        if not implicitly_coercible(wanted.type, key_type):
            raise refuse(f"{name} with a key of {wanted.type} in {typed.type}", "Trino's coercion of the key")
        key = self._coerce(wanted, key_type).node
        branches: list[tuple[exp.Expr, exp.Expr]] = [(_is_null(typed.node, key), exp.Null())]
        if key_type.is_double:
            odd = exp.Or(this=_call("isnan", key.copy()), expression=exp.EQ(this=key.copy(), expression=_number(0)))
            branches.append((odd, _fails("refused locally: a NaN or zero double map key: run this query on Athena")))
        if subscript:
            missing = exp.Not(this=_call("map_contains", typed.node.copy(), key.copy()))
            branches.append((missing, _fails("Key not present in map")))
        value = _case(*branches, default=_call("map_extract_value", typed.node.copy(), key.copy()))
        return Typed(_cast(value, value_type.duck), value_type)

    def _written_key(self, node: exp.Bracket) -> exp.Expr:
        """The key of ``m[k]`` as written: sqlglot's parser turns an integer key 0-based when it cannot type
        the map (it takes it for an array), so only literal keys are taken there."""
        sqlglot_type = node.this.type.this if node.this.type else exp.DataType.Type.UNKNOWN
        key = node.expressions[0]
        if sqlglot_type == exp.DataType.Type.MAP:
            return key
        if sqlglot_type != exp.DataType.Type.UNKNOWN:
            raise refuse("map subscript [ ]", "a map the parser could not type")
        if isinstance(key, exp.Boolean) or (isinstance(key, exp.Literal) and key.is_string):
            return key
        return _number(self._integer_literal(key, "map subscript") + 1)


def _comparable_value(value: SqlType) -> bool:
    """Value types whose equality is the same in both engines (no NaN, no nested NULL rules)."""
    return not value.args and value.base not in ("json", "double")


def map_comparison(kind: type[exp.Expr], a: exp.Expr, b: exp.Expr, common: SqlType) -> exp.Expr:
    """``a = b``, ``a <> b``, ``a IS [NOT] DISTINCT FROM b`` of two maps of type ``common``, as Trino compares
    maps: the same keys (in any order) and equal values; = is NULL when no value differs but one is NULL."""
    key, value = common.args
    if not (_supported_key(key) or key.is_unknown) or not (_comparable_value(value)):
        raise refuse(f"comparison of {common} values")
    distinct = kind in (exp.NullSafeEQ, exp.NullSafeNEQ)
    if kind not in (exp.EQ, exp.NEQ) and not distinct:
        raise refuse(f"ordering of {common} values")
    item = exp.column("map_key")

    def any_key(condition: exp.Expr) -> exp.Expr:
        kept = _call("list_filter", _call("map_keys", a.copy()), exp.Lambda(this=condition, expressions=[item.this]))
        return exp.GT(this=_call("len", kept), expression=_number(0))

    left = _call("map_extract_value", a.copy(), item.copy())
    right = _call("map_extract_value", b.copy(), item.copy())
    differs: exp.Expr = exp.NEQ(this=left.copy(), expression=right.copy())
    if distinct:
        differs = exp.NullSafeNEQ(this=left.copy(), expression=right.copy())
    branches: list[tuple[exp.Expr, exp.Expr]] = []
    if distinct:
        both_null = exp.And(
            this=exp.Is(this=a.copy(), expression=exp.Null()), expression=exp.Is(this=b.copy(), expression=exp.Null())
        )
        branches += [(both_null, exp.true()), (_is_null(a, b), exp.false())]
    else:
        branches.append((_is_null(a, b), exp.Null()))
    branches += [
        (exp.NEQ(this=_call("cardinality", a.copy()), expression=_call("cardinality", b.copy())), exp.false()),
        (any_key(exp.Not(this=_call("map_contains", b.copy(), item.copy()))), exp.false()),
        (any_key(differs), exp.false()),
    ]
    if not distinct:
        has_null = _is_null(left, right)
        branches.append((any_key(has_null), exp.Null()))
    equal = _cast(_case(*branches, default=exp.true()), "BOOLEAN")
    return exp.Not(this=exp.Paren(this=equal)) if kind in (exp.NEQ, exp.NullSafeNEQ) else equal
