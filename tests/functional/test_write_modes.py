"""The write modes on the real engines: append adds a run's rows once (a re-run adds nothing), overwrite
replaces the table with a file's rows (a re-run, or an older file arriving late, changes nothing), each in
one Iceberg commit; the local Athena reads what Iceberg holds."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # the Glue scripts are run through the benchmark's loader of them

from bench.engines.pipeline_engine import load_glue_script  # noqa: E402

from etl.errors import ConfigError  # noqa: E402
from etl.glue.iceberg import CATALOG_FILE, IcebergCatalog  # noqa: E402

pytestmark = pytest.mark.slow

MEMBERS = {
    "dataset": "members", "version": 1, "landing_prefix": "members/", "accepted_formats": ["jsonl"],
    "date_format": "yyyy-MM-dd",
    "fields": [{"name": "username", "type": "string", "required": True},
               {"name": "email", "type": "string", "pii": True},
               {"name": "joined", "type": "date", "required": True}],
    "primary_key": [], "partition_columns": [{"name": "year", "source": "joined", "format": "yyyy"}],
    "summary_query": "members", "write_mode": "append", "allowed_operations": ["append", "truncate"],
}


@pytest.fixture
def load(add_dataset, spark, tmp_path):
    add_dataset(MEMBERS, {"members": "SELECT count(*) AS members FROM processed_members"})
    lake = tmp_path / "lake"
    to_raw, normalize = load_glue_script("json_to_parquet"), load_glue_script("normalize")
    common = ["--dataset", "members", "--database", "etl", "--raw_uri", (lake / "raw").as_uri()]

    def run(run_id: str, users: list[str], write_mode: str, ingested_at: str, **extra: str) -> dict:
        source = tmp_path / f"{run_id}.json"
        lines = [{"username": name, "email": f"{name}@example.com", "joined": "2024-03-01", **extra} for name in users]
        source.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
        to_raw.main(["--JOB_NAME", "json_to_parquet", "--run_id", run_id, *common, "--source_uri", source.as_uri(),
                     "--ingested_at", ingested_at, "--quarantine_uri", (lake / "quarantine").as_uri()], spark=spark)
        return normalize.main(["--JOB_NAME", "normalize", "--run_id", run_id, *common, "--processed_uri",
                               (lake / "processed").as_uri(), "--write_mode", write_mode], spark=spark)

    def table() -> list[tuple[str, str]]:
        rows = IcebergCatalog(lake / "_system" / CATALOG_FILE).load("etl", "processed_members").scan().to_arrow()
        assert "email" not in rows.column_names  # PII stays in the raw zone whatever the write mode
        return sorted((row["username"], row["run_id"]) for row in rows.to_pylist())

    return run, table


def test_append_adds_each_runs_rows_once(load):
    run, table = load
    first = run("r1", ["ann", "bob"], "append", "2024-05-01T00:00:00Z")
    assert (first["write_mode"], first["inserted"]) == ("append", 2)
    second = run("r2", ["ann", "cid"], "append", "2024-05-02T00:00:00Z")  # no key: ann is another row
    assert second["inserted"] == 2
    again = run("r2", ["ann", "cid"], "append", "2024-05-02T00:00:00Z")
    assert (again["inserted"], again["unchanged"], again["snapshot"]) == (0, 2, None)
    assert table() == [("ann", "r1"), ("ann", "r2"), ("bob", "r1"), ("cid", "r2")]


def test_overwrite_replaces_the_table_unless_a_newer_file_did(load):
    run, table = load
    run("r1", ["ann", "bob", "cid"], "append", "2024-05-01T00:00:00Z")
    replaced = run("r2", ["dan"], "overwrite", "2024-05-02T00:00:00Z")
    assert (replaced["inserted"], replaced["deleted"]) == (1, 3)
    assert replaced["snapshot"]["operation"] == "overwrite"
    assert table() == [("dan", "r2")]
    late = run("r0", ["old"], "overwrite", "2024-04-30T00:00:00Z")  # an older file delivered late
    assert (late["inserted"], late["snapshot"]) == (0, None)
    again = run("r2", ["dan"], "overwrite", "2024-05-02T00:00:00Z")
    assert again["snapshot"] is None
    assert table() == [("dan", "r2")]


def test_a_write_mode_the_contract_does_not_allow_is_refused(load):
    run, _ = load
    with pytest.raises(ConfigError, match="write mode 'upsert' is not allowed for the members dataset"):
        run("r1", ["ann"], "upsert", "2024-05-01T00:00:00Z")


def test_a_contract_version_that_adds_a_field_evolves_the_table_without_rewriting_it(load, add_dataset, tmp_path):
    from etl import contracts

    run, _ = load
    run("r1", ["ann"], "append", "2024-05-01T00:00:00Z")
    catalog = IcebergCatalog(tmp_path / "lake" / "_system" / CATALOG_FILE)
    first_files = {task.file.file_path for task in catalog.load("etl", "processed_members").scan().plan_files()}
    contract_file = tmp_path / "datasets" / "members" / "contract.json"
    v2 = {**MEMBERS, "version": 2, "fields": [*MEMBERS["fields"], {"name": "nickname", "type": "string"}]}
    contract_file.write_text(json.dumps(v2), encoding="utf-8")
    contracts.load_contract.cache_clear()

    run("r2", ["bob"], "append", "2024-05-02T00:00:00Z", nickname="bobby")
    table = catalog.load("etl", "processed_members")
    rows = {row["username"]: row["nickname"] for row in table.scan().to_arrow().to_pylist()}
    assert rows == {"ann": None, "bob": "bobby"}  # rows written before the field read it as NULL
    assert first_files <= {task.file.file_path for task in table.scan().plan_files()}  # r1's files untouched

    v3 = {**v2, "version": 3, "fields": [f for f in v2["fields"] if f["name"] != "nickname"]}
    contract_file.write_text(json.dumps(v3), encoding="utf-8")
    contracts.load_contract.cache_clear()
    with pytest.raises(ConfigError, match=r"no longer matches etl\.processed_members: column nickname is no longer"):
        run("r3", ["cid"], "append", "2024-05-03T00:00:00Z")
