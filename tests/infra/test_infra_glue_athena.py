"""Glue jobs, the etl package asset, crawlers, the Athena workgroup and its named queries."""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path

import pytest
from aws_cdk.assertions import Template

from etl import native
from etl.definition import query_text
from etl.jobs import SERIAL_JOBS

from .cfn_model import Resolver, allows, bucket_name, role_statements
from .synthesis import STAGE, Synthesized

ROOT = Path(__file__).resolve().parents[2]
JOBS = {"json_to_parquet": f"etl-{STAGE}-json-to-parquet", "normalize": f"etl-{STAGE}-normalize",
        "maintain": f"etl-{STAGE}-maintain"}
CRAWLERS = {"Raw": "raw_", "Quarantine": "quarantine_"}  # the processed tables are Iceberg: no crawler


def _by_name(synth: Synthesized, cfn_type: str, name: str) -> dict:
    found = [r for r in synth.of_type(cfn_type).values() if r["Properties"]["Name"] == name]
    assert len(found) == 1, f"expected one {cfn_type} named {name}"
    return found[0]


def _bucket_id(synth: Synthesized, name: str) -> str:
    return next(k for k in synth.of_type("AWS::S3::Bucket") if k.startswith(f"Buckets{name}"))


def _asset_key(location: str) -> str:
    return location.rsplit("/", 1)[-1]


@pytest.mark.parametrize(("job", "max_runs"), [("json_to_parquet", 5), ("normalize", 1), ("maintain", 1)])
def test_glue_jobs_run_glue_5_with_their_script(synth: Synthesized, job: str, max_runs: int):
    props = _by_name(synth, "AWS::Glue::Job", JOBS[job])["Properties"]
    assert props["GlueVersion"] == "5.0"
    assert props["WorkerType"] == "G.1X"
    assert props["NumberOfWorkers"] == 2
    assert props["Timeout"] == 30
    assert props["MaxRetries"] == 0
    assert props["ExecutionProperty"] == {"MaxConcurrentRuns": max_runs}
    assert (max_runs == 1) == (job in SERIAL_JOBS)  # the jobs the local Glue handler queues too
    assert props["JobRunQueuingEnabled"] is True
    assert props["Command"]["Name"] == "glueetl" and props["Command"]["PythonVersion"] == "3"
    script = synth.asset_path(_asset_key(props["Command"]["ScriptLocation"]["Fn::Sub"]))
    assert script.read_bytes() == (ROOT / "glue_jobs" / f"{job}.py").read_bytes()


@pytest.mark.parametrize("job", JOBS)
def test_glue_job_default_arguments_are_exact(synth: Synthesized, job: str):
    resolve = Resolver(synth.template)
    props = _by_name(synth, "AWS::Glue::Job", JOBS[job])["Properties"]
    assets = bucket_name(_bucket_id(synth, "Assets"))
    zone_uris = {
        "json_to_parquet": {"--raw_uri": "Raw", "--quarantine_uri": "Quarantine"},
        "normalize": {"--raw_uri": "Raw", "--processed_uri": "Processed"},
        "maintain": {"--processed_uri": "Processed"},
    }[job]
    processed = f"s3://{bucket_name(_bucket_id(synth, 'Processed'))}/"
    iceberg = {
        "--datalake-formats": "iceberg",
        "--conf": " --conf ".join([
            "spark.sql.extensions=org.apache.iceberg.spark.extensions.IcebergSparkSessionExtensions",
            "spark.sql.catalog.glue_catalog=org.apache.iceberg.spark.SparkCatalog",
            "spark.sql.catalog.glue_catalog.catalog-impl=org.apache.iceberg.aws.glue.GlueCatalog",
            "spark.sql.catalog.glue_catalog.io-impl=org.apache.iceberg.aws.s3.S3FileIO",
            f"spark.sql.catalog.glue_catalog.warehouse={processed}",
        ]),
        "--database": f"etl_{STAGE}",
    }
    per_job = {
        "json_to_parquet": {"--database": f"etl_{STAGE}",
                            "--extra-jars": resolve(props["DefaultArguments"].get("--extra-jars"))},
        "normalize": iceberg,
        "maintain": {**iceberg, "--retention_hours": "168", "--orphan_hours": "24"},
    }[job]
    expected = {
        "--job-language": "python",
        "--job-bookmark-option": "job-bookmark-disable",
        "--TempDir": f"s3://{assets}/glue-temp/{JOBS[job]}/",
        "--enable-metrics": "true",
        "--enable-observability-metrics": "true",
        "--enable-continuous-cloudwatch-log": "true",
        "--enable-spark-ui": "true",
        "--spark-event-logs-path": f"s3://{assets}/spark-ui/{JOBS[job]}/",
        "--extra-py-files": resolve(props["DefaultArguments"]["--extra-py-files"]),
        **{arg: f"s3://{bucket_name(_bucket_id(synth, zone))}/" for arg, zone in zone_uris.items()},
        **per_job,
    }
    assert resolve(props["DefaultArguments"]) == expected
    assert expected["--extra-py-files"].endswith(".zip")


@pytest.mark.parametrize("job", JOBS)
def test_a_job_writes_its_own_spark_ui_and_temp_folders_with_their_folder_markers(synth: Synthesized, job: str):
    resolve = Resolver(synth.template)
    props = _by_name(synth, "AWS::Glue::Job", JOBS[job])["Properties"]
    statements = role_statements(synth.template, props["Role"]["Fn::GetAtt"][0])
    assets = f"arn:aws:s3:::{bucket_name(_bucket_id(synth, 'Assets'))}"
    other = next(name for key, name in JOBS.items() if key != job)
    for folder in ("spark-ui", "glue-temp"):
        # Hadoop's S3 client writes "<folder>_$folder$" beside a folder it creates: a grant on "<name>/*" denied it.
        for key in (f"{folder}/{JOBS[job]}/part-0", f"{folder}/{JOBS[job]}_$folder$"):
            assert allows(statements, resolve, "s3:PutObject", f"{assets}/{key}"), key
        assert not allows(statements, resolve, "s3:PutObject", f"{assets}/{folder}/{other}/part-0")


def test_the_etl_package_asset_is_importable_from_its_zip_root(synth: Synthesized):
    extra = {
        _asset_key(job["Properties"]["DefaultArguments"]["--extra-py-files"]["Fn::Sub"])
        for job in synth.of_type("AWS::Glue::Job").values()
    }
    assert len(extra) == 1  # both jobs ship the same package
    folder = synth.asset_path(extra.pop())
    assert (folder / "etl" / "__init__.py").is_file()  # zipped from src/: `import etl` works on Glue
    assert (folder / "etl" / "jobs" / "json_to_parquet.py").is_file()
    assert (folder / "etl" / "datasets" / "shipping" / "contract.json").is_file()
    assert not list(folder.rglob("__pycache__")) and not list(folder.glob("*.egg-info"))
    packaged = {p.relative_to(folder / "etl") for p in (folder / "etl").rglob("*.py")}
    source = {p.relative_to(ROOT / "src" / "etl") for p in (ROOT / "src" / "etl").rglob("*.py")}
    assert packaged == source


def test_json_to_parquet_gets_the_pipelines_spark_expressions_as_the_jar_make_install_builds(synth: Synthesized):
    resolve = Resolver(synth.template)
    props = _by_name(synth, "AWS::Glue::Job", JOBS["json_to_parquet"])["Properties"]
    location = props["DefaultArguments"]["--extra-jars"]
    jar = synth.asset_path(_asset_key(location["Fn::Sub"]))
    assert jar.read_bytes() == native.jar_path().read_bytes()
    with zipfile.ZipFile(jar) as archive:
        assert "org/apache/spark/sql/etl/Columns.class" in archive.namelist()
    statements = role_statements(synth.template, props["Role"]["Fn::GetAtt"][0])
    uri = str(resolve(location))
    assert uri.endswith(".jar")
    assert allows(statements, resolve, "s3:GetObject", "arn:aws:s3:::" + uri.removeprefix("s3://"))


def _glob(pattern: str) -> str:
    """A crawler exclusion pattern as a regular expression: ``**`` crosses folders, ``*`` does not."""
    return "".join(".*" if part == "**" else "[^/]*" if part == "*" else re.escape(part)
                   for part in re.split(r"(\*\*|\*)", pattern))


@pytest.mark.parametrize("zone", CRAWLERS)
def test_crawlers_have_explicit_schema_change_and_recrawl_policies(synth: Synthesized, zone: str):
    resolve = Resolver(synth.template)
    crawler = _by_name(synth, "AWS::Glue::Crawler", f"etl-{STAGE}-{zone.lower()}")["Properties"]
    assert crawler["TablePrefix"] == CRAWLERS[zone]
    assert resolve(crawler["DatabaseName"]) == f"etl_{STAGE}"
    targets = crawler["Targets"]["S3Targets"]
    bucket = bucket_name(_bucket_id(synth, zone))
    # The zone's root, a table per dataset folder: a dataset defined at run time needs no new target.
    [target] = targets
    assert resolve(target["Path"]) == f"s3://{bucket}/"
    assert json.loads(crawler["Configuration"])["Grouping"]["TableLevelConfiguration"] == 2
    excluded = [re.compile(_glob(pattern)) for pattern in target["Exclusions"]]
    for key, crawled in [("shipping/run_id=r1/part-0.parquet", True), ("sensors/run_id=r1/part-0.parquet", True),
                         ("_contracts/shipping.json", False), ("_runs/r1/json_to_parquet.json", False),
                         ("_files/shipping/run_id=r1/a.json", False), ("shipping/_staging/r1/part-0.parquet", False),
                         ("shipping/_trash/r1/part-0.parquet", False), ("shipping/run_id=r1/_SUCCESS", False)]:
        assert (not any(p.fullmatch(key) for p in excluded)) == crawled, key
    # One new run_id= folder per run; new-folders-only requires LOG/LOG.
    assert crawler["RecrawlPolicy"] == {"RecrawlBehavior": "CRAWL_NEW_FOLDERS_ONLY"}
    assert crawler["SchemaChangePolicy"] == {"UpdateBehavior": "LOG", "DeleteBehavior": "LOG"}


def test_no_crawler_targets_the_processed_iceberg_tables(synth: Synthesized):
    processed = f"s3://{bucket_name(_bucket_id(synth, 'Processed'))}/"
    resolve = Resolver(synth.template)
    paths = [resolve(t["Path"]) for c in synth.of_type("AWS::Glue::Crawler").values()
             for t in c["Properties"]["Targets"]["S3Targets"]]
    assert len(paths) == 2 and not any(path.startswith(processed) for path in paths)


def test_the_maintain_job_runs_daily_on_a_schedule(synth: Synthesized):
    resolve = Resolver(synth.template)
    [trigger] = synth.of_type("AWS::Glue::Trigger").values()
    props = trigger["Properties"]
    assert props["Type"] == "SCHEDULED" and props["StartOnCreation"] is True
    assert props["Schedule"].startswith("cron(") and props["Schedule"].split()[2:4] == ["*", "*"]  # every day
    assert [resolve(action["JobName"]) for action in props["Actions"]] == [JOBS["maintain"]]


@pytest.mark.parametrize("job", ["normalize", "maintain"])
def test_iceberg_jobs_may_commit_to_their_database_tables_only(synth: Synthesized, job: str):
    resolve = Resolver(synth.template)
    props = _by_name(synth, "AWS::Glue::Job", JOBS[job])["Properties"]
    statements = role_statements(synth.template, props["Role"]["Fn::GetAtt"][0])
    table = f"arn:aws:glue:eu-west-1:123456789012:table/etl_{STAGE}/processed_shipping"
    for action in ("glue:GetTable", "glue:CreateTable", "glue:UpdateTable"):
        assert allows(statements, resolve, action, table), action
    assert not allows(statements, resolve, "glue:UpdateTable", "arn:aws:glue:eu-west-1:123456789012:table/other/t")
    assert not allows(statements, resolve, "glue:DeleteTable", table)


@pytest.mark.parametrize("job", ["json_to_parquet", "normalize"])
def test_the_data_jobs_may_read_the_contracts_in_force_but_not_change_them(synth: Synthesized, job: str):
    resolve = Resolver(synth.template)
    props = _by_name(synth, "AWS::Glue::Job", JOBS[job])["Properties"]
    statements = role_statements(synth.template, props["Role"]["Fn::GetAtt"][0])
    raw = next(k for k in synth.of_type("AWS::S3::Bucket") if k.startswith("BucketsRaw"))
    contract = resolve({"Fn::GetAtt": [raw, "Arn"]}) + "/_contracts/shipping.json"
    assert allows(statements, resolve, "s3:GetObject", contract)
    assert not allows(statements, resolve, "s3:PutObject", contract)


@pytest.mark.parametrize(("job", "zone", "writes"), [
    ("json_to_parquet", "Raw", True), ("json_to_parquet", "Quarantine", True), ("normalize", "Raw", False),
    ("normalize", "Processed", True), ("maintain", "Processed", True),
])
def test_the_jobs_reach_a_dataset_defined_at_run_time(synth: Synthesized, job: str, zone: str, writes: bool):
    resolve = Resolver(synth.template)
    props = _by_name(synth, "AWS::Glue::Job", JOBS[job])["Properties"]
    statements = role_statements(synth.template, props["Role"]["Fn::GetAtt"][0])
    key = f"arn:aws:s3:::{bucket_name(_bucket_id(synth, zone))}/sensors/run_id=r1/part-0.parquet"
    assert allows(statements, resolve, "s3:GetObject", key)
    assert allows(statements, resolve, "s3:PutObject", key) == writes
    assert not allows(statements, resolve, "s3:GetObject", key.replace(bucket_name(_bucket_id(synth, zone)), "other"))


def test_json_to_parquet_may_add_partitions_to_its_crawled_tables_only(synth: Synthesized):
    resolve = Resolver(synth.template)
    props = _by_name(synth, "AWS::Glue::Job", JOBS["json_to_parquet"])["Properties"]
    statements = role_statements(synth.template, props["Role"]["Fn::GetAtt"][0])
    tables = "arn:aws:glue:eu-west-1:123456789012:table/etl_" + STAGE
    for table in ("raw_shipping", "quarantine_shipping", "raw_sensors"):  # sensors: a dataset defined at run time
        for action in ("glue:GetTable", "glue:BatchCreatePartition"):
            assert allows(statements, resolve, action, f"{tables}/{table}"), (action, table)
    # Not the Iceberg table, not another table, and no other catalog change.
    assert not allows(statements, resolve, "glue:BatchCreatePartition", f"{tables}/processed_shipping")
    assert not allows(statements, resolve, "glue:UpdateTable", f"{tables}/raw_shipping")
    assert not allows(statements, resolve, "glue:DeletePartition", f"{tables}/raw_shipping")


def test_the_workgroup_enforces_its_result_location_encryption_and_cutoff(synth: Synthesized, template: Template):
    resolve = Resolver(synth.template)
    config = _by_name(synth, "AWS::Athena::WorkGroup", f"etl-{STAGE}")["Properties"]["WorkGroupConfiguration"]
    assert config["EnforceWorkGroupConfiguration"] is True
    assert config["BytesScannedCutoffPerQuery"] == 1024**3
    assert config["PublishCloudWatchMetricsEnabled"] is True
    assert config["EngineVersion"] == {"SelectedEngineVersion": "Athena engine version 3"}  # Iceberg MERGE, VACUUM
    results = config["ResultConfiguration"]
    assert resolve(results["OutputLocation"]) == f"s3://{bucket_name(_bucket_id(synth, 'AthenaResults'))}/results/"
    assert results["EncryptionConfiguration"] == {"EncryptionOption": "SSE_S3"}


def test_one_named_query_per_sql_file(synth: Synthesized):
    workgroup, _ = synth.one("AWS::Athena::WorkGroup")
    database, _ = synth.one("AWS::Glue::Database")
    queries = {q["Properties"]["Name"]: q["Properties"] for q in synth.of_type("AWS::Athena::NamedQuery").values()}
    files = sorted((ROOT / "src" / "etl" / "datasets").glob("*/queries/*.sql"))
    assert files and sorted(queries) == sorted(f.stem for f in files)
    for path in files:
        query = queries[path.stem]
        assert query["QueryString"] == query_text(path)
        assert query["WorkGroup"] == {"Ref": workgroup}
        assert query["Database"] == {"Ref": database}
