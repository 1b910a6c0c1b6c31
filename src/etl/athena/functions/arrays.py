"""Array functions: the ARRAY[...] constructor, subscript ``a[i]``, element_at, cardinality, contains,
array_join and split.

Arrays are DuckDB lists. Trino fails at run time where DuckDB answers NULL (a subscript past the end, an
index of 0), so those edges go through ``error()`` inside a CASE that fires only on the failing row.
"""

from __future__ import annotations

from sqlglot import exp

from etl.athena.core import TranslatorCore
from etl.athena.functions.maps import MapFunctions
from etl.athena.results import (
    BIGINT,
    BOOLEAN,
    VARCHAR,
    SqlType,
    array_type,
    common_super_type,
    implicitly_coercible,
    scalar_or_array,
)
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
    _string,
    invalid,
    refuse,
)

# Element types whose values and text DuckDB holds exactly as Trino does.
_JOINABLE = ("tinyint", "smallint", "integer", "bigint", "decimal", "varchar", "boolean")


def _element_of(array: SqlType, value: SqlType) -> SqlType | None:
    """The element type of ``array || value`` when value can be an element of the array."""
    return common_super_type(array.element, value) if array.is_array else None


def concat_arrays(core: TranslatorCore, parts: list[Typed]) -> Typed:
    """``concat`` / ``||`` with an array: arrays end to end, or an element added at either end.

    Trino answers NULL when any argument is NULL (DuckDB's list_concat treats a NULL list as empty).
    """
    if any(part.type.is_unknown for part in parts):
        raise refuse("concat() of an array and NULL", "the type of a NULL literal argument is ambiguous")
    arrays = all(part.type.is_array for part in parts)
    common = None
    if arrays:
        common = parts[0].type
        for part in parts[1:]:
            common = common_super_type(common, part.type) if common is not None else None
    if len(parts) == 2:
        first, second = parts
        appends = _element_of(first.type, second.type)
        prepends = _element_of(second.type, first.type)
        if (common is not None and (appends or prepends)) or (appends and prepends):
            raise refuse("concat() of nested arrays", "whether an array is joined or added as an element")
        if common is None and (appends or prepends):
            array, element = (first, second) if appends else (second, first)
            merged = array_type(appends or prepends)  # type: ignore[arg-type]
            if not implicitly_coercible(array.type, merged):
                raise refuse(f"concat() of {array.type} and {element.type}")
            array = core._coerce(array, merged)
            value = core._coerce(element, merged.element)
            listed = exp.Array(expressions=[value.node])
            pair = [array.node, listed] if appends else [listed, array.node]
            result = _case(
                (_is_null(array.node), exp.Null()),
                # NULL elements: not pinned down here
                (_is_null(value.node), _fails("concat() of an array and a NULL element: run this query on Athena")),
                default=_call("list_concat", *(j.copy() for j in pair)),
            )
            return Typed(_cast(result, array.type.duck), array.type)
    if common is None or not common.is_array:
        raise invalid("concat() needs arrays of one type, or an array and an element of it")
    if common.element.is_unknown:
        raise refuse("concat() of empty arrays", "the element type is ambiguous")
    nodes = [core._coerce(part, common).node for part in parts]
    joined: exp.Expr = nodes[0].copy()
    for node in nodes[1:]:
        joined = _call("list_concat", joined, node.copy())
    result = _case((_is_null(*nodes), exp.Null()), default=joined)
    return Typed(_cast(result, common.duck), common)


class ArrayFunctions(MapFunctions):  # maps' cardinality, element_at and [ ] come here
    """Array constructors and functions as Trino computes them."""

    def _array_handlers(self) -> Handlers:
        return {
            exp.Array: self._array_constructor, exp.Bracket: self._subscript, exp.ArraySize: self._cardinality,
            exp.ArrayContains: self._contains, exp.ArrayToString: self._array_join, exp.Split: self._split,
            exp.ArrayPosition: self._array_position, exp.ArrayMax: self._array_extreme,
            exp.ArrayMin: self._array_extreme, exp.ArraySlice: self._slice, exp.Flatten: self._flatten,
        }

    def _array_constructor(self, node: exp.Array, ctx: _Ctx) -> Typed:
        self._check_args(node, {"expressions", "value_constructor"})
        items = [self._expr(item, ctx) for item in node.expressions]
        coerced, element = self._unify(items, "ARRAY constructor")
        if not scalar_or_array(element):
            raise refuse(f"ARRAY constructor of {element}")
        result = array_type(element)
        return Typed(_cast(exp.Array(expressions=[i.node for i in coerced]), result.duck), result)

    def _subscript(self, node: exp.Bracket, ctx: _Ctx) -> Typed:
        if len(node.expressions) != 1:
            raise refuse("array/map subscript [ ]", "more than one subscript")
        typed = self._expr(node.this, ctx)
        if typed.type.is_map:  # the map family's
            key = node.expressions[0] if node.args.get("safe") else self._written_key(node)
            return self._map_lookup(typed, key, ctx, subscript=not node.args.get("safe"))
        if node.args.get("safe"):
            return self._element_at(node, ctx, typed)
        array = self._array_arg(node.this, ctx, "array/map subscript [ ]", typed)
        index = _number(self._written_subscript(node))
        # Trino's subscript fails on an index outside 1..cardinality (DuckDB would answer NULL)
        value = _case(
            (_is_null(array.node, index), exp.Null()),
            (exp.EQ(this=index.copy(), expression=_number(0)), _fails("SQL array indices start at 1")),
            (exp.LT(this=index.copy(), expression=_number(0)), _fails("Array subscript is negative")),
            (
                exp.GT(this=index.copy(), expression=_call("len", array.node.copy())),
                _fails("Array subscript must be less than or equal to array length"),
            ),
            default=_call("list_extract", array.node.copy(), index.copy()),
        )
        element = array.type.element
        return Typed(_cast(value, element.duck), element)

    def _written_subscript(self, node: exp.Bracket) -> int:
        """The index as written: sqlglot's parser turns Trino's 1-based integer literals 0-based, but only
        when it can type them, so any other index expression is refused."""
        sqlglot_type = node.this.type.this if node.this.type else exp.DataType.Type.UNKNOWN
        if sqlglot_type not in (exp.DataType.Type.UNKNOWN, exp.DataType.Type.ARRAY):
            raise refuse("array/map subscript [ ]", "an array the parser could not type")
        return self._integer_literal(node.expressions[0], "array subscript") + 1

    def _element_at(self, node: exp.Bracket, ctx: _Ctx, typed: Typed) -> Typed:
        array = self._array_arg(node.this, ctx, "element_at", typed)
        index = self._integer_arg(node.expressions[0], ctx, "element_at").node
        # a negative index counts from the end in both engines; past either end is NULL in both
        value = _case(
            (exp.EQ(this=index.copy(), expression=_number(0)), _fails("SQL array indices start at 1")),
            default=_call("list_extract", array.node, index.copy()),
        )
        element = array.type.element
        return Typed(_cast(value, element.duck), element)

    def _cardinality(self, node: exp.ArraySize, ctx: _Ctx) -> Typed:
        self._check_args(node, {"this"})
        typed = self._expr(node.this, ctx)
        if typed.type.is_map:  # the map family's
            return self._map_cardinality(typed)
        array = self._array_arg(node.this, ctx, "cardinality", typed)
        return Typed(_cast(_call("len", array.node), BIGINT.duck), BIGINT)

    def _contains(self, node: exp.ArrayContains, ctx: _Ctx) -> Typed:
        self._check_args(node, {"this", "expression"})
        array = self._array_arg(node.this, ctx, "contains")
        if array.type.element.is_array:
            raise refuse("contains() of nested arrays", "Trino's equality of arrays with NULL elements")
        wanted = self._expr(node.expression, ctx)
        common = self._unify([Typed(exp.Null(), array.type.element), wanted], "contains()")[1]
        if common != array.type.element and not common.is_unknown:
            array = Typed(_cast(array.node, array_type(common).duck), array_type(common))
        value = self._coerce(wanted, common).node if not common.is_unknown else wanted.node
        branches: list[tuple[exp.Expr, exp.Expr]] = [(_is_null(array.node, value), exp.Null())]
        if common.is_double:
            branches.append((_call("isnan", value.copy()), _fails("contains() of NaN: run this query on Athena")))
        # Trino: true when found; else NULL when the array holds a NULL; else false
        branches += [
            (_call("list_contains", array.node.copy(), value.copy()), exp.true()),
            (
                exp.GT(this=_call("len", array.node.copy()), expression=_call("list_count", array.node.copy())),
                exp.Null(),
            ),
        ]
        return Typed(_cast(_case(*branches, default=exp.false()), BOOLEAN.duck), BOOLEAN)

    def _array_join(self, node: exp.ArrayToString, ctx: _Ctx) -> Typed:
        self._check_args(node, {"this", "expression", "null"})
        array = self._array_arg(node.this, ctx, "array_join")
        element = array.type.element
        if not (element.base in _JOINABLE or element.is_unknown):
            raise refuse(f"array_join() of {array.type}", "its elements' text differs between the engines")
        if not (isinstance(node.expression, exp.Literal) and node.expression.is_string):
            raise refuse("array_join() with a delimiter that is not a string literal")
        delimiter = self._text_arg(node.expression, ctx, "array_join").node
        item = exp.column("array_join_item")
        text: exp.Expr = _cast(item, VARCHAR.duck)
        nulls = [array.node, delimiter]
        if node.args.get("null") is not None:
            replacement = self._text_arg(node.args["null"], ctx, "array_join").node
            nulls.append(replacement)
            text = exp.Coalesce(this=text, expressions=[replacement.copy()])
        texts = _call("list_transform", array.node.copy(), exp.Lambda(this=text, expressions=[item.this]))
        # DuckDB skips NULL elements as Trino does, but answers NULL (Trino: '') when nothing is left
        joined = exp.Coalesce(this=_call("array_to_string", texts, delimiter.copy()), expressions=[_string("")])
        return Typed(_case((_is_null(*nulls), _cast(exp.Null(), "VARCHAR")), default=joined), VARCHAR)

    def _split(self, node: exp.Split, ctx: _Ctx) -> Typed:
        if node.args.get("limit") is not None:
            raise refuse("split() with a limit")
        self._check_args(node, {"this", "expression"})
        text = self._text_arg(node.this, ctx, "split").node
        delimiter = self._text_arg(node.expression, ctx, "split").node
        result = array_type(VARCHAR)
        value = _case(
            (_is_null(text, delimiter), exp.Null()),
            (
                exp.EQ(this=delimiter.copy(), expression=_string("")),
                _fails("split() with an empty delimiter: run this query on Athena"),
            ),
            default=_call("string_split", text.copy(), delimiter.copy()),
        )
        return Typed(_cast(value, result.duck), result)

    def _array_position(self, node: exp.ArrayPosition, ctx: _Ctx) -> Typed:
        self._check_args(node, {"this", "expression"})
        array = self._array_arg(node.this, ctx, "array_position")
        if array.type.element.is_array:
            raise refuse("array_position() of nested arrays", "Trino's equality of arrays with NULL elements")
        wanted = self._expr(node.expression, ctx)
        common = self._unify([Typed(exp.Null(), array.type.element), wanted], "array_position()")[1]
        if common.is_unknown:
            raise refuse("array_position() of NULL", "the type of a NULL literal argument is ambiguous")
        if common != array.type.element:
            array = Typed(_cast(array.node, array_type(common).duck), array_type(common))
        value = self._coerce(wanted, common).node
        branches: list[tuple[exp.Expr, exp.Expr]] = [
            (exp.Is(this=array.node.copy(), expression=exp.Null()), exp.Null()),
            # DuckDB finds a NULL element for a NULL value; Trino's answer there is not pinned down here
            (
                exp.Is(this=value.copy(), expression=exp.Null()),
                _fails("array_position() of NULL: run this query on Athena"),
            ),
        ]
        if common.is_double:
            branches.append((_call("isnan", value.copy()), _fails("array_position() of NaN: run this query on Athena")))
        found = exp.Coalesce(this=_call("list_position", array.node.copy(), value.copy()), expressions=[_number(0)])
        return Typed(_cast(_case(*branches, default=found), BIGINT.duck), BIGINT)

    def _array_extreme(self, node: exp.ArrayMax | exp.ArrayMin, ctx: _Ctx) -> Typed:
        name = "array_max" if isinstance(node, exp.ArrayMax) else "array_min"
        self._check_args(node, {"this"})
        array = self._array_arg(node.this, ctx, name)
        element = array.type.element
        if element.is_array or element.is_double or element.is_unknown or element.base == "json":
            raise refuse(f"{name}() of {array.type}", "NULL and NaN ordering differ between the engines")
        # Trino: NULL when any element is NULL (DuckDB skips NULLs); NULL for an empty array in both
        has_null = exp.GT(this=_call("len", array.node.copy()), expression=_call("list_count", array.node.copy()))
        extreme = _call("list_max" if name == "array_max" else "list_min", array.node.copy())
        return Typed(_cast(_case((has_null, exp.Null()), default=extreme), element.duck), element)

    def _slice(self, node: exp.ArraySlice, ctx: _Ctx) -> Typed:
        self._check_args(node, {"this", "start", "end"})
        array = self._array_arg(node.this, ctx, "slice")
        start = self._integer_arg(node.args["start"], ctx, "slice").node
        length = self._integer_arg(node.args["end"], ctx, "slice").node  # Trino's third argument is a length
        size = _call("len", array.node.copy())
        # a negative start counts from the end; a start before the first element gives an empty array
        first = _case(
            (exp.GT(this=start.copy(), expression=_number(0)), start.copy()),
            default=exp.Add(this=exp.Add(this=size, expression=start.copy()), expression=_number(1)),
        )
        last = exp.Sub(this=exp.Add(this=first.copy(), expression=length.copy()), expression=_number(1))
        value = _case(
            (_is_null(array.node, start, length), exp.Null()),
            (exp.EQ(this=start.copy(), expression=_number(0)), _fails("SQL array indices start at 1")),
            (exp.LT(this=length.copy(), expression=_number(0)), _fails("length must be greater than or equal to 0")),
            (exp.LT(this=first.copy(), expression=_number(1)), _cast(exp.Array(expressions=[]), array.type.duck)),
            default=_call("list_slice", array.node.copy(), first, last),
        )
        return Typed(_cast(value, array.type.duck), array.type)

    def _flatten(self, node: exp.Flatten, ctx: _Ctx) -> Typed:
        self._check_args(node, {"this"})
        array = self._array_arg(node.this, ctx, "flatten")
        if not array.type.element.is_array:
            raise invalid(f"flatten() needs an array of arrays, not {array.type}")
        # both engines skip NULL inner arrays
        return Typed(_cast(_call("flatten", array.node), array.type.element.duck), array.type.element)
