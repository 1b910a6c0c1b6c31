"""A run's folder is added to its crawled table, or a crawl is asked for, in the Glue Data Catalog (moto)
and in the local catalog."""

from __future__ import annotations

import fcntl
from datetime import UTC, datetime

import boto3
import pytest
from botocore.config import Config
from moto import mock_aws
from pyspark.sql import types as T

from etl.glue.catalog import Catalog, Column, Table
from etl.glue.partitions import (
    CRAWL,
    REGISTERED,
    CatalogedTable,
    GluePartitionCatalog,
    LocalPartitionCatalog,
    crawl_reason,
    crawled_table_name,
    glue_type_of_spark,
    register_run_folder,
)

RAW_SCHEMA = T.StructType([
    T.StructField("shipping_id", T.LongType()), T.StructField("shipping_cost", T.DoubleType()),
    T.StructField("ingested_at", T.TimestampType()), T.StructField("tags", T.ArrayType(T.StringType())),
])
HELD = {"shipping_id": "bigint", "shipping_cost": "double", "ingested_at": "timestamp", "tags": "array<string>"}


def held(columns=HELD, keys=("run_id",), file_format="parquet") -> CatalogedTable:
    return CatalogedTable(columns=columns, partition_keys=keys, format=file_format)


def test_a_table_that_holds_every_column_with_its_type_needs_no_crawl():
    assert crawl_reason(held(), "raw_shipping", RAW_SCHEMA) is None
    # A column the table has and the run did not write reads as NULL in this partition: no crawl either.
    assert crawl_reason(held({**HELD, "note": "string"}), "raw_shipping", RAW_SCHEMA) is None


@pytest.mark.parametrize(("table", "reason"), [
    (None, "table raw_shipping is not in the catalog yet"),
    (held(keys=("year", "month")), "partitioned by year, month, not run_id"),
    (held(keys=()), "partitioned by nothing"),
    (held({k: v for k, v in HELD.items() if k != "tags"}), "column tags is new to table raw_shipping"),
    (held({**HELD, "shipping_cost": "float"}), "column shipping_cost is double in this run but float"),
    (held({**HELD, "shipping_id": "int"}), "column shipping_id is bigint in this run but int"),
])
def test_a_new_table_layout_or_schema_needs_a_crawl(table, reason):
    assert reason in (crawl_reason(table, "raw_shipping", RAW_SCHEMA) or "")


def test_json_numbers_are_one_integer_type_whatever_width_the_crawler_chose():
    schema = T.StructType([T.StructField("line_number", T.LongType())])
    assert crawl_reason(held({"line_number": "int"}, file_format="json"), "q", schema) is None


def test_spark_types_are_named_as_a_crawler_names_them():
    assert [glue_type_of_spark(f.dataType) for f in RAW_SCHEMA.fields] == list(HELD.values())
    nested = T.StructType([T.StructField("A", T.MapType(T.StringType(), T.DecimalType(10, 2))),
                           T.StructField("d", T.DateType()), T.StructField("t", T.TimestampNTZType())])
    assert glue_type_of_spark(nested) == "struct<a:map<string,decimal(10,2)>,d:date,t:timestamp>"


def test_table_names_follow_the_crawlers_prefix_and_folder_rule():
    assert crawled_table_name("raw", "shipping") == "raw_shipping"
    assert crawled_table_name("quarantine", "EV-population") == "quarantine_ev_population"


@pytest.fixture
def glue():
    with mock_aws():
        client = boto3.client("glue", region_name="eu-west-1")
        client.create_database(DatabaseInput={"Name": "etl"})
        client.create_table(DatabaseName="etl", TableInput={
            "Name": "raw_shipping",
            "PartitionKeys": [{"Name": "run_id", "Type": "string"}],
            "Parameters": {"classification": "parquet"},
            "StorageDescriptor": {
                "Columns": [{"Name": name, "Type": kind} for name, kind in HELD.items()],
                "Location": "s3://raw-bucket/shipping/",
                "InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
                "OutputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
                "SerdeInfo": {"SerializationLibrary":
                              "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"},
            },
        })
        yield client


def test_glue_gets_the_runs_partition_with_the_tables_storage_descriptor(glue):
    catalog = GluePartitionCatalog(glue)
    location = "s3://raw-bucket/shipping/run_id=r1/"
    decision = register_run_folder(catalog, "etl", "raw_shipping", RAW_SCHEMA, "r1", location)
    assert decision == {"table": "raw_shipping", "action": REGISTERED}
    [partition] = glue.get_partitions(DatabaseName="etl", TableName="raw_shipping")["Partitions"]
    storage = partition["StorageDescriptor"]
    assert partition["Values"] == ["r1"] and storage["Location"] == location
    assert storage["SerdeInfo"]["SerializationLibrary"].endswith("ParquetHiveSerDe")
    assert [c["Name"] for c in storage["Columns"]] == list(HELD)
    # The same run again (a retried job): the partition is there, nothing fails, nothing is added.
    assert register_run_folder(catalog, "etl", "raw_shipping", RAW_SCHEMA, "r1", location)["action"] == REGISTERED
    assert len(glue.get_partitions(DatabaseName="etl", TableName="raw_shipping")["Partitions"]) == 1


def test_glue_without_the_table_or_an_answer_means_a_crawl(glue):
    missing = register_run_folder(GluePartitionCatalog(glue), "etl", "quarantine_shipping", RAW_SCHEMA, "r1", "s3://q/")
    assert missing["action"] == CRAWL and "not in the catalog yet" in missing["reason"]
    # An endpoint that does not answer (no network, a wrong region setting): a crawl, not a failed run.
    unreachable = boto3.client("glue", region_name="eu-west-1", endpoint_url="http://127.0.0.1:9",
                               config=Config(retries={"max_attempts": 0}, connect_timeout=1))
    failed = register_run_folder(GluePartitionCatalog(unreachable), "etl", "raw_shipping", RAW_SCHEMA, "r1", "s3://q/")
    assert failed["action"] == CRAWL and "could not be asked or updated (EndpointConnectionError" in failed["reason"]


def test_the_local_catalog_gets_the_partition_once(tmp_path):
    path = tmp_path / "_system" / "catalog.duckdb"
    catalog = Catalog(path)
    catalog.create_database("etl")
    columns = tuple(Column(name, kind) for name, kind in HELD.items())
    catalog.put_table(Table("etl", "raw_shipping", str(tmp_path / "raw"), "parquet", columns,
                            (Column("run_id", "string"),), "raw", datetime.now(UTC)), [])
    local = LocalPartitionCatalog(path)
    for _ in range(2):
        decision = register_run_folder(local, "etl", "raw_shipping", RAW_SCHEMA, "r1", str(tmp_path / "raw/run_id=r1"))
        assert decision["action"] == REGISTERED
    assert [(p.values, p.location) for p in catalog.partitions("etl", "raw_shipping")] == [
        (("r1",), str(tmp_path / "raw/run_id=r1"))]
    assert LocalPartitionCatalog(tmp_path / "absent.duckdb").table("etl", "raw_shipping") is None


def test_a_local_catalog_held_by_another_process_means_a_crawl_not_a_wait(tmp_path, monkeypatch):
    path = tmp_path / "_system" / "catalog.duckdb"
    Catalog(path).create_database("etl")
    monkeypatch.setattr("etl.glue.partitions.LOCAL_CATALOG_WAIT_SECONDS", 0.3)
    with open(str(path) + ".lock", "a") as holder:  # a crawl in another process holds the file
        fcntl.flock(holder, fcntl.LOCK_EX)
        decision = register_run_folder(LocalPartitionCatalog(path), "etl", "raw_shipping", RAW_SCHEMA, "r1", "x")
    assert decision["action"] == CRAWL and "is busy" in decision["reason"]
