"""The two Glue 5.0 Spark jobs (``glue_jobs/*.py``) with the ``etl`` package as ``--extra-py-files``.

json_to_parquet also gets the pipeline's own Spark expressions (etl.native: the jar `make install` compiles
from jvm/) as ``--extra-jars``.

Job arguments come from two places, and together they are exactly what the scripts
parse (``etl.jobs.<job>.ARGUMENTS``; Glue sets ``--JOB_NAME`` itself):

- json_to_parquet: stack defaults (static) ``--raw_uri --quarantine_uri --database``; the ASL per run
  ``--run_id --dataset --database --source_uri --ingested_at --raw_uri --quarantine_uri``.
- normalize: stack defaults ``--raw_uri --processed_uri --database``; the ASL per run
  ``--run_id --dataset --database --raw_uri --processed_uri --write_mode``.
- maintain: stack defaults only (``--database --processed_uri --retention_hours --orphan_hours``); a
  scheduled Glue trigger starts it daily.

The bucket URIs are defaults so a job can also be started by hand from the console;
the ASL passes the same values. Everything else in the default arguments is a Glue
parameter (metrics, logs, Spark UI, temp dir, bookmarks, the etl zip).

normalize merges a run into the shared processed Iceberg table, so it runs one at a time
(max concurrency 1); json_to_parquet writes only its own run's folders and may run in
parallel. Both queue runs above the limit (job run queuing) instead of failing them.

normalize and maintain run with Glue's own Iceberg (``--datalake-formats iceberg``: Iceberg 1.7.1
on Glue 5.0, the version the local runtime fetches) and the ``glue_catalog`` Spark catalog set to
Iceberg's GlueCatalog (``--conf``); their roles may create and update the database's tables, which
is how an Iceberg commit is recorded in the Glue Data Catalog.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from aws_cdk import Aws
from aws_cdk import aws_glue as glue
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3_assets as s3_assets
from constructs import Construct

from etl import native
from etl.contracts.store import CONTRACTS_FOLDER
from etl.glue.partitions import TABLE_PREFIXES
from etl.jobs import SERIAL_JOBS
from etl.jobs.iceberg import glue_spark_conf
from etl.jobs.maintain import DEFAULT_ORPHAN_HOURS, DEFAULT_RETENTION_HOURS
from etl_infra.iam import (
    DATASETS_REASON,
    READ,
    READ_WRITE,
    allow,
    catalog_arns,
    deny,
    depend_on_policy,
    grant_objects,
)
from etl_infra.paths import GLUE_JOBS_DIR, SRC_DIR
from etl_infra.settings import StageSettings
from etl_infra.storage import GLUE_TEMP_PREFIX, SPARK_UI_PREFIX, DataLakeBuckets

# What Iceberg's GlueCatalog calls to read a table and commit a new snapshot (UpdateTable with the new
# metadata location) or create the table on the first run.
PARTITION_ACTIONS = ["glue:GetTable", "glue:BatchCreatePartition"]
CATALOG_COMMIT_ACTIONS = ["glue:GetDatabase", "glue:GetTable", "glue:GetTables", "glue:CreateTable", "glue:UpdateTable"]
GLUE_VERSION = "5.0"  # Spark 3.5.4, Python 3.11: what the local runtime pins
WORKER_TYPE = "G.1X"
MANIFESTS_PREFIX = "_runs"  # raw/_runs/<run_id>/<job>.json
WHOLE_FILES_PREFIX = "_files"  # quarantine/_files/<dataset>/run_id=<id>/<name>
PACKAGE_EXCLUDES = ["*.egg-info", "**/__pycache__", "**/*.pyc"]

LOGS_REASON = (
    "Glue names its log groups itself (/aws-glue/jobs/..., /aws-glue/crawlers..., with the security "
    "configuration and role in the name); the grant is limited to the /aws-glue/ log-group family."
)
ASSETS_REASON = (
    "Spark UI event logs and Glue temporary files get names Glue chooses; the grant is limited to this "
    "job's own spark-ui/ and glue-temp/ folders in the assets bucket."
)
LANDING_REASON = (
    "The job reads the landing object each run names (--source_uri); producers choose those keys, at the "
    "bucket root or under a dataset prefix. Read-only."
)
METRICS_REASON = (
    "cloudwatch:PutMetricData has no resource-level permissions; the statement is limited to the Glue namespace."
)


def max_concurrent_runs(job: str, settings: StageSettings) -> int:
    """A job in etl.jobs.SERIAL_JOBS runs one at a time, later runs queued (the local runtime does the same)."""
    return 1 if job in SERIAL_JOBS else settings.glue_max_concurrent_runs


@dataclass(frozen=True)
class GlueJob:
    name: str
    job: glue.CfnJob
    role: iam.Role


MAINTENANCE_SCHEDULE = "cron(30 3 * * ? *)"  # daily, 03:30 UTC
CATALOG_COMMIT_REASON = (
    "An Iceberg commit through GlueCatalog creates and updates the processed tables of this database; "
    "the grant covers this database's tables only."
)


def static_script_arguments(buckets: DataLakeBuckets, database: str) -> dict[str, dict[str, str]]:
    """Per job, the script arguments that are the same for every run (the bucket URIs, the database)."""
    raw = f"s3://{buckets.raw.bucket_name}/"
    processed = f"s3://{buckets.processed.bucket_name}/"
    return {
        "json_to_parquet": {"--raw_uri": raw, "--quarantine_uri": f"s3://{buckets.quarantine.bucket_name}/",
                            "--database": database},
        "normalize": {"--raw_uri": raw, "--processed_uri": processed, "--database": database,
                      **iceberg_arguments(processed)},
        "maintain": {"--processed_uri": processed, "--database": database,
                     "--retention_hours": str(DEFAULT_RETENTION_HOURS), "--orphan_hours": str(DEFAULT_ORPHAN_HOURS),
                     **iceberg_arguments(processed)},
    }


def partition_table_arns(database: str) -> list[str]:
    """The catalog, the database and the crawled raw and quarantine tables: where a run adds its partitions."""
    base = f"arn:{Aws.PARTITION}:glue:{Aws.REGION}:{Aws.ACCOUNT_ID}"
    tables = [f"{prefix}*" for prefix in TABLE_PREFIXES.values()]
    return [f"{base}:catalog", f"{base}:database/{database}", *(f"{base}:table/{database}/{t}" for t in tables)]


CRAWLED_TABLES_REASON = ("The crawlers name a dataset's tables raw_<dataset> and quarantine_<dataset>, and datasets "
                         "are defined at run time too; the grant is those two table families of one database.")


def iceberg_arguments(warehouse: str) -> dict[str, str]:
    """Glue's Iceberg libraries and the ``glue_catalog`` settings: several ``--conf`` in one, as Glue takes them."""
    settings = [f"{key}={value}" for key, value in glue_spark_conf(warehouse).items()]
    return {"--datalake-formats": "iceberg", "--conf": " --conf ".join(settings)}


def grant_glue_logging(role: iam.Role, key: kms.IKey) -> None:
    """What Glue needs to write KMS-encrypted continuous logs (jobs and crawlers)."""
    allow(
        role,
        ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:AssociateKmsKey"],
        [f"arn:{Aws.PARTITION}:logs:{Aws.REGION}:{Aws.ACCOUNT_ID}:log-group:/aws-glue/*"],
        wildcard_reason=LOGS_REASON,
    )
    allow(role, ["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey"], [key.key_arn])


class GlueJobs(Construct):
    """The etl package and scripts as assets, one role per job, and the two jobs."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: StageSettings,
        buckets: DataLakeBuckets,
        key: kms.IKey,
        security_configuration: glue.CfnSecurityConfiguration,
    ) -> None:
        super().__init__(scope, construct_id)
        self._settings = settings
        self._buckets = buckets
        self._key = key
        self._security_configuration = security_configuration
        self.etl_package = s3_assets.Asset(self, "EtlPackage", path=str(SRC_DIR), exclude=PACKAGE_EXCLUDES)
        self.spark_expressions = s3_assets.Asset(self, "EtlSparkExpressions", path=str(native.jar_path()))
        arguments = static_script_arguments(buckets, settings.database)

        self.json_to_parquet = self._job(
            "json_to_parquet",
            description="Landing JSON to typed Parquet in the raw zone; bad lines to quarantine.",
            max_concurrent_runs=max_concurrent_runs("json_to_parquet", settings),
            script_arguments={**arguments["json_to_parquet"], "--extra-jars": self.spark_expressions.s3_object_url},
        )
        role = self.json_to_parquet.role
        allow(role, ["s3:GetObject"], [_object_arn(self.spark_expressions)])
        grant_objects(role, buckets.landing, [""], READ, reason=LANDING_REASON)
        grant_objects(role, buckets.raw, [""], READ_WRITE, reason=DATASETS_REASON)
        # The contracts in force are the start Lambda's to write: the job reads them only.
        deny(role, ["s3:PutObject", "s3:DeleteObject"], [buckets.raw.arn_for_objects(f"{CONTRACTS_FOLDER}/*")])
        grant_objects(role, buckets.quarantine, [""], READ_WRITE, reason=DATASETS_REASON)
        # The run adds its raw and quarantine folders to their crawled tables (etl.glue.partitions): those tables only.
        allow(role, PARTITION_ACTIONS, partition_table_arns(settings.database), wildcard_reason=CRAWLED_TABLES_REASON)

        self.normalize = self._job(
            "normalize",
            description="A run's raw records into the processed zone: PII removed, typed, deduplicated.",
            max_concurrent_runs=max_concurrent_runs("normalize", settings),
            script_arguments=arguments["normalize"],
        )
        role = self.normalize.role
        grant_objects(role, buckets.raw, [""], READ, reason=DATASETS_REASON)
        grant_objects(role, buckets.raw, [MANIFESTS_PREFIX], READ_WRITE, list_bucket=False)
        grant_objects(role, buckets.processed, [""], READ_WRITE, reason=DATASETS_REASON)
        allow(role, CATALOG_COMMIT_ACTIONS, catalog_arns(settings.database), wildcard_reason=CATALOG_COMMIT_REASON)

        self.maintain = self._job(
            "maintain",
            description="Daily: compact the processed Iceberg tables, expire old snapshots, delete orphan files.",
            max_concurrent_runs=1,
            script_arguments=arguments["maintain"],
        )
        role = self.maintain.role
        grant_objects(role, buckets.processed, [""], READ_WRITE, reason=DATASETS_REASON)
        allow(role, CATALOG_COMMIT_ACTIONS, catalog_arns(settings.database), wildcard_reason=CATALOG_COMMIT_REASON)
        self.maintenance_schedule = glue.CfnTrigger(
            self,
            "MaintainSchedule",
            name=settings.name("maintain-daily"),
            description="Starts the maintain job once a day",
            type="SCHEDULED",
            schedule=MAINTENANCE_SCHEDULE,
            start_on_creation=True,
            actions=[glue.CfnTrigger.ActionProperty(job_name=self.maintain.job.ref)],
        )
        for job in (*self.jobs, self.maintain):
            depend_on_policy(job.job, job.role)

    @property
    def jobs(self) -> tuple[GlueJob, GlueJob]:
        """The pipeline's jobs, which the state machine starts (maintain runs on its own schedule)."""
        return self.json_to_parquet, self.normalize

    def _job(
        self, key: str, *, description: str, max_concurrent_runs: int, script_arguments: Mapping[str, str]
    ) -> GlueJob:
        settings, assets = self._settings, self._buckets.assets
        name = settings.name(key.replace("_", "-"))
        construct = key.title().replace("_", "")
        script = s3_assets.Asset(self, f"{construct}Script", path=str(GLUE_JOBS_DIR / f"{key}.py"))
        role = iam.Role(
            self,
            f"{construct}Role",
            assumed_by=iam.ServicePrincipal("glue.amazonaws.com"),
            description=f"Glue job {name}: its own zones and prefixes only",
        )
        allow(role, ["s3:GetObject"], [_object_arn(script), _object_arn(self.etl_package)])
        # No "/" after the job's name: Hadoop's S3 client marks a folder with a "<folder>_$folder$" object
        # beside it, which a grant on "<name>/*" would deny. The two job names do not prefix each other.
        grant_objects(
            role, assets, [f"{SPARK_UI_PREFIX}{name}", f"{GLUE_TEMP_PREFIX}{name}"], READ_WRITE, reason=ASSETS_REASON
        )
        grant_glue_logging(role, self._key)
        allow(
            role,
            ["cloudwatch:PutMetricData"],
            ["*"],
            wildcard_reason=METRICS_REASON,
            conditions={"StringEquals": {"cloudwatch:namespace": "Glue"}},
        )
        job = glue.CfnJob(
            self,
            construct,
            name=name,
            description=description,
            role=role.role_arn,
            command=glue.CfnJob.JobCommandProperty(
                name="glueetl", python_version="3", script_location=script.s3_object_url
            ),
            glue_version=GLUE_VERSION,
            worker_type=WORKER_TYPE,
            number_of_workers=settings.glue_workers,
            timeout=settings.glue_timeout_minutes,
            max_retries=0,  # the state machine retries what is worth retrying
            execution_property=glue.CfnJob.ExecutionPropertyProperty(max_concurrent_runs=max_concurrent_runs),
            job_run_queuing_enabled=True,
            security_configuration=self._security_configuration.ref,
            default_arguments={
                "--job-language": "python",
                "--job-bookmark-option": "job-bookmark-disable",  # each run names its input explicitly
                "--TempDir": f"s3://{assets.bucket_name}/{GLUE_TEMP_PREFIX}{name}/",
                "--enable-metrics": "true",
                "--enable-observability-metrics": "true",
                "--enable-continuous-cloudwatch-log": "true",
                "--enable-spark-ui": "true",
                "--spark-event-logs-path": f"s3://{assets.bucket_name}/{SPARK_UI_PREFIX}{name}/",
                "--extra-py-files": self.etl_package.s3_object_url,
                **script_arguments,
            },
        )
        return GlueJob(name=name, job=job, role=role)


def _object_arn(asset: s3_assets.Asset) -> str:
    return f"arn:{Aws.PARTITION}:s3:::{asset.s3_bucket_name}/{asset.s3_object_key}"
