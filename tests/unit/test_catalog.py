"""The embedded Glue Data Catalog: round trips, replace semantics, errors."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from etl.errors import CatalogError
from etl.glue.catalog import Catalog, Column, Partition, Table

MOMENT = datetime(2024, 5, 1, 12, 30, 15, 123456, tzinfo=UTC)


def make_table(
    name: str = "processed_shipping", *, columns: tuple[Column, ...] | None = None,
    keys: tuple[Column, ...] = (Column("year", "string"), Column("month", "string")),
    updated_at: datetime = MOMENT,
) -> Table:
    return Table(
        database="etl",
        name=name,
        location="/lake/processed/shipping",
        format="parquet",
        columns=columns
        or (
            Column("shipping_id", "bigint"), Column("shipping_cost", "double"),
            Column("amount", "decimal(18,2)"), Column("tags", "array<string>"),
        ),
        partition_keys=keys,
        crawler="processed",
        updated_at=updated_at,
    )


PARTITIONS = [
    Partition(("2024", "01"), "/lake/processed/shipping/year=2024/month=01"),
    Partition(("2024", "02"), "/lake/processed/shipping/year=2024/month=02"),
]


@pytest.fixture
def catalog(tmp_path):
    catalog = Catalog(tmp_path / "system" / "catalog.duckdb")
    catalog.create_database("etl")
    return catalog


def test_new_file_gets_its_schema(tmp_path):
    path = tmp_path / "deep" / "catalog.duckdb"
    Catalog(path)
    with duckdb.connect(str(path), read_only=True) as con:
        names = {row[0] for row in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    assert {"databases", "tables", "columns", "partitions", "partition_values"} <= names


def test_create_database_is_idempotent(catalog):
    catalog.create_database("etl")
    catalog.create_database("Analytics")
    assert catalog.databases() == ["analytics", "etl"]


def test_table_round_trip(catalog):
    table = make_table()
    catalog.put_table(table, PARTITIONS)
    assert catalog.get_table("etl", "processed_shipping") == table
    assert catalog.partitions("etl", "processed_shipping") == PARTITIONS
    assert catalog.tables() == [table]
    assert catalog.tables("etl") == [table]
    assert catalog.tables("other") == []


def test_names_are_case_insensitive_like_glue(catalog):
    catalog.put_table(make_table("Processed_Shipping"), PARTITIONS)
    assert catalog.get_table("ETL", "PROCESSED_SHIPPING").name == "processed_shipping"


def test_put_table_replaces_columns_and_partitions(catalog):
    catalog.put_table(make_table(), PARTITIONS)
    later = MOMENT + timedelta(hours=1)
    replacement = make_table(
        columns=(Column("shipping_id", "bigint"),), keys=(Column("run_id", "string"),), updated_at=later
    )
    catalog.put_table(replacement, [Partition(("r1",), "/lake/x/run_id=r1")])
    assert catalog.get_table("etl", "processed_shipping") == replacement
    assert catalog.partitions("etl", "processed_shipping") == [Partition(("r1",), "/lake/x/run_id=r1")]
    assert len(catalog.tables()) == 1


def test_unpartitioned_table_and_no_partitions(catalog):
    table = make_table("flat", keys=())
    catalog.put_table(table, [])
    assert catalog.get_table("etl", "flat").partition_keys == ()
    assert catalog.partitions("etl", "flat") == []


def test_failed_put_leaves_the_previous_table(catalog):
    catalog.put_table(make_table(), PARTITIONS)
    with pytest.raises(CatalogError, match="has 1 values"):
        catalog.put_table(make_table(), [Partition(("2024",), "/x")])
    assert catalog.partitions("etl", "processed_shipping") == PARTITIONS


def test_missing_table_error_is_one_line_and_suggests_etl_tables(catalog):
    with pytest.raises(CatalogError) as info:
        catalog.get_table("etl", "nope")
    message = str(info.value)
    assert "etl.nope" in message and "etl tables" in message and "\n" not in message
    with pytest.raises(CatalogError, match="etl tables"):
        catalog.partitions("etl", "nope")


def test_put_into_missing_database_is_refused(catalog):
    table = make_table()
    with pytest.raises(CatalogError, match="database 'other' does not exist"):
        catalog.put_table(
            Table(
                "other",
                *[
                    getattr(table, f)
                    for f in (
                        "name", "location", "format", "columns", "partition_keys", "crawler", "updated_at",
                    )
                ],
            ),
            [],
        )


def test_invalid_tables_are_refused(catalog):
    with pytest.raises(CatalogError, match="format"):
        catalog.put_table(Table("etl", "t", "/x", "csv", (), (), None, MOMENT), [])
    with pytest.raises(CatalogError, match="duplicate column"):
        catalog.put_table(make_table(columns=(Column("year", "string"),)), [])


WRITER = """
import sys
from datetime import UTC, datetime
from pathlib import Path
from etl.glue.catalog import Catalog, Column, Table
catalog = Catalog(Path(sys.argv[1]))
for round_ in range(8):
    table = Table("etl", sys.argv[2], "/x", "json", (Column("a", "bigint"),), (), "p", datetime.now(UTC))
    catalog.put_table(table, [])
    catalog.tables()
"""


def test_processes_take_turns_on_the_file(tmp_path):
    path = tmp_path / "catalog.duckdb"
    Catalog(path).create_database("etl")
    src = str(Path(__file__).resolve().parents[2] / "src")
    env = {**os.environ, "PYTHONPATH": src + os.pathsep + os.environ.get("PYTHONPATH", "")}
    writers = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(path), f"p{i}"], env=env) for i in range(3)
    ]
    catalog = Catalog(path)
    for _ in range(8):
        catalog.put_table(make_table("main"), PARTITIONS)
    assert [w.wait(timeout=120) for w in writers] == [0, 0, 0]
    assert sorted(t.name for t in catalog.tables("etl")) == ["main", "p0", "p1", "p2"]


def test_several_catalog_objects_and_threads_share_one_file(tmp_path):
    path = tmp_path / "catalog.duckdb"
    first, second = Catalog(path), Catalog(path)
    first.create_database("etl")
    errors: list[Exception] = []

    def writer(index: int) -> None:
        try:
            for round_ in range(5):
                (first if index % 2 else second).put_table(
                    make_table(f"t{index}"), PARTITIONS[: round_ % 2 + 1]
                )
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(t.name for t in second.tables("etl")) == [f"t{i}" for i in range(6)]
