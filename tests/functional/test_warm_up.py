"""`etl watch` warms its JVM on a scratch lake: the pipeline really runs there, and the user's lake is untouched."""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

import pytest

from etl.config import LocalSettings
from etl.local.warm_up import warm_up

pytestmark = pytest.mark.slow


def test_the_warm_up_runs_the_pipeline_in_a_scratch_lake_it_then_deletes(spark, tmp_path, monkeypatch, caplog):
    user_lake = tmp_path / "lake"
    settings = LocalSettings.resolve(lake_root=user_lake)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "scratch"))
    (tmp_path / "scratch").mkdir()

    with caplog.at_level(logging.WARNING, logger="etl.local.warm_up"):
        seconds = warm_up(settings, files=2, records=300)

    assert seconds > 0
    assert not caplog.records, [r.getMessage() for r in caplog.records]  # both runs succeeded
    assert not user_lake.exists()
    assert list((tmp_path / "scratch").iterdir()) == []  # the scratch lake is gone


def test_a_warm_up_run_that_fails_is_logged_and_the_warm_up_ends(spark, tmp_path, monkeypatch, caplog):
    from etl.local import warm_up as module

    def broken_file(path: Path, records: int, **options) -> None:
        path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)))  # a binary file: the run fails

    monkeypatch.setattr(module, "write_file", broken_file)
    with caplog.at_level(logging.WARNING, logger="etl.local.warm_up"):
        warm_up(LocalSettings.resolve(lake_root=tmp_path / "lake"), files=1, records=10)
    assert "a warm-up run did not succeed" in caplog.text
