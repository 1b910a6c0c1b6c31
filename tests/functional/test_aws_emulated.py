"""The AWS code paths, offline: the Glue job scripts on s3:// URIs, the Glue Data Catalog through Iceberg's
GlueCatalog, and the start Lambda against Step Functions, all served by moto's server on 127.0.0.1.

Spark reaches the emulator as a Glue job reaches AWS: s3:// through a Hadoop file system (S3A here, EMRFS
on Glue), the processed table through the catalog settings infra/ passes (etl.jobs.iceberg.glue_spark_conf),
and the raw run folders registered with boto3's Glue client. Only the endpoints differ: they point at the
emulator. What the emulator does not check (IAM, Lake Formation) is not tested here.
"""

from __future__ import annotations

import importlib.util
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from conftest import AWS_JARS, ROOT, load_event
from etl.definition import ASL_PATH, load_definition, placeholders
from etl.events import run_id_for
from etl.generator import generate_lines
from etl.glue.partitions import glue_type_of_spark
from etl.jobs.iceberg import CATALOG_CONF, glue_spark_conf
from etl.jobs.layout import RunLayout
from etl.spark import session_settings

pytestmark = pytest.mark.slow

REGION = "us-east-1"
LANDING, LAKE, DATABASE = "etl-landing", "etl-lake", "etl_emulated"
RAW, QUARANTINE, PROCESSED = (f"s3://{LAKE}/{zone}" for zone in ("raw", "quarantine", "processed"))
INGESTED_AT = "2024-01-15T10:30:00Z"
# Glue's own arguments beside the job's, as Glue passes them to every script.
GLUE_ARGUMENTS = ["--job-bookmark-option", "job-bookmark-disable", "--TempDir", f"s3://{LAKE}/glue-temp/"]


def _load(path: Path, name: str) -> Any:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def aws() -> Iterator[str]:
    """moto's server on a free port of 127.0.0.1, with the buckets and database infra/ would create."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    with pytest.MonkeyPatch.context() as env:
        for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                            "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": REGION,
                            "AWS_ENDPOINT_URL": endpoint}.items():
            env.setenv(name, value)
        s3 = boto3.client("s3")
        for bucket in (LANDING, LAKE):
            s3.create_bucket(Bucket=bucket)
        boto3.client("glue").create_database(DatabaseInput={"Name": DATABASE})
        try:
            yield endpoint
        finally:
            server.stop()


@pytest.fixture(scope="module")
def aws_spark(spark, aws) -> Iterator[Any]:
    """The shared session, reaching the emulator as a Glue 5.0 job reaches S3 and the Glue Data Catalog.

    The catalog settings are restored afterwards, so later tests get the local Iceberg catalog again.
    """
    if not any(AWS_JARS.glob("hadoop-aws-*.jar")):
        pytest.fail(f"no S3A jar in {AWS_JARS}: run `make test` (it fetches jars/aws/pom.xml through Maven)")
    endpoint = aws
    hadoop = spark._jsc.hadoopConfiguration()
    for key, value in {
        "fs.s3.impl": "org.apache.hadoop.fs.s3a.S3AFileSystem", "fs.s3a.endpoint": endpoint,
        "fs.s3a.endpoint.region": REGION, "fs.s3a.path.style.access": "true",
        "fs.s3a.connection.ssl.enabled": "false", "fs.s3a.access.key": "testing", "fs.s3a.secret.key": "testing",
        "fs.s3a.aws.credentials.provider": "org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider",
    }.items():
        hadoop.set(key, value)
    # Iceberg's AWS clients take credentials from the JVM's default chain: its system properties here.
    system = spark._jvm.System
    for key, value in {"aws.accessKeyId": "testing", "aws.secretAccessKey": "testing", "aws.region": REGION}.items():
        system.setProperty(key, value)
    glue_conf = glue_spark_conf(PROCESSED)
    # A static setting, given to the session when it started: the same as on Glue.
    assert spark.conf.get("spark.sql.extensions") == glue_conf.pop("spark.sql.extensions")
    catalog = {**glue_conf, f"{CATALOG_CONF}.glue.endpoint": endpoint,
               f"{CATALOG_CONF}.s3.endpoint": endpoint, f"{CATALOG_CONF}.s3.path-style-access": "true",
               f"{CATALOG_CONF}.client.region": REGION}
    local_catalog = {f"{CATALOG_CONF}.type": None, f"{CATALOG_CONF}.uri": None}  # the JDBC catalog's, unset
    catalogs = spark._jsparkSession.sessionState().catalogManager()
    try:
        with session_settings(spark, {**catalog, **local_catalog}):
            catalogs.reset()
            yield spark
    finally:
        catalogs.reset()  # the session's own catalog settings are back: load them anew


def _drop(name: str, lines: list[str]) -> str:
    key = f"shipping/{name}"
    boto3.client("s3").put_object(Bucket=LANDING, Key=key, Body=("\n".join(lines) + "\n").encode())
    return f"s3://{LANDING}/{key}"


def _json_to_parquet(spark: Any, run_id: str, source: str) -> dict[str, Any]:
    script = _load(ROOT / "glue_jobs" / "json_to_parquet.py", "glue_json_to_parquet")
    argv = ["json_to_parquet.py", "--JOB_NAME", "json_to_parquet", "--run_id", run_id, "--dataset", "shipping",
            "--database", DATABASE, "--source_uri", source, "--ingested_at", INGESTED_AT, "--raw_uri", RAW,
            "--quarantine_uri", QUARANTINE, *GLUE_ARGUMENTS]
    return script.main(argv, spark)


def _normalize(spark: Any, run_id: str) -> dict[str, Any]:
    script = _load(ROOT / "glue_jobs" / "normalize.py", "glue_normalize")
    argv = ["normalize.py", "--JOB_NAME", "normalize", "--run_id", run_id, "--dataset", "shipping",
            "--database", DATABASE, "--raw_uri", RAW, "--processed_uri", PROCESSED, "--write_mode", "upsert",
            *GLUE_ARGUMENTS]
    return script.main(argv, spark)


def _keys(bucket: str, prefix: str) -> list[str]:
    pages = boto3.client("s3").get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return [item["Key"] for page in pages for item in page.get("Contents", [])]


def _crawled_raw_table(spark: Any, run_folder: str) -> None:
    """The raw table as the raw crawler leaves it after a first run: the Parquet columns and a run_id partition."""
    columns = [{"Name": f.name, "Type": glue_type_of_spark(f.dataType)}
               for f in spark.read.parquet(run_folder).schema.fields]
    boto3.client("glue").create_table(DatabaseName=DATABASE, TableInput={
        "Name": "raw_shipping", "TableType": "EXTERNAL_TABLE",
        "PartitionKeys": [{"Name": "run_id", "Type": "string"}],
        "StorageDescriptor": {
            "Columns": columns, "Location": f"{RAW}/shipping/",
            "InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
            "OutputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
            "SerdeInfo": {"SerializationLibrary": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"},
        },
    })


def test_the_glue_jobs_load_a_file_from_s3_into_the_iceberg_table_of_the_glue_catalog(aws_spark):
    spark = aws_spark
    records = [json.loads(line) for line in generate_lines(200, seed=7)]
    bad = '{"shipping_id": "not a number", "shipping_date": "2024-01-01"'
    first = _drop("first.json", [json.dumps(r) for r in records[:150]] + [bad])

    loaded = _json_to_parquet(spark, "r1", first)
    assert (loaded["loaded"], loaded["quarantined"]) == (150, 1)
    # The first file of a dataset has no raw table yet: the run leaves its folders to the crawlers.
    assert loaded["catalog"]["raw"]["action"] == "crawl"
    layout = RunLayout("shipping", "r1", raw_uri=RAW, quarantine_uri=QUARANTINE)
    raw_files = _keys(LAKE, "raw/shipping/run_id=r1/")
    assert raw_files and all(k.endswith(".parquet") or k.endswith("_SUCCESS") for k in raw_files)
    # The staged commit finished on S3 too: nothing is left in staging but the folder marker S3A leaves behind.
    assert [k for k in _keys(LAKE, "raw/shipping/_staging/") if not k.endswith("/")] == []
    quarantined = spark.read.json(layout.quarantine_run).collect()
    assert [(row["line_number"], row["raw_line"], row["source"]) for row in quarantined] == [(151, bad, first)]
    manifest = json.loads(boto3.client("s3").get_object(Bucket=LAKE, Key="raw/_runs/r1/json_to_parquet.json")
                          ["Body"].read())
    assert manifest["loaded"] == 150

    processed = _normalize(spark, "r1")
    assert processed["inserted"] == 150
    table = boto3.client("glue").get_table(DatabaseName=DATABASE, Name="processed_shipping")["Table"]
    assert table["Parameters"]["table_type"] == "ICEBERG"
    metadata = table["Parameters"]["metadata_location"]
    assert metadata.startswith(f"{PROCESSED}/shipping/metadata/") and metadata.endswith(".metadata.json")
    assert _keys(LAKE, "processed/shipping/data/")  # the data files went to S3 through S3FileIO
    rows = spark.table(f"glue_catalog.{DATABASE}.processed_shipping")
    assert rows.count() == 150
    assert not {"customer_name", "street_address"} & set(rows.columns)  # PII removed on the way

    # The raw crawler has run once: a second file's raw folder is registered by the run itself.
    _crawled_raw_table(spark, layout.raw_run)
    corrected = [{**r, "shipping_cost": 999.5} for r in records[:20]]
    second = _drop("second.json", [json.dumps(r) for r in corrected + records[150:]])
    loaded = _json_to_parquet(spark, "r2", second)
    assert loaded["catalog"]["raw"]["action"] == "registered"
    partition = boto3.client("glue").get_partition(DatabaseName=DATABASE, TableName="raw_shipping",
                                                   PartitionValues=["r2"])["Partition"]
    assert partition["StorageDescriptor"]["Location"] == f"{RAW}/shipping/run_id=r2/"

    processed = _normalize(spark, "r2")
    assert (processed["inserted"], processed["updated"]) == (50, 20)
    after = boto3.client("glue").get_table(DatabaseName=DATABASE, Name="processed_shipping")["Table"]
    assert after["Parameters"]["previous_metadata_location"] == metadata  # one Iceberg commit through Glue
    table_rows = spark.table(f"glue_catalog.{DATABASE}.processed_shipping")
    assert table_rows.count() == 200
    costs = {row["shipping_id"]: row["shipping_cost"] for row in table_rows.collect()}
    assert all(costs[r["shipping_id"]] == 999.5 for r in corrected)


def test_the_start_lambda_starts_the_state_machine_of_the_emulated_step_functions(aws):
    values = {name: f"arn:aws:states:::placeholder/{name}" for name in placeholders((ROOT / ASL_PATH).read_text())}
    definition = load_definition(ROOT, values)
    sfn = boto3.client("stepfunctions")
    machine = sfn.create_state_machine(
        name="etl-pipeline", definition=json.dumps(definition),
        roleArn="arn:aws:iam::123456789012:role/etl-pipeline-state-machine",
    )["stateMachineArn"]
    event = load_event("s3_put.json")
    for record in event["Records"]:
        record["s3"]["bucket"]["name"] = LANDING
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level  # the handler module sets up Lambda's JSON logging
    with pytest.MonkeyPatch.context() as env:
        env.setenv("STATE_MACHINE_ARN", machine)
        try:
            handler = _load(ROOT / "lambdas" / "start_pipeline" / "handler.py", "emulated_start_pipeline")
            first = handler.handler(event, None)
            again = handler.handler(event, None)  # S3 delivers an event twice now and then
        finally:
            root.handlers[:] = handlers
            root.setLevel(level)
    executions = sfn.list_executions(stateMachineArn=machine)["executions"]
    assert len(executions) == len(first["started"]) >= 1
    assert not again["started"]
    for execution in executions:
        run_input = json.loads(sfn.describe_execution(executionArn=execution["executionArn"])["input"])
        assert run_input["dataset"] == "shipping"
        assert execution["name"] == run_input["run_id"]
        source = run_input["source"]
        assert source["bucket"] == LANDING
        assert execution["name"] == run_id_for_input(source)


def run_id_for_input(source: dict[str, Any]) -> str:
    from etl.events import SourceObject

    fields = {name: source[name] for name in ("bucket", "key", "size", "etag", "event_time") if name in source}
    return run_id_for(SourceObject(**fields, version_id=source.get("version_id")), "shipping")


def _object_created(key: str) -> dict:
    return {"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
                         "eventTime": "2024-01-15T10:30:00.000Z",
                         "s3": {"bucket": {"name": LANDING}, "object": {"key": key, "size": 10, "eTag": "abc"}}}]}


def test_the_start_lambda_puts_a_dropped_contract_in_force_in_the_raw_bucket(aws):
    from etl.contracts import CONTRACT_FILE, dataset_folder

    s3, sfn = boto3.client("s3"), boto3.client("stepfunctions")
    s3.create_bucket(Bucket="etl-raw")
    values = {name: f"arn:aws:states:::placeholder/{name}" for name in placeholders((ROOT / ASL_PATH).read_text())}
    machine = sfn.create_state_machine(name="etl-contracts", definition=json.dumps(load_definition(ROOT, values)),
                                       roleArn="arn:aws:iam::123456789012:role/etl")["stateMachineArn"]
    contract = json.loads(dataset_folder("shipping").joinpath(CONTRACT_FILE).read_text(encoding="utf-8"))
    v2 = {**contract, "version": 2, "fields": [*contract["fields"], {"name": "carrier", "type": "string"}]}
    s3.put_object(Bucket=LANDING, Key="_contracts/shipping.json", Body=json.dumps(v2).encode())
    sensors = {"dataset": "sensors", "version": 1, "landing_prefix": "sensors/", "accepted_formats": ["csv"],
               "date_format": "yyyy-MM-dd", "fields": [{"name": "sensor_id", "type": "string", "required": True}],
               "primary_key": [], "partition_columns": [], "write_mode": "append"}
    s3.put_object(Bucket=LANDING, Key="_contracts/sensors.json", Body=json.dumps(sensors).encode())
    s3.put_object(Bucket=LANDING, Key="sensors/day1.csv", Body=b"sensor_id\ns1\n")
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    with pytest.MonkeyPatch.context() as env:
        env.setenv("STATE_MACHINE_ARN", machine)
        env.setenv("RAW_BUCKET", "etl-raw")
        try:
            handler = _load(ROOT / "lambdas" / "start_pipeline" / "handler.py", "emulated_start_contracts")
            reports = [handler.handler(_object_created(key), None)
                       for key in ("_contracts/shipping.json", "_contracts/sensors.json", "sensors/day1.csv")]
        finally:
            root.handlers[:] = handlers
            root.setLevel(level)
    assert [len(report["started"]) for report in reports] == [1, 1, 1], reports
    kept = json.loads(s3.get_object(Bucket="etl-raw", Key="_contracts/shipping.json")["Body"].read())
    assert kept["version"] == 2
    inputs = {}
    for execution in sfn.list_executions(stateMachineArn=machine)["executions"]:
        run_input = json.loads(sfn.describe_execution(executionArn=execution["executionArn"])["input"])
        inputs[run_input["source"]["key"]] = run_input
    assert inputs["_contracts/shipping.json"]["contract_update"]["changes"] == ["adds optional field carrier (string)"]
    # A contract for a dataset the stack does not know defines it; the next file under its prefix runs as it.
    assert inputs["_contracts/sensors.json"]["contract_update"]["changes"][0].startswith("defines dataset sensors")
    run = inputs["sensors/day1.csv"]
    assert (run["dataset"], run["write_mode"], run["summary_query"]["name"]) == ("sensors", "append", "sensors_records")

