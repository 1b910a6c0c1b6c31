"""The lake's buckets: landing, raw, processed, quarantine, athena-results, assets, and their access logs.

Every bucket: SSE-S3 encryption, all public access blocked, TLS-only bucket policy
(``enforce_ssl``), bucket-owner-enforced ownership, server access logs into the
access-logs bucket, and abandoned multipart uploads cleaned up. Landing is versioned
(the run id includes the version, and an overwritten file stays recoverable); raw,
quarantine and athena-results expire; processed is the product and never expires.
Buckets are retained when the stack is deleted: they hold data.
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_s3 as s3
from constructs import Construct

from etl_infra.settings import StageSettings

ACCESS_LOG_RETENTION_DAYS = 90
LANDING_NONCURRENT_DAYS = 30
SPARK_UI_PREFIX = "spark-ui/"
GLUE_TEMP_PREFIX = "glue-temp/"
ATHENA_RESULTS_PREFIX = "results/"


class DataLakeBuckets(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, settings: StageSettings) -> None:
        super().__init__(scope, construct_id)
        # The access-log target does not log itself (that would loop); cdk-nag recognises it as the target.
        self.access_logs = s3.Bucket(
            self,
            "AccessLogs",
            encryption=s3.BucketEncryption.S3_MANAGED,  # the only encryption S3 server access logging supports
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            lifecycle_rules=[
                s3.LifecycleRule(id="expire-access-logs", expiration=Duration.days(ACCESS_LOG_RETENTION_DAYS))
            ],
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.landing = self._bucket(
            "Landing",
            versioned=True,
            rules=[
                s3.LifecycleRule(
                    id="expire-old-versions", noncurrent_version_expiration=Duration.days(LANDING_NONCURRENT_DAYS)
                )
            ],
        )
        self.raw = self._bucket("Raw", rules=[_expire("expire-raw", settings.raw_retention_days)])
        self.processed = self._bucket("Processed")
        self.quarantine = self._bucket(
            "Quarantine", rules=[_expire("expire-quarantine", settings.quarantine_retention_days)]
        )
        self.athena_results = self._bucket(
            "AthenaResults", rules=[_expire("expire-results", settings.athena_results_retention_days)]
        )
        self.assets = self._bucket(
            "Assets",
            rules=[
                _expire("expire-spark-ui-logs", 30, prefix=SPARK_UI_PREFIX),
                _expire("expire-glue-temp", 7, prefix=GLUE_TEMP_PREFIX),
            ],
        )

    def _bucket(
        self, construct_id: str, *, versioned: bool = False, rules: list[s3.LifecycleRule] | None = None
    ) -> s3.Bucket:
        return s3.Bucket(
            self,
            construct_id,
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            versioned=versioned,
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix=f"{construct_id.lower()}/",
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="abort-incomplete-uploads", abort_incomplete_multipart_upload_after=Duration.days(7)
                ),
                *(rules or []),
            ],
            removal_policy=RemovalPolicy.RETAIN,
        )


def _expire(rule_id: str, days: int, *, prefix: str | None = None) -> s3.LifecycleRule:
    return s3.LifecycleRule(id=rule_id, expiration=Duration.days(days), prefix=prefix)
