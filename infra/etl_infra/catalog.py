"""The Glue Data Catalog side (database, two crawlers) and Athena (workgroup, named queries).

Crawlers name tables prefix + folder: ``s3://<raw>/shipping/`` becomes ``raw_shipping``,
as the local crawler does. Each crawls its zone from the root with a table per dataset folder, so a
dataset defined at run time (a contract dropped into landing) is crawled without a new target.
Raw and quarantine gain one ``run_id=`` folder per run and keep their schema, so they crawl new
folders only (which requires LOG for schema changes). No crawler deletes tables: a missing
folder is logged, never dropped. Staging/trash folders and marker files are excluded. The processed tables are Apache
Iceberg tables that the normalize job creates and commits to through Iceberg's
GlueCatalog: no crawler touches them.

The workgroup enforces its settings: results go to the athena-results bucket, SSE-S3
encrypted, and a query that would scan more than the per-query cutoff is cancelled.
Each dataset's ``queries/*.sql`` (``src/etl/datasets/<dataset>/queries/``) becomes a named query in it.
"""

from __future__ import annotations

import json

from aws_cdk import Aws
from aws_cdk import aws_athena as athena
from aws_cdk import aws_glue as glue
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from etl.definition import query_text
from etl.glue.partitions import DATASET_TABLE_LEVEL, TABLE_PREFIXES
from etl_infra.glue_jobs import grant_glue_logging
from etl_infra.iam import DATASETS_REASON, READ, allow, catalog_arns, depend_on_policy, grant_objects
from etl_infra.paths import athena_query_files
from etl_infra.settings import StageSettings
from etl_infra.storage import ATHENA_RESULTS_PREFIX, DataLakeBuckets

# Relative to a zone's root: its own folders (_contracts, _runs, _files), a dataset's staging and trash, markers.
CRAWLER_EXCLUSIONS = ["_*/**", "*/_staging/**", "*/_trash/**", "**/_SUCCESS", "**_$folder$"]
NEW_FOLDERS_ONLY = "CRAWL_NEW_FOLDERS_ONLY"
ATHENA_ENGINE_VERSION = "Athena engine version 3"
CATALOG_WRITE_ACTIONS = [
    "glue:GetDatabase",
    "glue:GetTable",
    "glue:GetTables",
    "glue:CreateTable",
    "glue:UpdateTable",
    "glue:GetPartition",
    "glue:GetPartitions",
    "glue:BatchGetPartition",
    "glue:CreatePartition",
    "glue:BatchCreatePartition",
    "glue:UpdatePartition",
    "glue:BatchUpdatePartition",
]
CATALOG_READ_ACTIONS = [
    "glue:GetDatabase",
    "glue:GetDatabases",
    "glue:GetTable",
    "glue:GetTables",
    "glue:GetPartition",
    "glue:GetPartitions",
    "glue:BatchGetPartition",
]
TABLES_REASON = (
    "Tables are created by the crawlers (prefix + dataset folder); the grant covers this database's tables only."
)
CRAWLER_CONFIGURATION = json.dumps(
    {
        "Version": 1.0,
        "CrawlerOutput": {"Partitions": {"AddOrUpdateBehavior": "InheritFromTable"}},
        # A table per dataset folder (level 2, the bucket being 1), however alike their schemas.
        "Grouping": {"TableGroupingPolicy": "CombineCompatibleSchemas", "TableLevelConfiguration": DATASET_TABLE_LEVEL},
    },
    separators=(",", ":"),
)


class Catalog(Construct):
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
        self.database_name = settings.database
        self.database = glue.CfnDatabase(
            self,
            "Database",
            catalog_id=Aws.ACCOUNT_ID,
            database_input=glue.CfnDatabase.DatabaseInputProperty(
                name=self.database_name,
                description=f"ETL pipeline ({settings.stage}): raw_, quarantine_, processed_ tables",
            ),
        )
        self.crawler_role = iam.Role(
            self,
            "CrawlerRole",
            assumed_by=iam.ServicePrincipal("glue.amazonaws.com"),
            description=f"Glue crawlers of {settings.prefix}: read their target prefixes, write this database's tables",
        )
        allow(self.crawler_role, CATALOG_WRITE_ACTIONS, catalog_arns(self.database_name), wildcard_reason=TABLES_REASON)
        grant_glue_logging(self.crawler_role, key)

        self._settings = settings
        self._security_configuration = security_configuration
        self.raw_crawler = self._crawler("Raw", buckets.raw, TABLE_PREFIXES["raw"], NEW_FOLDERS_ONLY)
        self.quarantine_crawler = self._crawler(
            "Quarantine", buckets.quarantine, TABLE_PREFIXES["quarantine"], NEW_FOLDERS_ONLY)
        for crawler in self.crawlers:
            depend_on_policy(crawler, self.crawler_role)

        self.workgroup_name = settings.prefix
        self.workgroup = athena.CfnWorkGroup(
            self,
            "WorkGroup",
            name=self.workgroup_name,
            description=f"ETL pipeline ({settings.stage}) analytics",
            recursive_delete_option=True,  # the named queries go with the stack
            work_group_configuration=athena.CfnWorkGroup.WorkGroupConfigurationProperty(
                enforce_work_group_configuration=True,
                publish_cloud_watch_metrics_enabled=True,
                bytes_scanned_cutoff_per_query=settings.athena_bytes_scanned_cutoff,
                # Engine v3 reads, MERGEs, time-travels, OPTIMIZEs and VACUUMs the Iceberg tables; pinned, not AUTO.
                engine_version=athena.CfnWorkGroup.EngineVersionProperty(
                    selected_engine_version=ATHENA_ENGINE_VERSION
                ),
                result_configuration=athena.CfnWorkGroup.ResultConfigurationProperty(
                    output_location=f"s3://{buckets.athena_results.bucket_name}/{ATHENA_RESULTS_PREFIX}",
                    encryption_configuration=athena.CfnWorkGroup.EncryptionConfigurationProperty(
                        encryption_option="SSE_S3"
                    ),
                ),
            ),
        )
        self.named_queries = [self._named_query(dataset, path.stem, query_text(path))
                              for dataset, path in athena_query_files()]

    @property
    def crawlers(self) -> tuple[glue.CfnCrawler, glue.CfnCrawler]:
        return self.raw_crawler, self.quarantine_crawler

    def _crawler(self, zone: str, bucket: s3.IBucket, table_prefix: str, recrawl: str) -> glue.CfnCrawler:
        grant_objects(self.crawler_role, bucket, [""], READ, reason=DATASETS_REASON)
        new_folders_only = recrawl == NEW_FOLDERS_ONLY
        crawler = glue.CfnCrawler(
            self,
            f"{zone}Crawler",
            name=self._settings.name(zone.lower()),
            description=f"Catalogs the {zone.lower()} zone as {table_prefix}<dataset> tables, one per dataset folder",
            role=self.crawler_role.role_arn,
            database_name=self.database.ref,
            table_prefix=table_prefix,
            targets=glue.CfnCrawler.TargetsProperty(
                # The zone's root: a dataset defined at run time is crawled with no new target.
                s3_targets=[glue.CfnCrawler.S3TargetProperty(path=f"s3://{bucket.bucket_name}/",
                                                             exclusions=CRAWLER_EXCLUSIONS)]
            ),
            schema_change_policy=glue.CfnCrawler.SchemaChangePolicyProperty(
                update_behavior="LOG" if new_folders_only else "UPDATE_IN_DATABASE",
                delete_behavior="LOG",
            ),
            recrawl_policy=glue.CfnCrawler.RecrawlPolicyProperty(recrawl_behavior=recrawl),
            configuration=CRAWLER_CONFIGURATION,
            crawler_security_configuration=self._security_configuration.ref,
        )
        return crawler

    def _named_query(self, dataset: str, name: str, sql: str) -> athena.CfnNamedQuery:
        return athena.CfnNamedQuery(
            self,
            f"Query-{dataset}-{name}",
            name=name,
            description=f"src/etl/datasets/{dataset}/queries/{name}.sql",
            database=self.database.ref,
            work_group=self.workgroup.ref,
            query_string=sql,
        )
