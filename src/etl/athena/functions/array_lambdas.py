"""Array functions taking a lambda: transform, filter, reduce, any_match, all_match and none_match.

A Trino lambda ``x -> expr`` becomes a DuckDB lambda whose body is translated by the same translator: the
bound variables are columns of a scope of their own (so they shadow the query's columns, as in Trino) and
are renamed to names no query column can take. What DuckDB does differently:

* its ``list_filter`` keeps the elements whose predicate is true, as Trino does, but the predicate's type is
  not checked: Trino rejects a lambda that does not return a boolean;
* Trino's any_match/all_match/none_match are three-valued (NULL when no element decides and some predicate
  is NULL), which DuckDB has no function for;
* Trino's reduce infers its state type from the initial value and the lambda's result (widening the state
  once when the lambda returns a wider type, rejecting a narrower one), and NULL for a NULL array even
  when the output lambda would map NULL to a value.
"""

from __future__ import annotations

import dataclasses

from sqlglot import exp

from etl.athena.core import TranslatorCore
from etl.athena.results import BOOLEAN, SqlType, array_type, common_super_type, scalar_or_array
from etl.athena.translation import (
    Handlers,
    OutputColumn,
    Typed,
    _call,
    _case,
    _cast,
    _Ctx,
    _is_null,
    _list_has_null,
    _Relation,
    _Scope,
    invalid,
    refuse,
)


def _bound(body: exp.Expr, names: set[str], alias: str) -> exp.Expr:
    """The lambda body with its variables as columns of the lambda's own relation: sqlglot's parser leaves
    them bare identifiers (a nested lambda binding the same name shadows them)."""
    if isinstance(body, exp.Identifier):
        if body.name.lower() in names:
            return exp.column(exp.to_identifier(body.name.lower()), table=exp.to_identifier(alias))
        return body
    if isinstance(body, exp.Lambda):
        inner = names - {param.name.lower() for param in body.expressions}
        body.set("this", _bound(body.this, inner, alias))
        return body
    if isinstance(body, (exp.Column, exp.Dot, exp.DataType, exp.Table)):
        return body
    for key, value in list(body.args.items()):
        if isinstance(value, exp.Expr):
            body.set(key, _bound(value, names, alias))
        elif isinstance(value, list):
            body.set(key, [_bound(v, names, alias) if isinstance(v, exp.Expr) else v for v in value])
    return body


def _renamed(node: exp.Expr, alias: str, renamed: dict[str, exp.Expr]) -> exp.Expr:
    """The translated body with the lambda's columns as the DuckDB lambda's variables, slot by slot (the
    handlers may put one node in several places)."""
    if isinstance(node, exp.Column):
        if node.table == alias:
            return renamed[node.name].copy()
        return node
    for key, value in list(node.args.items()):
        if isinstance(value, exp.Expr):
            node.set(key, _renamed(value, alias, renamed))
        elif isinstance(value, list):
            node.set(key, [_renamed(v, alias, renamed) if isinstance(v, exp.Expr) else v for v in value])
    return node


class ArrayLambdaFunctions(TranslatorCore):
    """Trino's higher-order array functions over DuckDB's list lambdas."""

    def _array_lambda_handlers(self) -> Handlers:
        return {
            exp.Transform: self._transform, exp.ArrayFilter: self._filter, exp.Reduce: self._reduce,
            "any_match": self._match, "all_match": self._match, "none_match": self._match,
            "zip_with": self._zip_with,
        }

    # --- the lambda itself -----------------------------------------------------------------------
    def _lambda(
        self, node: exp.Expr, ctx: _Ctx, types: list[SqlType], name: str, values: list[exp.Expr] | None = None
    ) -> tuple[exp.Lambda, SqlType]:
        """The DuckDB lambda of a Trino lambda whose arguments have these types, and its result type; with
        ``values``, its body reads these expressions in place of its arguments."""
        if not isinstance(node, exp.Lambda):
            raise invalid(f"{name}() needs a lambda expression, not {node.sql(dialect='trino')}")
        names = [param.name.lower() for param in node.expressions]
        if len(names) != len(types):
            raise invalid(f"{name}() needs a lambda of {len(types)} argument(s), not {len(names)}")
        if len(set(names)) != len(names):
            raise invalid(f"lambda arguments of {name}() repeat a name")
        if node.this.find(exp.Select, exp.Subquery) is not None:
            raise refuse(f"a subquery inside the lambda of {name}()")
        self._aliases += 1
        alias = f"lambda_{self._aliases}"
        relation = _Relation(alias, [OutputColumn(n, t) for n, t in zip(names, types, strict=True)])
        scope = _Scope(relations=[relation], parent=ctx.scope, ctes=ctx.scope.ctes)
        body = self._expr(_bound(node.this.copy(), set(names), alias), dataclasses.replace(ctx, scope=scope))
        params = [exp.to_identifier(f"{alias}_{i}", quoted=True) for i in range(len(names))]
        if values is None:
            values = [exp.column(param) for param in params]
        value = _renamed(body.node, alias, dict(zip(names, values, strict=True)))
        return exp.Lambda(this=value, expressions=params), body.type

    # --- the functions ----------------------------------------------------------------------------
    def _transform(self, node: exp.Transform, ctx: _Ctx) -> Typed:
        self._check_args(node, {"this", "expression"})
        array = self._array_arg(node.this, ctx, "transform")
        function, element = self._lambda(node.expression, ctx, [array.type.element], "transform")
        if element.is_unknown:
            raise refuse("transform() with a lambda returning NULL", "its element type is ambiguous")
        if not scalar_or_array(element):
            raise refuse(f"transform() to {array_type(element)}")
        result = array_type(element)
        return Typed(_cast(_call("list_transform", array.node, function), result.duck), result)

    def _predicate(self, node: exp.Expr, ctx: _Ctx, array: Typed, name: str) -> exp.Lambda:
        function, result = self._lambda(node, ctx, [array.type.element], name)
        if result.is_unknown:
            raise refuse(f"{name}() with a lambda returning NULL")
        if result != BOOLEAN:
            raise invalid(f"the lambda of {name}() must return a boolean, not {result}")
        return function

    def _filter(self, node: exp.ArrayFilter, ctx: _Ctx) -> Typed:
        self._check_args(node, {"this", "expression"})
        array = self._array_arg(node.this, ctx, "filter")
        predicate = self._predicate(node.expression, ctx, array, "filter")
        # both keep the elements whose predicate is true (not false, not NULL), in order
        return Typed(_cast(_call("list_filter", array.node, predicate), array.type.duck), array.type)

    def _match(self, node: exp.Anonymous, ctx: _Ctx) -> Typed:
        name = node.name.lower()
        if len(node.expressions) != 2:
            raise invalid(f"{name}() takes an array and a lambda")
        array = self._array_arg(node.expressions[0], ctx, name)
        predicate = self._predicate(node.expressions[1], ctx, array, name)
        results = _call("list_transform", array.node, predicate)
        deciding, decided = (exp.true(), exp.true()) if name == "any_match" else (exp.false(), exp.false())
        if name == "none_match":
            deciding = exp.true()
        # an element deciding the answer wins; else NULL when a predicate was NULL; else the default
        value = _case(
            (_is_null(results), exp.Null()),
            (_call("list_contains", results.copy(), deciding), decided),
            (_list_has_null(results), exp.Null()),
            default=exp.false() if name == "any_match" else exp.true(),
        )
        return Typed(_cast(value, BOOLEAN.duck), BOOLEAN)

    def _reduce(self, node: exp.Reduce, ctx: _Ctx) -> Typed:
        self._check_args(node, {"this", "initial", "merge", "finish"})
        if node.args.get("finish") is None:
            raise invalid("reduce() takes an array, an initial state, an input function and an output function")
        array = self._array_arg(node.this, ctx, "reduce")
        initial = self._expr(node.args["initial"], ctx)
        state = initial.type
        if state.is_unknown:
            raise refuse("reduce() from a NULL initial state", "the type of a NULL literal argument is ambiguous")
        element = array.type.element
        bound, placeholders = len(self._bound), self._placeholders
        for _ in range(3):
            # a second try translates the input function again: forget the parameters the first one bound
            del self._bound[bound:]
            self._placeholders = placeholders
            merge, returned = self._lambda(node.args["merge"], ctx, [state, element], "reduce")
            if returned == state:
                break
            wider = common_super_type(state, returned)
            plain = all((t.is_integral or t.is_double) for t in (state, returned))
            if wider == state and plain:
                raise invalid(f"reduce()'s input function returns {returned}, not its state type {state}")
            if wider is None or not plain or not scalar_or_array(wider):
                raise refuse(f"reduce() with a state of {state} and an input function returning {returned}")
            state = wider
        else:
            raise refuse(f"reduce() with a state of {state} and an input function returning {returned}")
        if not scalar_or_array(state):
            raise refuse(f"reduce() with a state of {state}")
        start = self._coerce(initial, state).node
        merge.set("this", _cast(merge.this, state.duck))
        reduced = _call("list_reduce", array.node, merge, _cast(start, state.duck))
        finish, result = self._lambda(node.args["finish"], ctx, [state], "reduce")
        if result.is_unknown or not scalar_or_array(result):
            raise refuse(f"reduce() with an output function returning {result}")
        # the output function applied to the state: a one-element list mapped through it
        applied = _call("list_transform", exp.Array(expressions=[reduced]), finish)
        finished = _call("list_extract", applied, exp.Literal.number(1))
        value = _case((_is_null(array.node), exp.Null()), default=finished)
        return Typed(_cast(value, result.duck), result)

    def _zip_with(self, node: exp.Anonymous, ctx: _Ctx) -> Typed:
        if len(node.expressions) != 3:
            raise invalid("zip_with() takes two arrays and a lambda")
        left, right = (self._array_arg(n, ctx, "zip_with") for n in node.expressions[:2])
        self._aliases += 1
        i = exp.column(exp.to_identifier(f"zip_{self._aliases}", quoted=True))
        # Trino pads the shorter array with NULLs: DuckDB's subscript past the end is NULL
        items: list[exp.Expr] = [_call("list_extract", array.node.copy(), i.copy()) for array in (left, right)]
        function, element = self._lambda(
            node.expressions[2], ctx, [left.type.element, right.type.element], "zip_with", values=items
        )
        if element.is_unknown or not scalar_or_array(element):
            raise refuse(f"zip_with() to {array_type(element)}")
        size = exp.Greatest(this=_call("len", left.node.copy()), expressions=[_call("len", right.node.copy())])
        positions = _call("range", exp.Literal.number(1), exp.Add(this=size, expression=exp.Literal.number(1)))
        mapped = _call("list_transform", positions, exp.Lambda(this=function.this, expressions=[i.this]))
        value = _case(
            (exp.Or(this=_is_null(left.node), expression=_is_null(right.node)), exp.Null()), default=mapped
        )
        result = array_type(element)
        return Typed(_cast(value, result.duck), result)
