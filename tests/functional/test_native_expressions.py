"""The pipeline's own Spark expressions (etl.native, jvm/) give what Spark's built-in functions give.

``classify`` parses each line and counts its characters with them; ``classify(native=False)`` does the
same with Spark's own ``from_json`` and ``split``. Both are run here on the same lines, read from bytes
by Spark's text reader as a landing file is: every line of the bad-input corpus, lines of bytes that are
not UTF-8 in each way Java's decoder refuses, and generated mixes of JSON and stray bytes. The byte
parser must never see a line it would read otherwise than ``from_json``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st
from pyspark.sql import functions as F

from etl.contracts import Contract, Field, load_contract
from etl.native import computed_now, interpreted, kept_text, meets_contract
from etl.transforms import (
    LINE_ORDER,
    VALUE,
    _classify_expressions,
    _gateway_id,
    byte_level_gate,
    classify,
    fast_rules,
    prepare_lines,
)

pytestmark = pytest.mark.slow

CONTRACT = load_contract("shipping")
CORPUS_FILES = Path(__file__).resolve().parents[1] / "bad_inputs" / "files"
GOOD = (b'{"shipping_id": 7, "shipping_date": "2024/01/15", "customer_name": "Ann", "street_address": "1 Main St", '
        b'"destination_city": "main_city", "shipping_cost": 1.5, "shipping_distance": 2.0, "quantity": 3.0}')
# Bytes Java's UTF-8 decoder refuses (each becomes U+FFFD through from_json's reader), and valid ones near them.
ODD_BYTES = {
    "latin-1 e acute": b"\xe9",
    "overlong slash": b"\xc0\xaf",
    "overlong three bytes": b"\xe0\x80\xaf",
    "encoded surrogate": b"\xed\xa0\x80",
    "above U+10FFFF": b"\xf4\x90\x80\x80",
    "lone continuation": b"\x80",
    "five-byte lead": b"\xf8\x88\x80\x80\x80",
    "cut-short euro sign": b"\xe2\x82",
    "euro sign": b"\xe2\x82\xac",
    "last BMP character": b"\xef\xbf\xbf",
    "emoji (4 bytes)": b"\xf0\x9f\x98\x80",
    "last code point": b"\xf4\x8f\xbf\xbf",
    "replacement character": b"\xef\xbf\xbd",
    "NUL": b"\x00",
}


def _read_lines(spark: Any, tmp_path: Path, lines: list[bytes]) -> Any:
    source = tmp_path / "lines.json"
    source.write_bytes(b"\n".join(lines) + b"\n")
    frame = spark.read.text(str(source)).withColumn(LINE_ORDER, F.monotonically_increasing_id())
    return prepare_lines(frame).where(~F.col("is_blank")).drop("is_blank")


def _comparable(rows: list[Any]) -> list[tuple[Any, ...]]:
    """Rows as tuples, NaN as text: NaN equals nothing, not even the NaN of the other way's row."""
    return [tuple("NaN" if isinstance(v, float) and math.isnan(v) else v for v in row) for row in rows]


def _classified_both_ways(spark: Any, tmp_path: Path, lines: list[bytes]) -> tuple[list[Any], list[Any]]:
    candidates = _read_lines(spark, tmp_path, lines)
    native = classify(candidates, CONTRACT).orderBy(LINE_ORDER).collect()
    reference = classify(candidates, CONTRACT, native=False).orderBy(LINE_ORDER).collect()
    return native, reference


def _lines_with_odd_bytes() -> list[bytes]:
    lines = []
    for odd in ODD_BYTES.values():
        lines += [
            GOOD.replace(b'"Ann"', b'"A' + odd + b'n"'),  # inside a string value
            GOOD.replace(b'"customer_name"', b'"customer' + odd + b'_name"'),  # inside a key
            GOOD.replace(b"1.5", b"1.5" + odd),  # inside a number
            b"{" + odd + GOOD[1:],  # right after the opening brace (NUL there reads as UTF-32 to Jackson)
            GOOD + odd,  # after the object
            GOOD[:-1] + b', "x": "' + odd + b'"}',  # in an unknown field
        ]
    return lines


def test_lines_with_bytes_that_are_not_utf8_are_classified_as_by_from_json(spark, tmp_path):
    native, reference = _classified_both_ways(spark, tmp_path, _lines_with_odd_bytes())
    assert len(native) == 6 * len(ODD_BYTES)
    assert _comparable(native) == _comparable(reference)
    by_bytes = dict(zip(ODD_BYTES, (native[i * 6] for i in range(len(ODD_BYTES))), strict=True))
    # What the reasons are (the reference's too): refused bytes make the line "not valid UTF-8".
    assert by_bytes["latin-1 e acute"].reason == "line is not valid UTF-8"
    assert by_bytes["encoded surrogate"].reason == "line is not valid UTF-8"
    assert by_bytes["emoji (4 bytes)"].reason is None
    assert by_bytes["emoji (4 bytes)"].customer_name == "A\U0001F600n"


def test_every_line_of_the_bad_input_corpus_is_classified_as_by_from_json(spark, tmp_path):
    lines = [line for path in sorted(CORPUS_FILES.glob("*.json")) for line in path.read_bytes().splitlines()]
    assert len(lines) > 100
    native, reference = _classified_both_ways(spark, tmp_path, lines)
    assert _comparable(native) == _comparable(reference)
    assert any(row.reason is None for row in native) and any(row.reason for row in native)


FRAGMENTS = st.sampled_from([GOOD, b"{", b"}", b":", b'"', b",", b"[", b"]", b"null", b"1e400", b"NaN",
                             b'"shipping_id"', b'"shipping_date": "2024/02/30"', b" ", b"\t", *ODD_BYTES.values()])
LINES = st.lists(st.lists(FRAGMENTS | st.binary(max_size=4), max_size=6).map(b"".join)
                 .filter(lambda line: b"\n" not in line and b"\r" not in line), min_size=1, max_size=25)


@settings(max_examples=15, deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate],
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(lines=LINES)
@example(lines=[GOOD, GOOD + b"}", b"{" + b"\x00" + GOOD[1:], GOOD.replace(b'"Ann"', b'"\xed\xbf\xbf"')])
def test_generated_lines_are_classified_as_by_from_json(spark, tmp_path_factory, lines):
    native, reference = _classified_both_ways(spark, tmp_path_factory.mktemp("lines"), lines)
    assert _comparable(native) == _comparable(reference), [
        (n, r) for n, r in zip(_comparable(native), _comparable(reference), strict=True) if n != r][:3]


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=12) | st.lists(st.sampled_from([*ODD_BYTES.values(), b"a", b"{"])).map(b"".join))
def test_the_byte_parser_takes_exactly_the_lines_java_decodes_strictly_without_nul(spark, data):
    checker = spark._jvm.org.apache.spark.sql.etl.Utf8JsonToStructs
    try:
        data.decode("utf-8", errors="strict")  # Python's decoder refuses what Java's does: overlongs, surrogates
        strict = b"\x00" not in data
    except UnicodeDecodeError:
        strict = False
    assert checker.isStrictUtf8WithoutNul(bytearray(data), 0, len(data)) is strict


# Objects the byte parser's own loop over the fields takes (RootObjects), and lines it leaves to Spark's parser.
OBJECT_LINES = [
    GOOD,
    GOOD[:-1] + b', "extra": {"nested": [1, {"customer_name": "inner"}]}, "more": [1, 2]}',  # unknown, nested
    GOOD[:-1] + b', "customer_name": "Bob"}',  # a key twice: the last value
    GOOD.replace(b'"Ann"', b"null"),
    GOOD.replace(b'"Ann"', b"42").replace(b"7", b"7.5"),  # a number as a string; a fraction for a bigint
    GOOD.replace(b"1.5", b'"1.5"'),  # a string for a double: Spark's parser decides
    GOOD + b' {"shipping_id": 8}',  # a second value after the object
    b"{}",
    b'{"shipping_id": 1',  # cut short
    b"[1, 2]",
    b"null",
]


def test_the_byte_parser_reads_objects_as_from_json_does(spark, tmp_path):
    frame = _read_lines(spark, tmp_path, OBJECT_LINES)
    parse, _, _, _ = _classify_expressions(CONTRACT, _gateway_id(), True)
    reference, _, _, _ = _classify_expressions(CONTRACT, _gateway_id(), False)
    both = frame.select(LINE_ORDER, parse.alias("native"), reference.alias("reference")).orderBy(LINE_ORDER).collect()
    assert len(both) == len(OBJECT_LINES)
    assert _comparable([tuple(row.native) for row in both]) == _comparable([tuple(row.reference) for row in both])
    assert both[2].native.customer_name == "Bob" and both[1].native.shipping_id == 7


# Lines one edge away from the byte-level tests' verdicts (GOOD is 2: plain, strings sent as strings).
GATE_EDGES = {
    GOOD: 2,
    GOOD.replace(b'"Ann"', b'"A\\ufffdn"'): 0,  # U+FFFD written as an escape, in a pure ASCII line
    GOOD.replace(b'"Ann"', b'"A\xef\xbf\xbdn"'): 0,  # U+FFFD as its bytes
    GOOD.replace(b'"Ann"', b'"A\xe9n"'): 0,  # a Latin-1 byte, read as U+FFFD
    GOOD.replace(b'"Ann"', b'"A\xc3\xa9n"'): 2,  # e acute in UTF-8
    GOOD.replace(b'"Ann"', b'"A\\"n"'): 1,  # an escaped quote: one quote more than the count allows
    GOOD.replace(b'"Ann"', b'"A\\u0022n"'): 1,  # a quote written as \u0022: the count holds, but the text has one
    GOOD.replace(b'"Ann"', b'"A}n"'): 0,
    GOOD.replace(b'"Ann"', b'"A:n"'): 0,
    GOOD.replace(b'"Ann"', b'["Ann"]'): 1,  # an array: as many quotes as a string, but it starts with [
    GOOD.replace(b'"Ann"', b'{"a": 1}'): 0,
    GOOD.replace(b'"Ann"', b"5"): 1,
    GOOD.replace(b'"Ann"', b"null"): 0,  # a key without a value: one ':' more than the fields filled
    GOOD.replace(b"1.5", b"NaN"): 1,
    GOOD.replace(b"1.5", b"1e400"): 1,  # Infinity
    GOOD.replace(b'"shipping_id": 7, ', b""): 2,
    GOOD + b" ": 0,
    GOOD[:-1] + b', "x": 1}': 0,
    GOOD[:-1] + b', "quantity": 4.0}': 0,
    b"{}": 2,
    b"{": 0,
    b"[" + GOOD + b"]": 0,
}


def test_the_line_gate_gives_the_byte_level_tests_verdicts(spark, tmp_path):
    lines = [*GATE_EDGES, *_lines_with_odd_bytes(),
             *(line for path in sorted(CORPUS_FILES.glob("*.json")) for line in path.read_bytes().splitlines())]
    parse, _, _, _ = _classify_expressions(CONTRACT, _gateway_id(), True)
    parsed = _read_lines(spark, tmp_path, lines).select(VALUE, LINE_ORDER, parse.alias("r"))
    gates = parsed.select(LINE_ORDER, byte_level_gate(CONTRACT).alias("native"),
                          byte_level_gate(CONTRACT, native=False).alias("reference"))
    rows = [(row.native, row.reference) for row in gates.orderBy(LINE_ORDER).collect()]
    assert [native for native, _ in rows[:len(GATE_EDGES)]] == list(GATE_EDGES.values())
    assert [native for native, _ in rows] == [reference for _, reference in rows]
    assert {native for native, _ in rows} == {0, 1, 2}


# Fragments that move the characters the gate counts across the 8-byte words it reads.
GATE_FRAGMENTS = st.sampled_from([GOOD, GOOD[:-1], b"}", b":", b'"', b"\\", b"\\u0022", b"\\ufffd", b"x", b"1234567",
                                  b'"customer_name": "', b'", ', b"\xc3\xa9", b"\xe9", b"NaN", b"[", b"{"])


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.lists(st.lists(GATE_FRAGMENTS, min_size=1, max_size=5).map(lambda parts: b"{" + b"".join(parts) + b"}"),
                      min_size=1, max_size=30))
def test_generated_lines_get_the_byte_level_tests_verdicts(spark, tmp_path_factory, lines):
    parse, _, _, _ = _classify_expressions(CONTRACT, _gateway_id(), True)
    parsed = _read_lines(spark, tmp_path_factory.mktemp("gate"), lines).select(VALUE, LINE_ORDER, parse.alias("r"))
    gates = parsed.select(byte_level_gate(CONTRACT).alias("native"),
                          byte_level_gate(CONTRACT, native=False).alias("reference"))
    assert all(row.native == row.reference for row in gates.collect())


# The contract rules' quick yes (etl.native.meets_contract) on contracts with every kind of rule: it may only
# answer yes where the full check finds no reason, so each line is classified with it and without it.
RULE_FIELDS = (
    Field("id", "bigint", required=True, minimum=1),
    Field("seats", "int", minimum=0, maximum=9),
    Field("ratio", "double", minimum=0.5, maximum=100),
    Field("kind", "string", required=True, allowed=("BEV", "PHEV")),
    Field("vin", "string", pattern="[A-Z0-9]{4}"),
    Field("code", "int", allowed=("1", "22"), pattern="[0-9]+"),
    Field("city", "string", required=True),
    Field("note", "string"),
    Field("flag", "boolean", allowed=("true",)),
    Field("price", "decimal(6,2)", minimum=0),
    Field("day", "date", required=True),
)
RULE_CONTRACTS = {
    "digits": Contract(dataset="t", version=1, landing_prefix="t/", default_for_root_keys=False,
                       accepted_formats=("jsonl",), date_format="yyyy-MM-dd", fields=RULE_FIELDS,
                       primary_key=("id",), partition_columns=()),
    # '.' is any character to the full check's regular expression, and d/M/yyyy is no fixed width.
    "dotted": Contract(dataset="t", version=1, landing_prefix="t/", default_for_root_keys=False,
                       accepted_formats=("jsonl",), date_format="dd.MM.yyyy",
                       fields=(*RULE_FIELDS, Field("seen", "timestamp", format="yyyy-MM-dd HH:mm:ss")),
                       primary_key=("id",), partition_columns=()),
    "unfixed": Contract(dataset="t", version=1, landing_prefix="t/", default_for_root_keys=False,
                        accepted_formats=("jsonl",), date_format="d/M/yyyy", fields=RULE_FIELDS,
                        primary_key=("id",), partition_columns=()),
}
EDGE_VALUES: dict[str, list[Any]] = {
    "id": [0, 1, 2, -1, 2**53 - 1, 2**53, 2**53 + 1, -(2**53), 2**63 - 1, -(2**63), 1.0, "1"],
    "seats": [-1, 0, 9, 10, 2**31 - 1, 2**31, 4.5],
    "ratio": [0.5, math.nextafter(0.5, 0), 100.0, math.nextafter(100, 200), -0.0, 0, 100, 1e308, 5e-324, 7,
              float("nan"), float("inf"), "7"],
    "kind": ["BEV", "PHEV", "bev", "BEV ", "", " ", "\t", "\u3000", "\u00a0", "B\u00c9V", 5, True],
    "city": ["x", "", " ", "   ", "\t", " \t ", "\u00a0", "\u3000", "\u2028", " x "],
    "vin": ["AB12", "ab12", "AB123", "AB1", "AB12\n", "", " ", "\u0661\u0662AB"],
    "code": [1, 22, 2, 122, -1, 0, 1.0],
    "note": ["", " ", "  x  ", "\u2028", "a\\b", "{x}", "[1]", "true", "-5"],
    "flag": [True, False, "true", 1],
    "price": [0, 1.5, 1234.56, 1234.567, 12345.5, -0.01, 0.0],
    "day": ["2024-02-29", "2023-02-29", "2100-02-29", "2000-02-29", "0000-01-01", "0001-01-01", "9999-12-31",
            "2024-13-01", "2024-00-10", "2024-01-00", "2024-04-31", "2024-1-01", "2024/01/15",
            "\uff12\uff10\uff12\uff14-01-01", "2024-01-15 ", " 2024-01-15", "29.02.2024", "29x02x2024", "29.02.2023",
            "1/2/2024", "31/4/2024", "29/2/2023", "", " "],
    "seen": ["2024-02-29 23:59:59", "2024-02-30 00:00:00", "yesterday", ""],
}
MISSING = object()
# A line that meets the contract with one or two values changed: most lines are then one edge away from passing.
RULES_GOOD = {"id": 7, "seats": 9, "ratio": 0.5, "kind": "BEV", "city": "x", "vin": "AB12", "code": 22, "note": " x",
              "day": "2024-02-29"}
MORE_VALUES = {"seats": st.integers(-3, 12), "ratio": st.floats(0, 120), "vin": st.text(max_size=5),
               "note": st.text(max_size=4), "city": st.text(" \t\u00a0x", max_size=3)}
CHANGES = st.lists(st.sampled_from(sorted(EDGE_VALUES)).flatmap(lambda name: st.tuples(
    st.just(name), st.sampled_from([*EDGE_VALUES[name], MISSING, None]) | MORE_VALUES.get(name, st.nothing()))),
    max_size=2)
# Each edge value alone, every one of them once.
EACH_EDGE = [{**RULES_GOOD, name: value} for name, values in EDGE_VALUES.items() for value in values]
RECORDS = CHANGES.map(lambda changes: {**RULES_GOOD, **dict(changes)})

def _json_line(record: dict[str, Any]) -> bytes:
    return json.dumps({k: v for k, v in record.items() if v is not MISSING}, ensure_ascii=False).encode()


@settings(max_examples=12, deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate],
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(records=st.lists(RECORDS, min_size=30, max_size=60))
@example(records=EACH_EDGE)
def test_the_contract_rules_quick_yes_gives_the_full_checks_reasons(spark, tmp_path_factory, records):
    candidates = _read_lines(spark, tmp_path_factory.mktemp("rules"), [_json_line(r) for r in records])
    for contract in RULE_CONTRACTS.values():
        native = classify(candidates, contract).orderBy(LINE_ORDER).collect()
        reference = classify(candidates, contract, native=False).orderBy(LINE_ORDER).collect()
        assert _comparable(native) == _comparable(reference), [
            (n, r) for n, r in zip(_comparable(native), _comparable(reference), strict=True) if n != r][:3]


def test_the_contract_rules_quick_yes_takes_the_lines_that_meet_them(spark, tmp_path):
    good = RULES_GOOD
    lines = [good, {**good, "seats": MISSING, "vin": MISSING}, {**good, "seats": 10}, {**good, "day": "2023-02-29"},
             {**good, "kind": "  "}, {**good, "price": 12.5}]
    frame = _read_lines(spark, tmp_path, [_json_line(line) for line in lines])
    contract = RULE_CONTRACTS["digits"]
    parse, _, _, _ = _classify_expressions(contract, _gateway_id(), True)
    parsed = frame.select(VALUE, LINE_ORDER, parse.alias("r"))
    typed = byte_level_gate(contract) == 2
    meets = parsed.select(LINE_ORDER, meets_contract(F.col("r"), typed, fast_rules(contract)).alias("meets"))
    # Yes for the good lines (also without optional values); no where a rule fails, and for a decimal value
    # (the full check decides it, as it decides a boolean with allowed values: RULES_GOOD has no flag). A key sent
    # as null fails the byte-level tests (it has a ':' but no value), so it never gets here.
    assert [row.meets for row in meets.orderBy(LINE_ORDER).collect()] == [True, True, False, False, False, False]


def test_an_interpreted_column_gives_what_its_generated_code_gives(spark):
    rows = spark.createDataFrame([('{"a": [1, 2, 3]}',), ('{"a": []}',), ("x",), (None,)], f"{VALUE} string")
    parsed = F.from_json(F.col(VALUE), "a array<int>")["a"]
    column = F.when(F.col(VALUE).startswith("{"), F.filter(parsed, lambda n: n % 2 == 1)).otherwise(F.array())
    both = rows.select(column.alias("generated"), interpreted(column).alias("interpreted")).collect()
    assert [row.generated for row in both] == [[1, 3], [], [], []]
    assert [row.interpreted for row in both] == [row.generated for row in both]
    assert "interpreted(" in rows.select(interpreted(column))._jdf.queryExecution().executedPlan().toString()


def test_kept_text_keeps_the_first_rows_of_each_partition_that_fit(spark):
    rows = spark.range(0, 12, 1, 2).select(F.col("id"), F.expr("repeat('x', cast(id AS int) + 1)").alias("text"))
    even = F.col("id") % 2 == 0

    def kept(max_rows: int, max_bytes: int) -> list[tuple[int, str | None]]:
        column = kept_text(even, F.col("text"), max_rows, max_bytes).alias("kept")
        return [(row.id, row.kept) for row in rows.select("id", column).orderBy("id").collect() if row.kept]

    # Two partitions, ids 0-5 and 6-11: each keeps its own first rows where the condition holds.
    assert kept(2, 100) == [(0, "x"), (2, "xxx"), (6, "x" * 7), (8, "x" * 9)]
    # Text up to 8 bytes a partition: 1 + 3 fit, 5 more would not, and nothing after it is kept; the other
    # partition keeps its 7 bytes, then 9 more would not fit.
    assert kept(100, 8) == [(0, "x"), (2, "xxx"), (6, "x" * 7)]
    assert kept(100, 9) == [(0, "x"), (2, "xxx"), (4, "xxxxx"), (6, "x" * 7)]


def test_a_frame_computed_now_holds_its_rows_and_the_checks_on_it_are_evaluated_as_planned(spark):
    source = spark.range(0, 6, 1, 3).select((F.col("id") * 10).alias("n"),
                                            F.concat(F.lit("line "), F.col("id")).alias(VALUE))
    now = computed_now(source)
    assert sorted((row.n, row.value) for row in now.collect()) == [(i * 10, f"line {i}") for i in range(6)]
    assert now.schema == source.schema
    # A check applied to it is folded into its rows by the optimizer: no projection or filter left to run in a task,
    # only the scan of the rows it holds.
    checked = now.where(F.col("n") > 20).select(F.upper(VALUE).alias("shout"))
    plan = checked._jdf.queryExecution().optimizedPlan().toString()
    assert plan.startswith("LocalRelation") and "Project" not in plan and "Filter" not in plan, plan
    assert sorted(row.shout for row in checked.collect()) == ["LINE 3", "LINE 4", "LINE 5"]
