"""Duplicates and concurrency: S3 delivers events at least once and many files land at once.

The same event delivered twice (even at the same moment) runs once; twenty files dropped at once
while ``watch`` runs are each processed exactly once and the totals are the sum of the twenty;
two runs merging into the same processed partition at the same time lose nothing.
"""

from __future__ import annotations

import json
import random
import threading
import time
from pathlib import Path

import pytest

from conftest import load_event
from etl.athena.local import LocalAthena
from etl.config import LocalSettings
from etl.local.runlog import SUCCEEDED
from etl.local.runtime import LocalRuntime
from etl.local.watcher import watch
from etl.trigger import start_runs_for_event

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def runtime(tmp_path, spark) -> LocalRuntime:
    return LocalRuntime(LocalSettings.resolve(lake_root=tmp_path / "lake"), spark=lambda: spark)


def shipments(first_id: int, count: int, seed: int, month: str = "03") -> list[dict]:
    rng = random.Random(seed)
    return [
        {"shipping_id": first_id + i, "shipping_date": f"2024/{month}/{rng.randint(1, 28):02d}",
         "customer_name": "Test Person", "street_address": "1 Test Road", "destination_city": "main_city",
         "shipping_cost": round(rng.uniform(1, 1000), 2), "shipping_distance": round(rng.uniform(1, 100), 2),
         "quantity": float(rng.randint(1, 500))}
        for i in range(count)
    ]


def jsonl(records: list[dict]) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in records).encode()


def query(runtime: LocalRuntime, sql: str) -> list[tuple]:
    return LocalAthena(runtime.catalog, database=runtime.settings.database).execute(sql).rows


def processed_totals(runtime: LocalRuntime) -> tuple[int, float, float, float]:
    [(count, cost, distance, quantity)] = query(
        runtime,
        "SELECT count(*), round(sum(shipping_cost), 2), round(sum(shipping_distance), 2), sum(quantity) "
        "FROM processed_shipping",
    )
    return count, cost, distance, quantity


def expected_totals(records: list[dict]) -> tuple[int, float, float, float]:
    latest = {r["shipping_id"]: r for r in records}.values()
    return (len(latest), round(sum(r["shipping_cost"] for r in latest), 2),
            round(sum(r["shipping_distance"] for r in latest), 2), sum(r["quantity"] for r in latest))


def s3_event_for(runtime: LocalRuntime, key: str) -> dict:
    """The S3 notification for a landing object, as S3 sends it (key URL-encoded)."""
    source = runtime.lake.landing_object(key)
    event = load_event("s3_put.json")
    [record] = event["Records"][:1]
    record["s3"]["bucket"]["name"] = source.bucket
    record["s3"]["object"].update(key=key, size=source.size, eTag=source.etag)
    record["s3"]["object"].pop("versionId", None)
    event["Records"] = [record]
    return event


def test_the_same_event_delivered_twice_at_once_runs_once(runtime, tmp_path):
    key = "shipping/twice.json"
    target = runtime.lake.path("landing", key)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(jsonl(shipments(1, 20, seed=1)))
    event = s3_event_for(runtime, key)
    reports: list = []
    barrier = threading.Barrier(2)

    def deliver() -> None:
        barrier.wait()
        reports.append(start_runs_for_event(event, runtime))

    threads = [threading.Thread(target=deliver) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted((len(r.started), len(r.duplicates)) for r in reports) == [(0, 1), (1, 0)]
    assert sorted((len(r.started), len(r.duplicates)) for r in [start_runs_for_event(event, runtime)]) == [(0, 1)]
    [run] = runtime.runs.list()
    assert run.status == SUCCEEDED
    assert [n.body["status"] for n in runtime.outbox.list()] == [SUCCEEDED]
    assert processed_totals(runtime) == expected_totals(shipments(1, 20, seed=1))


def test_twenty_files_dropped_at_once_during_watch_are_each_processed_once(runtime):
    files = {f"shipping/burst-{i:02d}.json": shipments(10_000 * (i + 1), 50, seed=i) for i in range(20)}
    landing = runtime.lake.path("landing")
    stop = threading.Event()
    reports: list = []
    watcher = threading.Thread(target=watch, args=(runtime,),
                               kwargs={"interval": 0.2, "max_seconds": 600, "report": reports.append, "stop": stop})
    watcher.start()
    try:
        barrier = threading.Barrier(len(files))

        def drop(key: str, records: list[dict]) -> None:
            # Written in three pieces, like a slow upload: the watcher must wait for the whole file.
            data = jsonl(records)
            path = landing / key
            path.parent.mkdir(parents=True, exist_ok=True)
            barrier.wait()
            with path.open("wb") as handle:
                for piece in (data[: len(data) // 3], data[len(data) // 3: 2 * len(data) // 3],
                              data[2 * len(data) // 3:]):
                    handle.write(piece)
                    handle.flush()
                    time.sleep(0.3)

        droppers = [threading.Thread(target=drop, args=item) for item in files.items()]
        for thread in droppers:
            thread.start()
        for thread in droppers:
            thread.join()
        deadline = time.monotonic() + 500
        while time.monotonic() < deadline and (
            len(runtime.runs.list()) < len(files) or any(r.status != SUCCEEDED for r in runtime.runs.list())
        ):
            time.sleep(0.5)
    finally:
        stop.set()
        watcher.join()
    runs = runtime.runs.list()
    assert sorted(r.source["key"] for r in runs) == sorted(files)  # each file exactly once
    assert all(r.status == SUCCEEDED for r in runs)
    started = [item["key"] for report in reports for item in report.started]
    assert sorted(started) == sorted(files)
    for run in runs:  # every file complete: none was picked up half-written
        assert run.counts["loaded"] == 50 and run.counts["quarantined"] == 0
    assert processed_totals(runtime) == expected_totals([r for records in files.values() for r in records])


def test_two_runs_merging_into_the_same_partition_at_once_lose_nothing(runtime, tmp_path):
    earlier = shipments(1, 200, seed=3)
    (tmp_path / "earlier.json").write_bytes(jsonl(earlier))
    runtime.drop(tmp_path / "earlier.json", "shipping")
    runtime.process_landing()
    # Both new files touch March 2024, which already holds the earlier run's records; each also
    # corrects some of the earlier records.
    first = shipments(1_000, 300, seed=4) + [{**r, "shipping_cost": 1.0} for r in earlier[:10]]
    second = shipments(2_000, 300, seed=5) + [{**r, "shipping_cost": 2.0} for r in earlier[10:20]]
    objects = []
    for name, records in (("first.json", first), ("second.json", second)):
        (tmp_path / name).write_bytes(jsonl(records))
        objects.append(runtime.drop(tmp_path / name, "shipping"))
    barrier = threading.Barrier(2)

    def run(source) -> None:
        barrier.wait()
        runtime.process_landing([source])

    threads = [threading.Thread(target=run, args=(source,)) for source in objects]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [r.status for r in runtime.runs.list()] == [SUCCEEDED] * 3
    assert processed_totals(runtime) == expected_totals(earlier + first + second)
    assert query(runtime, "SELECT count(*) FROM processed_shipping WHERE shipping_cost IN (1.0, 2.0)") == [(20,)]


def test_reliability_delivery_rows_account_for_every_record(tmp_path, spark, monkeypatch):
    """The rows `make reliability` prints for repeated and concurrent deliveries (fewer files here)."""
    from etl import reliability

    monkeypatch.setattr(reliability, "BURST_FILES", 5)
    context = reliability.ScenarioContext(tmp_path, ROOT, lambda: spark)
    duplicate, burst = reliability.SCENARIOS["delivery"](context)
    assert duplicate.outcome == reliability.PARTLY_QUARANTINED  # the generator's bad lines are quarantined
    assert burst.outcome == reliability.LOADED
    assert burst.records_in == 5 * reliability.BURST_RECORDS
    for row in (duplicate, burst):
        assert row.ok, row.problems
        assert row.records_in > 0 and row.lost == 0


def test_two_merges_committing_into_the_same_iceberg_table_at_once_lose_nothing(tmp_path, spark):
    """Past the job queue (a second writer, e.g. a run started by hand on Glue): both MERGEs touch March
    and rewrite its file; the one whose commit loses is re-run on the new snapshot, and both land."""
    import sys

    sys.path.insert(0, str(ROOT))
    from bench.engines.pipeline_engine import load_glue_script

    lake = tmp_path / "lake"
    to_raw, normalize = load_glue_script("json_to_parquet"), load_glue_script("normalize")
    common = ["--dataset", "shipping", "--database", "etl", "--raw_uri", (lake / "raw").as_uri()]
    earlier = shipments(1, 200, seed=6)
    first = shipments(1_000, 300, seed=7) + [{**r, "shipping_cost": 1.0} for r in earlier[:10]]
    second = shipments(2_000, 300, seed=8) + [{**r, "shipping_cost": 2.0} for r in earlier[10:20]]
    for run_id, records in (("run-0", earlier), ("run-1", first), ("run-2", second)):
        source = tmp_path / f"{run_id}.json"
        source.write_bytes(jsonl(records))
        to_raw.main(["--JOB_NAME", "json_to_parquet", "--run_id", run_id, *common, "--source_uri", source.as_uri(),
                     "--ingested_at", f"2024-05-1{run_id[-1]}T00:00:00Z",
                     "--quarantine_uri", (lake / "quarantine").as_uri()], spark=spark)

    def merge(run_id: str) -> dict:
        return normalize.main(["--JOB_NAME", "normalize", "--run_id", run_id, *common,
                               "--processed_uri", (lake / "processed").as_uri(), "--write_mode", "upsert"],
                              spark=spark)

    merge("run-0")
    barrier = threading.Barrier(2)
    manifests: dict[str, dict] = {}

    def concurrently(run_id: str) -> None:
        barrier.wait()
        manifests[run_id] = merge(run_id)

    threads = [threading.Thread(target=concurrently, args=(run_id,)) for run_id in ("run-1", "run-2")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert {run_id: (m["inserted"], m["updated"]) for run_id, m in manifests.items()} == {
        "run-1": (300, 10), "run-2": (300, 10)}
    runtime = LocalRuntime(LocalSettings.resolve(lake_root=lake), spark=lambda: spark)
    assert processed_totals(runtime) == expected_totals(earlier + first + second)
    assert query(runtime, "SELECT count(*) FROM processed_shipping WHERE shipping_cost IN (1.0, 2.0)") == [(20,)]
