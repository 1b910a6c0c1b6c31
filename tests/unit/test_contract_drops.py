"""A contract dropped into landing as _contracts/<dataset>.json: checked, compared with the one in force,
kept when compatible (and the run says what changed), refused with every reason otherwise."""

from __future__ import annotations

import json

import pytest

from etl.contracts import CONTRACT_FILE, dataset_folder, load_contract
from etl.contracts.store import (
    FileContractStore,
    apply_contract,
    dataset_of_contract_key,
    datasets_in_force,
    effective_contract,
)
from etl.errors import ContractError
from etl.events import SourceObject
from etl.trigger import CONTRACT_REFUSED, ContractDrops, plan

SHIPPING = json.loads(dataset_folder("shipping").joinpath(CONTRACT_FILE).read_text(encoding="utf-8"))


def next_version(**changes) -> dict:
    return {**SHIPPING, "version": SHIPPING["version"] + 1, **changes}


def with_carrier(**field) -> dict:
    return next_version(fields=[*SHIPPING["fields"], {"name": "carrier", "type": "string", **field}])


def test_a_compatible_version_is_kept_and_in_force_for_later_runs(tmp_path):
    store = FileContractStore(tmp_path / "raw")
    update = apply_contract("shipping", json.dumps(with_carrier()), store)
    assert update.changes == ["adds optional field carrier (string)"]
    assert json.loads((tmp_path / "raw" / "_contracts" / "shipping.json").read_text())["version"] == 2
    contract = effective_contract("shipping", store)
    assert contract.version == 2 and "carrier" in contract.field_names
    assert contract.summary_query == load_contract("shipping").summary_query
    again = apply_contract("shipping", json.dumps(with_carrier()), store)  # a duplicate event, a re-sent file
    assert again.changes == ["version 2 is already in force: nothing changes"]


@pytest.mark.parametrize(("dropped", "reason"), [
    (with_carrier(required=True), "new field 'carrier' is required"),
    (next_version(fields=[f for f in SHIPPING["fields"] if f["name"] != "product_id"]), "'product_id' is removed"),
    ({**with_carrier(), "version": 1}, "version 1 is not above the current version 1"),
    (next_version(landing_prefix="ships"), "landing_prefix must end with '/'"),
    (next_version(summary_query="top_products"), "summary_query cannot change at run time"),
])
def test_an_incompatible_or_invalid_version_is_refused_and_nothing_changes(tmp_path, dropped, reason):
    store = FileContractStore(tmp_path / "raw")
    with pytest.raises(ContractError, match=reason):
        apply_contract("shipping", json.dumps(dropped), store)
    assert store.read("shipping") is None and effective_contract("shipping", store).version == 1


def test_a_deployed_newer_version_supersedes_an_older_runtime_one(tmp_path, monkeypatch):
    store = FileContractStore(tmp_path / "raw")
    store.write("shipping", json.dumps({**with_carrier(), "version": 0}))
    assert effective_contract("shipping", store).version == 1  # the packaged file's


@pytest.mark.parametrize(("key", "dataset"), [("_contracts/shipping.json", "shipping"), ("_contracts/a/b.json", None),
                                              ("shipping/_contracts/x.json", None), ("_contracts/x.txt", None)])
def test_only_a_json_file_right_under_contracts_is_a_contract(key, dataset):
    assert dataset_of_contract_key(key) == dataset


def test_the_trigger_turns_a_drop_into_a_notifying_run_or_a_refusal(tmp_path):
    bodies = {"_contracts/shipping.json": json.dumps(with_carrier()).encode(),
              "_contracts/nope.json": b"{}", "_contracts/shipping2.json": b"\xff\xfe"}
    drops = ContractDrops(FileContractStore(tmp_path / "raw"), lambda source: bodies[source.key])

    request = plan(SourceObject("landing", "_contracts/shipping.json", size=10, etag="e"), drops)
    payload = request.execution_input()
    assert payload["dataset"] == "shipping" and "write_mode" not in payload and "refusal" not in payload
    assert payload["contract_update"]["changes"] == ["adds optional field carrier (string)"]
    assert payload["contract_update"]["summary"] == ("contract of shipping now at version 2: "
                                                     "adds optional field carrier (string)")

    refused = plan(SourceObject("landing", "_contracts/nope.json", size=2, etag="e"), drops)
    assert refused.refusal["Error"] == CONTRACT_REFUSED
    assert "missing key 'landing_prefix' (str)" in refused.refusal["Cause"]
    assert refused.refusal["Cause"].endswith("the contract in force is unchanged")
    assert FileContractStore(tmp_path / "raw").names() == ["shipping"]


SENSORS = {
    "dataset": "sensors", "version": 1, "landing_prefix": "sensors/", "accepted_formats": ["jsonl"],
    "date_format": "yyyy-MM-dd",
    "fields": [{"name": "sensor_id", "type": "string", "required": True},
               {"name": "reading", "type": "double"},
               {"name": "owner_email", "type": "string", "pii": True}],
    "primary_key": ["sensor_id"], "partition_columns": [],
}


def test_a_contract_for_an_unknown_dataset_defines_it_and_its_prefix_is_routed_to_it(tmp_path):
    store = FileContractStore(tmp_path / "raw")
    drops = ContractDrops(store, lambda source: json.dumps(SENSORS).encode())
    defined = plan(SourceObject("landing", "_contracts/sensors.json", size=10, etag="e"), drops)
    assert defined.refusal is None
    assert defined.contract_update["changes"] == [
        "defines dataset sensors: 3 fields (1 PII), key sensor_id, files under sensors/ (jsonl) written as upsert"]
    assert datasets_in_force(store) == ["ev_population", "sensors", "shipping", "users"]

    run = plan(SourceObject("landing", "sensors/day1.json", size=10, etag="e"), drops)
    payload = run.execution_input()
    assert (payload["dataset"], payload["write_mode"]) == ("sensors", "upsert")
    assert payload["summary_query"] == {
        "name": "sensors_records",
        "sql": "SELECT count(*) AS records, max(ingested_at) AS last_ingested_at FROM processed_sensors"}
    assert effective_contract("sensors", store).summary_query == ""

    # its next version is an update like any other: compatible changes only
    wider = {**SENSORS, "version": 2, "fields": [*SENSORS["fields"], {"name": "unit", "type": "string"}]}
    assert apply_contract("sensors", json.dumps(wider), store).changes == ["adds optional field unit (string)"]
    with pytest.raises(ContractError, match="'reading' is removed"):
        apply_contract("sensors", json.dumps({**wider, "version": 3, "fields": SENSORS["fields"][:1]}), store)


def test_without_a_definition_a_prefix_is_unknown_and_the_cause_says_how_to_define_it(tmp_path):
    drops = ContractDrops(FileContractStore(tmp_path / "raw"), lambda source: b"")
    refused = plan(SourceObject("landing", "sensors/day1.json", size=10, etag="e"), drops)
    assert refused.refusal["Error"] == "UnknownDataset"
    assert "drop it into landing as _contracts/<name>.json" in refused.refusal["Cause"]
    with pytest.raises(ContractError, match=r"no contract dropped into landing as _contracts/sensors\.json"):
        effective_contract("sensors", FileContractStore(tmp_path / "raw"))


@pytest.mark.parametrize(("dataset", "dropped", "reason"), [
    ("sensors", {**SENSORS, "landing_prefix": "shipping/sensors/"}, "overlaps 'shipping/' of the shipping dataset"),
    ("sensors", {**SENSORS, "landing_prefix": "user"}, "landing_prefix must end with '/'"),
    ("sensors", {**SENSORS, "landing_prefix": "_sensors/"}, "landing_prefix cannot start with '_'"),
    ("sensors", {**SENSORS, "default_for_root_keys": True}, "the shipping dataset already takes the files at"),
    ("sensors", {**SENSORS, "summary_query": "sensors_summary"}, "a dataset defined at run time has no queries"),
    ("Sensors", {**SENSORS, "dataset": "Sensors"}, "dataset name 'Sensors' must be lowercase"),
    ("sensor", SENSORS, "declares dataset 'sensors'"),
    ("sensors", {**SENSORS, "primary_key": []}, "an upsert .* needs a primary_key"),
    ("sensors", {**SENSORS, "accepted_formats": ["jsonl", "csv"]}, "accepted_formats mixes CSV and JSON"),
])
def test_a_new_dataset_is_refused_when_its_contract_is_invalid_or_clashes(tmp_path, dataset, dropped, reason):
    store = FileContractStore(tmp_path / "raw")
    with pytest.raises(ContractError, match=reason):
        apply_contract(dataset, json.dumps(dropped), store)
    assert store.names() == []


class CountingStore(FileContractStore):
    """A store that counts how often the datasets it keeps are listed (once per read of the contracts in force)."""

    listed = 0

    def names(self) -> list[str]:
        self.listed += 1
        return super().names()


def test_a_batch_reads_the_contracts_in_force_once_and_again_after_a_drop_in_it(tmp_path):
    from etl.trigger import start_runs

    store = CountingStore(tmp_path / "raw")
    drops = ContractDrops(store, lambda source: json.dumps(SENSORS).encode())
    started = []

    class Starter:
        def start(self, request):
            started.append((request.source.key, request.dataset, request.refusal))
            return request.run_id

    keys = ["shipping/a.json", "shipping/b.json", "_contracts/sensors.json", "sensors/day1.json", "shipping/c.json"]
    start_runs([SourceObject("landing", key, size=10, etag=key) for key in keys], Starter(), contracts=drops)
    assert [(key, dataset) for key, dataset, refusal in started if refusal is None] == [
        ("shipping/a.json", "shipping"), ("shipping/b.json", "shipping"), ("_contracts/sensors.json", "sensors"),
        ("sensors/day1.json", "sensors"), ("shipping/c.json", "shipping")]
    # Once for the first two files, twice by the drop itself (is sensors new? whose prefixes does it meet?),
    # once more for the two files after it: not once per file.
    assert store.listed == 4
