"""Shared fixtures: real event JSON, one quiet Spark session per test session, temporary lakes."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

ROOT = Path(__file__).resolve().parents[1]
EVENTS = Path(__file__).parent / "events"

# Property tests draw the same examples on every run (`make test`, CI): a random example must not fail a
# change that did not touch it. `make fuzz` draws new ones; any failure it finds is kept as an @example.
settings.register_profile("fixed", derandomize=True, database=None, print_blob=True)
settings.register_profile("fuzz", derandomize=False, database=None, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "fixed"))

# Small shuffle for tiny test data; set before the session starts.
os.environ.setdefault("ETL_SPARK_SHUFFLE_PARTITIONS", "2")
# The test session loads the AWS code paths' jars too (S3A, Iceberg's GlueCatalog; `make test` fetches them):
# tests/functional/test_aws_emulated.py runs the Glue jobs on s3:// URIs against moto's server.
AWS_JARS = Path(sys.prefix) / "jars-aws"
os.environ.setdefault("ETL_SPARK_JARS", os.pathsep.join([str(Path(sys.prefix) / "jars"), str(AWS_JARS)]))


def load_event(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / name).read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def spark():
    from etl.spark import local_session, stop_local_session

    session = local_session("etl-tests")
    yield session
    stop_local_session()


@pytest.fixture
def add_dataset(tmp_path, monkeypatch):
    """Add dataset folders beside the package's own (a copy of them), for one test: add_dataset(contract, queries).

    The registry (etl.contracts) reads the copy; its cache of parsed contracts is cleared before and after.
    """
    import shutil

    from etl import contracts

    folder = tmp_path / "datasets"
    shutil.copytree(Path(str(contracts.datasets_folder())), folder)
    monkeypatch.setattr(contracts, "datasets_folder", lambda: folder)
    contracts.load_contract.cache_clear()

    def add(contract: dict[str, Any], queries: dict[str, str]) -> Path:
        dataset = folder / contract["dataset"]
        (dataset / "queries").mkdir(parents=True)
        (dataset / "contract.json").write_text(json.dumps(contract), encoding="utf-8")
        for name, sql in queries.items():
            (dataset / "queries" / f"{name}.sql").write_text(sql, encoding="utf-8")
        contracts.load_contract.cache_clear()
        return dataset

    yield add
    contracts.load_contract.cache_clear()

