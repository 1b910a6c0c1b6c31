"""The local Glue crawler over a small lake written with pyarrow the way the Spark jobs lay it out."""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from etl.errors import CatalogError
from etl.glue.catalog import Catalog, Column, Partition
from etl.glue.crawler import CrawlerConfig, crawl, list_data_files, table_name

PROCESSED = pa.schema(
    [
        ("shipping_id", pa.int64()), ("shipping_date", pa.date32()), ("destination_city", pa.string()),
        ("shipping_cost", pa.float64()), ("shipping_distance", pa.float64()), ("quantity", pa.float64()),
        ("product_id", pa.int64()), ("run_id", pa.string()), ("ingested_at", pa.timestamp("us")),
    ]
)
RAW = pa.schema(
    [
        ("shipping_id", pa.int64()), ("shipping_date", pa.string()), ("customer_name", pa.string()),
        ("street_address", pa.string()), ("destination_city", pa.string()), ("shipping_cost", pa.float64()),
        ("shipping_distance", pa.float64()), ("quantity", pa.float64()), ("product_id", pa.int64()),
        ("ingested_at", pa.timestamp("us")),
    ]
)


def processed_row(shipping_id: int, day: date) -> dict:
    return {
        "shipping_id": shipping_id, "shipping_date": day, "destination_city": "serverless_island",
        "shipping_cost": 10.5, "shipping_distance": 2.0, "quantity": 3.0, "product_id": None, "run_id": "r1",
        "ingested_at": datetime(2024, 1, 1, 12),
    }


def write_parquet(path: Path, rows: list[dict], schema: pa.Schema) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), path, compression="snappy")


@pytest.fixture
def lake(tmp_path) -> Path:
    root = tmp_path / "lake"
    processed = root / "processed" / "shipping"
    write_parquet(
        processed / "year=2024" / "month=01" / "part-00000-a.snappy.parquet",
        [processed_row(1, date(2024, 1, 5)), processed_row(2, date(2024, 1, 9))], PROCESSED,
    )
    write_parquet(
        processed / "year=2024" / "month=02" / "part-00000-b.snappy.parquet",
        [processed_row(3, date(2024, 2, 1))], PROCESSED,
    )
    (processed / "_SUCCESS").write_bytes(b"")
    # Spark's leftovers and staging folders: ignored by crawlers and Athena
    write_parquet(
        processed / "_temporary" / "0" / "part-99999.snappy.parquet", [{"unrelated": 1}],
        pa.schema([("unrelated", pa.int64())]),
    )
    write_parquet(
        processed / "_staging" / "r1-1" / "year=2025" / "month=01" / "part-0.snappy.parquet",
        [processed_row(9, date(2025, 1, 1))], PROCESSED,
    )
    (processed / "year=2024" / "month=01" / ".part-00000-a.snappy.parquet.crc").write_bytes(b"crc")
    (processed / "year=2024" / "month=02" / "empty.parquet").write_bytes(b"")

    raw = root / "raw" / "shipping"
    raw_row = {
        "shipping_id": 1, "shipping_date": "2024/01/05", "customer_name": "A", "street_address": "B",
        "destination_city": "c", "shipping_cost": 1.0, "shipping_distance": 2.0, "quantity": 3.0,
        "product_id": 4, "ingested_at": datetime(2024, 1, 1),
    }
    write_parquet(raw / "run_id=20240101-aaa" / "part-00000.snappy.parquet", [raw_row], RAW)
    write_parquet(raw / "run_id=20240102-bbb" / "part-00000.snappy.parquet", [raw_row], RAW)
    (raw / "_SUCCESS").write_bytes(b"")

    quarantine = root / "quarantine" / "shipping" / "run_id=20240101-aaa"
    quarantine.mkdir(parents=True)
    lines = [
        {"source": "s3://landing/x.json", "reason": "malformed JSON", "raw_line": "{broken", "line_hint": 3},
        {"source": "s3://landing/x.json", "reason": "bad date", "raw_line": "{}", "line_hint": 7},
    ]
    (quarantine / "part-00000-q.json").write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    (quarantine / "_SUCCESS").write_bytes(b"")
    return root


@pytest.fixture
def catalog(tmp_path) -> Catalog:
    return Catalog(tmp_path / "catalog.duckdb")


def config(lake: Path, zone: str, *datasets: str) -> CrawlerConfig:
    return CrawlerConfig(
        name=zone, database="etl", table_prefix=f"{zone}_",
        targets=tuple(lake / zone / d for d in (datasets or ("shipping",))),
    )


def test_table_names_follow_glue_rules():
    assert table_name("processed_", "shipping") == "processed_shipping"
    assert table_name("Raw-", "Shipping Data.v2") == "raw_shipping_data_v2"


def test_processed_parquet_with_year_month_partitions(lake, catalog):
    result = crawl(config(lake, "processed"), catalog)
    assert result.tables_created == ["processed_shipping"] and result.tables_updated == []
    assert result.partitions == 2 and result.duration_seconds >= 0
    table = catalog.get_table("etl", "processed_shipping")
    assert table.format == "parquet" and table.crawler == "processed"
    assert table.location == str((lake / "processed" / "shipping").resolve())
    assert table.columns == (
        Column("shipping_id", "bigint"), Column("shipping_date", "date"),
        Column("destination_city", "string"), Column("shipping_cost", "double"),
        Column("shipping_distance", "double"), Column("quantity", "double"), Column("product_id", "bigint"),
        Column("run_id", "string"), Column("ingested_at", "timestamp"),
    )
    assert table.partition_keys == (Column("year", "string"), Column("month", "string"))
    base = (lake / "processed" / "shipping").resolve()
    assert catalog.partitions("etl", "processed_shipping") == [
        Partition(("2024", "01"), str(base / "year=2024" / "month=01")),
        Partition(("2024", "02"), str(base / "year=2024" / "month=02")),
    ]


def test_raw_and_quarantine_partitioned_by_run_id(lake, catalog):
    crawl(config(lake, "raw"), catalog)
    crawl(config(lake, "quarantine"), catalog)
    raw = catalog.get_table("etl", "raw_shipping")
    assert [c.name for c in raw.columns][:5] == [
        "shipping_id", "shipping_date", "customer_name", "street_address", "destination_city",
    ]
    assert dict((c.name, c.type) for c in raw.columns)["shipping_date"] == "string"
    assert raw.partition_keys == (Column("run_id", "string"),)
    assert [p.values for p in catalog.partitions("etl", "raw_shipping")] == [
        ("20240101-aaa",), ("20240102-bbb",),
    ]
    quarantine = catalog.get_table("etl", "quarantine_shipping")
    assert quarantine.format == "json"
    assert quarantine.columns == (
        Column("source", "string"), Column("reason", "string"), Column("raw_line", "string"),
        Column("line_hint", "bigint"),
    )
    assert quarantine.partition_keys == (Column("run_id", "string"),)


def test_recrawl_of_an_unchanged_tree_changes_nothing_but_updated_at(lake, catalog):
    crawl(config(lake, "processed"), catalog)
    before = catalog.get_table("etl", "processed_shipping")
    partitions = catalog.partitions("etl", "processed_shipping")
    again = crawl(config(lake, "processed"), catalog)
    assert again.tables_created == [] and again.tables_updated == []
    after = catalog.get_table("etl", "processed_shipping")
    assert after.updated_at >= before.updated_at
    assert {**after.__dict__, "updated_at": None} == {**before.__dict__, "updated_at": None}
    assert catalog.partitions("etl", "processed_shipping") == partitions


def test_new_partition_and_new_column_update_the_table(lake, catalog):
    crawl(config(lake, "processed"), catalog)
    wider = PROCESSED.append(pa.field("note", pa.string()))
    write_parquet(
        lake / "processed" / "shipping" / "year=2024" / "month=03" / "part-1.snappy.parquet",
        [{**processed_row(4, date(2024, 3, 1)), "note": "x"}], wider,
    )
    result = crawl(config(lake, "processed"), catalog)
    assert result.tables_updated == ["processed_shipping"] and result.partitions == 3
    table = catalog.get_table("etl", "processed_shipping")
    assert table.columns[-1] == Column("note", "string")
    assert [p.values for p in catalog.partitions("etl", "processed_shipping")][-1] == ("2024", "03")


def test_missing_or_empty_targets_change_nothing(lake, catalog, tmp_path):
    empty = lake / "processed" / "empty"
    (empty / "_temporary").mkdir(parents=True)
    (empty / "_SUCCESS").write_bytes(b"")
    result = crawl(config(lake, "processed", "missing", "empty"), catalog)
    assert (result.tables_created, result.tables_updated, result.partitions) == ([], [], 0)
    assert catalog.tables("etl") == []


def test_integer_widening_across_files_and_types(tmp_path, catalog):
    target = tmp_path / "zone" / "things"
    write_parquet(
        target / "a.parquet", [{"n": 1, "d": Decimal("1.50"), "flag": True}],
        pa.schema([("n", pa.int32()), ("d", pa.decimal128(10, 2)), ("flag", pa.bool_())]),
    )
    write_parquet(
        target / "b.parquet",
        [{"n": 2, "tags": ["x"], "meta": {"k": 1}}],
        pa.schema(
            [("n", pa.int64()), ("tags", pa.list_(pa.string())), ("meta", pa.struct([("k", pa.int16())]))]
        ),
    )
    crawl(CrawlerConfig("zone", "etl", "", (target,)), catalog)
    columns = dict((c.name, c.type) for c in catalog.get_table("etl", "things").columns)
    assert columns == {
        "n": "bigint", "d": "decimal(10,2)", "flag": "boolean", "tags": "array<string>",
        "meta": "struct<k:smallint>",
    }
    assert catalog.get_table("etl", "things").partition_keys == ()


def test_conflicting_types_and_layouts_fail_with_a_clear_error(tmp_path, catalog):
    target = tmp_path / "zone" / "bad"
    write_parquet(target / "a.parquet", [{"x": 1}], pa.schema([("x", pa.int64())]))
    write_parquet(target / "b.parquet", [{"x": "s"}], pa.schema([("x", pa.string())]))
    with pytest.raises(CatalogError, match="column 'x' is"):
        crawl(CrawlerConfig("zone", "etl", "", (target,)), catalog)
    layout = tmp_path / "zone" / "layout"
    write_parquet(layout / "k=1" / "a.parquet", [{"x": 1}], pa.schema([("x", pa.int64())]))
    write_parquet(layout / "b.parquet", [{"x": 1}], pa.schema([("x", pa.int64())]))
    with pytest.raises(CatalogError, match="different partition layouts"):
        crawl(CrawlerConfig("zone", "etl", "", (layout,)), catalog)


def test_list_data_files_skips_hidden_underscored_and_empty(lake):
    files = list_data_files(lake / "processed" / "shipping")
    names = sorted(p.relative_to(lake / "processed" / "shipping").as_posix() for p in files)
    assert names == [
        "year=2024/month=01/part-00000-a.snappy.parquet", "year=2024/month=02/part-00000-b.snappy.parquet",
    ]
    assert list_data_files(lake / "nowhere") == []
