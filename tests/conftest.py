"""Shared fixtures: real event JSON, one quiet Spark session per test session, temporary lakes."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
EVENTS = Path(__file__).parent / "events"

# Small shuffle for tiny test data; set before the session starts.
os.environ.setdefault("ETL_SPARK_SHUFFLE_PARTITIONS", "2")


def load_event(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / name).read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def spark():
    from etl.spark import local_session, stop_local_session

    session = local_session("etl-tests")
    yield session
    stop_local_session()
