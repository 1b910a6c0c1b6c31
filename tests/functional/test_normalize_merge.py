"""normalize merges a run into the processed Iceberg table, including a month that holds an older version
of a key the run re-sends with another date: the key moves, its old row is marked deleted in the month it
left (merge-on-read), months the run has nothing to do with keep their files, the local Athena reads the
rows pyiceberg reads, and a run merged again commits nothing."""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # the Glue scripts are run through the benchmark's loader of them

from bench.engines.common import EngineJob, StepClock  # noqa: E402
from bench.engines.pipeline_engine import load_glue_script  # noqa: E402
from bench.engines.pipeline_engine import run as run_glue_scripts  # noqa: E402

from etl.athena.local import LocalAthena  # noqa: E402
from etl.glue.catalog import Catalog  # noqa: E402
from etl.glue.iceberg import CATALOG_FILE, IcebergCatalog, snapshot_files, snapshot_scan  # noqa: E402

pytestmark = pytest.mark.slow

RECORD = {"customer_name": "Ann Example", "street_address": "1 Test Road", "destination_city": "main_city",
          "shipping_cost": 10.0, "shipping_distance": 2.0, "quantity": 3.0}


def write_lines(path: Path, records: list[tuple[int, str, float]]) -> Path:
    lines = [{**RECORD, "shipping_id": key, "shipping_date": day, "shipping_cost": cost} for key, day, cost in records]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    return path


def processed(lake: Path):
    return IcebergCatalog(lake / "_system" / CATALOG_FILE).load("etl", "processed_shipping")


def partitions(lake: Path) -> dict[str, list[tuple[int, float]]]:
    """Each month's (key, cost) rows at the table's current snapshot."""
    found: dict[str, list[tuple[int, float]]] = {}
    for row in processed(lake).scan().to_arrow().to_pylist():
        found.setdefault(f"year={row['year']}/month={row['month']}", []).append(
            (row["shipping_id"], row["shipping_cost"]))
    return {month: sorted(rows) for month, rows in sorted(found.items())}


def _months(rows: list[tuple]) -> dict[str, list[tuple[int, float]]]:
    found: dict[str, list[tuple[int, float]]] = {}
    for year, month, key, cost in rows:
        found.setdefault(f"year={year}/month={month}", []).append((key, cost))
    return {month: sorted(keys) for month, keys in sorted(found.items())}


def february_files(lake: Path) -> list[Path]:
    return [p for p in snapshot_files(processed(lake)) if "month=02" in p.as_posix()]


def test_a_key_sent_again_with_another_month_moves_out_of_the_month_that_held_it(tmp_path):
    lake = tmp_path / "lake"
    first = write_lines(tmp_path / "first.json", [(1, "2024/01/05", 1.0), (2, "2024/01/06", 2.0),
                                                  (3, "2024/02/01", 3.0), (4, "2024/04/01", 4.0)])
    run_glue_scripts(EngineJob(source=first, lake=lake, run_id="run-1"), StepClock())
    february = february_files(lake)
    first_files, first_snapshot = snapshot_files(processed(lake)), processed(lake).current_snapshot().snapshot_id
    # Key 1 corrected into March and key 4 into May: January and April still hold their old versions.
    second = write_lines(tmp_path / "second.json", [(1, "2024/03/09", 10.0), (4, "2024/05/02", 40.0),
                                                    (5, "2024/03/10", 5.0)])
    manifests = run_glue_scripts(EngineJob(source=second, lake=lake, run_id="run-2"), StepClock())

    assert partitions(lake) == {
        "year=2024/month=01": [(2, 2.0)],
        "year=2024/month=02": [(3, 3.0)],
        "year=2024/month=03": [(1, 10.0), (5, 5.0)],
        "year=2024/month=05": [(4, 40.0)],
    }
    # The replaced rows are position deletes against the old files, which stay: nothing was rewritten.
    scan = snapshot_scan(processed(lake))
    assert scan.position_deletes and set(snapshot_files(processed(lake))) >= set(first_files)
    # The local Athena applies them: the same rows as pyiceberg's reader, and the old ones as of the first snapshot.
    athena = LocalAthena(Catalog(lake / "_system" / "catalog.duckdb"), database="etl")
    local = athena.execute("SELECT year, month, shipping_id, shipping_cost FROM processed_shipping").rows
    assert _months(local) == partitions(lake)
    before = athena.execute(f"SELECT shipping_id, shipping_cost FROM processed_shipping FOR VERSION AS OF "
                            f"{first_snapshot} ORDER BY shipping_id").rows
    assert before == [(1, 1.0), (2, 2.0), (3, 3.0), (4, 4.0)]
    # April lost its only key and is empty; February, which the run never touched, kept its file.
    assert manifests["normalize"]["partitions_written"] == [
        "year=2024/month=01", "year=2024/month=03", "year=2024/month=04", "year=2024/month=05"]
    assert february_files(lake) == february
    assert (manifests["normalize"]["records"], manifests["normalize"]["inserted"],
            manifests["normalize"]["updated"]) == (3, 1, 2)
    snapshot = processed(lake).current_snapshot().snapshot_id

    # The same run again: every key already holds this version, so nothing is committed.
    again = run_glue_scripts(EngineJob(source=second, lake=lake, run_id="run-2"), StepClock())
    assert (again["normalize"]["unchanged"], again["normalize"]["snapshot"]) == (3, None)
    assert processed(lake).current_snapshot().snapshot_id == snapshot


def test_keys_outside_every_files_key_range_are_appended_without_reading_the_table(tmp_path):
    lake = tmp_path / "lake"
    first = write_lines(tmp_path / "first.json", [(10, "2024/01/05", 1.0), (20, "2024/02/06", 2.0)])
    run_glue_scripts(EngineJob(source=first, lake=lake, run_id="run-1"), StepClock())
    # Keys above every file's upper bound (Iceberg's column bounds): the table cannot hold them.
    later = write_lines(tmp_path / "later.json", [(30, "2024/01/07", 3.0), (31, "2024/03/01", 4.0),
                                                  (30, "2024/01/08", 5.0)])  # 30 re-sent: the later line wins
    manifest = run_glue_scripts(EngineJob(source=later, lake=lake, run_id="run-2"), StepClock())["normalize"]
    assert (manifest["raw_records"], manifest["records"], manifest["inserted"], manifest["updated"]) == (3, 2, 2, 0)
    assert manifest["snapshot"]["operation"] == "append"
    # The manifest reports the table's current snapshot and its summary counts, as Iceberg's own reader sees them.
    assert manifest["snapshot"]["snapshot_id"] == processed(lake).current_snapshot().snapshot_id
    assert (manifest["snapshot"]["added_records"], manifest["snapshot"]["total_records"]) == (2, 4)
    assert partitions(lake) == {"year=2024/month=01": [(10, 1.0), (30, 5.0)], "year=2024/month=02": [(20, 2.0)],
                                "year=2024/month=03": [(31, 4.0)]}
    # A key inside a file's range is looked up: 15 is new (inserted), 20 is newer (updated), not appended twice.
    inside = write_lines(tmp_path / "inside.json", [(15, "2024/01/09", 6.0), (20, "2024/02/06", 7.0)])
    manifest = run_glue_scripts(EngineJob(source=inside, lake=lake, run_id="run-3"), StepClock())["normalize"]
    assert (manifest["inserted"], manifest["updated"]) == (1, 1)
    assert partitions(lake)["year=2024/month=02"] == [(20, 7.0)]
    assert partitions(lake)["year=2024/month=01"] == [(10, 1.0), (15, 6.0), (30, 5.0)]


def codes_dataset(key_type: str) -> dict:
    """A dataset keyed by one ``code`` column of ``key_type``, partitioned by year."""
    return {
        "dataset": "codes", "version": 1, "landing_prefix": "codes/", "accepted_formats": ["jsonl"],
        "date_format": "yyyy-MM-dd",
        "fields": [{"name": "code", "type": key_type, "required": True},
                   {"name": "day", "type": "date", "required": True}, {"name": "amount", "type": "double"}],
        "primary_key": ["code"], "partition_columns": [{"name": "year", "source": "day", "format": "yyyy"}],
        "summary_query": "codes", "write_mode": "upsert",
    }


@pytest.mark.parametrize(("key_type", "first", "second", "key_range"), [
    # " zz" is zz once trimmed: a range of the keys as sent (" zz" to "a") would miss the file holding zz.
    ("string", ["m", "zz"], [" zz", "a"], ["a", "zz"]),
    # A date key is not observed by json_to_parquet: normalize reads the run's range, Iceberg binds its ISO text.
    ("date", ["2024-03-05", "2024-03-09"], ["2024-03-09", "2024-01-02"], None),
])
def test_keys_of_other_types_are_looked_up_in_the_files_whose_bounds_meet_the_runs_processed_keys(
        add_dataset, spark, tmp_path, key_type, first, second, key_range):
    add_dataset(codes_dataset(key_type), {"codes": "SELECT count(*) AS codes FROM processed_codes"})
    lake = tmp_path / "lake"
    to_raw, normalize = load_glue_script("json_to_parquet"), load_glue_script("normalize")
    common = ["--dataset", "codes", "--database", "etl", "--raw_uri", (lake / "raw").as_uri()]

    def run(run_id: str, codes: list[str], amount: float) -> tuple[dict, dict]:
        source = tmp_path / f"{run_id}.json"
        source.write_text("".join(json.dumps({"code": code, "day": "2024-06-01", "amount": amount}) + "\n"
                                  for code in codes), encoding="utf-8")
        raw = to_raw.main(["--JOB_NAME", "json_to_parquet", "--run_id", run_id, *common, "--source_uri",
                           source.as_uri(), "--ingested_at", f"2024-07-0{run_id[-1]}T00:00:00Z",
                           "--quarantine_uri", (lake / "quarantine").as_uri()], spark=spark)
        return raw, normalize.main(["--JOB_NAME", "normalize", "--run_id", run_id, *common, "--processed_uri",
                                    (lake / "processed").as_uri(), "--write_mode", "upsert"], spark=spark)

    run("r1", first, 1.0)
    raw, merged = run("r2", second, 2.0)

    assert raw.get("key_range") == key_range
    assert (merged["inserted"], merged["updated"]) == (1, 1)
    rows = IcebergCatalog(lake / "_system" / CATALOG_FILE).load("etl", "processed_codes").scan().to_arrow()
    held = sorted((str(row["code"]), row["amount"]) for row in rows.to_pylist())
    expected = {str(code).strip(): 1.0 for code in first} | {str(code).strip(): 2.0 for code in second}
    assert held == sorted(expected.items())


def new_files_by_month(lake: Path, before: set[Path]) -> dict[str, list[list[int]]]:
    """The keys of each data file added since ``before``, in file order, by month."""
    found: dict[str, list[list[int]]] = {}
    for path in sorted(set(snapshot_files(processed(lake))) - before):
        month = next(part for part in path.parts if part.startswith("month="))
        found.setdefault(month, []).append(pq.read_table(path, columns=["shipping_id"]).column(0).to_pylist())
    return found


def test_an_append_writes_one_file_per_month_in_key_order_however_the_lines_were_sent(tmp_path):
    lake = tmp_path / "lake"
    # Even keys over six months, the file in no order of key or month: a first load, every key new.
    keys = random.Random(7).sample(range(2, 302, 2), 150)
    days = [f"2024/{month:02d}/0{1 + key % 9}" for key, month in zip(keys, [1, 2, 3, 4, 5, 6] * 25, strict=True)]
    first = write_lines(tmp_path / "first.json", [(key, day, 1.0) for key, day in zip(keys, days, strict=True)])
    manifest = run_glue_scripts(EngineJob(source=first, lake=lake, run_id="run-1"), StepClock())["normalize"]
    assert (manifest["inserted"], manifest["snapshot"]["operation"]) == (150, "append")
    files = new_files_by_month(lake, set())
    assert sorted(files) == [f"month={m:02d}" for m in range(1, 7)]
    assert all(len(month) == 1 and month[0] == sorted(month[0]) for month in files.values())
    assert sorted(key for month in files.values() for key in month[0]) == sorted(keys)

    # Odd keys inside the files' key ranges: looked up, found new, appended (no MERGE), again a file per month.
    before = set(snapshot_files(processed(lake)))
    odd = [key + 1 for key in keys[:40]]
    later = write_lines(tmp_path / "later.json", [(key, "2024/0" + str(1 + key % 3) + "/15", 2.0) for key in odd])
    manifest = run_glue_scripts(EngineJob(source=later, lake=lake, run_id="run-2"), StepClock())["normalize"]
    assert (manifest["inserted"], manifest["updated"], manifest["snapshot"]["operation"]) == (40, 0, "append")
    added = new_files_by_month(lake, before)
    assert sorted(added) == ["month=01", "month=02", "month=03"]
    assert all(len(month) == 1 and month[0] == sorted(month[0]) for month in added.values())
    assert sorted(key for month in added.values() for key in month[0]) == sorted(odd)


def test_corrections_leave_a_bounded_number_of_delete_files_and_exact_rows(tmp_path):
    lake = tmp_path / "lake"
    first = write_lines(tmp_path / "first.json", [(key, "2024/01/05", 1.0) for key in range(1, 51)])
    run_glue_scripts(EngineJob(source=first, lake=lake, run_id="run-00"), StepClock())
    for run in range(1, 13):  # each run re-sends one old key with a new cost: a delete file and a small data file
        fix = write_lines(tmp_path / f"fix-{run}.json", [(run, "2024/01/05", 100.0 + run)])
        manifest = run_glue_scripts(EngineJob(source=fix, lake=lake, run_id=f"run-{run:02}"), StepClock())["normalize"]
        assert manifest["updated"] == 1
        scan = snapshot_scan(processed(lake))
        # The run that crowds the month merges its delete files and packs its small files; the first file stays.
        assert len(scan.position_deletes) + len(scan.data) - 1 <= 8 + 1
    # Twelve corrections, fewer files: all of them small, the crowded month was packed with its deletes applied.
    assert len(scan.position_deletes) < 12 and len(scan.data) < 13
    expected = sorted([(key, 100.0 + key) for key in range(1, 13)] + [(key, 1.0) for key in range(13, 51)])
    assert partitions(lake) == {"year=2024/month=01": expected}
    athena = LocalAthena(Catalog(lake / "_system" / "catalog.duckdb"), database="etl")
    rows = athena.execute("SELECT shipping_id, shipping_cost FROM processed_shipping ORDER BY shipping_id").rows
    assert rows == expected


def test_a_runs_keys_are_looked_up_in_ranges_around_its_clusters(spark):
    from pyspark.sql import functions as F

    from etl.jobs.normalize import DENSE_SPAN, KEY_RANGES, _key_ranges

    block = list(range(5_000, 6_000))  # a producer's block of new ids
    resent = [17, 40_000, 90_001, 90_002]  # and a few old ones, re-sent
    rows = spark.createDataFrame([(k,) for k in block + resent], "shipping_id long")
    ranges = _key_ranges(rows, "shipping_id", (17, 90_002), len(block + resent))
    assert ranges == [(17, 17), (5_000, 5_999), (40_000, 40_000), (90_001, 90_002)]
    scattered = spark.createDataFrame([(k * 10,) for k in range(500)], "shipping_id long")
    ranges = _key_ranges(scattered, "shipping_id", (0, 4_990), None)
    assert len(ranges) == KEY_RANGES and ranges[0][0] == 0 and ranges[-1][1] == 4_990
    assert all(any(low <= k * 10 <= high for low, high in ranges) for k in range(500))
    words = spark.createDataFrame([("a",), ("b",)], "shipping_id string")
    assert _key_ranges(words, "shipping_id", ("a", "b"), 2) == [("a", "b")]
    # One block of keys (fewer than DENSE_SPAN integers per record from lowest to highest) is its own range:
    # its keys are not read (reading these rows would fail the test).
    unreadable = spark.range(1).select(F.raise_error(F.lit("the run's keys were read")).alias("shipping_id"))
    assert _key_ranges(unreadable, "shipping_id", (5_000, 5_000 + DENSE_SPAN * 1_000 - 1), 1_000) == [
        (5_000, 5_000 + DENSE_SPAN * 1_000 - 1)]
    with pytest.raises(Exception, match="the run's keys were read"):
        _key_ranges(unreadable, "shipping_id", (5_000, 5_000 + DENSE_SPAN * 1_000), 1_000)


def test_the_last_line_of_a_key_sent_several_times_in_a_run_wins_and_the_session_gets_its_settings_back(tmp_path):
    from etl.jobs.normalize import DEDUPLICATION_SETTINGS
    from etl.spark import local_session

    spark = local_session()
    setting = next(iter(DEDUPLICATION_SETTINGS))
    spark.conf.set(setting, "7")  # a value the session had set itself
    try:
        # Key 2 three times, the last in another month; key 4 twice in a row; key 6 once.
        source = write_lines(tmp_path / "run.json", [
            (2, "2024/01/05", 1.0), (4, "2024/01/06", 1.0), (2, "2024/01/07", 2.0), (4, "2024/01/08", 2.0),
            (6, "2024/02/01", 1.0), (2, "2024/03/09", 3.0)])
        manifest = run_glue_scripts(EngineJob(source=source, lake=tmp_path / "lake", run_id="run-1"),
                                    StepClock())["normalize"]
        assert (manifest["raw_records"], manifest["records"], manifest["duplicates_in_run"]) == (6, 3, 3)
        assert partitions(tmp_path / "lake") == {
            "year=2024/month=01": [(4, 2.0)], "year=2024/month=02": [(6, 1.0)], "year=2024/month=03": [(2, 3.0)]}
        assert spark.conf.get(setting) == "7"
    finally:
        spark.conf.unset(setting)
