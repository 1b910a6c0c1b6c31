"""The CSV series' plain-Spark reference (Spark's CSV source) does the pipeline's work on a realistic EV export:
it quarantines exactly the rows the pipeline quarantines, every kind of bad row included, and writes the
same processed rows."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import pytest

from etl.generator_ev import BAD_ROW_KINDS, FIRST_VEHICLE_ID, HEADER, write_ev_file

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # `bench` lives at the repository root, next to src/

from bench.datasets import EV  # noqa: E402
from bench.engines import pipeline_engine, spark_csv_engine  # noqa: E402
from bench.engines.common import NORMALIZE, TO_RAW, EngineJob, StepClock  # noqa: E402
from bench.outputs import read_table, summarize  # noqa: E402

pytestmark = pytest.mark.slow

RECORDS = 2_000
ID_COLUMN = HEADER.index("DOL Vehicle ID")


def quarantined_lines(job: EngineJob) -> list[int]:
    numbers = []
    for path in job.quarantine_run.rglob("*.json"):
        numbers += [json.loads(line)["line_number"] for line in path.read_text(encoding="utf-8").splitlines()
                    if line.strip()]
    return sorted(numbers)


def test_csv_reference_quarantines_the_pipelines_rows_and_writes_the_same_output(spark, tmp_path):
    source = tmp_path / "ev.csv"
    stats = write_ev_file(source, RECORDS, seed=5, duplicate_rate=0.01, bad_rate=0.02)
    assert stats.bad_lines >= 2 * len(BAD_ROW_KINDS)  # each kind of bad row at least twice (they come in turn)
    with source.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    # A bad row is made from a vehicle of its own, numbered after every good one; the header is line 1.
    bad = [number for number, row in enumerate(rows[1:], start=2) if int(row[ID_COLUMN]) >= FIRST_VEHICLE_ID + RECORDS]
    assert len(bad) == stats.bad_lines

    jobs, counts = {}, {}
    for name, engine in (("pipeline", pipeline_engine), ("spark", spark_csv_engine)):
        jobs[name] = EngineJob(source=source, lake=tmp_path / name, run_id="run-1", dataset=EV)
        counts[name] = engine.run(jobs[name], StepClock())

    for name in jobs:
        assert counts[name][TO_RAW]["records_read"] == len(rows) - 1, name
        assert counts[name][TO_RAW]["quarantined"] == stats.bad_lines, name
        assert quarantined_lines(jobs[name]) == bad, name
    assert counts["spark"][NORMALIZE]["records"] == RECORDS

    summaries = {name: summarize(job.processed_dataset) for name, job in jobs.items()}
    assert summaries["spark"] is not None and summaries["pipeline"] is not None
    assert summaries["spark"].agrees_with(summaries["pipeline"]), summaries
    assert (summaries["spark"].rows, summaries["spark"].distinct_keys) == (RECORDS, RECORDS)
    assert summaries["spark"].sum_column == "base_msrp" and summaries["spark"].partitions > 1

    def latest(name: str) -> list[tuple[int, str, str, str]]:
        table = read_table(jobs[name].processed_dataset).to_pylist()
        return sorted((r["dol_vehicle_id"], str(r["base_msrp"]), r["vin_1_10"], str(r["year"])) for r in table)

    assert latest("spark") == latest("pipeline")
