"""Functions building an array from scalars: repeat(element, count) and sequence(start, stop[, step]).

Trino's repeat fails on a negative count and on a count above 100,000, and fails when the result of an
element held as a Java object (varchar, arrays, ...) takes more than 4 MB; a NULL element gives an array of
NULLs, a NULL count a NULL array. DuckDB has no such function for lists: the array is ``range(count)``
mapped to the element. Where the 4 MB limit could be near, the query fails asking to run it on Athena.

Trino's sequence of integers is an array(bigint) whose default step is 1 or -1 (toward the stop); it fails
on a zero step, on a step going away from the stop, and on more than 10,000 elements. DuckDB's
``generate_series`` gives the same elements. Sequences of dates and timestamps are refused.
"""

from __future__ import annotations

from sqlglot import exp

from etl.athena.core import TranslatorCore
from etl.athena.results import BIGINT, SqlType, array_type
from etl.athena.translation import Handlers, Typed, _call, _case, _cast, _Ctx, _number, _string, invalid, refuse

_MAX_COUNT = 100_000
_MAX_SEQUENCE = 10_000


def _primitive(element: SqlType) -> bool:
    """Types Trino holds as a Java long, double or boolean: no size limit applies to their repetition."""
    if element.is_decimal:
        return element.precision <= 18
    if element.base == "timestamp":
        return element.precision <= 6
    return element.is_integral or element.is_double or element.base in ("boolean", "date", "unknown")


class ArrayBuilderFunctions(TranslatorCore):
    """repeat() and sequence() as Trino computes them."""

    def _array_builder_handlers(self) -> Handlers:
        return {exp.Repeat: self._repeat, exp.GenerateSeries: self._sequence}

    def _repeat(self, node: exp.Repeat, ctx: _Ctx) -> Typed:
        self._check_args(node, {"this", "times"})
        element = self._expr(node.this, ctx)
        count = self._expr(node.args["times"], ctx)
        if count.type.is_unknown:
            count = self._coerce(count, BIGINT)
        if not count.type.is_integral:
            raise invalid(f"repeat() needs a bigint count, not {count.type}")
        times = _cast(count.node, BIGINT.duck)
        kind = element.type
        too_big: exp.Expr | None = None
        if kind.base == "varchar" and not kind.args:
            # a bound well under Trino's 4 MB: the bytes of the repeated text plus their offsets
            size = exp.Add(this=_call("octet_length", _call("encode", element.node.copy())), expression=_number(8))
            too_big = exp.GT(this=exp.Mul(this=times.copy(), expression=size), expression=_number(2_000_000))
        elif kind.is_array and _primitive(kind.element):
            size = exp.Add(this=_call("len", element.node.copy()), expression=_number(1))
            too_big = exp.GT(this=exp.Mul(this=times.copy(), expression=size), expression=_number(100_000))
        elif not _primitive(kind):
            raise refuse(f"repeat() of {kind}", "Trino limits the size of its result")
        i = exp.to_identifier("repeat_i", quoted=True)
        value = _call("list_transform", _call("range", times.copy()), exp.Lambda(this=element.node, expressions=[i]))
        branches: list[tuple[exp.Expr, exp.Expr]] = [
            (exp.Is(this=times.copy(), expression=exp.Null()), exp.Null()),
            (
                exp.GT(this=times.copy(), expression=_number(_MAX_COUNT)),
                _call("error", _string(f"count argument of repeat function must be at most {_MAX_COUNT}")),
            ),
            (
                exp.LT(this=times.copy(), expression=_number(0)),
                _call("error", _string("count argument of repeat function must be greater than or equal to 0")),
            ),
        ]
        if too_big is not None:
            branches.append((
                exp.Coalesce(this=too_big, expressions=[exp.false()]),
                _call("error", _string("repeat() of a large result: run this query on Athena")),
            ))
        result = array_type(kind)
        return Typed(_cast(_case(*branches, default=value), result.duck), result)

    def _sequence(self, node: exp.GenerateSeries, ctx: _Ctx) -> Typed:
        self._check_args(node, {"start", "end", "step"})
        names = [key for key in ("start", "end", "step") if node.args.get(key) is not None]
        bounds = [self._expr(node.args[key], ctx) for key in names]
        if any(b.type.is_temporal for b in bounds):
            raise refuse("sequence() of dates or timestamps")
        if not all(b.type.is_integral or b.type.is_unknown for b in bounds):
            raise invalid(f"sequence() takes bigint values, not {', '.join(str(b.type) for b in bounds)}")
        start, stop = (_cast(self._coerce(b, BIGINT).node, BIGINT.duck) for b in bounds[:2])
        if len(bounds) == 3:
            step: exp.Expr = _cast(self._coerce(bounds[2], BIGINT).node, BIGINT.duck)
        else:
            step = _case((exp.GTE(this=stop.copy(), expression=start.copy()), _number(1)), default=_number(-1))
        wrong_way = _case(
            (exp.GT(this=step.copy(), expression=_number(0)), exp.LT(this=stop.copy(), expression=start.copy())),
            default=exp.GT(this=stop.copy(), expression=start.copy()),
        )
        length = exp.Add(
            this=exp.IntDiv(this=exp.Sub(this=stop.copy(), expression=start.copy()), expression=step.copy()),
            expression=_number(1),
        )
        nulls = [exp.Is(this=n.copy(), expression=exp.Null()) for n in (start, stop, step)]
        any_null: exp.Expr = nulls[0]
        for other in nulls[1:]:
            any_null = exp.Or(this=any_null, expression=other)
        value = _case(
            (any_null, exp.Null()),
            (exp.EQ(this=step.copy(), expression=_number(0)), _call("error", _string("step must not be zero"))),
            (
                wrong_way,
                _call("error", _string(
                    "sequence stop value should be greater than or equal to start value if step is greater than zero"
                    " otherwise stop should be less than or equal to start"
                )),
            ),
            (
                exp.GT(this=length, expression=_number(_MAX_SEQUENCE)),
                _call("error", _string(f"result of sequence function must not have more than {_MAX_SEQUENCE} entries")),
            ),
            default=_call("generate_series", start.copy(), stop.copy(), step.copy()),
        )
        result = array_type(BIGINT)
        return Typed(_cast(value, result.duck), result)
