"""The pipeline state machine: ``stepfunctions/pipeline.asl.json`` with its ``${Placeholders}`` substituted.

The same ASL file runs in the local executor; here CloudFormation substitutes names and
ARNs (``DefinitionSubstitutions``). Buckets are passed by name (the ASL writes
``s3://${RawBucket}/``). The analytics query is the dataset's own summary query, which the start
Lambda puts in each execution's input (``summary_query``), so one state machine serves every dataset.

The role is written by hand because CDK cannot see the tasks inside a file definition.
Per Task resource in the ASL:

- ``glue:startJobRun.sync``: glue:StartJobRun/GetJobRun/GetJobRuns/BatchStopJobRun on the two jobs
- ``aws-sdk:glue:startCrawler`` / ``getCrawler``: glue:StartCrawler / glue:GetCrawler on the raw and quarantine
  crawlers (the processed table is Iceberg: the normalize job registers it, no crawler)
- ``aws-sdk:s3:getObject``: s3:GetObject on the raw bucket's ``_runs/`` manifests
- ``athena:startQueryExecution.sync`` and ``getQueryResults``: the Athena query actions on the workgroup,
  athena:GetDataCatalog on AwsDataCatalog, catalog read on the database, read of the processed zone,
  read/write of the results prefix
- ``sns:publish``: sns:Publish on the topic, with the topic key's GenerateDataKey/Decrypt
"""

from __future__ import annotations

from aws_cdk import Aws, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from etl.definition import ASL_PATH
from etl_infra.catalog import CATALOG_READ_ACTIONS, TABLES_REASON, Catalog
from etl_infra.glue_jobs import MANIFESTS_PREFIX, GlueJobs
from etl_infra.iam import DATASETS_REASON, READ, acknowledge, allow, catalog_arns, grant_objects
from etl_infra.paths import PROJECT_ROOT
from etl_infra.settings import StageSettings
from etl_infra.storage import ATHENA_RESULTS_PREFIX, DataLakeBuckets

MANIFESTS_REASON = "Run manifests are keyed by run id (_runs/<run_id>/<job>.json); the grant is read-only."
RESULTS_REASON = "Athena names result files by query id; the grant is limited to the workgroup's results/ prefix."
VENDED_LOGS_AND_XRAY_REASON = (
    "Statements CDK adds for state machine logging (CloudWatch Logs vended-log delivery) and X-Ray tracing: "
    "those APIs do not support resource-level permissions."
)


class PipelineStateMachine(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: StageSettings,
        buckets: DataLakeBuckets,
        jobs: GlueJobs,
        catalog: Catalog,
        topic: sns.ITopic,
        key: kms.IKey,
    ) -> None:
        super().__init__(scope, construct_id)
        self.name = settings.name("pipeline")
        self.substitutions = {
            "AthenaWorkGroup": catalog.workgroup.ref,
            "GlueDatabase": catalog.database.ref,
            "JsonToParquetJobName": jobs.json_to_parquet.job.ref,
            "NormalizeJobName": jobs.normalize.job.ref,
            "NotificationTopicArn": topic.topic_arn,
            "ProcessedBucket": buckets.processed.bucket_name,
            "QuarantineBucket": buckets.quarantine.bucket_name,
            "QuarantineCrawlerName": catalog.quarantine_crawler.ref,
            "RawBucket": buckets.raw.bucket_name,
            "RawCrawlerName": catalog.raw_crawler.ref,
        }
        self.log_group = logs.LogGroup(
            self,
            "Logs",
            log_group_name=f"/aws/vendedlogs/states/{self.name}",  # the prefix CloudWatch recommends for vended logs
            retention=logs.RetentionDays.ONE_MONTH,
            encryption_key=key,
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            state_machine_name=self.name,
            state_machine_type=sfn.StateMachineType.STANDARD,
            definition_body=sfn.DefinitionBody.from_file(str(PROJECT_ROOT / ASL_PATH)),
            definition_substitutions=self.substitutions,
            logs=sfn.LogOptions(destination=self.log_group, level=sfn.LogLevel.ALL, include_execution_data=True),
            tracing_enabled=True,
        )
        role = self.state_machine.role
        if not isinstance(role, iam.Role):  # the StateMachine always creates an iam.Role when none is given
            raise TypeError("expected the state machine to create its own role")
        self._grant(role, buckets, jobs, catalog, topic, key)
        acknowledge(role, "AwsSolutions-IAM5[Resource::*]", VENDED_LOGS_AND_XRAY_REASON)

    @staticmethod
    def _grant(
        role: iam.Role,
        buckets: DataLakeBuckets,
        jobs: GlueJobs,
        catalog: Catalog,
        topic: sns.ITopic,
        key: kms.IKey,
    ) -> None:
        region, account, partition = Aws.REGION, Aws.ACCOUNT_ID, Aws.PARTITION
        glue_arn = f"arn:{partition}:glue:{region}:{account}"
        allow(
            role,
            ["glue:StartJobRun", "glue:GetJobRun", "glue:GetJobRuns", "glue:BatchStopJobRun"],
            [f"{glue_arn}:job/{job.name}" for job in jobs.jobs],
        )
        allow(
            role,
            ["glue:StartCrawler", "glue:GetCrawler"],
            [f"{glue_arn}:crawler/{crawler.ref}" for crawler in catalog.crawlers],
        )
        grant_objects(role, buckets.raw, [f"{MANIFESTS_PREFIX}/"], READ, list_bucket=False, reason=MANIFESTS_REASON)

        allow(
            role,
            ["athena:StartQueryExecution", "athena:GetQueryExecution", "athena:GetQueryResults",
             "athena:StopQueryExecution", "athena:GetWorkGroup"],
            [f"arn:{partition}:athena:{region}:{account}:workgroup/{catalog.workgroup_name}"],
        )  # fmt: skip
        # startQueryExecution.sync resolves the query's catalog (the account's Glue Data Catalog) first.
        allow(role, ["athena:GetDataCatalog"],
              [f"arn:{partition}:athena:{region}:{account}:datacatalog/AwsDataCatalog"])  # fmt: skip
        allow(role, CATALOG_READ_ACTIONS, catalog_arns(catalog.database_name), wildcard_reason=TABLES_REASON)
        grant_objects(role, buckets.processed, [""], READ, reason=DATASETS_REASON)
        allow(
            role,
            ["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"],
            [buckets.athena_results.arn_for_objects(f"{ATHENA_RESULTS_PREFIX}*")],
            wildcard_reason=RESULTS_REASON,
        )
        allow(
            role,
            ["s3:ListBucket", "s3:GetBucketLocation", "s3:ListBucketMultipartUploads"],
            [buckets.athena_results.bucket_arn],
        )

        allow(role, ["sns:Publish"], [topic.topic_arn])
        allow(role, ["kms:GenerateDataKey", "kms:Decrypt"], [key.key_arn])
