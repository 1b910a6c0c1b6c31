"""What the commands say about a run is true: a file of which nothing loads fails with a hint, a file
under an unknown prefix is a failed run with a notification (once), `etl runs` shows a failed run's
cause and a whole-file quarantine, crawler polls are one row, and `etl run` names what it was given."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from etl.cli import main
from etl.config import LocalSettings
from etl.local.runlog import FAILED, SUCCEEDED
from etl.local.runtime import LocalRuntime

pytestmark = pytest.mark.slow

GOOD = {"shipping_id": 1, "shipping_date": "2024/03/01", "destination_city": "main_city", "shipping_cost": 10.0,
        "shipping_distance": 2.0, "quantity": 3.0}
CSV = b"shipping_id,shipping_date,destination_city\r\n7001,2024/03/01,main_city\r\n7002,2024/03/02,island_city\r\n"


@pytest.fixture()
def lake(tmp_path: Path, spark) -> Path:  # spark: the session every run here shares
    return tmp_path / "lake"


def runtime_for(lake: Path, spark) -> LocalRuntime:
    return LocalRuntime(LocalSettings.resolve(lake_root=lake), spark=lambda: spark)


def write(folder: Path, name: str, content: bytes) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(content)
    return path


def test_a_csv_file_fails_with_a_hint_and_keeps_every_line(lake, spark, tmp_path, capsys):
    source = write(tmp_path / "in", "shipments.csv", CSV)

    assert main(["--lake", str(lake), "run", str(source)]) == 1

    runtime = runtime_for(lake, spark)
    [record] = runtime.runs.list()
    assert record.status == FAILED and record.error == "PipelineStepFailed"
    # The job names the file it read: an s3:// address on AWS, the lake's landing folder here.
    landed = (lake / "landing" / "shipping" / "shipments.csv").as_uri()
    assert record.reason == (
        f"{landed}: no record loaded, all 3 lines were quarantined; no line is a JSON "
        "record: this looks like CSV (comma-separated, first line 'shipping_id,shipping_date,destination_city'); "
        "the shipping contract accepts JSON Lines, a JSON array or either one gzip-compressed"
    )
    assert (record.counts["records_read"], record.counts["loaded"], record.counts["quarantined"]) == (3, 0, 3)
    quarantined = [json.loads(line) for part in (lake / "quarantine" / "shipping").rglob("*.json")
                   for line in part.read_text(encoding="utf-8").splitlines()]
    assert sorted(row["line_number"] for row in quarantined) == [1, 2, 3]
    assert {row["raw_line"] for row in quarantined} == {line.decode() for line in CSV.split(b"\r\n") if line}

    [note] = runtime.outbox.list()
    assert note.body["status"] == "FAILED" and "this looks like CSV" in note.body["cause"]
    err = capsys.readouterr().err
    assert "failed: shipping/shipments.csv: run " in err and "this looks like CSV" in err

    assert main(["--lake", str(lake), "runs"]) == 0
    runs = capsys.readouterr().out
    assert "PipelineStepFailed: file://" in runs and "shipments.csv: no record loaded" in runs


def test_one_object_over_several_lines_loads_as_one_record(lake, spark, tmp_path):
    pretty = json.dumps({**GOOD, "shipping_id": 7101}, indent=2).encode()
    runtime = runtime_for(lake, spark)
    runtime.drop(write(tmp_path / "in", "one.json", pretty), "shipping")
    [started] = runtime.process_landing().started
    record = runtime.runs.get(started["run_id"])
    assert record.status == SUCCEEDED
    assert (record.counts["records_read"], record.counts["loaded"], record.counts["quarantined"]) == (1, 1, 0)


def test_a_file_under_an_unknown_prefix_is_a_failed_run_notified_once(lake, spark, tmp_path, capsys):
    runtime = runtime_for(lake, spark)
    landed = write(lake / "landing" / "vehicles", "cars.json", json.dumps(GOOD).encode() + b"\n")

    assert main(["--lake", str(lake), "run"]) == 1
    [record] = runtime.runs.list()
    assert record.status == FAILED and record.error == "UnknownDataset" and record.dataset == "vehicles"
    assert record.reason.startswith("vehicles/cars.json: no dataset reads the prefix vehicles/ (known prefixes: "
                                    "ev_population/, shipping/, users/; a file at the bucket root goes to shipping)")
    [note] = runtime.outbox.list()
    assert note.subject == "ETL vehicles run FAILED"
    assert note.body["error"] == "UnknownDataset" and "add a dataset" in note.body["cause"]
    # No job, no crawler: nothing was read.
    assert [step.state for step in record.steps] == ["Publish failure", "Pipeline failed"]
    assert not (lake / "raw" / "vehicles").exists() and not (lake / "quarantine" / "vehicles").exists()
    assert "UnknownDataset: vehicles/cars.json: no dataset reads the prefix" in capsys.readouterr().err

    assert main(["--lake", str(lake), "run"]) == 0  # the same object is not taken again
    assert len(runtime.runs.list()) == 1 and len(runtime.outbox.list()) == 1
    assert "1 file in landing/ already processed" in capsys.readouterr().out

    landed.write_bytes(landed.read_bytes() + json.dumps({**GOOD, "shipping_id": 2}).encode() + b"\n")
    main(["--lake", str(lake), "run"])  # a changed object is a new one: refused again, notified again
    assert len(runtime.runs.list()) == 2 and len(runtime.outbox.list()) == 2


def test_an_operation_folder_the_contract_does_not_allow_is_a_failed_run_notified_once(lake, spark, tmp_path):
    runtime = runtime_for(lake, spark)
    write(lake / "landing" / "shipping" / "truncate", "all.json", json.dumps(GOOD).encode() + b"\n")

    assert main(["--lake", str(lake), "run"]) == 1
    [record] = runtime.runs.list()
    assert record.status == FAILED and record.error == "OperationNotAllowed" and record.dataset == "shipping"
    assert record.reason.startswith("shipping/truncate/all.json: the shipping dataset does not allow the operation "
                                    "'truncate' (its contract allows no operation folders")
    [note] = runtime.outbox.list()
    assert note.subject == "ETL shipping run FAILED" and note.body["error"] == "OperationNotAllowed"
    assert [step.state for step in record.steps] == ["Publish failure", "Pipeline failed"]
    assert not (lake / "raw" / "shipping").exists()  # nothing was read, nothing written


def test_runs_show_a_whole_file_quarantine_and_fold_crawler_polls(lake, spark, tmp_path, capsys):
    folder = tmp_path / "drop"
    lines = [json.dumps({**GOOD, "shipping_id": 7200 + i}).encode() + b"\n" for i in range(5)]
    write(folder, "good.json", b"".join(lines))
    write(folder / "nested", "scan.json", b"\x89PNG\r\n\x1a\n\x00\x00" + bytes(range(256)))
    write(folder, ".DS_Store", b"\x00\x01")

    assert main(["--lake", str(lake), "run", str(folder)]) == 1
    out = capsys.readouterr().out
    assert "as s3://landing/shipping/good.json" in out and "as s3://landing/shipping/nested/scan.json" in out
    assert ".DS_Store" not in out

    runtime = runtime_for(lake, spark)
    runs = {r.source["key"]: r for r in runtime.runs.list()}
    assert set(runs) == {"shipping/good.json", "shipping/nested/scan.json"}
    good = runs["shipping/good.json"]
    assert good.status == SUCCEEDED
    states = [step.state for step in good.steps]
    assert len(states) == len(set(states))  # a state entered again adds to its row
    polls = [step for step in good.steps if step.state.startswith("Get ") and step.state.endswith(" crawler")]
    assert polls and all(step.entries >= 1 for step in polls)
    assert runs["shipping/nested/scan.json"].counts["quarantined_file"] is True

    assert main(["--lake", str(lake), "runs", "--steps"]) == 0
    listing = capsys.readouterr().out
    [scan_row] = [line for line in listing.splitlines() if "scan_json" in line and "FAILED" in line]
    assert "whole file" in scan_row and "binary data" in scan_row
    assert listing.count("Get Raw crawler") == 1
    headers = {tuple(line.split()) for line in listing.splitlines() if line.startswith("step ")}
    assert headers == {("step", "status", "seconds", "times", "retries", "error")}


def test_run_file_names_its_file_and_counts_the_rest(lake, spark, tmp_path, capsys):
    runtime = runtime_for(lake, spark)
    for i in range(3):
        runtime.drop(write(tmp_path / "old", f"old{i}.json", json.dumps({**GOOD, "shipping_id": 7300 + i}).encode()),
                     "shipping")
    runtime.process_landing()
    capsys.readouterr()
    fresh = write(tmp_path / "new", "fresh.json", json.dumps({**GOOD, "shipping_id": 7310}).encode())

    assert main(["--lake", str(lake), "run", str(fresh), "--quiet"]) == 0

    out = capsys.readouterr().out
    assert f"dropped {fresh} as s3://landing/shipping/fresh.json" in out
    assert "3 other files in landing/ already processed" in out
    assert "old0.json" not in out and "already processed:" not in out
    assert "This file: 1 records read, 1 loaded, 0 quarantined." in out
    assert "shipping_totals, over the whole processed table after this run" in out


def test_a_contract_dropped_into_landing_is_put_in_force_and_its_change_notified(lake, spark):
    from etl.contracts import CONTRACT_FILE, dataset_folder

    runtime = runtime_for(lake, spark)
    contract = json.loads(dataset_folder("shipping").joinpath(CONTRACT_FILE).read_text(encoding="utf-8"))
    v2 = {**contract, "version": 2, "fields": [*contract["fields"], {"name": "carrier", "type": "string"}]}
    write(lake / "landing" / "_contracts", "shipping.json", json.dumps(v2).encode())

    assert main(["--lake", str(lake), "run"]) == 0
    [update] = runtime.runs.list()
    assert update.status == SUCCEEDED and update.dataset == "shipping"
    assert [step.state for step in update.steps] == ["Publish contract change"]
    [note] = runtime.outbox.list()
    assert note.subject == "ETL shipping contract updated"
    assert note.body["changes"] == ["adds optional field carrier (string)"] and note.body["contract_version"] == 2

    # The next file is read and written with version 2: its carrier reaches the processed table.
    write(lake / "landing" / "shipping", "with_carrier.json",
          json.dumps({**GOOD, "shipping_id": 7, "carrier": "Island Ferries"}).encode() + b"\n")
    assert main(["--lake", str(lake), "run"]) == 0
    from etl.athena.local import LocalAthena

    athena = LocalAthena(runtime.catalog, database=runtime.settings.database)
    assert athena.execute("SELECT shipping_id, carrier FROM processed_shipping").rows == [(7, "Island Ferries")]

    # An incompatible version is refused, notified, and changes nothing.
    v3 = {**v2, "version": 3, "fields": [f for f in v2["fields"] if f["name"] != "carrier"]}
    write(lake / "landing" / "_contracts", "shipping.json", json.dumps(v3).encode())  # a new version of the object
    assert main(["--lake", str(lake), "run"]) == 1
    refused = next(r for r in runtime.runs.list() if r.status == FAILED)
    assert refused.error == "ContractRefused" and "field 'carrier' is removed" in refused.reason


def test_a_contract_for_a_new_dataset_defines_it_and_its_files_run_end_to_end(lake, spark, capsys):
    from etl.athena.local import LocalAthena

    sensors = {
        "dataset": "sensors", "version": 1, "landing_prefix": "sensors/", "accepted_formats": ["csv"],
        "date_format": "yyyy-MM-dd",
        "fields": [{"name": "sensor_id", "type": "string", "required": True},
                   {"name": "read_on", "type": "date", "required": True},
                   {"name": "reading", "type": "double", "minimum": 0},
                   {"name": "owner_email", "type": "string", "pii": True}],
        "primary_key": ["sensor_id"], "partition_columns": [{"name": "month", "source": "read_on",
                                                               "format": "yyyy-MM"}],
    }
    runtime = runtime_for(lake, spark)
    write(lake / "landing" / "_contracts", "sensors.json", json.dumps(sensors).encode())
    assert main(["--lake", str(lake), "run"]) == 0
    [definition] = runtime.outbox.list()
    assert definition.subject == "ETL sensors contract updated"
    assert definition.body["changes"] == ["defines dataset sensors: 4 fields (1 PII), key sensor_id, files under "
                                          "sensors/ (csv) written as upsert"]

    write(lake / "landing" / "sensors", "day1.csv", b"sensor_id,read_on,reading,owner_email\r\n"
          b"s1,2024-05-01,1.5,a@example.com\r\ns2,2024-05-02,-3,b@example.com\r\ns3,2024-06-01,2.0,\r\n")
    # no owner_email column: an optional column a header lacks reads as NULL
    write(lake / "landing" / "sensors", "day2.csv", b"sensor_id,read_on,reading\ns1,2024-06-02,9\n")
    assert main(["--lake", str(lake), "run"]) == 0
    runs = {record.source["key"]: record for record in runtime.runs.list()}
    assert runs["sensors/day1.csv"].status == runs["sensors/day2.csv"].status == SUCCEEDED
    assert (runs["sensors/day1.csv"].counts["loaded"], runs["sensors/day1.csv"].counts["quarantined"]) == (2, 1)

    athena = LocalAthena(runtime.catalog, database=runtime.settings.database)
    assert athena.execute("SELECT sensor_id, reading, month FROM processed_sensors ORDER BY 1").rows == [
        ("s1", 9.0, "2024-06"), ("s3", 2.0, "2024-06")]
    assert "owner_email" not in athena.execute("SELECT * FROM processed_sensors").columns
    # The crawlers found the new dataset's folders: its raw and quarantine tables are in the catalog.
    assert athena.execute("SELECT count(*) FROM raw_sensors").rows == [(3,)]  # the lines that loaded
    assert athena.execute("SELECT line_number FROM quarantine_sensors").rows == [(3,)]
    last = [n for n in runtime.outbox.list() if n.body.get("status") == SUCCEEDED][-1]
    assert last.body["results"]["columns"] == ["records", "last_ingested_at"]
    assert last.body["results"]["rows"][0]["Data"][0] == {"VarCharValue": "2"}

    capsys.readouterr()
    assert main(["--lake", str(lake), "datasets"]) == 0
    listed = [line for line in capsys.readouterr().out.splitlines() if "sensors" in line]
    assert len(listed) == 1 and "sensors_records* (defined at run time)" in listed[0]
    # The daily maintenance finds its table in the catalog like the deployed datasets' tables.
    report = runtime.maintain(retention_hours=1, orphan_hours=24)
    assert list(report["tables"]) == [f"glue_catalog.{runtime.settings.database}.processed_sensors"]
