"""A contract dropped into landing as _contracts/<dataset>.json: checked, compared with the one in force,
kept when compatible (and the run says what changed), refused with every reason otherwise."""

from __future__ import annotations

import json

import pytest

from etl.contracts import CONTRACT_FILE, dataset_folder, load_contract
from etl.contracts.store import FileContractStore, apply_contract, dataset_of_contract_key, effective_contract
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
    assert "is not a dataset of this pipeline" in refused.refusal["Cause"]
    assert refused.refusal["Cause"].endswith("the contract in force is unchanged")
