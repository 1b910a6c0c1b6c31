"""The local session's jars: Iceberg's Spark module must be among them, or the session says how to get it."""

from __future__ import annotations

import pytest

from etl import spark as local_spark
from etl.errors import ConfigError


def test_the_jars_of_every_folder_named_are_loaded(tmp_path, monkeypatch):
    modules, extra = tmp_path / "jars", tmp_path / "jars-aws"
    modules.mkdir(), extra.mkdir()
    for name in ("iceberg-core-1.7.1.jar", "iceberg-spark-3.5_2.12-1.7.1.jar"):
        (modules / name).write_bytes(b"")
    (extra / "iceberg-aws-1.7.1.jar").write_bytes(b"")
    monkeypatch.setenv(local_spark.JARS_ENV, f"{modules}:{extra}")

    assert [jar.rsplit("/", 1)[1] for jar in local_spark.session_jars()] == [
        "iceberg-core-1.7.1.jar", "iceberg-spark-3.5_2.12-1.7.1.jar", "iceberg-aws-1.7.1.jar"]


def test_without_icebergs_spark_module_the_error_says_how_to_fetch_it(tmp_path, monkeypatch):
    (tmp_path / "iceberg-core-1.7.1.jar").write_bytes(b"")  # other Iceberg modules alone do not make a session
    monkeypatch.setenv(local_spark.JARS_ENV, str(tmp_path))

    expected = r"no Iceberg Spark jar \(iceberg-spark-3\.5_2\.12-\*\.jar\) in .*make install"
    with pytest.raises(ConfigError, match=expected):
        local_spark.session_jars()
