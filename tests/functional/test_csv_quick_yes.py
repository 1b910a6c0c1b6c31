"""The CSV check's quick yes (etl.native.meets_contract on a record's texts, etl.transforms_csv.fast_rules) may
only answer yes where the full check finds no reason: each record is classified with it and without it, on
contracts with every kind of rule, one or two values away from a record that meets them."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st
from pyspark.sql import functions as F

from etl.contracts import Contract, Field
from etl.native import csv_plain_fields, meets_contract
from etl.transforms import LINE_ORDER, VALUE
from etl.transforms_csv import classify_records, fast_rules, header_positions

pytestmark = pytest.mark.slow

DECIDED_FIELDS = (
    Field("id", "bigint", required=True, minimum=1),
    Field("seats", "int", minimum=0, maximum=9),
    Field("kind", "string", required=True, allowed=("BEV", "PHEV")),
    Field("vin", "string", pattern="[A-Z0-9]{4}"),
    Field("code", "int", allowed=("1", "22"), pattern="[0-9]+"),
    Field("city", "string", required=True),
    Field("note", "string"),
    Field("done", "boolean"),
    Field("price", "decimal(6,2)", minimum=0, maximum=5000.5),
    Field("day", "date", required=True, format="yyyy-MM-dd"),
)
# A double, a timestamp and a boolean with allowed values are decided by the full check only.
UNDECIDED_FIELDS = (*DECIDED_FIELDS, Field("ratio", "double", minimum=0.5), Field("flag", "boolean", allowed=("true",)),
                    Field("seen", "timestamp", format="yyyy-MM-dd HH:mm:ss"))


def _contract(fields: tuple[Field, ...], **csv: str) -> Contract:
    return Contract(dataset="t", version=1, landing_prefix="t/", default_for_root_keys=False,
                    accepted_formats=("csv",), date_format="yyyy-MM-dd", fields=fields, primary_key=("id",),
                    partition_columns=(), csv=tuple(csv.items()))


CONTRACTS = {
    "decided": _contract(DECIDED_FIELDS),
    "undecided": _contract(UNDECIDED_FIELDS),
    "backslash escape": _contract(DECIDED_FIELDS, escape="\\"),
    "semicolons, a day of no fixed width": _contract(
        tuple(Field("day", "date", required=True, format="d/M/yyyy") if f.name == "day" else f for f in DECIDED_FIELDS),
        delimiter=";"),
}
GOOD = {"id": "7", "seats": "9", "kind": "BEV", "vin": "AB12", "code": "22", "city": "x", "note": " x", "done": "true",
        "price": "12.50", "day": "2024-02-29", "ratio": "0.5", "flag": "", "seen": ""}
EDGE_TEXTS: dict[str, list[str]] = {
    "id": ["0", "1", "-1", "+1", "007", "-0", "9007199254740993", "999999999999999999", "9223372036854775807",
           "9223372036854775808", "1.0", " 1", "1 ", "", "1e3", "\u0661"],
    "seats": ["-1", "0", "9", "10", "+9", "09", "2147483647", "2147483648", "-2147483649", "4.5", "nine"],
    "kind": ["PHEV", "bev", "BEV ", "", " ", "\t", "\u00a0", "B\u00c9V", '"BEV"', '"B,EV"'],
    "vin": ["ab12", "AB123", "AB1", "", " ", "\u0661\u0662AB"],
    "code": ["1", "2", "01", "+1", "-1", "1.0", " 22"],
    "city": ["", " ", "   ", "\t", "\u00a0", " x ", '"x"'],
    "note": ["", " ", '"a, b"', '"say ""hi"""', 'x"y', "a\\,b", '"open', "a\x01b", "\x00", "\u00e9"],
    "done": ["false", "TRUE", "False", " true", "yes", "1", ""],
    "price": ["0", "1.5", "1234.56", "1234.567", "12345.5", "-0.01", "0.0", ".5", "1.", "+1.5", "-0", "0000.00",
              "5000.50", "5000.51", "5000.5", "1e2", " 1.5", ""],
    "day": ["2023-02-29", "2000-02-29", "0000-01-01", "2024-13-01", "2024-1-01", "2024/01/15", "", " ",
            " 2024-01-15", "29/2/2024", "1/2/2024", "29/2/2023"],
    "ratio": ["0.4", "1e308", "NaN", "abc", ""],
    "flag": ["true", "false", "TRUE"],
    "seen": ["2024-02-29 23:59:59", "2024-02-30 00:00:00", "yesterday"],
}
MISSING, EXTRA = "<missing column>", "<extra column>"
CHANGES = st.lists(st.sampled_from(sorted(EDGE_TEXTS)).flatmap(lambda name: st.tuples(
    st.just(name), st.sampled_from([*EDGE_TEXTS[name], MISSING, EXTRA]) | st.text(" ,;\"\\x1.", max_size=4))),
    max_size=2)
EACH_EDGE = [{**GOOD, name: text} for name, texts in EDGE_TEXTS.items() for text in texts]
RECORDS = CHANGES.map(lambda changes: {**GOOD, **dict(changes)})


def _lines(contract: Contract, records: list[dict[str, str]]) -> list[str]:
    """Each record as a line of the contract's columns (a value's text verbatim: quotes are part of it)."""
    delimiter = contract.csv_options["delimiter"]
    lines = []
    for record in records:
        values = []
        for field in contract.fields:
            text = record[field.name]
            if text == EXTRA:
                values += ["1", "2"]
            elif text != MISSING:
                values.append(text.replace(",", delimiter) if delimiter != "," else text)
        lines.append(delimiter.join(values))
    return lines


def _classified(spark: Any, directory: Path, contract: Contract, records: list[dict[str, str]], *, native: bool):
    source = directory / "records.csv"
    source.write_text("\n".join(_lines(contract, records)) + "\n", encoding="utf-8")
    lines = spark.read.text(str(source)).withColumn(LINE_ORDER, F.monotonically_increasing_id())
    header = [field.header for field in contract.fields]
    classified = classify_records(lines, contract, header_positions(contract, header), len(header), native=native)
    # NaN as text: NaN equals nothing, not even the NaN of the other way's row.
    return [tuple("NaN" if isinstance(v, float) and math.isnan(v) else v for v in row)
            for row in classified.orderBy(LINE_ORDER).collect()]


@settings(max_examples=10, deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate],
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(records=st.lists(RECORDS, min_size=30, max_size=60))
@example(records=EACH_EDGE)
def test_the_csv_quick_yes_gives_the_full_checks_reasons(spark, tmp_path_factory, records):
    for name, contract in CONTRACTS.items():
        directory = tmp_path_factory.mktemp("csv")
        native = _classified(spark, directory, contract, records, native=True)
        reference = _classified(spark, directory, contract, records, native=False)
        assert native == reference, (name, [(n, r) for n, r in zip(native, reference, strict=True) if n != r][:3])


def test_the_csv_quick_yes_takes_the_records_written_plainly(spark, tmp_path):
    contract = CONTRACTS["decided"]
    records = [GOOD, {**GOOD, "seats": "", "vin": "", "note": "", "done": "", "price": ""}, {**GOOD, "id": "-12"},
               {**GOOD, "price": "-0.00"}, {**GOOD, "seats": " 9"}, {**GOOD, "note": '"a, b"'}, {**GOOD, "note": EXTRA},
               {**GOOD, "day": "2023-02-29"}]
    source = tmp_path / "records.csv"
    source.write_text("\n".join(_lines(contract, records)) + "\n", encoding="utf-8")
    header = [field.header for field in contract.fields]
    schema = ", ".join(f"c{index} string" for index in range(len(header)))
    parsed = spark.read.text(str(source)).withColumn(LINE_ORDER, F.monotonically_increasing_id()).select(
        LINE_ORDER, F.from_csv(F.col(VALUE), schema, {}).alias("r"), F.col(VALUE).contains('"').alias("quoted"),
        F.size(F.split(F.col(VALUE), ",")).alias("columns"))
    plain = ~F.col("quoted") & (F.col("columns") == len(header))
    rules = fast_rules(contract, header_positions(contract, header))
    meets = parsed.select(LINE_ORDER, meets_contract(F.col("r"), plain, rules).alias("meets")).orderBy(LINE_ORDER)
    # Yes for good records, also without their optional values, and for "-0.00" (zero is not below 0); no where
    # a rule fails, for a value with a space around it (the full check decides it), and for a quoted value or
    # a column too many (the record is not plain).
    assert [row.meets for row in meets.collect()] == [True, True, False, True, False, False, False, False]


def test_records_written_plainly_are_split_in_one_pass_and_the_others_left_to_from_csv(spark, tmp_path):
    contract = CONTRACTS["decided"]
    good = _lines(contract, [GOOD])[0].encode()
    city = good.index(b",x,") + 1
    lines = {
        "good": good,
        "latin-1 city": good[:city] + b"\xe9" + good[city + 1:],
        "utf-8 city": good[:city] + "\u00e9".encode() + good[city + 1:],
        "nul in city": good[:city] + b"\x00" + good[city + 1:],
        "control in city": good[:city] + b"\x01" + good[city + 1:],
        "quoted city": good[:city] + b'"x"' + good[city + 1:],
        "one column too many": good + b",",
        "empty values": b",,",
        "tab": b"\t",
    }
    source = tmp_path / "records.csv"
    source.write_bytes(b"\n".join(lines.values()) + b"\n")
    header = [field.header for field in contract.fields]
    records = spark.read.text(str(source)).withColumn(LINE_ORDER, F.monotonically_increasing_id())
    split = records.select(LINE_ORDER, csv_plain_fields(F.col(VALUE), len(header), ",", '"', '"').alias("p"))
    got = dict(zip(lines, [row.p for row in split.orderBy(LINE_ORDER).collect()], strict=True))
    # Not UTF-8, a control character or a quote: from_csv decides.
    assert [name for name, plain in got.items() if plain is None] == [
        "latin-1 city", "nul in city", "control in city", "quoted city"]
    assert got["good"]["values"]["c5"] == "x" and got["utf-8 city"]["values"]["c5"] == "\u00e9"
    assert got["good"]["count"] == len(header) and got["one column too many"]["count"] == len(header) + 1
    assert got["empty values"]["count"] == 3 and set(got["empty values"]["values"]) == {None}
    assert got["tab"]["count"] == 1 and got["tab"]["values"]["c0"] == "\t"
    # And every record is classified as from_csv reads it.
    positions = header_positions(contract, header)
    native, reference = (classify_records(records, contract, positions, len(header), native=native).orderBy(LINE_ORDER)
                         .collect() for native in (True, False))
    assert native == reference
