"""The contract's types and rules on tiny literal frames: CSV values (transforms_csv) and JSON lines (transforms)."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from etl.contracts import Contract, Field
from etl.transforms import LINE_ORDER, REASON, VALUE, classify
from etl.transforms_csv import classify_records

pytestmark = pytest.mark.slow

FIELDS = (
    Field("id", "bigint", required=True, minimum=1),
    Field("active", "boolean"),
    Field("seats", "int", maximum=9),
    Field("price", "decimal(6,2)", minimum=0),
    Field("kind", "string", allowed=("BEV", "PHEV")),
    Field("vin", "string", pattern="[A-Z0-9]{4}"),
    Field("day", "date", format="dd.MM.yyyy"),
    Field("seen", "timestamp", format="yyyy-MM-dd HH:mm:ss"),
)
CONTRACT = Contract(dataset="t", version=1, landing_prefix="t/", default_for_root_keys=False,
                    accepted_formats=("csv", "jsonl"), date_format="dd.MM.yyyy", fields=FIELDS,
                    primary_key=("id",), partition_columns=())
GOOD = ["1", "true", "4", "1234.50", "BEV", "AB12", "29.02.2024", "2024-02-29 23:59:59"]


@pytest.mark.parametrize(
    ("column", "value", "reason"),
    [
        (None, None, None),
        ("id", "", "missing required id"),
        ("id", "0", "id is below 1"),
        ("id", "99999999999999999999", "invalid id '99999999999999999999': expected an integer (bigint)"),
        ("active", "yes", "invalid active 'yes': expected true or false"),
        ("seats", "4.0", "invalid seats '4.0': expected an integer (int)"),
        ("seats", "10", "seats is above 9"),
        ("price", "12345.5", "invalid price '12345.5': expected a number of at most 4 digits and 2 decimals"),
        ("price", "1.234", "invalid price '1.234': expected a number of at most 4 digits and 2 decimals"),
        ("price", "-1", "price is below 0"),
        ("kind", "FCEV", "kind 'FCEV' is not one of the allowed values (BEV, PHEV)"),
        ("vin", "AB123", "vin 'AB123' does not match the pattern [A-Z0-9]{4}"),
        ("day", "29.02.2023", "invalid day '29.02.2023': expected dd.MM.yyyy"),
        ("seen", "2024-02-29T23:59:59", "invalid seen '2024-02-29T23:59:59': expected yyyy-MM-dd HH:mm:ss"),
        ("kind", "", None),  # an optional value may be empty
    ],
)
def test_csv_values_are_checked_by_type_and_rule(spark, column, value, reason):
    values = list(GOOD)
    if column is not None:
        values[[f.name for f in FIELDS].index(column)] = value
    lines = spark.createDataFrame([(",".join(values), 1)], f"{VALUE} string, {LINE_ORDER} long")
    [row] = classify_records(lines, CONTRACT, {f.name: i for i, f in enumerate(FIELDS)}, len(FIELDS)).collect()
    assert row[REASON] == reason
    if reason is None and column is None:
        assert (row["id"], row["active"], row["seats"], row["price"]) == (1, True, 4, Decimal("1234.50"))


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({}, None),
        ({"active": "true"}, "wrong type for active: expected true or false"),
        ({"kind": "FCEV"}, "kind 'FCEV' is not one of the allowed values (BEV, PHEV)"),
        ({"vin": "ab12"}, "vin 'ab12' does not match the pattern [A-Z0-9]{4}"),
        ({"seen": "yesterday"}, "invalid seen 'yesterday': expected yyyy-MM-dd HH:mm:ss"),
        ({"seats": 12}, "seats is above 9"),
    ],
)
def test_json_lines_get_the_same_rules(spark, changes, reason):
    record = {"id": 1, "active": True, "seats": 4, "price": 12.5, "kind": "BEV", "vin": "AB12", "day": "29.02.2024",
              "seen": "2024-02-29 23:59:59", **changes}
    lines = spark.createDataFrame([(json.dumps(record), 1)], f"{VALUE} string, {LINE_ORDER} long")
    [row] = classify(lines, CONTRACT).collect()
    assert row[REASON] == reason


def test_a_dialect_of_semicolons_and_backslash_escapes(spark):
    from dataclasses import replace

    from etl.transforms_csv import assemble_records, multi_line_spans, quote_count

    dialect = replace(CONTRACT, csv=(("delimiter", ";"), ("escape", "\\")))
    text = ['1;true;4;1.5;BEV;AB12;29.02.2024;"2024-02-29 23:59:59"',
            '2;false;4;2;"BEV";"A\\"1;";29.02.2024;2024-02-29 23:59:59',
            '3;false;4;2;BEV;"AB\\"\n2";29.02.2024;2024-02-29 23:59:59']
    lines = spark.createDataFrame([(line, i) for i, line in enumerate("\n".join(text).split("\n"))],
                                  f"{VALUE} string, {LINE_ORDER} long")
    odd = [row[LINE_ORDER] for row in lines.where(quote_count(dialect) % 2 == 1).collect()]
    records = assemble_records(spark, lines, multi_line_spans(odd), {0: 4})
    rows = classify_records(records, dialect, {f.name: i for i, f in enumerate(FIELDS)}, len(FIELDS))
    found = {row["id"]: (row["vin"], row[REASON]) for row in rows.collect()}
    assert found == {
        1: ("AB12", None),
        2: ('A"1;', 'vin \'A"1;\' does not match the pattern [A-Z0-9]{4}'),
        3: ('AB"\n2', 'vin \'AB"\n2\' does not match the pattern [A-Z0-9]{4}'),
    }
