"""normalize writes a small merge with one task and a large one spread over the cores: the same rows either way.

The tests' files are all small, so without forcing it the spread path (one more shuffle, by
partition) would run only in the benchmark.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from etl.generator import write_file
from etl.jobs import normalize as normalize_job

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # the Glue scripts are run through the benchmark's loader of them

from bench.engines.common import EngineJob, StepClock  # noqa: E402
from bench.engines.pipeline_engine import run as run_glue_scripts  # noqa: E402
from bench.outputs import data_files, read_table  # noqa: E402

pytestmark = pytest.mark.slow


def processed(lake: Path) -> tuple[list[tuple], dict[str, int]]:
    """The processed rows (sorted) and the number of Parquet files in each partition folder."""
    folder = lake / "processed" / "shipping"
    table = read_table(folder)
    columns = sorted(c for c in table.column_names if c != "run_id")
    rows = sorted(zip(*(table.column(c).to_pylist() for c in columns), strict=True))
    per_folder: dict[str, int] = {}
    for path in data_files(folder):
        key = path.parent.relative_to(folder).as_posix()
        per_folder[key] = per_folder.get(key, 0) + 1
    return rows, per_folder


def test_one_writer_and_spread_writers_give_the_same_partitions(spark, tmp_path, monkeypatch):
    source = tmp_path / "shipping.json"
    stats = write_file(source, 3000, seed=7, duplicate_rate=0.05)
    run_glue_scripts(EngineJob(source=source, lake=tmp_path / "one", run_id="run-1"), StepClock())
    monkeypatch.setattr(normalize_job, "SHUFFLE_PARTITION_BYTES", 16 * 1024)  # this merge counts as large
    run_glue_scripts(EngineJob(source=source, lake=tmp_path / "spread", run_id="run-1"), StepClock())

    one_rows, one_files = processed(tmp_path / "one")
    spread_rows, spread_files = processed(tmp_path / "spread")
    assert len(one_rows) == stats.records and one_rows == spread_rows
    assert set(one_files) == set(spread_files) and len(one_files) > 1
    assert set(one_files.values()) == {1} and set(spread_files.values()) == {1}  # one file per partition
