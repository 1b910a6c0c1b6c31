"""The users dataset through the whole local pipeline: CSV user_data exports without a key, where a file under
users/append/ adds its users and one under users/truncate/ replaces the table; the notification carries the
dataset's own summary query, and the PII columns stay in the raw zone."""

from __future__ import annotations

import shutil

import pytest

from etl.config import LocalSettings
from etl.generator_users import users_file_name, write_users_file
from etl.local.runtime import LocalRuntime

pytestmark = pytest.mark.slow


def summary(body: dict) -> dict[str, str]:
    columns = body["results"]["columns"]
    [row] = body["results"]["rows"]
    return dict(zip(columns, (cell.get("VarCharValue") for cell in row["Data"]), strict=True))


def test_append_files_add_users_and_a_truncate_file_replaces_them(tmp_path, spark):
    from etl.athena.local import LocalAthena

    runtime = LocalRuntime(LocalSettings.resolve(lake_root=tmp_path / "lake"), spark=lambda: spark)

    def drop(folder: str, records: int, seed: int, bad_rate: float = 0.0):
        stats = write_users_file(tmp_path / users_file_name(), records, seed=seed, bad_rate=bad_rate)
        target = runtime.lake.path("landing", f"users/{folder}/{stats.path.name}")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(stats.path, target)
        [started] = runtime.process_landing().started
        record = runtime.runs.get(started["run_id"])
        assert record.status == "SUCCEEDED", (record.error, record.cause)
        return stats, runtime.outbox.list()[-1].body

    def users() -> list[tuple]:
        athena = LocalAthena(runtime.catalog, database=runtime.settings.database)
        return athena.execute("SELECT username, identifier FROM processed_users ORDER BY identifier").rows

    first, body = drop("append", 50, seed=1, bad_rate=0.1)
    assert (body["counts"]["loaded"], body["counts"]["quarantined"]) == (50, first.bad_lines) and first.bad_lines
    assert body["query"] == "users_summary"
    assert summary(body) == {"users": "50", "distinct_identifiers": "50", "files": "1"}
    _, body = drop("append", 30, seed=2)
    assert summary(body) == {"users": "80", "distinct_identifiers": "80", "files": "2"}
    assert len(users()) == 80

    _, body = drop("truncate", 5, seed=3)
    assert summary(body) == {"users": "5", "distinct_identifiers": "5", "files": "1"}
    assert [identifier for _, identifier in users()] == [3_100_001 + i for i in range(5)]

    columns = [c.name for c in runtime.catalog.get_table(runtime.settings.database, "processed_users").columns]
    assert "first_name" not in columns and "last_name" not in columns  # PII: raw zone only
