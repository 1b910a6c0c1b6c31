"""A run killed at any point (inside a Glue job, between steps) leaves nothing half-written where
queries look, and running it again gives the same tables as a run that was never interrupted.

The pipeline runs as the user runs it, ``etl run FILE`` in its own process (Python and the
Spark JVM), and is killed with SIGKILL when the lake shows it reached the point under test.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from etl.athena.local import LocalAthena
from etl.commits import reading
from etl.config import LocalSettings
from etl.generator import write_file
from etl.glue.crawler import list_data_files
from etl.glue.iceberg import snapshot_files
from etl.local.runlog import RUNNING, SUCCEEDED, is_alive
from etl.local.runtime import LocalRuntime

pytestmark = pytest.mark.slow

RECORDS = 100_000  # enough that each job writes for a moment the test can catch
SNAPSHOT = ("SELECT shipping_id, shipping_date, destination_city, shipping_cost, shipping_distance, quantity, "
            "product_id, year, month FROM processed_shipping ORDER BY shipping_id")


def _files_under(folder: Path) -> bool:
    return folder.is_dir() and any(p.is_file() for p in folder.rglob("*"))


# Each point is reached in the order listed; the same run is killed at each, then finished.
KILL_POINTS = {
    "inside json_to_parquet while it writes": lambda lake, run_id: _files_under(lake / "raw/shipping/_staging"),
    "between the jobs (json_to_parquet done)": lambda lake, run_id: (
        lake / f"raw/_runs/{run_id}/json_to_parquet.json").is_file(),
    # Iceberg writes the new data files in place, then commits a snapshot that lists them.
    "inside normalize while it writes": lambda lake, run_id: _files_under(lake / "processed/shipping/data"),
    "after normalize (crawlers, query)": lambda lake, run_id: (lake / f"raw/_runs/{run_id}/normalize.json").is_file(),
}


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("input") / "shipping_data.json-2026-11-22-12-00-00.json"
    write_file(path, RECORDS, seed=11, duplicate_rate=0.02, bad_rate=0.001)
    return path


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory, spark, source):
    runtime = LocalRuntime(LocalSettings.resolve(lake_root=tmp_path_factory.mktemp("reference")),
                           spark=lambda: spark)
    runtime.drop(source, "shipping")
    [started] = runtime.process_landing().started
    assert runtime.runs.get(started["run_id"]).status == SUCCEEDED
    return runtime, started["run_id"]


def start_run(lake: Path, source: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "etl.cli", "--lake", str(lake), "run", str(source), "--quiet"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True,
    )


def kill_when(process: subprocess.Popen[bytes], reached, description: str) -> None:
    deadline = time.monotonic() + 300
    while not reached():
        if process.poll() is not None:
            pytest.fail(f"the run ended ({process.returncode}) before reaching {description!r}: "
                        f"{process.stderr.read().decode()[-500:] if process.stderr else ''}")
        if time.monotonic() > deadline:
            os.killpg(process.pid, signal.SIGKILL)
            pytest.fail(f"the run never reached {description!r}")
        time.sleep(0.005)
    os.killpg(process.pid, signal.SIGKILL)  # Python and the Spark JVM, mid-write
    process.wait()


def assert_nothing_half_visible(lake: Path) -> None:
    """Every data file a crawler or query would list is complete, and the tables can be queried."""
    dataset = lake / "raw" / "shipping"
    with reading([dataset]):
        for path in list_data_files(dataset, "parquet"):
            pq.read_metadata(path)  # a half-written Parquet file has no footer
    runtime = LocalRuntime(LocalSettings.resolve(lake_root=lake))
    # The processed table is what its current snapshot lists: files a killed MERGE wrote are not in it.
    if "processed_shipping" in runtime.catalog.iceberg.table_names(runtime.settings.database):
        table = runtime.catalog.iceberg.load(runtime.settings.database, "processed_shipping")
        for path in snapshot_files(table):
            pq.read_metadata(path)
    athena = LocalAthena(runtime.catalog, database=runtime.settings.database)
    for table in runtime.catalog.tables(runtime.settings.database):
        athena.execute(f"SELECT count(*) FROM {table.name}")


def processed_snapshot(lake: Path) -> int | None:
    runtime = LocalRuntime(LocalSettings.resolve(lake_root=lake))
    if "processed_shipping" not in runtime.catalog.iceberg.table_names(runtime.settings.database):
        return None
    snapshot = runtime.catalog.iceberg.load(runtime.settings.database, "processed_shipping").current_snapshot()
    return None if snapshot is None else snapshot.snapshot_id


def test_a_run_killed_at_each_point_then_rerun_gives_the_uninterrupted_tables(tmp_path, source, uninterrupted):
    reference, run_id = uninterrupted
    lake = tmp_path / "lake"
    for description, reached in KILL_POINTS.items():
        process = start_run(lake, source)
        kill_when(process, lambda reached=reached: reached(lake, run_id), description)
        record = LocalRuntime(LocalSettings.resolve(lake_root=lake)).runs.get(run_id)
        assert record is not None and record.status == RUNNING and not is_alive(record.pid), description
        assert_nothing_half_visible(lake)
        if description == "inside normalize while it writes":  # the table is still at its previous snapshot
            assert processed_snapshot(lake) is None

    finished = start_run(lake, source)
    assert finished.wait(timeout=600) == 0, finished.stderr.read().decode()[-2000:] if finished.stderr else ""
    assert finished.stderr is not None
    # It says once that it runs the interrupted run again, and nothing else: not even Spark's start-up
    # (Spark's log goes to a file).
    [said] = finished.stderr.read().decode().splitlines()
    assert said.startswith("WARNING etl.local.runtime: run ") and said.endswith("running it again"), said

    runtime = LocalRuntime(LocalSettings.resolve(lake_root=lake))
    assert runtime.runs.get(run_id).status == SUCCEEDED
    athena = LocalAthena(runtime.catalog, database=runtime.settings.database)
    expected = LocalAthena(reference.catalog, database=reference.settings.database)
    assert athena.execute(SNAPSHOT).rows == expected.execute(SNAPSHOT).rows
    for table in ("raw_shipping", "quarantine_shipping"):
        sql = f"SELECT count(*) FROM {table} WHERE run_id = ?"
        assert athena.execute(sql, parameters=[run_id]).rows == expected.execute(sql, parameters=[run_id]).rows
    [notification] = [n.body for n in runtime.outbox.list()]  # killed attempts published nothing
    assert notification["status"] == "SUCCEEDED" and notification["run_id"] == run_id
    leftovers = [p for zone in ("raw", "processed", "quarantine") for p in (lake / zone).rglob("*")
                 if p.is_file() and ("_staging" in p.parts or "_trash" in p.parts or p.suffix == ".tmp")]
    assert leftovers == []
