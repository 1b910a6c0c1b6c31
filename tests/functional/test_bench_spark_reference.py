"""The benchmark's plain-Spark reference engine does the DuckDB engine's work: same counts, rows and reasons.

Its numbers are only meaningful as "Spark doing what DuckDB did", so it has to agree with DuckDB
on lines that break the contract's rules too, not only on the benchmark's clean input.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from etl.generator import write_file

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # `bench` lives at the repository root, next to src/

from bench.engines import duckdb_engine, spark_engine  # noqa: E402
from bench.engines.common import NORMALIZE, TO_RAW, EngineJob, StepClock  # noqa: E402
from bench.outputs import read_table  # noqa: E402

pytestmark = pytest.mark.slow

GOOD = {"shipping_id": 7, "shipping_date": "2024/02/29", "destination_city": " serverless_island ",
        "shipping_cost": 10.5, "shipping_distance": 3.0, "quantity": 4.0, "product_id": 2}
# Well-formed lines that break one rule each (malformed JSON is out: DuckDB's reader skips it).
BROKEN = [
    ({**GOOD, "shipping_id": 0}, "shipping_id is below 1"),
    ({**GOOD, "shipping_date": "2024/02/30"}, "invalid shipping_date"),
    ({**GOOD, "shipping_date": "2024-02-01"}, "invalid shipping_date"),
    ({**GOOD, "destination_city": "  "}, "missing required field destination_city"),
    ({key: value for key, value in GOOD.items() if key != "quantity"}, "missing required field quantity"),
    ({**GOOD, "shipping_cost": -1}, "shipping_cost is below 0"),
    ({**GOOD, "shipping_distance": 2e6}, "shipping_distance is above 1e+06"),
]


def processed_rows(job: EngineJob) -> list[dict]:
    return sorted(read_table(job.processed_dataset).to_pylist(), key=lambda row: sorted(row.items()))


def quarantined(job: EngineJob) -> list[tuple[int, str]]:
    lines = []
    for path in job.quarantine_run.glob("*.json"):
        lines += [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return sorted((line["line_number"], line["reason"]) for line in lines)


def test_reference_engine_agrees_with_duckdb_on_rows_counts_and_reasons(spark, tmp_path):
    source = tmp_path / "shipping.json"
    stats = write_file(source, 400, seed=11, duplicate_rate=0.05)
    generated = source.read_text(encoding="utf-8").splitlines()
    extra = [json.dumps(GOOD), json.dumps({**GOOD, "shipping_cost": 11.5})]  # a key re-sent: the later line wins
    broken_lines = [json.dumps(record) for record, _ in BROKEN]
    source.write_text("\n".join([*generated, *extra, *broken_lines]) + "\n", encoding="utf-8")

    counts, jobs = {}, {}
    for name, engine in (("duckdb", duckdb_engine), ("spark", spark_engine)):
        jobs[name] = EngineJob(source=source, lake=tmp_path / name, run_id="run-1")
        counts[name] = engine.run(jobs[name], StepClock())

    assert counts["spark"] == counts["duckdb"]
    assert counts["spark"][TO_RAW] == {"records_read": len(generated) + 2 + len(BROKEN),
                                       "loaded": len(generated) + 2, "quarantined": len(BROKEN)}
    assert counts["spark"][NORMALIZE]["records"] == stats.records + 1
    first_broken = len(generated) + len(extra) + 1
    expected = [(first_broken + offset, reason) for offset, (_, reason) in enumerate(BROKEN)]
    assert quarantined(jobs["spark"]) == quarantined(jobs["duckdb"]) == expected

    spark_rows = processed_rows(jobs["spark"])
    assert spark_rows == processed_rows(jobs["duckdb"])
    assert len(spark_rows) == stats.records + 1
    [resent] = [row for row in spark_rows if row["shipping_id"] == GOOD["shipping_id"]]
    assert (resent["destination_city"], resent["shipping_cost"]) == ("serverless_island", 11.5)
    assert str(resent["shipping_date"]) == "2024-02-29"
    for job in jobs.values():  # the partition folders are named as the contract's formats say
        assert (job.processed_dataset / "year=2024" / "month=02").is_dir()
    assert "customer_name" not in resent and "street_address" not in resent


def test_every_engine_quarantines_the_same_lines_of_a_realistic_file(spark, tmp_path):
    """The benchmark's realistic input: each kind of bad line it mixes in is rejected by all three engines."""
    from etl.generator import BAD_LINE_KINDS, ENCODING, ERRORS
    from etl.jobs import json_to_parquet
    from etl.jobs.runner import run_job

    good = {**GOOD, "customer_name": "Ann Example", "street_address": "1 Main St"}
    lines, bad_numbers = [], []
    for offset, (_, spoil) in enumerate(BAD_LINE_KINDS):
        lines.append(json.dumps({**good, "shipping_id": 100 + offset}))
        lines.append(spoil({**good, "shipping_id": 200 + offset}))
        bad_numbers.append(len(lines))
    source = tmp_path / "realistic.json"
    source.write_bytes(("\n".join(lines) + "\n").encode(ENCODING, ERRORS))

    numbers = {}
    for name, engine in (("duckdb", duckdb_engine), ("spark", spark_engine)):
        job = EngineJob(source=source, lake=tmp_path / name, run_id="run-1")
        assert engine.run(job, StepClock())[TO_RAW]["quarantined"] == len(BAD_LINE_KINDS)
        numbers[name] = [number for number, _ in quarantined(job)]
    lake = tmp_path / "pipeline"
    run_job(json_to_parquet.run, json_to_parquet.ARGUMENTS, [
        "json_to_parquet.py", "--JOB_NAME", TO_RAW, "--run_id", "run-1", "--dataset", "shipping",
        "--database", "etl", "--source_uri", source.as_uri(), "--ingested_at", "2026-12-01T00:00:00Z",
        "--raw_uri", (lake / "raw").as_uri(), "--quarantine_uri", (lake / "quarantine").as_uri()], spark)
    numbers["pipeline"] = [number for number, _ in quarantined(EngineJob(source=source, lake=lake, run_id="run-1"))]

    assert numbers == dict.fromkeys(("duckdb", "spark", "pipeline"), bad_numbers)
