"""CAST and TRY_CAST: Trino's conversions between types, exact where DuckDB's differ."""

from __future__ import annotations

import re

from sqlglot import exp

from etl.athena.core import TranslatorCore
from etl.athena.functions.datetimes import padded_datetime_text
from etl.athena.parameters import _decimal_literal_type
from etl.athena.results import (
    BIGINT,
    BOOLEAN,
    DATE,
    DOUBLE,
    INTEGER,
    SMALLINT,
    TINYINT,
    UNKNOWN,
    VARCHAR,
    SqlType,
    decimal_type,
    timestamp_type,
)
from etl.athena.translation import (
    _CAST_TEXT_PATTERNS,
    Handlers,
    Typed,
    _call,
    _cast,
    _Ctx,
    _number,
    _string,
    _timestamp_text_pattern,
    invalid,
    refuse,
)


class Casts(TranslatorCore):
    """CAST and the conversions it and the other families use."""

    def _cast_handlers(self) -> Handlers:
        return {exp.Cast: self._cast_expr}

    def _target_type(self, data_type: exp.DataType) -> tuple[SqlType, int | None]:
        kind = data_type.this
        params = [int(p.this.name) for p in data_type.expressions if isinstance(p, exp.DataTypeParam)]
        simple = {
            exp.DType.BIGINT: BIGINT, exp.DType.INT: INTEGER, exp.DType.SMALLINT: SMALLINT,
            exp.DType.TINYINT: TINYINT, exp.DType.DOUBLE: DOUBLE, exp.DType.DATE: DATE,
            exp.DType.BOOLEAN: BOOLEAN,
        }
        if kind in simple and not params:
            return simple[kind], None
        if kind == exp.DType.DECIMAL:
            if not params:
                return decimal_type(38, 0), None
            return decimal_type(params[0], params[1] if len(params) > 1 else 0), None
        if kind in (exp.DType.VARCHAR, exp.DType.TEXT):
            return VARCHAR, (params[0] if params else None)
        if kind == exp.DType.TIMESTAMP:
            precision = params[0] if params else 3
            if precision > 6:
                raise refuse(f"timestamp({precision})", "the local engine keeps at most microseconds")
            return timestamp_type(precision), None
        raise refuse(f"CAST to {data_type.sql(dialect='trino')}")

    def _cast_expr(self, node: exp.Cast, ctx: _Ctx) -> Typed:
        self._check_args(node, {"this", "to", "_type"})
        target, length = self._target_type(node.args["to"])
        inner = node.this
        if (
            isinstance(inner, exp.Literal)
            and inner.is_string
            and target.is_decimal
            and inner.meta.get("start") in self._typed_literals
        ):
            text = inner.this.strip()
            if not re.fullmatch(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)", text):
                raise invalid(f"DECIMAL '{inner.this}' is not a decimal literal")
            literal_type = _decimal_literal_type(text.lstrip("+-"))
            return Typed(_cast(_string(text), literal_type.duck), literal_type)
        source = self._expr(inner, ctx)
        converted = self.convert(source, target)
        if length is not None:
            if source.type not in (VARCHAR, UNKNOWN):
                raise refuse(f"CAST({source.type} AS varchar({length}))")
            converted = Typed(_call("substring", converted.node, _number(1), _number(length)), VARCHAR)
        return converted

    def convert(self, source: Typed, target: SqlType) -> Typed:
        """An explicit CAST with Trino's semantics."""
        s, t = source.type, target
        if s == t:
            return source
        if s.is_unknown:
            return Typed(_cast(exp.Null(), t.duck), t)
        node = source.node
        if s == VARCHAR:
            return self._cast_from_text(source, t)
        if s.is_double:
            if t.is_integral:
                return Typed(_cast(_call("round", node), t.duck), t)
            if t.is_decimal:
                unscaled = _call("trino_double_unscaled", node, _number(t.scale))
                return Typed(self._from_unscaled(unscaled, t), t)
            if t == VARCHAR:
                raise refuse("CAST(double AS varchar)", "Java renders doubles differently (1.0E7)")
            if t == BOOLEAN:
                return Typed(exp.NEQ(this=node, expression=_number(0)), t)  # NaN too is not 0: true
            raise invalid(f"cannot cast double to {t}")
        if s.is_exact or s == BOOLEAN:
            if t.is_numeric or t in (VARCHAR, BOOLEAN):
                if s == BOOLEAN and t.is_decimal and t.precision == t.scale:
                    raise refuse(f"CAST(boolean AS {t})", "true (1) does not fit a decimal with no integer digits")
                if s.is_decimal and t == VARCHAR and s.precision == s.scale:
                    # DuckDB prints a decimal with no integer digits as '.0034'; Trino as '0.0034'.
                    text = _cast(node, "VARCHAR")
                    leading_zero = _string(r"\10.")  # RE2's \1 (the sign), then "0."
                    return Typed(_call("regexp_replace", text, _string(r"^(-?)\."), leading_zero), t)
                return Typed(_cast(node, t.duck), t)
            raise invalid(f"cannot cast {s} to {t}")
        if s == DATE:
            if t.base == "timestamp" or t == VARCHAR:
                return Typed(_cast(node, t.duck), t)
            raise invalid(f"cannot cast date to {t}")
        if s.base == "timestamp":
            if t == DATE:
                return Typed(_cast(node, "DATE"), t)
            if t.base == "timestamp":
                return self._retimed(source, t)
            if t == VARCHAR:
                if s.precision == 0:
                    return Typed(_call("strftime", node, _string("%Y-%m-%d %H:%M:%S")), VARCHAR)
                # Trino prints exactly p fraction digits: the microseconds, less their last 6 - p digits.
                printed = _call("strftime", node, _string("%Y-%m-%d %H:%M:%S.%f"))
                kept = exp.Sub(this=_call("length", printed), expression=_number(6 - s.precision))
                return Typed(_call("left", printed, kept), VARCHAR)
            raise invalid(f"cannot cast {s} to {t}")
        raise invalid(f"cannot cast {s} to {t}")

    @staticmethod
    def _retimed(source: Typed, target: SqlType) -> Typed:
        if target.precision >= source.type.precision:
            return Typed(source.node, target)
        rounding = {3: "TIMESTAMP_MS", 0: "TIMESTAMP_S"}
        if target.precision not in rounding:
            raise refuse(f"CAST({source.type} AS {target})")
        return Typed(_cast(_cast(source.node, rounding[target.precision]), "TIMESTAMP"), target)

    def _cast_from_text(self, source: Typed, target: SqlType) -> Typed:
        if target.is_integral:
            pattern, what = _CAST_TEXT_PATTERNS["integral"], str(target)
        elif target.is_decimal:
            pattern, what = _CAST_TEXT_PATTERNS["decimal"], str(target)
        elif target.is_double:
            pattern, what = _CAST_TEXT_PATTERNS["double"], "double"
        elif target == BOOLEAN:
            pattern, what = _CAST_TEXT_PATTERNS["boolean"], "boolean"
        elif target == DATE:
            pattern, what = _CAST_TEXT_PATTERNS["date"], "date"
        elif target.base == "timestamp":
            pattern, what = _timestamp_text_pattern(target.precision), str(target)
        else:
            raise invalid(f"cannot cast varchar to {target}")
        node = source.node
        if target == BOOLEAN:
            return self._text_to_boolean(node)
        if target.is_double:
            return self._text_to_double(node)
        if isinstance(node, exp.Literal) and node.is_string:
            if target == DATE or target.base == "timestamp":
                node = _string(padded_datetime_text(node.this))
            if not re.fullmatch(pattern, node.this):
                raise refuse(f"CAST('{node.this}' AS {what})", "only canonical text is cast locally")
            return Typed(_cast(node, target.duck), target)
        matches = _call("regexp_full_match", node, _string(pattern))
        checked = _call("trino_cast_check", node, matches, _cast(node, target.duck), _string(what))
        return Typed(_cast(checked, target.duck), target)


    @staticmethod
    def _text_to_boolean(node: exp.Expr) -> Typed:
        """Trino takes true/false/t/f/1/0 in any case, nothing else (no spaces)."""
        if isinstance(node, exp.Literal) and node.is_string:
            text = node.this.lower()
            if text in ("true", "t", "1"):
                return Typed(exp.true(), BOOLEAN)
            if text in ("false", "f", "0"):
                return Typed(exp.false(), BOOLEAN)
            raise refuse(f"CAST('{node.this}' AS boolean)", "Athena fails on it")
        lowered = _call("lower", node)
        value = exp.In(this=lowered, expressions=[_string("true"), _string("t"), _string("1")])
        matches = _call("regexp_full_match", node, _string(_BOOLEAN_TEXT))
        checked = _call("trino_cast_check", node, matches, _cast(value, "BOOLEAN"), _string("boolean"))
        return Typed(_cast(checked, "BOOLEAN"), BOOLEAN)

    @staticmethod
    def _text_to_double(node: exp.Expr) -> Typed:
        """Java's Double.parseDouble: also NaN and Infinity with a sign (case-sensitive); -NaN is NaN."""
        pattern = _DOUBLE_TEXT
        if isinstance(node, exp.Literal) and node.is_string:
            if not re.fullmatch(pattern, node.this):
                raise refuse(f"CAST('{node.this}' AS double)", "only canonical text is cast locally")
            text = "NaN" if node.this.lstrip("+-") == "NaN" else node.this
            return Typed(_cast(_string(text), "DOUBLE"), DOUBLE)
        # DuckDB keeps the sign of '-NaN'; Java's NaN has none.
        unsigned_nan = _call("regexp_replace", node, _string(r"^[+-]NaN$"), _string("NaN"))
        matches = _call("regexp_full_match", node, _string(pattern))
        checked = _call("trino_cast_check", node, matches, _cast(unsigned_nan, "DOUBLE"), _string("double"))
        return Typed(_cast(checked, "DOUBLE"), DOUBLE)


_BOOLEAN_TEXT = r"(?i:true|false|t|f|1|0)"
_DOUBLE_TEXT = r"[+-]?(([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?|NaN|Infinity)"
