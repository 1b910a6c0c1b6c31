"""The pipeline's own Spark expressions (etl.native, jvm/) give what Spark's built-in functions give.

``classify`` parses each line and counts its characters with them; ``classify(native=False)`` does the
same with Spark's own ``from_json`` and ``split``. Both are run here on the same lines, read from bytes
by Spark's text reader as a landing file is: every line of the bad-input corpus, lines of bytes that are
not UTF-8 in each way Java's decoder refuses, and generated mixes of JSON and stray bytes. The byte
parser must never see a line it would read otherwise than ``from_json``.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st
from pyspark.sql import functions as F

from etl.contracts import load_contract
from etl.native import count_byte
from etl.transforms import LINE_ORDER, VALUE, classify, prepare_lines

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


def test_count_byte_counts_a_character_in_any_text(spark):
    texts = ['{"a": "}}"}', "", "ü}é}€}😀", None, ":" * 300]
    frame = spark.createDataFrame([(text,) for text in texts], f"{VALUE} string")
    counted = frame.select(count_byte(F.col(VALUE), "}").alias("braces"), count_byte(F.col(VALUE), ":").alias("colons"))
    assert [tuple(row) for row in counted.collect()] == [(3, 1), (0, 0), (3, 0), (None, None), (0, 300)]
    with pytest.raises(Exception, match="one ASCII character"):
        count_byte(F.col(VALUE), "é")
