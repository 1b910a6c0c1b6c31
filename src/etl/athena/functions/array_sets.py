"""Array functions with set semantics: array_distinct, array_union, array_intersect, array_except,
arrays_overlap, array_remove, and array_sort.

Trino compares elements with its IDENTICAL operator (a NULL element matches a NULL element, arrays match
element by element) and keeps the order of first occurrences; DuckDB's ``list_distinct`` drops NULLs and
does not keep the order, and ``list_intersect`` neither, so each function is written with ``list_filter``
and ``list_position`` (which finds a NULL element, and compares nested lists element by element, as
Trino's IDENTICAL does). The orders Trino returns:

* array_distinct, array_union (left then right), array_except (left): first occurrences;
* array_intersect: the first occurrences in the LONGER array (the left one on a tie) of the elements also
  in the other one;
* array_except returns the left array untouched (duplicates kept) when either array is empty;
* arrays_overlap: true on a common non-NULL element, else NULL when either array holds a NULL, else false
  (false too when either array is empty);
* array_remove keeps NULL elements; array_sort puts NULLs last.

Doubles: Trino's IDENTICAL on NaN and on -0.0 is not pinned down here, so a double array holding one fails
the query rather than risk a wrong answer.
"""

from __future__ import annotations

from sqlglot import exp

from etl.athena.core import TranslatorCore
from etl.athena.results import BOOLEAN, SqlType, array_type, scalar_or_array
from etl.athena.translation import (
    Handlers,
    Typed,
    _call,
    _case,
    _cast,
    _Ctx,
    _is_null,
    _list_has_null,
    _number,
    _string,
    refuse,
)


def _len(node: exp.Expr) -> exp.Expr:
    return _call("len", node.copy())


def _holds_double(element: SqlType) -> bool:
    return _holds_double(element.element) if element.is_array else element.is_double


class ArraySetFunctions(TranslatorCore):
    """Trino's set-like array functions, keeping its element order and NULL handling."""

    def _array_set_handlers(self) -> Handlers:
        return {
            exp.ArrayDistinct: self._array_distinct, exp.ArrayIntersect: self._array_intersect,
            "array_union": self._array_union, exp.ArrayExcept: self._array_except,
            "arrays_overlap": self._arrays_overlap, exp.ArrayRemove: self._array_remove,
            exp.ArraySort: self._array_sort,
        }

    # --- helpers -----------------------------------------------------------------------------------
    def _set_array(self, node: exp.Expr, ctx: _Ctx, name: str, unknown: bool = False) -> Typed:
        typed = self._array_arg(node, ctx, name)
        element = typed.type.element
        if element.is_unknown and not unknown:
            raise refuse(f"{name}() of {typed.type}")
        if element.is_array and _holds_double(element):
            raise refuse(f"{name}() of {typed.type}", "Trino's identity of NaN and -0.0 inside arrays")
        return typed

    def _set_arrays(self, nodes: list[exp.Expr], ctx: _Ctx, name: str) -> tuple[Typed, Typed]:
        if len(nodes) != 2:
            raise refuse(f"{name}() of {len(nodes)} argument(s)")
        # an array of NULLs (ARRAY[] too) takes the other array's element type
        left, right = (self._set_array(n, ctx, name, unknown=True) for n in nodes)
        if left.type != right.type:
            common = self._unify([Typed(exp.Null(), left.type), Typed(exp.Null(), right.type)], f"{name}()")[1]
            if not scalar_or_array(common.element) or _holds_double(common.element) != common.element.is_double:
                raise refuse(f"{name}() of {left.type} and {right.type}")
            left, right = self._coerce(left, common), self._coerce(right, common)
        if left.type.element.is_unknown:
            raise refuse(f"{name}() of {left.type}")
        return left, right

    def _set_variable(self) -> exp.Column:
        self._aliases += 1
        return exp.column(exp.to_identifier(f"set_{self._aliases}", quoted=True))

    def _set_guarded(self, value: exp.Expr, element: SqlType, *arrays: exp.Expr, name: str) -> exp.Expr:
        """Fail on a NaN or -0.0 element of a double array, whose identity in Trino is not pinned down."""
        if not element.is_double:
            return value
        branches = []
        for array in arrays:
            x = self._set_variable()
            odd = exp.Or(
                this=_call("isnan", x.copy()),
                expression=exp.And(
                    this=exp.EQ(this=x.copy(), expression=_number(0)), expression=_call("signbit", x.copy())
                ),
            )
            found = exp.GT(this=_len(_call("list_filter", array, exp.Lambda(this=odd, expressions=[x.this]))),
                           expression=_number(0))
            branches.append((found, _call("error", _string(f"{name}() of NaN or -0.0: run this query on Athena"))))
        return _case(*branches, default=value)

    def _set_first_occurrences(
        self, array: exp.Expr, extra: exp.Expr | None = None, x: exp.Column | None = None
    ) -> exp.Expr:
        """The elements of ``array`` at their first occurrence (and meeting ``extra``, over ``x``), in order."""
        x = x or self._set_variable()
        i = self._set_variable()
        first: exp.Expr = exp.EQ(this=_call("list_position", array.copy(), x.copy()), expression=i.copy())
        if extra is not None:
            first = exp.And(this=first, expression=extra)
        return _call("list_filter", array.copy(), exp.Lambda(this=first, expressions=[x.this, i.this]))

    @staticmethod
    def _set_found(array: exp.Expr, x: exp.Column) -> exp.Expr:
        return exp.Not(this=exp.Is(this=_call("list_position", array.copy(), x.copy()), expression=exp.Null()))

    # --- the functions ----------------------------------------------------------------------------
    def _array_distinct(self, node: exp.ArrayDistinct, ctx: _Ctx) -> Typed:
        self._check_args(node, {"this"})
        array = self._set_array(node.this, ctx, "array_distinct")
        value = self._set_guarded(self._set_first_occurrences(array.node), array.type.element, array.node,
                              name="array_distinct")
        return Typed(_cast(value, array.type.duck), array.type)

    def _array_union(self, node: exp.Anonymous, ctx: _Ctx) -> Typed:
        left, right = self._set_arrays(list(node.expressions), ctx, "array_union")
        both = _call("list_concat", left.node, right.node)
        value = _case(
            (_is_null(left.node, right.node), exp.Null()),
            default=self._set_guarded(self._set_first_occurrences(both), left.type.element, both, name="array_union"),
        )
        return Typed(_cast(value, left.type.duck), left.type)

    def _array_intersect(self, node: exp.ArrayIntersect, ctx: _Ctx) -> Typed:
        self._check_args(node, {"expressions"})
        left, right = self._set_arrays(list(node.expressions), ctx, "array_intersect")

        def kept(longer: exp.Expr, shorter: exp.Expr) -> exp.Expr:
            x = self._set_variable()
            return self._set_first_occurrences(longer, self._set_found(shorter, x), x)

        # Trino walks the longer array (the left one on a tie), keeping what the shorter one holds
        value = _case(
            (_is_null(left.node, right.node), exp.Null()),
            (exp.LT(this=_len(left.node), expression=_len(right.node)), kept(right.node, left.node)),
            default=kept(left.node, right.node),
        )
        value = self._set_guarded(value, left.type.element, left.node, right.node, name="array_intersect")
        return Typed(_cast(value, left.type.duck), left.type)

    def _array_except(self, node: exp.ArrayExcept, ctx: _Ctx) -> Typed:
        self._check_args(node, {"this", "expression"})
        left, right = self._set_arrays([node.this, node.expression], ctx, "array_except")
        x = self._set_variable()
        missing = exp.Is(this=_call("list_position", right.node.copy(), x.copy()), expression=exp.Null())
        empty = exp.Or(
            this=exp.EQ(this=_len(left.node), expression=_number(0)),
            expression=exp.EQ(this=_len(right.node), expression=_number(0)),
        )
        value = _case(
            (_is_null(left.node, right.node), exp.Null()),
            (empty, left.node.copy()),
            default=self._set_first_occurrences(left.node, missing, x),
        )
        value = self._set_guarded(value, left.type.element, left.node, right.node, name="array_except")
        return Typed(_cast(value, left.type.duck), left.type)

    def _arrays_overlap(self, node: exp.Anonymous, ctx: _Ctx) -> Typed:
        left, right = self._set_arrays(list(node.expressions), ctx, "arrays_overlap")
        x = self._set_variable()
        common = exp.And(this=exp.Not(this=exp.Is(this=x.copy(), expression=exp.Null())),
                         expression=self._set_found(right.node, x))
        shared = _call("list_filter", left.node.copy(), exp.Lambda(this=common, expressions=[x.this]))
        value = _case(
            (_is_null(left.node, right.node), exp.Null()),
            (
                exp.Or(
                    this=exp.EQ(this=_len(left.node), expression=_number(0)),
                    expression=exp.EQ(this=_len(right.node), expression=_number(0)),
                ),
                exp.false(),
            ),
            (exp.GT(this=_len(shared), expression=_number(0)), exp.true()),
            (exp.Or(this=_list_has_null(left.node), expression=_list_has_null(right.node)), exp.Null()),
            default=exp.false(),
        )
        value = self._set_guarded(value, left.type.element, left.node, right.node, name="arrays_overlap")
        return Typed(_cast(value, BOOLEAN.duck), BOOLEAN)

    def _array_remove(self, node: exp.ArrayRemove, ctx: _Ctx) -> Typed:
        self._check_args(node, {"this", "expression", "null_propagation"})
        array = self._set_array(node.this, ctx, "array_remove")
        element = array.type.element
        if element.is_array:
            raise refuse("array_remove() of nested arrays", "Trino fails on arrays holding NULLs")
        wanted = self._expr(node.expression, ctx)
        common = self._unify([Typed(exp.Null(), element), wanted], "array_remove()")[1]
        if common.is_unknown:
            raise refuse("array_remove() of NULL", "the type of a NULL literal argument is ambiguous")
        if common != element:
            array = self._coerce(array, array_type(common))
        value = self._coerce(wanted, common).node
        x = self._set_variable()
        # Trino keeps NULL elements and the elements not equal to the value (a NaN equals nothing)
        keep: exp.Expr = exp.Or(
            this=exp.Is(this=x.copy(), expression=exp.Null()),
            expression=exp.NEQ(this=x.copy(), expression=value.copy()),
        )
        if common.is_double:
            keep = exp.Or(this=keep, expression=_call("isnan", x.copy()))
        kept = _call("list_filter", array.node.copy(), exp.Lambda(this=keep, expressions=[x.this]))
        result = _case((_is_null(array.node, value), exp.Null()), default=kept)
        return Typed(_cast(result, array.type.duck), array.type)

    def _array_sort(self, node: exp.ArraySort, ctx: _Ctx) -> Typed:
        if node.args.get("expression") is not None:
            raise refuse("array_sort() with a comparator lambda")
        self._check_args(node, {"this", "nulls_first"})  # the parser's nulls_first is not Trino's syntax
        array = self._set_array(node.this, ctx, "array_sort")
        element = array.type.element
        inner = element.element if element.is_array else element
        if inner.is_array or inner.is_double or inner.base in ("json", "varbinary"):
            raise refuse(f"array_sort() of {array.type}", "the engines order its elements differently")
        # ascending, NULLs last, in both; arrays element by element, a prefix first
        value: exp.Expr = _call("list_sort", array.node, _string("ASC"), _string("NULLS LAST"))
        if element.is_array:
            # Trino's ordering of arrays holding NULLs is not pinned down here
            y = self._set_variable()
            holed = exp.And(
                this=exp.Not(this=exp.Is(this=y.copy(), expression=exp.Null())), expression=_list_has_null(y)
            )
            found = _call("list_filter", array.node.copy(), exp.Lambda(this=holed, expressions=[y.this]))
            value = _case(
                (
                    exp.GT(this=_len(found), expression=_number(0)),
                    _call("error", _string("array_sort() of arrays holding NULLs: run this query on Athena")),
                ),
                default=value,
            )
        return Typed(_cast(value, array.type.duck), array.type)
