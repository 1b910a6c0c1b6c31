"""The pure transforms on tiny literal frames, on local Spark."""

import dataclasses
import datetime as dt
import json

import pytest
from pyspark.sql import functions as F

from etl.contracts import PartitionColumn, load_contract
from etl.transforms import (
    classify,
    latest_per_key,
    normalize,
    partition_key,
    partition_values,
    prepare_lines,
    valid_records,
)

pytestmark = pytest.mark.slow

CONTRACT = load_contract("shipping")
GOOD = {
    "shipping_id": 12345, "shipping_date": "2024/01/15", "customer_name": "John Doe",
    "street_address": "123 Main St", "destination_city": "serverless_island",
    "shipping_cost": 1500.0, "shipping_distance": 50.0, "quantity": 2500.0, "product_id": 67890,
}


def line(**changes):
    record = {**GOOD, **changes}
    return json.dumps({k: v for k, v in record.items() if v is not ...})


def reasons(spark, lines):
    frame = spark.createDataFrame([(text, i) for i, text in enumerate(lines)], "value string, line_order long")
    classified = classify(prepare_lines(frame).drop("is_blank"), CONTRACT)
    return [row.reason for row in classified.orderBy("line_order").collect()]


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (line(), None),
        (line(shipping_cost=1500, quantity=2500, shipping_distance=50), None),  # integers where doubles are declared
        (line(product_id=...), None),  # optional field omitted
        (line(extra_field=[1, 2]), None),  # unknown fields are ignored
        ("\ufeff" + line(), None),  # UTF-8 byte order mark
        ('{"shipping_id": 1, "shipping_date": "2024/01/1', "malformed JSON"),
        ("not json", "malformed JSON"),
        ("[1, 2]", "not a JSON object"),
        (line(shipping_cost="abc"), "wrong type for shipping_cost: expected number"),
        (line(shipping_id=1.5), "wrong type for shipping_id: expected integer"),
        (line(shipping_id="12345"), "wrong type for shipping_id: expected integer"),
        (line(shipping_id=99999999999999999999), "wrong type for shipping_id: expected integer"),
        (line(shipping_id=...), "missing required field shipping_id"),
        (line(destination_city=None), "missing required field destination_city"),
        (line(destination_city="   "), "missing required field destination_city"),
        (line(shipping_cost=-1), "shipping_cost is below 0"),
        (line(quantity=1e12), "quantity is above 1e+09"),
        (line().replace('"shipping_cost": 1500.0', '"shipping_cost": NaN'), "shipping_cost is not a finite number"),
        (line().replace('"shipping_cost": 1500.0', '"shipping_cost": 1e400'), "shipping_cost is not a finite number"),
        (line(shipping_date="2024/13/45"), "invalid shipping_date '2024/13/45': expected yyyy/MM/dd"),
        (line(shipping_date="2024-01-15"), "invalid shipping_date '2024-01-15': expected yyyy/MM/dd"),
        (line(shipping_date="2024/1/5"), "invalid shipping_date '2024/1/5': expected yyyy/MM/dd"),
        (line(shipping_date="2023/02/29"), "invalid shipping_date '2023/02/29': expected yyyy/MM/dd"),
        (line().replace("John Doe", "Zo\ufffd"), "line is not valid UTF-8"),  # bytes Spark could not decode
    ],
)
def test_classify_gives_each_line_one_reason(spark, text, reason):
    assert reasons(spark, [text]) == [reason]


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        # Counted quotes balance: a string field sent as a number, and two escaped quotes elsewhere.
        (line(customer_name=5, street_address='a"b"'), "wrong type for customer_name: expected string"),
        (line(customer_name=5).replace("John Doe", "x").replace('"123 Main St"', '"a\\u0022b\\u0022"'),
         "wrong type for customer_name: expected string"),
        # ... a double sent as the text "NaN" and a string field sent as a number.
        (line(shipping_cost="NaN", customer_name=5), "wrong type for customer_name: expected string"),
        (line(customer_name=["a"]), "wrong type for customer_name: expected string"),
        (line(customer_name={}), "wrong type for customer_name: expected string"),
        (line(customer_name=True), "wrong type for customer_name: expected string"),
        # Nothing may follow the object, even when the line still ends with a brace.
        (line() + " {}", "malformed JSON"),
        (line() + ", {}", "more than one JSON value on the line"),
        (line() + "}", "malformed JSON"),
        (line() + " x}", "malformed JSON"),
        # A repeated key written with a space before its colon, or repeated with null.
        (line().replace('"shipping_id": 12345', '"shipping_id" : 12345, "shipping_id": 7'),
         "duplicate key shipping_id"),
        (line().replace('"product_id": 67890', '"product_id": 67890, "product_id": null'), "duplicate key product_id"),
        # Lines the quick tests pass to the full checks, which accept them.
        (line(street_address="Unit 4: Main St}"), None),
        (line(customer_name='Jo "JD" Doe'), None),
        (line() + "  \t", None),
        (line(product_id=None), None),
    ],
)
def test_lines_made_to_pass_the_quick_tests_get_the_full_checks(spark, text, reason):
    """Most lines skip the costly checks by counting ``:``, ``}`` and ``"`` (transforms._plainly_one_object)."""
    assert reasons(spark, [text]) == [reason]


def test_valid_records_are_typed_and_keep_pii_for_the_raw_zone(spark):
    frame = spark.createDataFrame([(line(shipping_cost=1500), 0)], "value string, line_order long")
    raw = valid_records(classify(frame, CONTRACT), CONTRACT, "2024-01-15T10:30:00Z")
    row = raw.collect()[0]
    assert row.shipping_cost == 1500.0 and isinstance(row.shipping_cost, float)
    assert row.customer_name == "John Doe"
    assert row.ingested_at == dt.datetime(2024, 1, 15, 10, 30)
    assert dict(raw.dtypes)["shipping_id"] == "bigint"


def test_normalize_drops_pii_parses_dates_trims_and_partitions(spark):
    frame = spark.createDataFrame([(line(destination_city="  main_city "), 0)], "value string, line_order long")
    raw = valid_records(classify(frame, CONTRACT), CONTRACT, "2024-01-15T10:30:00Z")
    out = normalize(raw, CONTRACT, "run-1")
    assert "customer_name" not in out.columns and "street_address" not in out.columns
    row = out.collect()[0]
    assert row.shipping_date == dt.date(2024, 1, 15)
    assert dict(out.dtypes)["shipping_date"] == "date"
    assert (row.destination_city, row.year, row.month, row.run_id) == ("main_city", "2024", "01", "run-1")


@pytest.mark.parametrize(
    ("date_format", "dates", "partitions"),
    [
        ("yyyy/MM/dd", ["2024/01/15", "1999/12/31"], (("year", "yyyy"), ("month", "MM"))),
        ("dd.MM.yyyy", ["15.01.2024", "31.12.1999"], (("year", "yyyy"), ("month", "MM"))),  # the slice is MM.yyyy
        ("yyyy,MM,dd", ["2024,01,15"], (("year", "yyyy"), ("month", "MM"))),  # a comma: the values are joined
        ("yyyy/MM/dd", ["2024/01/15"], (("year", "yyyy"), ("day", ""))),  # a field's own value: joined
    ],
)
def test_the_partition_key_reads_back_as_the_partition_values(spark, date_format, dates, partitions):
    columns = tuple(PartitionColumn(name, "shipping_date" if fmt else "shipping_id", fmt) for name, fmt in partitions)
    contract = dataclasses.replace(CONTRACT, date_format=date_format, partition_columns=columns)
    frame = spark.createDataFrame([(date, 7) for date in dates], "shipping_date string, shipping_id bigint")
    key, values = partition_key(contract)
    rows = frame.select(key.alias("key"), *partition_values(contract)).collect()
    assert [values(row.key) for row in rows] == [[str(value) for value in row[1:]] for row in rows]
    assert all("," not in row.key for row in rows)
    if date_format == "yyyy/MM/dd" and partitions[1][1]:
        assert [row.key for row in rows] == ["2024/01", "1999/12"]  # one slice of the date, no values joined


def test_latest_per_key_keeps_the_newest_row(spark):
    frame = spark.createDataFrame(
        [(1, "a", 1), (1, "b", 3), (1, "c", 2), (2, "d", 1)], "id long, value string, version long"
    )
    kept = latest_per_key(frame, ["id"], [F.col("version").desc()]).orderBy("id").collect()
    assert [(r.id, r.value) for r in kept] == [(1, "b"), (2, "d")]


DATE_TEXTS = [
    "2024/01/15", "2024/02/29", "2023/02/29", "2024/04/31", "2024/13/01", "2024/00/10", "2024/01/00", "0000/01/01",
    "0001/01/01", "1582/10/10", "9999/12/31", "2024/1/15", "2024/01/5", "2024/01/5 ", " 2024/01/15", "2024/01/15 ",
    "+024/01/15", "-024/01/15", "2024-01-15", "2024/01-15", "20240115", "12024/01/15", "２０２４/01/15", "2024/0١/15",
    "2024/01/1é", "2024/01/15\n", "", "    /  /  ", "abcd/ef/gh", "2024/+1/15", "2024/ 1/15", "2024/01/+5",
]


@pytest.mark.parametrize("date_format", ["yyyy/MM/dd", "dd.MM.yyyy", "yyyyMMdd", "MM/dd/yyyy"])
def test_the_fast_date_check_answers_as_the_regex_and_to_date_do(spark, date_format):
    from etl.transforms import _date_regex, is_date

    texts = [*DATE_TEXTS, dt.date(2024, 2, 29).strftime(_strftime(date_format)), "1900/02/29", "29.02.1900"]
    frame = spark.createDataFrame([(text,) for text in texts], "value string")
    value = F.col("value")
    reference = value.rlike("^" + _date_regex(date_format) + "$") & F.to_date(value, date_format).isNotNull()
    rows = frame.select("value", is_date(value, date_format).alias("fast"), reference.alias("reference")).collect()
    assert [(r.value, r.fast) for r in rows] == [(r.value, r.reference) for r in rows]
    assert any(r.fast for r in rows) and not all(r.fast for r in rows)


INTEGER_TEXTS = [
    "0", "42", "+42", "-42", "007", " 42", "42 ", "\t42\r", "4 2", "42.", "42.0", "4.2", ".5", "5e3", "+", "-", "+-5",
    "--5", "2147483647", "2147483648", "-2147483648", "9223372036854775808", "\x0142", "42\x01", " \x01 42",
    "٤٢", "４２", "42a", "a42", "0x1F", "", " ", "1_000",
]


@pytest.mark.parametrize("field_type", ["int", "bigint"])
def test_the_fast_integer_check_answers_as_the_regex_and_the_cast_do(spark, field_type):
    from etl.transforms_csv import _INTEGER, is_integer

    frame = spark.createDataFrame([(text,) for text in INTEGER_TEXTS], "value string")
    value = F.col("value")
    typed = F.trim(value).cast(field_type)
    reference = value.rlike(_INTEGER) & typed.isNotNull()
    rows = frame.select("value", is_integer(value, typed).alias("fast"), reference.alias("reference")).collect()
    assert [(r.value, r.fast) for r in rows] == [(r.value, r.reference) for r in rows]
    assert any(r.fast for r in rows) and not all(r.fast for r in rows)


def _strftime(date_format: str) -> str:
    return date_format.replace("yyyy", "%Y").replace("MM", "%m").replace("dd", "%d")
