"""Date and time functions: extract and its shortcuts, date_trunc, date_add, date_diff, last_day_of_month."""

from __future__ import annotations

import re
from collections.abc import Callable

import sqlglot
from sqlglot import exp

from etl.athena.core import TranslatorCore
from etl.athena.functions.datetime_formats import joda_pattern_to_strftime, mysql_format_to_strftime
from etl.athena.results import BIGINT, DATE, VARCHAR, SqlType, common_super_type
from etl.athena.translation import (
    _DATE_PARTS,
    _DATE_UNITS,
    _EXTRACT_FIELDS,
    _TIME_UNITS,
    _UNIT_MILLIS,
    Handlers,
    Typed,
    _call,
    _cast,
    _Ctx,
    _number,
    _set,
    _string,
    _unit,
    invalid,
    refuse,
)

# Trino reads a date or timestamp's month, day, hour, minute and second with one or two digits
# (its DATETIME_PATTERN, and Joda's ISO date parser for dates); the local engine wants two.
_SHORT_DATETIME = re.compile(
    r"([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})(?: ([0-9]{1,2}):([0-9]{1,2})(?::([0-9]{1,2})(\.[0-9]+)?)?)?"
)


def padded_datetime_text(text: str) -> str:
    """'2001-1-2 3:04' as '2001-01-02 03:04': the same date or timestamp for Trino, in canonical form."""
    match = _SHORT_DATETIME.fullmatch(text)
    if match is None:
        return text
    year, month, day, hour, minute, second, fraction = match.groups()
    padded = f"{year}-{int(month):02d}-{int(day):02d}"
    if hour is not None:
        padded += f" {int(hour):02d}:{int(minute):02d}"
    if second is not None:
        padded += f":{int(second):02d}{fraction or ''}"
    return padded


# Joda's whole months and years from date s to date m (m >= s), as Trino counts them: a month short
# of its day-of-month does not count, unless m is its month's last day; a year compares days of the
# year, a Feb 29 on either side balanced against a year without one.
_MONTHS_FORWARD = (
    "((year({m}) - year({s})) * 12 + month({m}) - month({s}) "
    "- CASE WHEN day({m}) < day({s}) AND day({m}) <> day(last_day({m})) THEN 1 ELSE 0 END)"
)
_LEAP = "(({y}) % 4 = 0 AND (({y}) % 100 <> 0 OR ({y}) % 400 = 0))"
_YEARS_FORWARD = (
    "(year({m}) - year({s}) - CASE WHEN "
    "dayofyear({m}) - CASE WHEN dayofyear({s}) >= 60 AND NOT {leap_s} AND dayofyear({m}) >= 60 AND {leap_m} "
    "THEN 1 ELSE 0 END "
    "< dayofyear({s}) - CASE WHEN dayofyear({s}) >= 60 AND {leap_s} AND NOT {leap_m} THEN 1 ELSE 0 END "
    "THEN 1 ELSE 0 END)"
)


def _joda_date_difference(unit: str, start: exp.Expr, end: exp.Expr) -> exp.Expr:
    def forward(s: str, m: str) -> str:
        if unit == "month":
            return _MONTHS_FORWARD.format(s=s, m=m)
        leap_s, leap_m = _LEAP.format(y=f"year({s})"), _LEAP.format(y=f"year({m})")
        return _YEARS_FORWARD.format(s=s, m=m, leap_s=leap_s, leap_m=leap_m)

    s, m = (f"({node.sql(dialect='duckdb')})" for node in (start, end))
    text = f"CAST(CASE WHEN {m} >= {s} THEN {forward(s, m)} ELSE -{forward(m, s)} END AS BIGINT)"
    return sqlglot.parse_one(text, read="duckdb")


class DatetimeFunctions(TranslatorCore):
    """Date and time functions with Trino's types."""

    convert: Callable[[Typed, SqlType], Typed]  # Casts' (the Translator has both mixins)

    def _datetime_handlers(self) -> Handlers:
        return {
            exp.Extract: self._extract, exp.TimestampTrunc: self._date_trunc, exp.DateTrunc: self._date_trunc,
            exp.DateAdd: self._date_add, exp.DateDiff: self._date_diff, exp.LastDay: self._last_day,
            **{part: self._date_part for part in _DATE_PARTS},
            exp.TimeToStr: self._date_format, "format_datetime": self._format_datetime,
            "to_iso8601": self._to_iso8601, "millisecond": self._millisecond, "yow": self._year_of_week,
            exp.Date: self._date, exp.FromISO8601Date: self._from_iso8601_date,
        }

    def _year_of_week(self, node: exp.Anonymous, ctx: _Ctx) -> Typed:
        if len(node.expressions) != 1:
            raise invalid("yow() takes one argument")
        value = self._temporal_arg(node.expressions[0], ctx, "yow")
        return Typed(_call("isoyear", value.node), BIGINT)

    def _date(self, node: exp.Date, ctx: _Ctx) -> Typed:
        self._check_args(node, {"this"})
        return self.convert(self._expr(node.this, ctx), DATE)  # date(x) is CAST(x AS date)

    def _from_iso8601_date(self, node: exp.FromISO8601Date, ctx: _Ctx) -> Typed:
        self._check_args(node, {"this"})
        text = self._text_arg(node.this, ctx, "from_iso8601_date")
        calendar_date = r"[0-9]{4}-[0-9]{2}-[0-9]{2}"  # ISO's other forms (week dates, ordinal days) are refused
        if isinstance(text.node, exp.Literal):
            if not re.fullmatch(calendar_date, text.node.this):
                raise refuse(f"from_iso8601_date('{text.node.this}')", "only YYYY-MM-DD is read locally")
            return Typed(_cast(text.node, "DATE"), DATE)
        refusal = _string("refused locally: from_iso8601_date() of text that is not YYYY-MM-DD: "
                          "only YYYY-MM-DD is read locally; run this query on Athena")
        return Typed(
            exp.Case(
                ifs=[exp.If(this=exp.Or(this=exp.Is(this=text.node, expression=exp.Null()),
                                        expression=_call("regexp_full_match", text.node, _string(calendar_date))),
                            true=_cast(text.node, "DATE"))],
                default=_call("error", refusal),
            ),
            DATE,
        )

    def _formatted(self, value: Typed, strftime_format: str, name: str) -> Typed:
        """strftime of a date or timestamp, refused at run time for years Java prints differently."""
        moment = value.node if value.type != DATE else _cast(value.node, "TIMESTAMP")
        refusal = _string(f"refused locally: {name}() of a year outside 1000..9999: Java pads and signs it "
                          "differently; run this query on Athena")
        year = _call("year", moment)
        in_range = exp.Between(this=year, low=_number(1000), high=_number(9999))
        return Typed(
            exp.Case(
                ifs=[exp.If(this=exp.Or(this=exp.Is(this=moment, expression=exp.Null()), expression=in_range),
                            true=_call("strftime", moment, _string(strftime_format)))],
                default=_call("error", refusal),
            ),
            VARCHAR,
        )

    def _format_literal(self, node: exp.Expr | None, name: str) -> str:
        if not (isinstance(node, exp.Literal) and node.is_string):
            raise refuse(f"{name}() with a format that is not a string literal")
        return str(node.this)

    def _date_format(self, node: exp.TimeToStr, ctx: _Ctx) -> Typed:
        self._check_args(node, {"this", "format"})
        value = self._temporal_arg(node.this, ctx, "date_format")
        if value.type != DATE and value.type.precision > 3:
            raise refuse(f"date_format() of {value.type}")
        rewritten = self._format_literal(node.args.get("format"), "date_format")
        return self._formatted(value, mysql_format_to_strftime(rewritten, self._source_sql), "date_format")

    def _format_datetime(self, node: exp.Anonymous, ctx: _Ctx) -> Typed:
        if len(node.expressions) != 2:
            raise invalid("format_datetime() takes a timestamp and a format")
        value = self._temporal_arg(node.expressions[0], ctx, "format_datetime")
        if value.type == DATE or value.type.precision > 3:
            raise refuse(f"format_datetime() of {value.type}")
        pattern = self._format_literal(node.expressions[1], "format_datetime")
        return self._formatted(value, joda_pattern_to_strftime(pattern), "format_datetime")

    def _to_iso8601(self, node: exp.Anonymous, ctx: _Ctx) -> Typed:
        if len(node.expressions) != 1:
            raise invalid("to_iso8601() takes one argument")
        value = self._temporal_arg(node.expressions[0], ctx, "to_iso8601")
        if value.type == DATE:
            return self._formatted(value, "%Y-%m-%d", "to_iso8601")
        precision = value.type.precision
        text = self._formatted(value, "%Y-%m-%dT%H:%M:%S", "to_iso8601")
        if precision == 0:
            return text
        fraction = _call("substring", _call("strftime", value.node, _string("%f")), _number(1), _number(precision))
        return Typed(exp.DPipe(this=text.node, expression=exp.DPipe(this=_string("."), expression=fraction)), VARCHAR)

    def _millisecond(self, node: exp.Anonymous, ctx: _Ctx) -> Typed:
        if len(node.expressions) != 1:
            raise invalid("millisecond() takes one argument")
        value = self._temporal_arg(node.expressions[0], ctx, "millisecond", dates=False)
        # DuckDB's millisecond() counts the seconds' milliseconds too
        return Typed(_cast(exp.Mod(this=_call("millisecond", value.node), expression=_number(1000)), "BIGINT"), BIGINT)

    def _date_part(self, node: exp.Expr, ctx: _Ctx) -> Typed:
        duck_name, trino_name, dates = _DATE_PARTS[type(node)]
        self._check_args(node, {"this"})
        value = self._temporal_arg(node.this, ctx, trino_name, dates)
        return Typed(_call(duck_name, value.node), BIGINT)

    def _extract(self, node: exp.Extract, ctx: _Ctx) -> Typed:
        field_name = _unit(node.this)
        if field_name not in _EXTRACT_FIELDS:
            raise refuse(f"EXTRACT({field_name.upper()} FROM ...)")
        duck_name, dates = _EXTRACT_FIELDS[field_name]
        value = self._temporal_arg(node.expression, ctx, f"extract({field_name})", dates)
        return Typed(_call(duck_name, value.node), BIGINT)

    def _date_trunc(self, node: exp.TimestampTrunc | exp.DateTrunc, ctx: _Ctx) -> Typed:
        if node.args.get("zone") is not None:
            raise refuse("date_trunc with a time zone")
        unit = _unit(node.args.get("unit"))
        value = self._temporal_arg(node.this, ctx, "date_trunc")
        if unit == "millisecond" and value.type != DATE:
            if value.type.precision <= 3:
                return value
            return Typed(_cast(_call("date_trunc", _string(unit), value.node), value.type.duck), value.type)
        allowed = _DATE_UNITS if value.type == DATE else (*_DATE_UNITS, "hour", "minute", "second")
        if unit not in allowed:
            raise refuse(f"date_trunc('{unit}', {value.type})")
        return Typed(_cast(_call("date_trunc", _string(unit), value.node), value.type.duck), value.type)

    def _date_add(self, node: exp.DateAdd, ctx: _Ctx) -> Typed:
        unit = _unit(node.args.get("unit"))
        value = self._temporal_arg(node.this, ctx, "date_add")
        allowed = _DATE_UNITS if value.type == DATE else (*_DATE_UNITS, *_TIME_UNITS)
        if unit not in allowed:
            raise (
                invalid(f"date_add('{unit}', ...) is not defined for {value.type}")
                if unit in _TIME_UNITS
                else refuse(f"date_add('{unit}', ...)")
            )
        amount = self._integer_arg(node.expression, ctx, "date_add")
        return self._shifted(value, amount.node, unit)

    def _date_diff(self, node: exp.DateDiff, ctx: _Ctx) -> Typed:
        unit = _unit(node.args.get("unit"))
        end = self._temporal_arg(node.this, ctx, "date_diff")
        start = self._temporal_arg(node.expression, ctx, "date_diff")
        if end.type == DATE and start.type == DATE:
            if unit in ("month", "year"):
                return Typed(_joda_date_difference(unit, start.node, end.node), BIGINT)
            if unit not in ("day", "week"):
                raise refuse(f"date_diff('{unit}', date, date)", "quarter differences follow Joda rules")
            days = _call("date_diff", _string("day"), start.node, end.node)
            return Typed(days if unit == "day" else _call("trino_idiv", days, _number(7)), BIGINT)
        if unit not in _UNIT_MILLIS:
            raise refuse(
                f"date_diff('{unit}', timestamp, timestamp)",
                "month/quarter/year differences follow Joda rules",
            )
        common = common_super_type(end.type, start.type)
        assert common is not None
        if common.precision > 3:
            raise refuse(
                f"date_diff on {common}", "sub-millisecond timestamps are not supported by the local engine"
            )
        millis = exp.Sub(
            this=_call("epoch_ms", self._coerce(end, common).node),
            expression=_call("epoch_ms", self._coerce(start, common).node),
        )
        return Typed(
            _call("trino_idiv", exp.Paren(this=millis), _cast(_number(_UNIT_MILLIS[unit]), "BIGINT")), BIGINT
        )

    def _last_day(self, node: exp.LastDay, ctx: _Ctx) -> Typed:
        if any(_set(v) for k, v in node.args.items() if k != "this"):
            raise refuse("last_day_of_month with a unit")
        value = self._temporal_arg(node.this, ctx, "last_day_of_month")
        return Typed(_call("last_day", value.node), DATE)

