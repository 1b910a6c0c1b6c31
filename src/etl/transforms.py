"""Pure DataFrame transforms of the pipeline: DataFrame in, DataFrame out, no I/O.

Validation runs on the JSON text of each line with the explicit schema derived from the
dataset contract (never inference). A line that fails gets one reason, the first rule it
breaks; lines that pass are typed records. Normalization removes PII, parses dates, trims
strings, derives partitions and keeps the latest record per primary key.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Iterable, Sequence

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from etl.contracts import Contract, Field, decimal_precision
from etl.native import interpreted, line_gate, meets_contract, parsing_bytes

CORRUPT = "_corrupt_record"
VALUE = "value"
LINE_ORDER = "line_order"
REASON = "reason"
# The reason classify(hold=True) gives a line that it leaves to the full check (see classify).
HELD = "held for the full check"
# A file is classified with hold when at most this share of its first lines look held (see mostly_plain).
HELD_SHARE_UP_TO = 0.02
INGESTED_AT = "ingested_at"
RUN_ID = "run_id"

_SPARK_TYPES: dict[str, T.DataType] = {
    "boolean": T.BooleanType(),
    "int": T.IntegerType(),
    "bigint": T.LongType(),
    "double": T.DoubleType(),
    "string": T.StringType(),
    "date": T.StringType(),  # sent as text in the contract's date_format; parsed by normalize
    "timestamp": T.StringType(),  # sent as text in the field's format; parsed by normalize
}
TEXT_TYPES = ("string", "date", "timestamp")  # sent as JSON strings
NUMBER_TYPES = ("int", "bigint", "double")  # and decimal(p,s)
_JAVA_DATE_PATTERN_TO_REGEX = {"yyyy": r"\d{4}", "MM": r"\d{2}", "dd": r"\d{2}"}
_FIXED_WIDTH_DATE = re.compile(r"(yyyy|MM|dd|[^A-Za-z'])*")  # only those tokens, and literal separators
_BLANK_LINE = r"^\ufeff?[ \t\r\n]*$"  # after a byte order mark, if the line starts with one
# Strict JSON: Spark's parser would otherwise accept 'single-quoted' names and strings. NaN and
# Infinity stay readable so that they are reported as "not a finite number".
_JSON_OPTIONS = {"allowSingleQuotes": "false"}
_PERMISSIVE = {**_JSON_OPTIONS, "mode": "PERMISSIVE", "columnNameOfCorruptRecord": CORRUPT}
# Text that Spark's string conversion may have produced from a JSON number, boolean, object or array.
_NON_STRING_TEXT: dict[str, T.DataType] = {
    r"^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$": T.DoubleType(),
    r"^(true|false)$": T.BooleanType(),
    r"^\{": T.MapType(T.StringType(), T.StringType()),
    r"^\[": T.ArrayType(T.StringType()),
}
_NON_STRING_FIRST_CHARACTERS = ("-", *"0123456789", "t", "f", "{", "[")
# The byte-level tests' verdict on a line: not plain (0), plain (_plainly_one_object), or plain with its strings
# sent as strings (_strings_sent_as_strings); kept in the column _GATE when the full check reads it for most lines.
_GATE, _PLAIN, _TYPED = "_gate", 1, 2


def input_type(field: Field) -> T.DataType:
    precision = decimal_precision(field.type)
    return T.DecimalType(*precision) if precision else _SPARK_TYPES[field.type]


def processed_type(field: Field) -> T.DataType:
    """A field's type in the processed zone: dates and timestamps parsed (timestamps without time zone)."""
    return {"date": T.DateType(), "timestamp": T.TimestampNTZType()}.get(field.type) or input_type(field)


def input_schema(contract: Contract) -> T.StructType:
    """Schema for reading one landing line: the contract's fields as sent, plus the corrupt-line column."""
    fields = [T.StructField(f.name, input_type(f), True) for f in contract.fields]
    return T.StructType([*fields, T.StructField(CORRUPT, T.StringType(), True)])


def raw_schema(contract: Contract) -> T.StructType:
    """Schema of the raw zone (Parquet): typed input fields, ingestion time and line order."""
    fields = [T.StructField(f.name, input_type(f), True) for f in contract.fields]
    return T.StructType(
        [*fields, T.StructField(INGESTED_AT, T.TimestampType(), True), T.StructField(LINE_ORDER, T.LongType(), True)]
    )


def processed_schema(contract: Contract) -> T.StructType:
    """Schema of the processed zone including its partition columns."""
    fields = [
        T.StructField(f.name, processed_type(f), True) for f in contract.published_fields
    ]
    lineage = [T.StructField(RUN_ID, T.StringType(), True), T.StructField(INGESTED_AT, T.TimestampNTZType(), True)]
    partitions = [T.StructField(p.name, T.StringType(), True) for p in contract.partition_columns]
    return T.StructType([*fields, *lineage, *partitions])


def prepare_lines(lines: DataFrame) -> DataFrame:
    """Drop a UTF-8 byte order mark and mark blank lines (they hold no record).

    A line is blank when it holds only JSON whitespace (space, tab, CR, LF): a line of tabs is
    blank too, not a record with every field missing.
    """
    # Byte-level tests first: a regular expression decodes every line into a Java string. Both columns are
    # computed from the line as read, in one projection (each projection copies the line once more).
    text = F.col(VALUE)
    value = F.when(text.startswith("\ufeff"), F.substring(text, 2, 1 << 30)).otherwise(text)
    blank = F.when(text.startswith("{"), F.lit(False)).otherwise(text.rlike(_BLANK_LINE))
    return lines.withColumns({VALUE: value, "is_blank": blank})


def classify(lines: DataFrame, contract: Contract, *, native: bool = True, hold: bool = False) -> DataFrame:
    """Parse and validate lines (columns ``value``, ``line_order``).

    Returns ``value``, ``line_order``, one column per contract field (typed as sent) and
    ``reason``: NULL for a valid record, else the first rule the line breaks.

    ``native``: parse and make the byte-level tests with the pipeline's own expressions (etl.native), which
    work on the UTF-8 bytes, and let ``meets_contract`` pass the lines that surely meet every field
    rule (the rules written below then run only for the others). False does the same with Spark's
    built-in functions only, slower: the reference the tests hold the native expressions to.

    ``hold``: where the quick yes can decide every field (no rule ``undecided``, see ``fast_rules``), leave the
    full check out: a line the quick yes does not pass gets the reason HELD, valid or not, and is to be
    classified again without ``hold``. The full check is some 1,000 expressions: building, planning and
    shipping them cost a new JVM about a second, which a file whose lines all pass the quick yes then saves.
    """
    parse, record, gates, reason = _classify_expressions(contract, _gateway_id(), native, hold)
    parsed = lines.select(F.col(VALUE), F.col(LINE_ORDER), parse.alias("r"))
    # The cheap tests that spare most lines the costly checks, computed once per line in a projection
    # of their own (Spark does not merge projections when that would compute them several times).
    gated = parsed.select("*", *gates) if gates else parsed
    return gated.select(VALUE, LINE_ORDER, *record, reason.alias(REASON))


def mostly_plain(head: str, contract: Contract) -> bool:
    """Whether the JSON lines of ``head`` (a file's first bytes) look, roughly, like lines the quick yes passes:
    all but HELD_SHARE_UP_TO of them one flat object of contract fields, with one ``}`` and one ``:`` per value
    that is not null.

    A file that mostly does is classified with ``hold`` (its few other lines are then read again and checked
    in full); one that does not (explicit nulls, times or URLs in its texts, fields beyond the contract) gets the
    full check in its one pass, rather than all its lines read twice. Only the speed depends on this answer.
    """
    names = {field.name for field in contract.fields}
    lines = [line for line in head.splitlines()[:-1] if line.strip()]  # the last may be cut short
    if not lines:
        return True

    def plain(line: str) -> bool:
        if not (line.startswith("{") and line.endswith("}") and line.count("}") == 1):
            return False
        try:
            record = json.loads(line)
        except ValueError:
            return False
        filled = sum(value is not None for value in record.values()) if isinstance(record, dict) else -1
        return set(record) <= names and line.count(":") == filled

    return sum(not plain(line) for line in lines) <= HELD_SHARE_UP_TO * len(lines)


def _gateway_id() -> int:
    from pyspark import SparkContext

    return id(SparkContext._gateway)


@functools.lru_cache(maxsize=8)
def _classify_expressions(
    contract: Contract, gateway: int, native: bool, hold: bool = False
) -> tuple[Column, list[Column], list[Column], Column]:
    """classify's expressions, built once per contract: building them costs some 0.3 s of calls to the JVM.

    They are expression trees that refer to columns by name, valid for any frame of this JVM (``gateway``).
    The gates (none, or the column ``_gate``) are computed on the parsed line before the reason.
    """
    parse = F.from_json(F.col(VALUE), input_schema(contract), _PERMISSIVE)
    record = _parsed_fields(contract)
    rules = fast_rules(contract)
    # Most lines of a file meet every rule. When the quick yes (meets_contract) can decide every field, it
    # answers for them, and the full check (some 90 KB of generated Java) runs only for the others: it is then
    # interpreted, not compiled in each new JVM, and the gate it reads is made again there rather than kept in
    # a projection of its own that copies every line (a new JVM's JSON job on 1m lines: 9.2 s instead of 9.8 s).
    decides = native and not any(rule["undecided"] for rule in rules)
    if native:
        parse = parsing_bytes(parse)
    gate = byte_level_gate(contract, native=native)
    fields = [column.alias(name) for name, column in record.items()]
    if hold and decides:
        held = F.when(meets_contract(F.col("r"), gate == _TYPED, rules), F.lit(None).cast("string"))
        return parse, fields, [], held.otherwise(F.lit(HELD))
    gates, gate = ([], gate) if decides else ([gate.alias(_GATE)], F.col(_GATE))
    structure = F.when(gate < _PLAIN, _structure_reason(contract))
    # Spark evaluates CASE branches lazily: the per-field diagnosis runs only for corrupt lines.
    reason = F.when(F.col(f"r.{CORRUPT}").isNotNull(), _parse_failure_reason(contract, structure)).otherwise(
        _rule_failure_reason(contract, record, structure, gate)
    )
    if decides:
        reason = interpreted(reason)
    if native:
        meets = meets_contract(F.col("r"), gate == _TYPED, rules)
        reason = F.when(meets, F.lit(None).cast("string")).otherwise(reason)
    return parse, fields, gates, reason


def _parsed_fields(contract: Contract) -> dict[str, Column]:
    """Each contract field of the line parsed into ``r``, by name."""
    return {f.name: F.col(f"r.{f.name}") for f in contract.fields}


def byte_level_gate(contract: Contract, *, native: bool = True) -> Column:
    """The byte-level tests' verdict on the line ``value`` parsed into ``r``: 0 when it is not plainly one
    object (``_plainly_one_object``), 1 when it is, 2 when its strings were also sent as strings
    (``_strings_sent_as_strings``).

    ``native``: in one pass over the line's bytes (etl.native.line_gate); else with Spark's functions.
    """
    if native:
        fields = list(enumerate(contract.fields))
        return line_gate(F.col(VALUE), F.col("r"), [i for i, f in fields if f.type in TEXT_TYPES],
                         [i for i, f in fields if f.type == "double"], len(fields))
    record = _parsed_fields(contract)
    plain = _plainly_one_object(contract, record)
    typed = plain & _strings_sent_as_strings(contract, record)
    return F.when(typed, F.lit(_TYPED)).when(plain, F.lit(_PLAIN)).otherwise(F.lit(0))


def fast_rules(contract: Contract) -> list[dict[str, object]]:
    """The contract's field rules as ``meets_contract`` reads them, one mapping per field of the parsed struct.

    They mirror ``_rule_failure_reason`` for a line that passed the byte-level tests. A field whose value
    that function must decide is marked ``undecided``: what it checks by parsing (timestamps; dates in a
    format other than fixed-width digits), decimals (kind ``other``), and allowed values or a pattern on a
    double's or boolean's text. A line with a value in such a field never gets the quick yes.
    """
    fixed_date = fixed_width_date(contract.date_format)
    rules: list[dict[str, object]] = []
    for ordinal, field in enumerate(contract.fields):
        kind = field.type if field.type in (*NUMBER_TYPES, "boolean") else "other"  # "other": a decimal
        kind = "text" if field.type in TEXT_TYPES else kind
        dated = field.type == "date" and fixed_date
        rule = field_rule(field, ordinal, kind, bounded=kind in NUMBER_TYPES,
                          date_layout=contract.date_format if dated else None)
        text_rules_on_other_text = kind in ("double", "boolean") and (field.allowed is not None or field.pattern)
        rule["undecided"] = (field.type == "timestamp" or (field.type == "date" and not fixed_date)
                             or kind == "other" or bool(text_rules_on_other_text))
        rules.append(rule)
    return rules


def field_rule(field: Field, ordinal: int, kind: str, *, bounded: bool, date_layout: str | None) -> dict[str, object]:
    """One field's rule as ``meets_contract`` reads it: its place in the parsed struct, its kind, whether it is
    required, its bounds (``bounded``), allowed values, pattern and fixed-width date layout, where it has them."""
    rule: dict[str, object] = {"ordinal": ordinal, "kind": kind, "required": field.required}
    if bounded:
        rule.update({key: float(bound) for key, bound in (("minimum", field.minimum), ("maximum", field.maximum))
                     if bound is not None})
    if field.allowed is not None:
        rule["allowed"] = list(field.allowed)
    if field.pattern is not None:
        rule["pattern"] = field.pattern
    if date_layout:
        rule["date_layout"] = date_layout
    return rule


def _parse_failure_reason(contract: Contract, structure: Column) -> Column:
    """Why the JSON parser rejected a line: malformed text, not an object, or a field's type."""
    corrupt_schema = T.StructField(CORRUPT, T.StringType(), True)
    checks = []
    for field in contract.fields:
        single = T.StructType([T.StructField(field.name, input_type(field), True), corrupt_schema])
        failed = F.from_json(F.col(VALUE), single, _PERMISSIVE)[CORRUPT].isNotNull()
        checks.append(F.when(failed, F.lit(f"wrong type for {field.name}: expected {_json_type(field)}")))
    text = F.ltrim(F.col(VALUE))
    other_json_value = text.rlike(r'^(\[|"|-?[0-9]|true\b|false\b|null\b)')
    shape = (
        F.when(~text.startswith("{") & other_json_value, F.lit("not a JSON object"))
        .when(~text.startswith("{"), F.lit("malformed JSON"))
    )
    # Shape first: a malformed line would also fail every single-field parse.
    return F.coalesce(shape, structure, *checks, F.lit("malformed JSON"))


def _as_array_element(text: Column) -> Column:
    """The line parsed as the content of a JSON array of objects (NULL when that fails).

    Spark's parser stops after the first value, so a line such as ``{...}{...}``, ``{...} xyz`` or
    ``{...},`` would otherwise load its first object and drop the rest without a word; and of a
    key sent twice it keeps one value silently. As the content of an array, such a line fails to
    parse, or shows its parts and every key it holds.
    """
    return F.from_json(F.concat(F.lit("["), text, F.lit("]")), "array<map<string,string>>", _JSON_OPTIONS)


def _plainly_one_object(contract: Contract, record: dict[str, Column]) -> Column:
    """Whether a parsed line is, by cheap byte-level tests, one object whose keys are distinct contract fields.

    The line starts with ``{``, ends with ``}`` and holds no other ``}``, so nothing follows the
    object; and it has as many ``:`` as fields the parser filled, so no key is repeated or unknown
    (each key has a ``:`` after it; a ``:`` or ``}`` inside a text only makes the test fail). A
    string field whose text holds U+FFFD came from undecodable bytes. A line that fails any of these
    is checked in full by ``_structure_reason``; the tests never pass a line that the full check
    rejects. (Regular expressions or ``instr`` would cost more than parsing the line.) Written here with
    Spark's functions, the reference that ``etl.native.line_gate`` (the job's, one pass over the bytes) is
    held to.
    """
    text = F.col(VALUE)
    filled = _count_present(record.values())
    decoded = [~record[f.name].contains("\ufffd") for f in contract.fields if f.type in TEXT_TYPES]
    plain = (
        F.col(f"r.{CORRUPT}").isNull() & text.startswith("{") & text.endswith("}")
        & (_occurrences("}") == 1) & (_occurrences(":") == filled)
    )
    for clean in decoded:
        plain = plain & F.coalesce(clean, F.lit(True))
    return plain


def _strings_sent_as_strings(contract: Contract, record: dict[str, Column]) -> Column:
    """For a plain line: whether, by counting ``"``, every string field was sent as a JSON string.

    In a plain line each key has two quotes, and so has each string value that holds no quote of its
    own; a number or boolean has none. So with no value text starting like an array or object, no
    quote inside a string and only finite doubles (a double sent as text is "NaN" or "Infinity"),
    the line has 2 quotes per key and per string field exactly when no string field was sent as
    another JSON type. Any other line gets the full check of ``_string_type_check``.
    """
    strings = [record[f.name] for f in contract.fields if f.type in TEXT_TYPES]
    doubles = [record[f.name] for f in contract.fields if f.type == "double"]
    typed = _occurrences('"') == (_count_present(record.values()) + _count_present(strings)) * 2
    for value in strings:
        plain_text = ~(value.startswith("[") | value.startswith("{") | value.contains('"'))
        typed = typed & F.coalesce(plain_text, F.lit(True))
    for value in doubles:
        typed = typed & F.coalesce(_is_finite(value), F.lit(True))
    return typed


def _occurrences(character: str) -> Column:
    """How often ``character`` occurs in the line: the number of pieces it splits the line into, less one.

    The cheapest count Spark's own functions give (the reference for etl.native.line_gate's). A split on
    one character that is not special in a regular expression takes Java's fast path; on 2 cores it cost
    0.35 s per million lines, where removing the character and comparing the lengths cost 0.6 s.
    """
    if character in ".$|()[{^?*+\\":
        raise ValueError(f"{character!r} is special in a regular expression: Java's fast split does not apply")
    return F.size(F.split(F.col(VALUE), character)) - 1


def _count_present(values: Iterable[Column]) -> Column:
    """How many of ``values`` are not NULL."""
    return sum((value.isNotNull().cast("int") for value in values), F.lit(0))


def _is_finite(value: Column) -> Column:
    return ~(F.isnan(value) | value.isin(float("inf"), float("-inf")))


def _structure_reason(contract: Contract) -> Column:
    """Whether the line holds exactly one JSON object with each contract field at most once."""
    wrapped = _as_array_element(F.col(VALUE))
    keys = F.map_keys(wrapped[0])
    names = F.array(*[F.lit(f.name) for f in contract.fields])
    # Naming the repeated contract fields is costly: done only for the rare line with a repeated key.
    repeated = F.array_distinct(
        F.filter(keys, lambda key: F.array_contains(names, key) & (F.size(F.filter(keys, lambda k: k == key)) > 1))
    )
    # Inside [ ], content after a ']' that closes the array early is never seen ('{...}] x' parses as
    # '[{...}]'). Only a line with a ']' can do that; inside {"v": ...} such a ']' fails to parse.
    as_object_value = F.from_json(F.concat(F.lit('{"v": '), F.col(VALUE), F.lit("}")), "v string", _JSON_OPTIONS)
    return F.coalesce(
        F.when(wrapped.isNull(), F.lit("malformed JSON")).when(
            F.size(wrapped) > 1, F.lit("more than one JSON value on the line")
        ),
        F.when(F.col(VALUE).contains("]"), F.when(as_object_value["v"].isNull(), F.lit("malformed JSON"))),
        F.when(
            F.size(keys) > F.size(F.array_distinct(keys)),
            F.when(F.size(repeated) > 0, F.concat(F.lit("duplicate key "), F.array_join(repeated, ", "))),
        ),
    )


def _rule_failure_reason(contract: Contract, record: dict[str, Column], structure: Column, gate: Column) -> Column:
    # Spark keeps undecodable bytes of a line as they are (and turns them into U+FFFD once the text
    # is rewritten): either shows that the line is not UTF-8.
    value_text = F.col(VALUE)
    # A plain line (see _plainly_one_object) holds neither: its keys are contract fields, its string values
    # were checked for U+FFFD, and anything else undecodable would not have parsed. So no line-wide search
    # for it (about 5% of the job on a clean file), and no re-encoding.
    not_utf8 = F.when(gate >= _PLAIN, F.lit(False)).otherwise(
        value_text.contains("\ufffd") | (F.encode(value_text, "UTF-8") != value_text.cast("binary"))
    )
    checks: list[Column] = [F.when(not_utf8, F.lit("line is not valid UTF-8")), structure]
    for field in contract.fields:
        value = record[field.name]
        if field.type in TEXT_TYPES:
            checks.append(F.when(gate < _TYPED, _string_type_check(field, value)))
        if field.required:
            missing = value.isNull() | ((F.trim(value) == "") if field.type in TEXT_TYPES else F.lit(False))
            checks.append(F.when(missing, F.lit(f"missing required field {field.name}")))
        if field.type in NUMBER_TYPES or decimal_precision(field.type):
            checks.extend(_number_checks(field, value))
        if field.type == "date":
            checks.append(_date_check(field, value, contract.date_format))
        if field.type == "timestamp":
            checks.append(timestamp_check(field, value))
        checks.extend(value_rules(field, value))
    return F.coalesce(*checks)


def value_rules(field: Field, value: Column) -> list[Column]:
    """The contract's allowed values and pattern, checked on the value's text (none when not declared)."""
    text = value.cast("string")
    checks = []
    if field.allowed is not None:
        shown = ", ".join(field.allowed) if len(field.allowed) <= 6 else ", ".join(field.allowed[:6]) + ", ..."
        outside = F.lit(f"' is not one of the allowed values ({shown})")
        checks.append(F.when(text.isNotNull() & ~text.isin(*field.allowed),
                             F.concat(F.lit(f"{field.name} '"), F.substring(text, 1, 40), outside)))
    if field.pattern is not None:
        unmatched = F.lit(f"' does not match the pattern {field.pattern}")
        checks.append(F.when(text.isNotNull() & ~text.rlike(f"^(?:{field.pattern})\\z"),
                             F.concat(F.lit(f"{field.name} '"), F.substring(text, 1, 40), unmatched)))
    return checks


def timestamp_check(field: Field, value: Column) -> Column:
    expected = F.lit(f"': expected {field.format}")
    message = F.concat(F.lit(f"invalid {field.name} '"), F.substring(value, 1, 40), expected)
    return F.when(value.isNotNull() & F.to_timestamp(value, field.format).isNull(), message)


def _string_type_check(field: Field, value: Column) -> Column:
    """A string field sent as a number, boolean, object or array.

    Spark's string conversion accepts any JSON value as its text (5 becomes "5"). Only a value
    whose text looks like another JSON type is parsed again, as that type, to tell them apart.
    """
    message = F.lit(f"wrong type for {field.name}: expected {_json_type(field)}")
    checks = []
    for pattern, json_type in _NON_STRING_TEXT.items():
        schema = T.StructType([T.StructField(field.name, json_type, True)])
        as_other_type = F.from_json(F.col(VALUE), schema, _JSON_OPTIONS)[field.name]
        checks.append(F.when(value.rlike(pattern), F.when(as_other_type.isNotNull(), message)))
    return F.when(F.substring(value, 1, 1).isin(*_NON_STRING_FIRST_CHARACTERS), F.coalesce(*checks))


def _number_checks(field: Field, value: Column) -> list[Column]:
    checks = []
    if field.type == "double":
        checks.append(F.when(value.isNotNull() & ~_is_finite(value), F.lit(f"{field.name} is not a finite number")))
    if field.minimum is not None:
        checks.append(F.when(value < F.lit(field.minimum), F.lit(f"{field.name} is below {field.minimum:g}")))
    if field.maximum is not None:
        checks.append(F.when(value > F.lit(field.maximum), F.lit(f"{field.name} is above {field.maximum:g}")))
    return checks


def _date_check(field: Field, value: Column, date_format: str) -> Column:
    message = F.concat(F.lit(f"invalid {field.name} '"), F.substring(value, 1, 40), F.lit(f"': expected {date_format}"))
    return F.when(value.isNotNull() & ~is_date(value, date_format), message)


def is_date(value: Column, date_format: str) -> Column:
    """Whether ``value`` is a real calendar date written exactly in ``date_format`` (NULL for NULL).

    The text must match the format's regular expression. For a format made of ``yyyy``, ``MM`` and
    ``dd`` once each (and separators), the calendar is then checked by ``make_date`` of the three
    numbers rather than by ``to_date``'s parser: on 1m lines in a warm JVM (2 cores) 0.37 s instead of
    0.68 s, for the same answer (a test compares the two). Any other format is parsed by ``to_date``.
    """
    shaped = value.rlike("^" + _date_regex(date_format) + r"\z")  # Java's $ also matches before a final newline
    if not _digit_by_digit(date_format):
        return shaped & F.to_date(value, date_format).isNotNull()
    number = {token: F.substring(value, date_format.index(token) + 1, len(token)).cast("int")
              for token in _JAVA_DATE_PATTERN_TO_REGEX}
    return shaped & F.make_date(number["yyyy"], number["MM"], number["dd"]).isNotNull()


def fixed_width_date(date_format: str) -> bool:
    """Whether the quick yes reads dates of ``date_format`` itself: ASCII, yyyy, MM and dd once each, separators."""
    return _digit_by_digit(date_format) and date_format.isascii()


def _digit_by_digit(date_format: str) -> bool:
    """Whether ``date_format`` is ``yyyy``, ``MM`` and ``dd`` once each, and separators: checked digit by digit."""
    return bool(_FIXED_WIDTH_DATE.fullmatch(date_format)) and all(
        date_format.count(token) == 1 for token in _JAVA_DATE_PATTERN_TO_REGEX)


def _date_regex(date_format: str) -> str:
    regex = date_format
    for token, pattern in _JAVA_DATE_PATTERN_TO_REGEX.items():
        regex = regex.replace(token, pattern)
    return regex


def _json_type(field: Field) -> str:
    names = {"boolean": "true or false", "int": "integer", "bigint": "integer", "double": "number",
             "string": "string", "date": "date string", "timestamp": "timestamp string"}
    return names.get(field.type, "number")


def valid_records(classified: DataFrame, contract: Contract, ingested_at: str) -> DataFrame:
    """Rows of the raw zone: the valid records, typed, with ingestion time and line order."""
    good = classified.where(F.col(REASON).isNull())
    fields = [F.col(f.name).cast(input_type(f)).alias(f.name) for f in contract.fields]
    return good.select(*fields, F.to_timestamp(F.lit(ingested_at)).alias(INGESTED_AT), F.col(LINE_ORDER))


def rejected_lines(classified: DataFrame, source: str, line_number: Column) -> DataFrame:
    """Rows of the quarantine zone: the line verbatim, why it was rejected, and where it came from."""
    bad = classified.where(F.col(REASON).isNotNull())
    return bad.select(
        F.lit(source).alias("source"),
        line_number.alias("line_number"),
        F.col(REASON).alias("reason"),
        F.col(VALUE).alias("raw_line"),
    )


def normalize(raw: DataFrame, contract: Contract, run_id: str) -> DataFrame:
    """Raw rows to processed rows: PII dropped, strings trimmed, dates parsed, partitions derived."""
    columns = [processed_value(field, contract).alias(field.name) for field in contract.published_fields]
    # The ingestion time is a UTC wall-clock time: a timestamp without time zone, which Iceberg stores as
    # `timestamp` and Athena reads as a timestamp (Spark's zoned timestamp would be Iceberg's timestamptz).
    ingested_at = F.col(INGESTED_AT).cast(T.TimestampNTZType()).alias(INGESTED_AT)
    return raw.select(
        *columns, F.lit(run_id).alias(RUN_ID), ingested_at, F.col(LINE_ORDER), *partition_values(contract)
    )


def processed_value(field: Field, contract: Contract) -> Column:
    """A published field's processed value, from its column as sent: strings trimmed, dates and timestamps parsed."""
    value = F.col(field.name)
    if field.type == "string":
        return F.trim(value)
    if field.type == "date":
        return F.to_date(value, field.format or contract.date_format)
    if field.type == "timestamp":
        return F.to_timestamp(value, field.format).cast(T.TimestampNTZType())
    return value


def partition_values(contract: Contract) -> list[Column]:
    """The processed zone's partition columns (year, month), derived from a valid record's date as sent.

    A valid record's date matched the contract's date_format digit by digit (``_date_check``), so a
    partition that is one token of that format (``yyyy`` of ``yyyy/MM/dd``) is a slice of the text:
    cheaper than parsing the date for every row. Any other partition format parses the date.
    """
    columns = []
    for partition in contract.partition_columns:
        if not partition.format:  # the field's own value, e.g. a model year
            columns.append(F.col(partition.source).cast("string").alias(partition.name))
            continue
        start = _date_slice_start(contract, partition.format)
        if start is not None:
            value = F.substring(F.col(partition.source), start + 1, len(partition.format))
        else:
            value = F.date_format(F.to_date(F.col(partition.source), contract.date_format), partition.format)
        columns.append(value.alias(partition.name))
    return columns


def _date_slice_start(contract: Contract, partition_format: str) -> int | None:
    """Where a partition of ``partition_format`` starts in a valid date's text, if it is a slice of it."""
    date_format = contract.date_format
    start = date_format.find(partition_format)
    sliceable = _FIXED_WIDTH_DATE.fullmatch(date_format) and partition_format in _JAVA_DATE_PATTERN_TO_REGEX
    return start if sliceable and start >= 0 else None


def partition_key(contract: Contract) -> tuple[Column, Callable[[str], list[str]]]:
    """One text per valid record that names its processed partition, and how to read the partition values back.

    Where every partition is a slice of the same date (``2024`` and ``01`` of ``2024/01/15``), the key is the one
    slice that holds them all (``2024/01``): a substring per record, where slices joined by ``concat_ws`` cost
    three new strings (some 3% of the JSON job). Otherwise the values joined by ``/``. A key holds no comma.
    """
    partitions = contract.partition_columns
    slices = []
    for partition in partitions:
        start = _date_slice_start(contract, partition.format) if partition.format else None
        if start is not None:
            slices.append((start, len(partition.format)))
    sources = {p.source for p in partitions}
    if partitions and len(sources) == 1 and len(slices) == len(partitions):
        first, end = min(start for start, _ in slices), max(start + length for start, length in slices)
        if "," not in contract.date_format[first:end]:
            def sliced(key: str) -> list[str]:
                return [key[start - first:start - first + length] for start, length in slices]

            return F.substring(F.col(sources.pop()), first + 1, end - first), sliced
    return F.concat_ws("/", *partition_values(contract)), lambda key: key.split("/")


def latest_per_key(
    df: DataFrame, keys: Sequence[str], newest_first: Sequence[Column], *, key_had: tuple[str, Column] | None = None
) -> DataFrame:
    """Keep one row per key: the first by ``newest_first`` (the latest record wins).

    ``key_had=(name, condition)`` adds a boolean column ``name``: whether any row of the key,
    kept or not, met ``condition`` (computed in the same window, so at no extra cost).
    """
    window = Window.partitionBy(*keys).orderBy(*newest_first)
    ranked = df.withColumn("_rank", F.row_number().over(window))
    if key_had is not None:
        name, condition = key_had
        whole_key = window.rowsBetween(Window.unboundedPreceding, Window.unboundedFollowing)
        ranked = ranked.withColumn(name, F.max(condition).over(whole_key))
    return ranked.where(F.col("_rank") == 1).drop("_rank")
