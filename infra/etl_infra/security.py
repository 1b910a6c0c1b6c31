"""Encryption: the pipeline's customer-managed KMS key and the Glue security configuration that uses it.

The key encrypts the SNS topic, the log groups, Glue logs and Glue job bookmarks.

Data buckets use S3-managed keys (SSE-S3): every reader (Glue, crawlers, Athena, analysts)
can then read without key grants, and server access logging only supports SSE-S3 targets.
The key policy lets the AWS services that encrypt with it on our behalf do so: CloudWatch
Logs (log groups of Lambda, Step Functions, Glue), CloudWatch alarms and EventBridge
(they publish to the encrypted topic).
"""

from __future__ import annotations

from aws_cdk import Aws, Duration, RemovalPolicy
from aws_cdk import aws_glue as glue
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from etl_infra.settings import StageSettings


def pipeline_key(scope: Construct, settings: StageSettings) -> kms.Key:
    key = kms.Key(
        scope,
        "PipelineKey",
        alias=f"alias/{settings.prefix}",
        description=f"ETL pipeline {settings.stage}: SNS topic, CloudWatch log groups, Glue logs and bookmarks",
        enable_key_rotation=True,
        pending_window=Duration.days(7),
        removal_policy=RemovalPolicy.DESTROY,
    )
    key.add_to_resource_policy(
        iam.PolicyStatement(
            sid="CloudWatchLogsEncryptsThisAccountsLogGroups",
            principals=[iam.ServicePrincipal(f"logs.{Aws.REGION}.amazonaws.com")],
            actions=[
                "kms:Encrypt",
                "kms:Decrypt",
                "kms:ReEncryptFrom",
                "kms:ReEncryptTo",
                "kms:GenerateDataKey",
                "kms:GenerateDataKeyWithoutPlaintext",
                "kms:DescribeKey",
            ],
            resources=["*"],
            conditions={
                "ArnLike": {
                    "kms:EncryptionContext:aws:logs:arn": f"arn:{Aws.PARTITION}:logs:{Aws.REGION}:{Aws.ACCOUNT_ID}:*"
                }
            },
        )
    )
    key.add_to_resource_policy(
        iam.PolicyStatement(
            sid="AlarmsAndEventRulesPublishToTheEncryptedTopic",
            principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com"), iam.ServicePrincipal("events.amazonaws.com")],
            actions=["kms:Decrypt", "kms:GenerateDataKey"],
            resources=["*"],
        )
    )
    return key


def glue_security_configuration(
    scope: Construct, settings: StageSettings, key: kms.IKey
) -> glue.CfnSecurityConfiguration:
    """Encryption for everything Glue writes: S3 output (SSE-S3), CloudWatch logs and job bookmarks (KMS)."""
    return glue.CfnSecurityConfiguration(
        scope,
        "GlueSecurityConfiguration",
        name=settings.prefix,
        encryption_configuration=glue.CfnSecurityConfiguration.EncryptionConfigurationProperty(
            s3_encryptions=[glue.CfnSecurityConfiguration.S3EncryptionProperty(s3_encryption_mode="SSE-S3")],
            cloud_watch_encryption=glue.CfnSecurityConfiguration.CloudWatchEncryptionProperty(
                cloud_watch_encryption_mode="SSE-KMS", kms_key_arn=key.key_arn
            ),
            job_bookmarks_encryption=glue.CfnSecurityConfiguration.JobBookmarksEncryptionProperty(
                job_bookmarks_encryption_mode="CSE-KMS", kms_key_arn=key.key_arn
            ),
        ),
    )
