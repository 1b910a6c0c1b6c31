"""The whole local pipeline: landing file -> ASL executor -> Glue scripts on Spark -> crawlers ->
Athena SQL on DuckDB -> notification, checked against an independent computation."""

from __future__ import annotations

import json
import shutil
from decimal import Decimal
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from contract_rules import valid

from etl.config import LocalSettings
from etl.generator import write_file
from etl.glue.iceberg import snapshot_files
from etl.local.runtime import LocalRuntime

pytestmark = pytest.mark.slow


def independent_totals(paths: list[Path]) -> dict[str, Decimal]:
    """Totals computed with plain json and the contract's rules in plain Python: bad lines dropped,
    the last line per id wins."""
    latest: dict[int, dict] = {}
    for path in paths:
        for line in path.read_bytes().splitlines():
            try:
                record = json.loads(line.decode("utf-8"))  # a line that is not UTF-8 is bad as well
            except ValueError:
                continue
            if valid(record):
                latest[record["shipping_id"]] = record

    def total(field: str) -> Decimal:
        return Decimal(str(round(sum(r[field] for r in latest.values()), 2))).quantize(Decimal("0.01"))
    return {
        "shipments": Decimal(len(latest)),
        "cost": total("shipping_cost"),
        "distance": total("shipping_distance"),
        "quantity": total("quantity"),
    }


def notification_totals(body: dict) -> dict[str, Decimal]:
    columns = body["results"]["columns"]
    [row] = body["results"]["rows"]
    values = dict(zip(columns, (cell.get("VarCharValue") for cell in row["Data"])))
    def pick(*needles: str) -> Decimal:
        name = next(c for c in columns if all(n in c for n in needles))
        return Decimal(values[name])
    return {
        "shipments": pick("shipments"),
        "cost": pick("cost"),
        "distance": pick("distance"),
        "quantity": pick("quantity"),
    }


def table_snapshot(runtime: LocalRuntime) -> list[tuple]:
    """The business content of the processed table (lineage columns say which run wrote it last)."""
    result = runtime_query(
        runtime,
        "SELECT shipping_id, shipping_date, destination_city, shipping_cost, shipping_distance, quantity, "
        "product_id, year, month FROM processed_shipping ORDER BY shipping_id",
    )
    return [tuple(row) for row in result.rows]


def runtime_query(runtime: LocalRuntime, sql: str, *parameters):
    from etl.athena.local import LocalAthena

    athena = LocalAthena(runtime.catalog, database=runtime.settings.database)
    return athena.execute(sql, parameters=list(parameters) or None)


@pytest.fixture(scope="module")
def runtime(tmp_path_factory, spark):
    root = tmp_path_factory.mktemp("lake")
    return LocalRuntime(LocalSettings.resolve(lake_root=root), spark=lambda: spark)


@pytest.fixture(scope="module")
def first_run(runtime, tmp_path_factory):
    source = tmp_path_factory.mktemp("input") / "shipping_data.json-2026-11-22-10-00-00.json"
    stats = write_file(source, 3000, seed=7, duplicate_rate=0.02, bad_rate=0.01)
    runtime.drop(source, "shipping")
    report = runtime.process_landing()
    return source, stats, report


def last_body(runtime: LocalRuntime) -> dict:
    return runtime.outbox.list()[-1].body


def test_run_succeeds_and_notification_carries_counts_and_results(runtime, first_run):
    source, stats, report = first_run
    assert len(report.started) == 1 and not report.failed
    record = runtime.runs.get(report.started[0]["run_id"])
    assert record.status == "SUCCEEDED", record.error
    body = last_body(runtime)
    assert body["status"] == "SUCCEEDED"
    assert body["counts"]["records_read"] == stats.records + stats.duplicates + stats.bad_lines
    assert body["counts"]["loaded"] == stats.records + stats.duplicates
    assert body["counts"]["quarantined"] == stats.bad_lines > 0
    assert f"{stats.bad_lines} quarantined" in body["summary"]
    assert notification_totals(body) == independent_totals([source])
    assert record.counts["duplicates_in_run"] == stats.duplicates
    assert [s.state for s in record.steps if s.state == "Convert JSON to Parquet"]


def test_processed_zone_has_no_pii_date_types_and_year_month_partitions(runtime, first_run):
    iceberg = runtime.catalog.iceberg.load(runtime.settings.database, "processed_shipping")
    assert [(f.name, str(f.transform)) for f in iceberg.spec().fields] == [("year", "identity"), ("month", "identity")]
    assert iceberg.format_version == 2 and iceberg.properties["write.merge.mode"] == "merge-on-read"
    files = snapshot_files(iceberg)
    processed = runtime.lake.path("processed", "shipping")
    assert files and all(processed / "data" in path.parents for path in files)
    for path in files:
        schema = pq.read_schema(path)
        assert "customer_name" not in schema.names and "street_address" not in schema.names
        assert str(schema.field("shipping_date").type) == "date32[day]"
        year, month = path.parent.parent.name, path.parent.name
        assert year.startswith("year=") and len(year) == 9 and month.startswith("month=") and len(month) == 8
    table = iceberg.scan().to_arrow()
    assert table.num_rows == len(set(table.column("shipping_id").to_pylist()))  # no duplicate ids


def test_the_lake_holds_the_files_a_bucket_would_and_no_checksum_files(runtime, first_run):
    # Hadoop's local file system would add a hidden .crc beside every file it writes; S3 has none.
    written = [p for zone in ("raw", "processed", "quarantine") for p in runtime.lake.path(zone).rglob("*")]
    assert any(p.suffix == ".parquet" for p in written)
    assert [p for p in written if p.name.endswith(".crc")] == []


def test_every_zone_is_catalogued(runtime, first_run):
    tables = {t.name: t for t in runtime.catalog.tables(runtime.settings.database)}
    assert {"raw_shipping", "processed_shipping", "quarantine_shipping"} <= set(tables)
    processed = tables["processed_shipping"]
    # An Iceberg table, registered by the normalize job (as GlueCatalog does): its partitions are Iceberg's own.
    assert processed.format == "iceberg" and processed.partition_keys == () and processed.crawler is None
    assert [c.name for c in processed.columns][-2:] == ["year", "month"]
    assert "customer_name" not in [c.name for c in processed.columns]
    assert dict((c.name, c.type) for c in processed.columns)["shipping_date"] == "date"
    assert "customer_name" in [c.name for c in tables["raw_shipping"].columns]
    reasons = runtime_query(runtime, "SELECT reason, count(*) AS n FROM quarantine_shipping GROUP BY reason")
    assert sum(row[1] for row in reasons.rows) == first_run[1].bad_lines


def test_same_file_dropped_twice_changes_nothing(runtime, first_run, tmp_path):
    source = first_run[0]
    before, before_body = table_snapshot(runtime), last_body(runtime)
    runtime.drop(source, "shipping")  # same key, same content: the same run id
    report = runtime.process_landing()
    assert report.started == [] and len(report.duplicates) == 1
    renamed = tmp_path / "shipping_data.json-2026-11-22-11-00-00.json"
    shutil.copyfile(source, renamed)
    runtime.drop(renamed, "shipping")  # same content under another key: a new run, same tables
    report = runtime.process_landing()
    assert len(report.started) == 1
    assert table_snapshot(runtime) == before
    assert notification_totals(last_body(runtime)) == notification_totals(before_body)


def test_seed_style_file_at_bucket_root_is_accepted(runtime, tmp_path):
    lines = [
        {"shipping_id": 900001, "shipping_date": "2024/01/15", "customer_name": "John Doe",
         "street_address": "123 Main St", "destination_city": "serverless_island",
         "shipping_cost": 1500, "shipping_distance": 50, "quantity": 2500},
        {"shipping_id": 900002, "shipping_date": "2024/02/01", "customer_name": "Jane Roe",
         "street_address": "9 Side St", "destination_city": "main_city",
         "shipping_cost": 10, "shipping_distance": 1, "quantity": 3, "product_id": 5},
    ]
    source = tmp_path / "shipping_data.json-2024-01-15-10-30.json"
    source.write_text("\n".join(json.dumps(x) for x in lines) + "\n", encoding="utf-8")
    runtime.drop(source)  # no dataset: at the bucket root, like the seed's producer
    report = runtime.process_landing()
    assert [item["key"] for item in report.started] == ["shipping_data.json-2024-01-15-10-30.json"]
    body = last_body(runtime)
    assert body["counts"] == {**body["counts"], "records_read": 2, "loaded": 2, "quarantined": 0}
    rows = runtime_query(runtime, "SELECT shipping_cost, product_id FROM processed_shipping "
                                  "WHERE shipping_id IN (900001, 900002) ORDER BY shipping_id").rows
    assert rows == [(1500.0, None), (10.0, 5)]


def test_bad_lines_are_quarantined_with_reasons_and_good_lines_load(runtime, tmp_path):
    good = {"shipping_id": 910001, "shipping_date": "2024/03/01", "destination_city": "main_city",
            "shipping_cost": 1.0, "shipping_distance": 2.0, "quantity": 3.0}
    text = "\n".join([
        json.dumps(good),
        '{"shipping_id": 910002, "shipping_date": "2024/13/45", "destination_city": "x", '
        '"shipping_cost": 1, "shipping_distance": 1, "quantity": 1}',
        "{broken",
        json.dumps({**good, "shipping_id": 910003, "shipping_cost": "abc"}),
    ]) + "\n"
    source = tmp_path / "bad.json"
    source.write_text(text, encoding="utf-8")
    runtime.drop(source, "shipping")
    runtime.process_landing()
    body = last_body(runtime)
    assert body["status"] == "SUCCEEDED"
    assert (body["counts"]["loaded"], body["counts"]["quarantined"]) == (1, 3)
    run_id = body["run_id"]
    rejected = runtime_query(
        runtime,
        "SELECT line_number, reason FROM quarantine_shipping WHERE run_id = ? ORDER BY line_number",
        run_id,
    ).rows
    assert rejected == [
        (2, "invalid shipping_date '2024/13/45': expected yyyy/MM/dd"),
        (3, "malformed JSON"),
        (4, "wrong type for shipping_cost: expected number"),
    ]


def test_unreadable_file_is_quarantined_whole_and_notified_as_failure(runtime, tmp_path):
    source = tmp_path / "latin1.json"
    source.write_bytes('{"shipping_id": 1, "customer_name": "Zoë"}\n'.encode("latin-1"))
    runtime.drop(source, "shipping")
    report = runtime.process_landing()
    run_id = report.started[0]["run_id"]
    assert runtime.runs.get(run_id).status == "FAILED"
    body = last_body(runtime)
    assert body["status"] == "FAILED" and body["run_id"] == run_id
    assert body["source"]["key"] == "shipping/latin1.json"
    assert "not UTF-8" in body["cause"]
    kept = runtime.lake.path("quarantine", f"_files/shipping/run_id={run_id}/latin1.json")
    assert kept.read_bytes() == source.read_bytes()


def test_cli_reads_the_same_lake(runtime, first_run, capsys):
    from etl.cli import main

    lake = str(runtime.settings.lake_root)
    assert main(["--lake", lake, "tables"]) == 0
    assert "etl.processed_shipping" in capsys.readouterr().out
    assert main(["--lake", lake, "runs"]) == 0
    assert first_run[2].started[0]["run_id"] in capsys.readouterr().out
    assert main(["--lake", lake, "notifications", "--limit", "1"]) == 0
    assert "── notification" in capsys.readouterr().out
    assert main(["--lake", lake, "query", "SELECT count(*) AS n FROM processed_shipping", "--format", "csv"]) == 0
    assert capsys.readouterr().out.startswith("n\n")
    assert main(["--lake", lake, "query", "SELECT * FROM no_such_table"]) != 0
    error = capsys.readouterr().err
    assert error.startswith("etl: error:") and len(error.strip().splitlines()) == 1


def test_watch_processes_files_as_they_land(runtime):
    import threading
    import time

    from etl.local.watcher import watch

    reports: list = []
    stop = threading.Event()
    thread = threading.Thread(
        target=watch, args=(runtime,), kwargs={"interval": 0.2, "max_seconds": 120, "report": reports.append,
                                               "stop": stop}
    )
    landing = runtime.lake.path("landing", "shipping")
    landing.mkdir(parents=True, exist_ok=True)  # an earlier test may have made it; this one must not rely on that
    before = len(runtime.runs.list())
    thread.start()
    try:
        for index in range(3):
            record = {"shipping_id": 920000 + index, "shipping_date": "2024/05/01", "destination_city": "main_city",
                      "shipping_cost": 1.0, "shipping_distance": 1.0, "quantity": 1.0}
            (landing / f"watched-{index}.json").write_text(json.dumps(record) + "\n", encoding="utf-8")
        deadline = time.monotonic() + 100
        while len(runtime.runs.list()) < before + 3 and time.monotonic() < deadline:
            time.sleep(0.5)
    finally:
        stop.set()
        thread.join()
    started = [item["key"] for report in reports for item in report.started]
    assert sorted(started) == [f"shipping/watched-{i}.json" for i in range(3)]
    count = runtime_query(
        runtime, "SELECT count(*) FROM processed_shipping WHERE shipping_id IN (920000, 920001, 920002)"
    ).rows
    assert count == [(3,)]


def catalog_actions(runtime: LocalRuntime, run_id: str) -> dict:
    """What json_to_parquet's manifest says it did with the run's folders in the catalog."""
    manifest = runtime.lake.path("raw", f"_runs/{run_id}/json_to_parquet.json")
    return json.loads(manifest.read_text(encoding="utf-8"))["catalog"]


def test_a_later_run_adds_its_folders_to_the_tables_instead_of_crawling(spark, tmp_path):
    runtime = LocalRuntime(LocalSettings.resolve(lake_root=tmp_path / "lake"), spark=lambda: spark)
    write_file(tmp_path / "first.json", 300, seed=7, bad_rate=0.02)
    runtime.drop(tmp_path / "first.json", "shipping")
    first = runtime.runs.get(runtime.process_landing().started[0]["run_id"])
    # The first run met no tables: both crawled, and the manifest says why.
    assert {"Start Raw crawler", "Start Quarantine crawler"} <= {step.state for step in first.steps}
    assert catalog_actions(runtime, first.run_id)["raw"]["action"] == "crawl"
    assert "not in the catalog yet" in catalog_actions(runtime, first.run_id)["raw"]["reason"]

    source = tmp_path / "shipping_data.json-2026-11-22-13-00-00.json"
    stats = write_file(source, 500, seed=11, duplicate_rate=0.0, bad_rate=0.02)
    assert stats.bad_lines > 0
    runtime.drop(source, "shipping")
    [started] = runtime.process_landing().started
    later = runtime.runs.get(started["run_id"])
    states = {step.state for step in later.steps}
    assert later.status == "SUCCEEDED"
    # The Choice skipped both crawls; the run log shows where each branch ended.
    assert {"Raw partition registered", "Quarantine partition registered"} <= states
    assert not any("crawler" in state for state in states)
    assert catalog_actions(runtime, later.run_id) == {"raw": {"table": "raw_shipping", "action": "registered"},
                                       "quarantine": {"table": "quarantine_shipping", "action": "registered"}}
    # The new partitions are in the catalog, and queries read them.
    run_id = started["run_id"]
    assert later.counts["loaded"] == stats.records
    for table, rows in (("raw_shipping", stats.records), ("quarantine_shipping", later.counts["quarantined"])):
        partitions = runtime.catalog.partitions(runtime.settings.database, table)
        assert [p.values for p in partitions].count((run_id,)) == 1
        counted = runtime_query(runtime, f"SELECT count(*) FROM {table} WHERE run_id = ?", run_id)
        assert counted.rows == [(rows,)]
