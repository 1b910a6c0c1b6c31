"""Pure DataFrame transforms of CSV landing files: physical lines to records, records to checked values.

A CSV file is read as text lines, as a JSON Lines file is, so that it splits like one and every line
keeps its position (``line_order``). A quoted value may hold line breaks: a record then spans several
physical lines. Quotes come in pairs, so a line that holds an odd number of quote characters (not
counting escaped ones) opens or closes such a value; the driver pairs those lines (``multi_line_spans``)
and the lines of each span are joined into one record that keeps the ``line_order`` of its first line.
Spark's own CSV reader cannot say where a record starts, and with ``multiLine`` it reads a file in
one task; this keeps both the splits and the exact line numbers.

Each record is then checked on its text, with the contract's dialect: the number of columns
(delimiters outside quoted values), the quoting, and each field's type and rules. A record written
plainly (no quote, escape or control character) is split on its delimiter in one pass over its bytes
(etl.native.csv_plain_fields); the others are parsed by Spark's ``from_csv``. The first rule
a record breaks is its one reason. As for JSON, a quick yes (etl.native.meets_contract) passes first
the records that surely meet every rule, and the full check runs only for the others: in the same pass, or,
in a file of mostly plain records (``mostly_plain_records``), afterwards for the records it held back.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from etl.contracts import Contract, Field, decimal_precision
from etl.native import csv_plain_fields, interpreted, meets_contract
from etl.spark import text_pieces
from etl.transforms import (
    HELD,
    HELD_SHARE_UP_TO,
    LINE_ORDER,
    REASON,
    VALUE,
    field_rule,
    fixed_width_date,
    input_type,
    is_date,
    timestamp_check,
    value_rules,
)

IS_BLANK = "is_blank"
_PARTITION_SHIFT = 33  # monotonically_increasing_id puts the partition index above bit 33
_LAST_LINE = (1 << 63) - 1  # a span still open at the end of the file runs to its end
_BLANK_RECORD = r"^[ \t\r]*$"
_INTEGER = r"^\s*[+-]?[0-9]+\s*$"
_DOUBLE = r"^\s*[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?\s*$"


def quote_count(contract: Contract) -> Column:
    """How many quote characters of the line open or close a quoted value (escaped quotes left out).

    With the RFC's escape (a quote doubled) an escaped quote adds two, which keeps the count's parity.
    """
    options = contract.csv_options
    quote, escape = options["quote"], options["escape"]
    text = F.col(VALUE)
    if escape != quote:
        text = F.regexp_replace(text, re.escape(escape) + ".", "")
    return F.size(F.split(text, re.escape(quote))) - 1


def opens_a_quote(contract: Contract) -> Column:
    """Whether the line leaves a quoted value open (an odd quote count): its record spans lines. Most lines hold
    no quote at all and are not counted."""
    return F.col(VALUE).contains(contract.csv_options["quote"]) & ((quote_count(contract) % 2) == 1)


def multi_line_spans(odd_lines: Sequence[int]) -> list[tuple[int, int]]:
    """The (first, last) ``line_order`` of each record spanning lines, from the lines with an odd quote count.

    The first such line opens a quoted value, the next closes it, and so on; an opening line with no
    closing one is a record whose quote is never closed: it runs to the end of the file.
    """
    ordered = sorted(odd_lines)
    ends = [*ordered[1::2], _LAST_LINE]
    return list(zip(ordered[0::2], ends, strict=False))


def span_lines(spans: Sequence[tuple[int, int]], lines_per_partition: Mapping[int, int]) -> list[tuple[int, int]]:
    """Each line of the closed spans as (``line_order``, the span's first ``line_order``).

    ``line_order`` counts lines within each input partition (the partition index above bit 33), so
    the lines of a span that crosses a split are the rest of one partition and the start of the next.
    """
    pairs: list[tuple[int, int]] = []
    for first, last in spans:
        if last == _LAST_LINE:
            continue
        for partition in range(first >> _PARTITION_SHIFT, (last >> _PARTITION_SHIFT) + 1):
            base = partition << _PARTITION_SHIFT
            start = first - base if base <= first else 0
            end = last - base if last < base + (1 << _PARTITION_SHIFT) else lines_per_partition.get(partition, 0) - 1
            pairs.extend((base + within, first) for within in range(start, end + 1))
    return pairs


def assemble_records(
    spark: SparkSession, lines: DataFrame, spans: Sequence[tuple[int, int]], lines_per_partition: Mapping[int, int],
) -> DataFrame:
    """Lines (``value``, ``line_order``) to records: the lines of each span joined by a line break.

    A record keeps the ``line_order`` of its first line. The lines of closed spans are found by an
    equi-join with their list (a broadcast hash join: a range join would compare every line with
    every span); the lines from a quote never closed to the end of the file by one comparison.
    Only the lines of spans are grouped (a shuffle of those few); the others are records as they are.
    """
    if not spans:
        return lines
    tagged = lines.withColumn("_first", F.lit(None).cast("long"))
    pairs = span_lines(spans, lines_per_partition)
    if pairs:
        # Made in the JVM from one text of them all (a DataFrame of Python tuples starts a Python worker).
        known = text_pieces(spark, ",".join(f"{line}:{first}" for line, first in pairs), ",").select(
            F.substring_index(VALUE, ":", 1).cast("long").alias(LINE_ORDER),
            F.substring_index(VALUE, ":", -1).cast("long").alias("_span"))
        tagged = tagged.join(F.broadcast(known), LINE_ORDER, "left").withColumn("_first", F.col("_span"))
    unclosed = [first for first, last in spans if last == _LAST_LINE]
    if unclosed:
        tagged = tagged.withColumn("_first", F.coalesce(
            F.col("_first"), F.when(F.col(LINE_ORDER) >= unclosed[0], F.lit(unclosed[0]))))
    single = tagged.where(F.col("_first").isNull()).select(VALUE, LINE_ORDER)
    parts = tagged.where(F.col("_first").isNotNull()).groupBy("_first").agg(
        F.array_sort(F.collect_list(F.struct(F.col(LINE_ORDER), F.col(VALUE)))).alias("_parts"))
    joined = parts.select(F.array_join(F.col(f"_parts.{VALUE}"), "\n").alias(VALUE),
                          F.col("_first").alias(LINE_ORDER))
    return single.unionByName(joined)


def mostly_plain_records(head: str, contract: Contract) -> bool:
    """Whether the records of ``head`` (a CSV file's first bytes, its header first) are, all but HELD_SHARE_UP_TO of
    them, written plainly: with no quote or escape character, which the quick yes leaves to the full check.

    A file of such records is classified with ``hold``; one whose exporter quotes every value gets the full
    check in its one pass, rather than every record held and checked twice. Only the speed depends on this.
    """
    options = contract.csv_options
    marks = {options["quote"], options["escape"]}
    lines = [line for line in head.splitlines()[1:-1] if line.strip()]  # the header; the last may be cut short
    return sum(any(mark in line for mark in marks) for line in lines) <= HELD_SHARE_UP_TO * len(lines)


def header_positions(contract: Contract, header: Sequence[str]) -> dict[str, int]:
    """The column of each contract field in the file's header, by its source name (order is free); an optional
    field the header lacks has none (its values are NULL)."""
    names = [column.strip() for column in header]
    return {field.name: names.index(field.header) for field in contract.fields if field.header in names}


def classify_records(records: DataFrame, contract: Contract, positions: Mapping[str, int], columns: int,
                     *, native: bool = True, hold: bool = False) -> DataFrame:
    """Check records (``value``, ``line_order``) of a file whose header has ``columns`` columns.

    Returns ``value``, ``line_order``, one column per contract field (typed as the raw zone holds it)
    and ``reason``: NULL for a valid record, else the first rule it breaks. Blank records are marked
    ``is_blank`` and given no reason.

    ``native``: a record without quotes that has every column first meets the quick yes (``fast_rules``);
    False checks every record in full only: the reference the tests hold the quick yes to.
    ``hold``: as etl.transforms.classify's, where the quick yes decides every field: the full check is left
    out, and a record the quick yes does not pass gets the reason HELD, valid or not, to be checked again in full.
    """
    options = contract.csv_options
    quote, escape, delimiter = options["quote"], options["escape"], options["delimiter"]
    # Possessive quantifiers: Java's regex engine would otherwise recurse once per character of a long value.
    if escape == quote:
        inside = f"(?:[^{re.escape(quote)}]++|{re.escape(quote * 2)})*+"
    else:
        inside = f"(?:[^{re.escape(quote + escape)}]++|{re.escape(escape)}.)*+"
    quoted_value = f"(?s){re.escape(quote)}{inside}{re.escape(quote)}"
    # Most records hold no quote at all: they skip the regular expression (about 0.7 s per million records).
    has_quote = F.col(VALUE).contains(quote)
    unquoted = F.when(has_quote, F.regexp_replace(F.col(VALUE), quoted_value, "")).otherwise(F.col(VALUE))
    found = F.size(F.split(unquoted, re.escape(delimiter)))
    schema = ", ".join(f"c{index} string" for index in range(columns))
    parse_options = {"sep": delimiter, "quote": quote, "escape": escape, "mode": "PERMISSIVE"}
    values = F.from_csv(F.col(VALUE), schema, parse_options)
    if native and all(len(c) == 1 and c.isascii() for c in (quote, escape, delimiter)):
        # A record written plainly is split in one pass over its bytes (about 0.6 s per million 17-column
        # records less than from_csv and counting its delimiters); the others are parsed as before.
        records = records.select(VALUE, LINE_ORDER, csv_plain_fields(F.col(VALUE), columns, delimiter, quote, escape)
                                 .alias("_plain"))
        is_plain = F.col("_plain").isNotNull()
        values, found = (F.when(is_plain, F.col("_plain.values")).otherwise(values),
                         F.when(is_plain, F.col("_plain.count")).otherwise(found))
    parsed = records.select(
        VALUE, LINE_ORDER, F.col(VALUE).rlike(_BLANK_RECORD).alias(IS_BLANK), values.alias("r"),
        found.alias("_columns"), (has_quote & unquoted.contains(quote)).alias("_misquoted"),
    )
    texts = {field.name: F.col(f"r.c{positions[field.name]}") if field.name in positions
             else F.lit(None).cast("string") for field in contract.fields}
    typed = [typed_value(field, texts[field.name]).alias(field.name) for field in contract.fields]
    rules = fast_rules(contract, positions) if native else []
    decides = native and not any(rule["undecided"] for rule in rules)
    if hold and decides:
        # Only the quick yes is built: the full check (0.5 s of calls to a new JVM for 17 columns) is made
        # later, for the held records only.
        reason = F.lit(HELD)
    else:
        checks = [
            F.when(F.col("_misquoted"), F.lit(f"malformed quoting: a {quote} inside an unquoted value, "
                                              "or a quoted value that is never closed")),
            F.when(F.col("_columns") < columns, F.concat(
                F.lit("too few columns: "), F.col("_columns").cast("string"), F.lit(f" of {columns}"))),
            F.when(F.col("_columns") > columns, F.concat(
                F.lit("too many columns: "), F.col("_columns").cast("string"), F.lit(f" of {columns}"))),
        ]
        for field in contract.fields:
            checks.extend(field_checks(field, texts[field.name]))
        reason = F.coalesce(*checks)
        if decides:
            # The quick yes answers for most records: the full check (a large CASE) is interpreted for the
            # others rather than compiled in each new JVM.
            reason = interpreted(reason)
    reason = F.when(F.col(IS_BLANK), F.lit(None).cast("string")).otherwise(reason)
    if native:
        # A record with no quote (nor escape) and as many values as the header: only its values can fail.
        plain = ~has_quote & (F.col("_columns") == columns)
        if escape != quote:
            plain = plain & ~F.col(VALUE).contains(escape)
        reason = F.when(meets_contract(F.col("r"), plain, rules), F.lit(None).cast("string")).otherwise(reason)
    return parsed.select(VALUE, LINE_ORDER, IS_BLANK, *typed, reason.alias(REASON))


def fast_rules(contract: Contract, positions: Mapping[str, int]) -> list[dict[str, object]]:
    """The contract's field rules as ``meets_contract`` reads them on a CSV record's texts (``positions``: each
    field's column; a field the header lacks is NULL, and the header has every required one).

    They mirror ``field_checks`` for a value written plainly: an integer or decimal with no space, sign
    aside, a boolean as true or false, a date of a fixed-width format. What that function must decide
    (other spellings, blank-looking texts, doubles, timestamps, other date formats, allowed values or a
    pattern on a boolean) gets no quick yes.
    """
    rules: list[dict[str, object]] = []
    for field in contract.fields:
        if field.name not in positions:
            continue
        precision = decimal_precision(field.type)
        kind = {"string": "text", "int": "int_text", "bigint": "bigint_text", "boolean": "boolean_text"}.get(
            field.type, "decimal_text" if precision else "other")
        dated = field.type == "date" and fixed_width_date(field.format)
        kind = "text" if dated else kind
        bounded = kind in ("int_text", "bigint_text", "decimal_text")
        rule = field_rule(field, positions[field.name], kind, bounded=bounded,
                          date_layout=field.format if dated else None)
        if precision:
            rule.update(integer_digits=precision[0] - precision[1], scale=precision[1])
        text_rules = field.allowed is not None or field.pattern is not None
        rule["undecided"] = kind == "other" or (kind == "boolean_text" and text_rules)
        rules.append(rule)
    return rules


def typed_value(field: Field, text: Column) -> Column:
    """The value as the raw zone holds it: numbers and booleans typed, dates and timestamps as sent."""
    if field.type == "boolean":
        return F.lower(F.trim(text)) == "true"
    if field.type in ("int", "bigint", "double") or decimal_precision(field.type):
        return F.trim(text).cast(input_type(field))
    return text


def is_integer(text: Column, typed: Column) -> Column:
    """Whether ``text`` is an integer (``_INTEGER``) that ``typed``, its value cast to int or bigint, holds.

    A text that starts with a digit or sign and ends with a digit is one exactly when the cast takes it
    and it has no decimal point (Spark's cast would drop a fraction): two one-character slices instead of
    a regular expression, which decodes the text (4 integer columns of 1m records: about 0.6 s on two
    cores). Only other texts (blank around the number, or not a number) meet the regular expression.
    """
    first, last = F.substring(text, 1, 1), F.substring(text, -1, 1)
    plain = (first.between("0", "9") | first.isin("+", "-")) & last.between("0", "9")
    return F.when(plain, typed.isNotNull() & ~text.contains(".")).otherwise(text.rlike(_INTEGER) & typed.isNotNull())


def field_checks(field: Field, text: Column) -> list[Column]:
    """The rules a CSV value breaks, in order: missing, not of its type, out of range, not allowed."""
    shown = F.concat(F.lit(f"invalid {field.name} '"), F.substring(text, 1, 40), F.lit("': expected "))
    checks = []
    if field.required:
        checks.append(F.when(text.isNull() | (F.trim(text) == ""), F.lit(f"missing required {field.name}")))
    present = text.isNotNull() & (F.trim(text) != "")
    typed = typed_value(field, text)
    if field.type == "boolean":
        checks.append(F.when(present & ~F.lower(F.trim(text)).isin("true", "false"),
                             F.concat(shown, F.lit("true or false"))))
    elif field.type in ("int", "bigint"):
        checks.append(F.when(present & ~is_integer(text, typed), F.concat(shown, F.lit(f"an integer ({field.type})"))))
    elif field.type == "double":
        checks.append(F.when(present & ~text.rlike(_DOUBLE), F.concat(shown, F.lit("a number"))))
    elif (precision := decimal_precision(field.type)) is not None:
        digits, scale = precision[0] - precision[1], precision[1]
        pattern = rf"^\s*[+-]?[0-9]{{0,{digits}}}(\.[0-9]{{0,{scale}}})?\s*$"
        checks.append(F.when(present & ~(text.rlike(pattern) & typed.isNotNull()),
                             F.concat(shown, F.lit(f"a number of at most {digits} digits and {scale} decimals"))))
    elif field.type == "date":
        checks.append(F.when(present & ~is_date(text, field.format), F.concat(shown, F.lit(field.format))))
    elif field.type == "timestamp":
        checks.append(F.when(present, timestamp_check(field, text)))
    if field.minimum is not None:
        below = F.lit(f"{field.name} is below {field.minimum:g}")
        checks.append(F.when(present & (typed < F.lit(field.minimum)), below))
    if field.maximum is not None:
        above = F.lit(f"{field.name} is above {field.maximum:g}")
        checks.append(F.when(present & (typed > F.lit(field.maximum)), above))
    checks.extend(F.when(present, rule) for rule in value_rules(field, text))
    return checks
