"""The processed table as an Iceberg table: the local Athena reads exactly its current snapshot, travels
back in time as Athena does, shows its snapshots and history; small files and old snapshots stay bounded
as files keep arriving, and maintenance compacts, expires and removes orphans without changing a row."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # the Glue scripts are run through the benchmark's loader of them

from bench.engines.common import EngineJob, StepClock  # noqa: E402
from bench.engines.pipeline_engine import load_glue_script  # noqa: E402
from bench.engines.pipeline_engine import run as run_glue_scripts  # noqa: E402

from etl.athena.local import LocalAthena  # noqa: E402
from etl.errors import QueryError, QueryRefusedError  # noqa: E402
from etl.glue.catalog import Catalog  # noqa: E402
from etl.glue.iceberg import snapshot_files  # noqa: E402
from etl.jobs.maintain import COMPACT_ABOVE_FILES  # noqa: E402

pytestmark = pytest.mark.slow

RECORD = {"customer_name": "Ann Example", "street_address": "1 Test Road", "destination_city": "main_city",
          "shipping_distance": 2.0, "quantity": 3.0}


def drop(tmp_path: Path, lake: Path, run_id: str, records: list[tuple[int, str, float]]) -> dict:
    source = tmp_path / f"{run_id}.json"
    source.write_text("".join(json.dumps({**RECORD, "shipping_id": key, "shipping_date": day, "shipping_cost": cost})
                              + "\n" for key, day, cost in records), encoding="utf-8")
    return run_glue_scripts(EngineJob(source=source, lake=lake, run_id=run_id), StepClock())["normalize"]


def athena(lake: Path) -> LocalAthena:
    return LocalAthena(Catalog(lake / "_system" / "catalog.duckdb"), database="etl")


def test_queries_read_the_current_snapshot_and_travel_back_to_earlier_ones(tmp_path):
    lake = tmp_path / "lake"
    drop(tmp_path, lake, "run-1", [(1, "2024/01/05", 1.0), (2, "2024/02/06", 2.0)])
    time.sleep(0.05)  # the two commits get distinct millisecond timestamps
    drop(tmp_path, lake, "run-2", [(1, "2024/01/05", 10.0), (3, "2024/03/01", 3.0)])
    local = athena(lake)
    rows = "SELECT shipping_id, shipping_cost FROM processed_shipping{} ORDER BY shipping_id"
    assert local.execute(rows.format("")).rows == [(1, 10.0), (2, 2.0), (3, 3.0)]  # one row per key, no stale row

    history = local.execute('SELECT snapshot_id, parent_id, is_current_ancestor FROM "processed_shipping$history"')
    (first, no_parent, first_current), (second, parent, second_current) = history.rows
    assert no_parent is None and parent == first and first_current and second_current
    snapshots = local.execute('SELECT snapshot_id, operation FROM "processed_shipping$snapshots"').rows
    assert [s for s, _ in snapshots] == [first, second] and snapshots[0][1] == "append"

    assert local.execute(rows.format(f" FOR VERSION AS OF {first}")).rows == [(1, 1.0), (2, 2.0)]
    assert local.execute(rows.format(f" FOR VERSION AS OF {second}")).rows == [(1, 10.0), (2, 2.0), (3, 3.0)]
    table = Catalog(lake / "_system" / "catalog.duckdb").iceberg.load("etl", "processed_shipping")
    [first_ms] = [s.timestamp_ms for s in table.snapshots() if s.snapshot_id == first]
    moment = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(first_ms / 1000)) + f".{first_ms % 1000:03d}"
    assert local.execute(rows.format(f" FOR TIMESTAMP AS OF TIMESTAMP '{moment}'")).rows == [(1, 1.0), (2, 2.0)]
    # A join of the table with itself as of before: what the second run changed.
    changed = local.execute(
        f"SELECT n.shipping_id, o.shipping_cost, n.shipping_cost FROM processed_shipping n "
        f"JOIN processed_shipping FOR VERSION AS OF {first} o ON o.shipping_id = n.shipping_id "
        f"WHERE o.shipping_cost <> n.shipping_cost")
    assert changed.rows == [(1, 1.0, 10.0)]

    with pytest.raises(QueryError, match="no snapshot 42"):
        local.execute(rows.format(" FOR VERSION AS OF 42"))
    with pytest.raises(QueryError, match="no snapshot at or before 2001"):
        local.execute(rows.format(" FOR TIMESTAMP AS OF TIMESTAMP '2001-01-01 00:00:00'"))
    with pytest.raises(QueryRefusedError, match="committed_at"):
        local.execute('SELECT committed_at FROM "processed_shipping$snapshots"')


def test_time_travel_on_a_table_that_is_not_iceberg_is_an_error(tmp_path, spark):
    from etl.config import LocalSettings
    from etl.local.runtime import LocalRuntime

    runtime = LocalRuntime(LocalSettings.resolve(lake_root=tmp_path / "lake"), spark=lambda: spark)
    source = tmp_path / "one.json"
    source.write_text(json.dumps({**RECORD, "shipping_id": 1, "shipping_date": "2024/01/05", "shipping_cost": 1.0})
                      + "\n", encoding="utf-8")
    runtime.drop(source, "shipping")
    runtime.process_landing()
    local = LocalAthena(runtime.catalog, database="etl")
    assert local.execute("SELECT count(*) FROM processed_shipping").rows == [(1,)]
    with pytest.raises(QueryError, match="raw_shipping is not an Iceberg table"):
        local.execute("SELECT count(*) FROM raw_shipping FOR VERSION AS OF 1")


def test_small_files_stay_bounded_as_files_arrive_and_maintenance_changes_no_row(tmp_path, spark):
    lake = tmp_path / "lake"
    days = ("2024/01/05", "2024/02/06", "2024/03/07")
    drops = 2 * COMPACT_ABOVE_FILES + 3
    for number in range(drops):  # each drop adds a file to each of three months
        records = [(number * 10 + i + 1, days[i % 3], float(number)) for i in range(6)]  # ids from 1
        drop(tmp_path, lake, f"run-{number:02d}", records)
        files = snapshot_files(Catalog(lake / "_system" / "catalog.duckdb").iceberg.load("etl", "processed_shipping"))
        per_month = {month: sum(f"month={month}" in p.as_posix() for p in files) for month in ("01", "02", "03")}
        assert max(per_month.values()) <= COMPACT_ABOVE_FILES, (number, per_month)
    local = athena(lake)
    totals = "SELECT count(*), sum(shipping_cost), count(DISTINCT shipping_id) FROM processed_shipping"
    before = local.execute(totals).rows
    assert before == [(6 * drops, float(sum(6 * n for n in range(drops))), 6 * drops)]

    # A file a killed run left behind: no snapshot lists it.
    data = lake / "processed" / "shipping" / "data" / "year=2024" / "month=01"
    orphan = data / "00000-killed-run.parquet"
    orphan.write_bytes(next(data.glob("*.parquet")).read_bytes())
    old = time.time() - 48 * 3600
    os.utime(orphan, (old, old))

    maintain = load_glue_script("maintain")
    report = maintain.main(["--JOB_NAME", "maintain", "--database", "etl", "--processed_uri",
                            (lake / "processed").as_uri(), "--retention_hours", "0.0001", "--orphan_hours", "24"],
                           spark=spark)
    [table] = report["tables"].values()
    assert table["live_files_after"] == 3  # one file per month
    assert table["orphan_files_deleted"] >= 1 and not orphan.exists()
    assert table["snapshots"] <= 10  # the last ten are kept whatever their age
    assert athena(lake).execute(totals).rows == before
