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
