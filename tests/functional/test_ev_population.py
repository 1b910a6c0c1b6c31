"""The ev_population dataset through the whole local pipeline: a generated EV CSV export -> ASL executor ->
Glue scripts on Spark -> crawlers -> Athena SQL on DuckDB -> notification, checked against plain Python."""

from __future__ import annotations

import csv
import re
from decimal import Decimal
from pathlib import Path

import pytest

from etl.config import LocalSettings
from etl.generator_ev import BEV, HEADER, PHEV, write_ev_file
from etl.local.runtime import LocalRuntime

pytestmark = pytest.mark.slow

_LOCATION = re.compile(r"POINT \(-?[0-9]+(\.[0-9]+)? -?[0-9]+(\.[0-9]+)?\)")


def valid(row: dict[str, str]) -> bool:
    """The contract's rules for one row, in plain Python."""
    district = row["Legislative District"]
    return (len(row) == len(HEADER) and bool(row["VIN (1-10)"]) and row["Model Year"].isdigit()
            and row["Electric Vehicle Type"] in (BEV, PHEV) and bool(_LOCATION.fullmatch(row["Vehicle Location"]))
            and not row["Electric Range"].startswith("-") and (district == "" or 1 <= int(district) <= 49))


def latest_vehicles(paths: list[Path]) -> dict[int, dict[str, str]]:
    latest: dict[int, dict[str, str]] = {}
    for path in paths:
        with path.open(encoding="utf-8", newline="") as handle:
            reader = csv.reader(handle)
            header = next(reader)
            for values in reader:
                row = dict(zip(header, values, strict=False))
                if len(values) == len(header) and valid(row):
                    latest[int(row["DOL Vehicle ID"])] = row
    return latest


def summary(body: dict) -> dict[str, str]:
    columns = body["results"]["columns"]
    [row] = body["results"]["rows"]
    return dict(zip(columns, (cell.get("VarCharValue") for cell in row["Data"]), strict=True))


def query(runtime: LocalRuntime, sql: str) -> list[tuple]:
    from etl.athena.local import LocalAthena

    return [tuple(row) for row in LocalAthena(runtime.catalog, database=runtime.settings.database).execute(sql).rows]


@pytest.fixture(scope="module")
def runtime(tmp_path_factory, spark):
    root = tmp_path_factory.mktemp("lake")
    return LocalRuntime(LocalSettings.resolve(lake_root=root), spark=lambda: spark)


@pytest.fixture(scope="module")
def first_run(runtime, tmp_path_factory):
    source = tmp_path_factory.mktemp("input") / "Electric_Vehicle_Population_Data.csv"
    stats = write_ev_file(source, 2000, seed=11, duplicate_rate=0.03, bad_rate=0.01)
    runtime.drop(source, "ev_population")
    return source, stats, runtime.process_landing()


def test_the_run_loads_the_export_and_its_notification_summarises_the_vehicles(runtime, first_run):
    source, stats, report = first_run
    assert len(report.started) == 1 and not report.failed
    record = runtime.runs.get(report.started[0]["run_id"])
    assert record.status == "SUCCEEDED", record.error
    body = runtime.outbox.list()[-1].body
    assert body["status"] == "SUCCEEDED"
    assert body["counts"]["records_read"] == stats.records + stats.duplicates + stats.bad_lines
    assert body["counts"]["quarantined"] == stats.bad_lines > 0
    assert stats.duplicates > 0
    latest = latest_vehicles([source])
    ranges = [int(v["Electric Range"]) for v in latest.values() if int(v["Electric Range"]) > 0]
    assert summary(body) == {
        "vehicles": str(len(latest)),
        "makes": str(len({v["Make"] for v in latest.values()})),
        "bev": str(sum(v["Electric Vehicle Type"] == BEV for v in latest.values())),
        "phev": str(sum(v["Electric Vehicle Type"] == PHEV for v in latest.values())),
        "avg_known_range": str(Decimal(sum(ranges) / len(ranges)).quantize(Decimal("0.1"))),
    }


def test_the_processed_table_holds_the_latest_row_per_vehicle_partitioned_by_model_year(runtime, first_run):
    source, _, _ = first_run
    latest = latest_vehicles([source])
    rows = query(runtime, "SELECT dol_vehicle_id, make, model_year, base_msrp, legislative_district, year, "
                          "n_2020_census_tract, electric_utility FROM processed_ev_population ORDER BY dol_vehicle_id")
    assert [row[0] for row in rows] == sorted(latest)
    for vehicle_id, make, model_year, msrp, district, year, tract, utility in rows:
        sent = latest[vehicle_id]
        assert (make, model_year, year) == (sent["Make"], int(sent["Model Year"]), sent["Model Year"])
        assert msrp == Decimal(sent["Base MSRP"]) and tract == sent["2020 Census Tract"]
        assert district == (int(sent["Legislative District"]) if sent["Legislative District"] else None)
        assert utility == (sent["Electric Utility"] or None)


def test_the_dataset_queries_answer_from_the_processed_table(runtime, first_run):
    from etl.contracts import query_files

    source, _, _ = first_run
    latest = latest_vehicles([source])
    by_make = query(runtime, query_files("ev_population")["vehicles_by_make"].read_text(encoding="utf-8"))
    assert sum(count for _, count in by_make) == len(latest)
    for name in ("vehicles_by_county", "bev_phev_share_by_model_year", "average_range_by_model_year"):
        assert query(runtime, query_files("ev_population")[name].read_text(encoding="utf-8"))


def test_a_later_export_replaces_a_vehicle_row(runtime, first_run, tmp_path):
    source, _, _ = first_run
    with source.open(encoding="utf-8", newline="") as handle:
        header, first = next(csv.reader(handle)), None
        first = next(csv.reader(handle))
    corrected = tmp_path / "Electric_Vehicle_Population_Data-2.csv"
    with corrected.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows([header, [*first[:11], "12345.67", *first[12:]]])
    runtime.drop(corrected, "ev_population")
    report = runtime.process_landing()
    assert not report.failed
    rows = query(runtime, f"SELECT base_msrp FROM processed_ev_population WHERE dol_vehicle_id = {first[13]}")
    assert rows == [(Decimal("12345.67"),)]
