"""json_to_parquet's rejected lines: verbatim, at their exact line number, one reason each, nothing lost.

The first read holds back the lines its quick check does not pass (bad ones, and valid ones it cannot
vouch for): they are checked in full afterwards, the bad quarantined and the valid loaded.
It keeps the text of the first held lines of each split; more are found again by the
position the first read gave them (an IN filter for a few, a join for more); a file with more than
REJECTED_BY_POSITION of them has every line checked again.
Every way must give the same quarantine,
for a file read as several splits, a gzip file (one split) and a JSON array (numbered by element).
Expected line numbers and reasons are worked out here in plain Python, from the bytes written.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from etl.contracts import load_contract
from etl.jobs import json_to_parquet
from etl.jobs.runner import run_job
from etl.sniff import HEAD_BYTES
from etl.transforms import mostly_plain

pytestmark = pytest.mark.slow

GOOD = {
    "shipping_id": 1, "shipping_date": "2024/01/15", "customer_name": "Ann Example",
    "street_address": "1 Main St", "destination_city": "main_city",
    "shipping_cost": 15.0, "shipping_distance": 5.0, "quantity": 25.0, "product_id": 7,
}
# A bad line of each kind the first read rejects, and the one reason it must get.
BAD = [
    ('{"shipping_id": 9, "shipping_date": "2024/0', "malformed JSON"),
    ("[1, 2]", "not a JSON object"),
    (json.dumps({**GOOD, "shipping_cost": "abc"}), "wrong type for shipping_cost: expected number"),
    (json.dumps({**GOOD, "shipping_cost": -3}), "shipping_cost is below 0"),
    (json.dumps({**GOOD, "shipping_date": "2023/02/29"}), "invalid shipping_date '2023/02/29': expected yyyy/MM/dd"),
    (json.dumps({k: v for k, v in GOOD.items() if k != "destination_city"}), "missing required field destination_city"),
    (json.dumps(GOOD) + ", " + json.dumps(GOOD), "more than one JSON value on the line"),
    (json.dumps(GOOD) + json.dumps(GOOD), "malformed JSON"),
]
LATIN1 = (json.dumps({**GOOD, "customer_name": "Zoë"}, ensure_ascii=False).encode("latin-1"), "line is not valid UTF-8")


def lines_with_bad(records: int, every: int) -> tuple[list[bytes], dict[int, tuple[bytes, str]]]:
    """``records`` good lines, with a bad line (of each kind in turn) after every ``every``-th; 1-based numbers."""
    lines: list[bytes] = []
    expected: dict[int, tuple[bytes, str]] = {}
    kinds = [(text.encode(), reason) for text, reason in BAD] + [LATIN1]
    for i in range(records):
        padding = "x" * (i % 50)  # lines of unequal length, so the splits fall anywhere in a line
        lines.append(json.dumps({**GOOD, "shipping_id": i + 1, "street_address": f"{i} Main St {padding}"}).encode())
        if i % every == every - 1:
            text, reason = kinds[len(expected) % len(kinds)]
            lines.append(text)
            expected[len(lines)] = (text, reason)
    return lines, expected


def run_to_raw(spark, tmp_path: Path, source: Path) -> dict:
    lake = tmp_path / "lake"
    argv = ["json_to_parquet.py", "--JOB_NAME", "json_to_parquet", "--run_id", "r1", "--dataset", "shipping",
            "--database", "etl", "--source_uri", source.as_uri(), "--ingested_at", "2026-12-01T00:00:00Z",
            "--raw_uri", (lake / "raw").as_uri(), "--quarantine_uri", (lake / "quarantine").as_uri()]
    return run_job(json_to_parquet.run, json_to_parquet.ARGUMENTS, argv, spark)


def quarantined(tmp_path: Path) -> dict[int, tuple[str, str]]:
    rows = [json.loads(line) for path in sorted((tmp_path / "lake/quarantine/shipping/run_id=r1").glob("*.json"))
            for line in path.read_text(encoding="utf-8").splitlines()]
    return {row["line_number"]: (row["raw_line"], row["reason"]) for row in rows}


def as_quarantined(text: bytes) -> str:
    return text.decode("utf-8", errors="replace")  # JSON cannot hold an undecodable byte: it shows as U+FFFD


@pytest.fixture(params=["kept by the first read", "more than kept, by position", "by position, IN list",
                        "by position, join", "every line again"])
def lookup(request, monkeypatch):
    if request.param == "more than kept, by position":
        monkeypatch.setattr(json_to_parquet, "KEPT_LINES_PER_SPLIT", 2)
    elif request.param != "kept by the first read":
        monkeypatch.setattr(json_to_parquet, "KEPT_LINES_PER_SPLIT", 0)
    if request.param == "by position, join":
        monkeypatch.setattr(json_to_parquet, "IN_LIST_UP_TO", 1)
    if request.param == "every line again":
        monkeypatch.setattr(json_to_parquet, "REJECTED_BY_POSITION", 3)
    return request.param


def test_lines_of_a_file_read_as_several_splits(spark, tmp_path, lookup):
    lines, expected = lines_with_bad(30_000, every=997)  # some 4.5 MB: more than one split per core
    source = tmp_path / "several_splits.json"
    source.write_bytes(b"\n".join(lines) + b"\n")
    with json_to_parquet._reading_settings(spark, source.stat().st_size):
        assert spark.read.text(str(source)).rdd.getNumPartitions() > 1

    manifest = run_to_raw(spark, tmp_path, source)

    assert quarantined(tmp_path) == {n: (as_quarantined(text), reason) for n, (text, reason) in expected.items()}
    assert (manifest["records_read"], manifest["quarantined"]) == (len(lines), len(expected))
    assert manifest["loaded"] == 30_000
    # The processed partitions normalize will write: the loaded lines' month only, not a rejected line's 2023/02.
    assert manifest["partitions"] == [["2024", "01"]]


def test_lines_of_a_gzip_file(spark, tmp_path, lookup):
    lines, expected = lines_with_bad(3_000, every=211)
    source = tmp_path / "batch.json.gz"
    source.write_bytes(gzip.compress(b"\r\n".join(lines) + b"\r\n", mtime=0))  # CRLF: numbered like LF

    manifest = run_to_raw(spark, tmp_path, source)

    assert quarantined(tmp_path) == {n: (as_quarantined(text), reason) for n, (text, reason) in expected.items()}
    assert (manifest["loaded"], manifest["quarantined"]) == (3_000, len(expected))


def test_elements_of_a_json_array(spark, tmp_path, lookup):
    elements: list[object] = [{**GOOD, "shipping_id": i + 1} for i in range(500)]
    bad = {37: 5, 120: [1, 2], 377: {**GOOD, "shipping_cost": "abc"}, 500: {**GOOD, "shipping_date": "2024-01-15"}}
    for position, element in sorted(bad.items()):
        elements.insert(position - 1, element)
    source = tmp_path / "array.json"
    source.write_text(json.dumps(elements, indent=1), encoding="utf-8")

    manifest = run_to_raw(spark, tmp_path, source)

    assert {n: reason for n, (_, reason) in quarantined(tmp_path).items()} == {
        37: "not a JSON object",
        120: "not a JSON object",
        377: "wrong type for shipping_cost: expected number",
        500: "invalid shipping_date '2024-01-15': expected yyyy/MM/dd",
    }
    assert {n: json.loads(text) for n, (text, _) in quarantined(tmp_path).items()} == bad
    assert (manifest["loaded"], manifest["quarantined"]) == (500, 4)


def valid_but_not_plain(i: int) -> bytes:
    """A valid line the quick yes cannot vouch for (it is then held, and loaded by the full check)."""
    kinds = [
        {**GOOD, "shipping_id": i, "product_id": None},  # an explicit null: one ':' more than values
        {**GOOD, "shipping_id": i, "street_address": "Unit 4: rear {yard}"},  # ':' and braces in a text
        {**GOOD, "shipping_id": i, "customer_name": 'Ann "Nan" Example'},  # an escaped quote
    ]
    return json.dumps(kinds[i % len(kinds)]).encode()


def raw_ids(tmp_path: Path, spark) -> list[int]:
    rows = spark.read.parquet(str(tmp_path / "lake/raw/shipping/run_id=r1")).select("shipping_id").collect()
    return sorted(row[0] for row in rows)


def test_valid_lines_held_back_by_the_quick_yes_still_load(spark, tmp_path, lookup):
    # Mostly plain lines (the pass holds back only the others), some valid lines it cannot vouch for, bad lines.
    lines, expected = lines_with_bad(6_000, every=499)
    held_valid = {}
    for position in range(len(lines) - 1, 0, -301):
        shipping_id = 100_000 + position
        lines.insert(position, valid_but_not_plain(shipping_id))
        held_valid[shipping_id] = position
    # A bad line with a key above every loaded one: the key range handed to normalize leaves it out.
    outlier = json.dumps({**GOOD, "shipping_id": 999_999, "shipping_cost": -3}).encode()
    lines.insert(len(lines) // 2, outlier)
    expected = {}
    kinds = {text: reason for text, reason in [(t.encode(), r) for t, r in BAD] + [LATIN1]}
    kinds[outlier] = "shipping_cost is below 0"
    for number, text in enumerate(lines, start=1):
        if text in kinds:
            expected[number] = (text, kinds[text])
    source = tmp_path / "held.json"
    source.write_bytes(b"\n".join(lines) + b"\n")
    assert mostly_plain(source.read_bytes()[:HEAD_BYTES].decode("utf-8", "replace"), load_contract("shipping"))

    manifest = run_to_raw(spark, tmp_path, source)

    assert quarantined(tmp_path) == {n: (as_quarantined(text), reason) for n, (text, reason) in expected.items()}
    assert raw_ids(tmp_path, spark) == sorted([*range(1, 6_001), *held_valid])
    assert (manifest["records_read"], manifest["loaded"], manifest["quarantined"]) == (
        len(lines), 6_000 + len(held_valid), len(expected))
    assert manifest["partitions"] == [["2024", "01"]]
    # The loaded keys' range, the highest from a held line loaded after the full check.
    assert manifest["key_range"] == [1, max(held_valid)]


def test_a_file_mostly_held_back_is_checked_in_full_in_its_one_pass(spark, tmp_path, lookup):
    # Every line sends an explicit null: the first lines are not plain, so the pass makes the full check.
    lines = [json.dumps({**GOOD, "shipping_id": i + 1, "product_id": None}).encode() for i in range(2_000)]
    lines[999] = BAD[3][0].encode()
    source = tmp_path / "nulls.json"
    source.write_bytes(b"\n".join(lines) + b"\n")
    assert not mostly_plain(source.read_text(encoding="utf-8")[:HEAD_BYTES], load_contract("shipping"))

    manifest = run_to_raw(spark, tmp_path, source)

    assert quarantined(tmp_path) == {1_000: (BAD[3][0], BAD[3][1])}
    assert raw_ids(tmp_path, spark) == [i + 1 for i in range(2_000) if i != 999]
    assert (manifest["loaded"], manifest["quarantined"]) == (1_999, 1)
