import json

import pytest

from etl.contracts import available_datasets, load_contract, problems, query_files, summary_query, validate_folder
from etl.errors import ContractError


def test_shipping_contract_declares_key_pii_partitions_and_formats():
    contract = load_contract("shipping")
    assert contract.primary_key == ("shipping_id",)
    assert "customer_name" in contract.pii_fields
    assert "customer_name" not in [f.name for f in contract.published_fields]
    assert [(p.name, p.source, p.format) for p in contract.partition_columns] == [
        ("year", "shipping_date", "yyyy"),
        ("month", "shipping_date", "MM"),
    ]
    assert set(contract.accepted_formats) == {"jsonl", "json_array", "gzip"}
    assert contract.date_format == "yyyy/MM/dd"
    assert contract.landing_prefix == "shipping/"
    assert contract.default_for_root_keys
    assert not contract.field("product_id").required
    assert contract.field("shipping_cost").type == "double"


def test_unknown_dataset_names_the_known_ones():
    with pytest.raises(ContractError, match="known datasets: ev_population, shipping, users"):
        load_contract("nope")
    assert available_datasets() == ["ev_population", "shipping", "users"]


def _raw(**changes):
    base = {
        "dataset": "d",
        "version": 1,
        "landing_prefix": "d/",
        "accepted_formats": ["jsonl"],
        "date_format": "yyyy/MM/dd",
        "fields": [{"name": "id", "type": "bigint", "required": True}, {"name": "day", "type": "date"}],
        "primary_key": ["id"],
        "partition_columns": [{"name": "year", "source": "day", "format": "yyyy"}],
        "summary_query": "totals",
    }
    base.update(changes)
    return base


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"fields": [{"name": "id", "type": "integer", "required": True}]}, "has type 'integer'"),
        ({"primary_key": ["day"]}, "primary key 'day' must be a required field"),
        ({"partition_columns": [{"name": "y", "source": "id", "format": "yyyy"}]}, "must derive from a date"),
        ({"accepted_formats": ["xlsx"]}, "unknown formats"),
        ({"landing_prefix": "d"}, "must end with '/'"),
        ({"dataset": "other"}, "declares dataset 'other'"),
        ({"summary_query": "nope"}, "summary_query 'nope' has no file queries/nope.sql"),
        ({"fields": [{"name": "id", "type": "bigint", "required": True, "minimun": 1}]}, "unknown keys ['minimun']"),
    ],
)
def test_invalid_contracts_are_refused_with_the_reason(changes, message):
    found = problems("d", _raw(**changes), queries={"totals"})
    assert any(message in problem for problem in found), found


def test_every_problem_is_reported_once_on_its_own_line():
    raw = _raw(landing_prefix="d", accepted_formats=["xlsx"], primary_key=["day"])
    found = problems("d", raw, queries={"totals"})
    assert len(found) == 3 and all("\n" not in p for p in found)
    assert problems("d", {"dataset": "d"}) [:2] == ["missing key 'version' (int)", "missing key 'landing_prefix' (str)"]


def test_the_shipping_folder_is_valid_and_names_its_summary_query():
    from etl.contracts import dataset_folder

    assert validate_folder(dataset_folder("shipping")) == []
    assert "shipping_totals" in query_files("shipping")
    name, sql = summary_query("shipping")
    assert name == "shipping_totals" and "FROM processed_shipping" in sql and not sql.endswith(";")


def test_a_folder_without_a_valid_contract_gets_one_line_per_problem(tmp_path):
    folder = tmp_path / "d"
    folder.mkdir()
    assert validate_folder(folder) == ["d: no contract.json in the folder"]
    (folder / "contract.json").write_text("{not json", encoding="utf-8")
    [problem] = validate_folder(folder)
    assert problem.startswith("d/contract.json: not valid JSON")
    (folder / "contract.json").write_text(json.dumps(_raw()), encoding="utf-8")
    assert validate_folder(folder) == ["d/contract.json: summary_query 'totals' has no file queries/totals.sql"]
    (folder / "queries").mkdir()
    (folder / "queries" / "totals.sql").write_text("SELECT 1", encoding="utf-8")
    assert validate_folder(folder) == []


def test_etl_validate_checks_a_contract_file_meant_for_landing(tmp_path, capsys):
    from etl.cli import main

    dropped = tmp_path / "sensors.json"
    contract = {**_raw(), "dataset": "sensors"}
    contract.pop("summary_query")
    dropped.write_text(json.dumps(contract), encoding="utf-8")
    assert main(["validate", str(dropped)]) == 0
    assert capsys.readouterr().out == f"ok: {dropped} (drop it into landing as _contracts/sensors.json)\n"

    dropped.write_text(json.dumps({**contract, "landing_prefix": "sensors", "summary_query": "totals"}), "utf-8")
    assert main(["validate", str(dropped)]) == 1
    assert capsys.readouterr().err.splitlines() == [
        f"error: {dropped}: landing_prefix must end with '/'",
        f"error: {dropped}: summary_query: a dataset defined at run time has no queries folder (leave it out)"]
