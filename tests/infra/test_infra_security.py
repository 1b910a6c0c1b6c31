"""Security properties of the template: encryption, public access, TLS-only policies, logging, tracing."""

from __future__ import annotations

import pytest
from aws_cdk.assertions import Match, Template

from .synthesis import Synthesized

DATA_BUCKETS = ("Landing", "Raw", "Processed", "Quarantine", "AthenaResults", "Assets")
ALL_BUCKETS = (*DATA_BUCKETS, "AccessLogs")


def _bucket(synth: Synthesized, name: str) -> tuple[str, dict]:
    found = {k: r for k, r in synth.of_type("AWS::S3::Bucket").items() if k.startswith(f"Buckets{name}")}
    assert len(found) == 1, f"expected one bucket Buckets{name}*, found {sorted(found)}"
    return next(iter(found.items()))


def test_there_are_exactly_the_lake_buckets(synth: Synthesized):
    assert len(synth.of_type("AWS::S3::Bucket")) == len(ALL_BUCKETS)
    for name in ALL_BUCKETS:
        _bucket(synth, name)


def test_every_bucket_is_encrypted_and_blocks_public_access(template: Template):
    template.all_resources_properties(
        "AWS::S3::Bucket",
        {
            "BucketEncryption": {
                "ServerSideEncryptionConfiguration": [
                    {"ServerSideEncryptionByDefault": {"SSEAlgorithm": Match.any_value()}}
                ]
            },
            "PublicAccessBlockConfiguration": {
                "BlockPublicAcls": True,
                "BlockPublicPolicy": True,
                "IgnorePublicAcls": True,
                "RestrictPublicBuckets": True,
            },
            "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
        },
    )


@pytest.mark.parametrize("name", ALL_BUCKETS)
def test_every_bucket_policy_denies_requests_without_tls(synth: Synthesized, name: str):
    logical_id, _ = _bucket(synth, name)
    policies = [
        p for p in synth.of_type("AWS::S3::BucketPolicy").values() if p["Properties"]["Bucket"] == {"Ref": logical_id}
    ]
    assert len(policies) == 1
    denies = [
        s
        for s in policies[0]["Properties"]["PolicyDocument"]["Statement"]
        if s["Effect"] == "Deny"
        and s["Action"] == "s3:*"
        and s["Principal"] == {"AWS": "*"}
        and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    ]
    assert len(denies) == 1
    resources = denies[0]["Resource"]
    assert {"Fn::GetAtt": [logical_id, "Arn"]} in resources  # the bucket and
    assert {"Fn::Join": ["", [{"Fn::GetAtt": [logical_id, "Arn"]}, "/*"]]} in resources  # its objects


@pytest.mark.parametrize("name", DATA_BUCKETS)
def test_every_data_bucket_logs_access_to_the_access_log_bucket(synth: Synthesized, name: str):
    logs_id, _ = _bucket(synth, "AccessLogs")
    _, bucket = _bucket(synth, name)
    logging = bucket["Properties"]["LoggingConfiguration"]
    assert logging["DestinationBucketName"] == {"Ref": logs_id}
    assert logging["LogFilePrefix"] == f"{name.lower()}/"


def _lifecycle(bucket: dict) -> list[dict]:
    return bucket["Properties"].get("LifecycleConfiguration", {}).get("Rules", [])


def test_landing_is_versioned_and_old_versions_expire(synth: Synthesized):
    _, landing = _bucket(synth, "Landing")
    assert landing["Properties"]["VersioningConfiguration"] == {"Status": "Enabled"}
    assert any("NoncurrentVersionExpiration" in rule for rule in _lifecycle(landing))


@pytest.mark.parametrize(("name", "days"), [("Raw", 90), ("Quarantine", 90), ("AthenaResults", 7)])
def test_transient_zones_expire(synth: Synthesized, name: str, days: int):
    _, bucket = _bucket(synth, name)
    whole_bucket = [r for r in _lifecycle(bucket) if "ExpirationInDays" in r and "Prefix" not in r]
    assert [r["ExpirationInDays"] for r in whole_bucket] == [days]


def test_processed_data_never_expires(synth: Synthesized):
    _, processed = _bucket(synth, "Processed")
    assert not any("ExpirationInDays" in r for r in _lifecycle(processed))


def test_data_buckets_are_retained_with_the_data(synth: Synthesized):
    for name in ALL_BUCKETS:
        _, bucket = _bucket(synth, name)
        assert bucket["DeletionPolicy"] == "Retain", name


def test_the_kms_key_rotates(template: Template):
    template.has_resource_properties("AWS::KMS::Key", {"EnableKeyRotation": True})


def test_the_topic_is_kms_encrypted_and_tls_only(synth: Synthesized, template: Template):
    topic_id, _ = synth.one("AWS::SNS::Topic")
    key_id, _ = synth.one("AWS::KMS::Key")
    template.has_resource_properties("AWS::SNS::Topic", {"KmsMasterKeyId": {"Fn::GetAtt": [key_id, "Arn"]}})
    template.has_resource_properties(
        "AWS::SNS::TopicPolicy",
        {
            "Topics": [{"Ref": topic_id}],
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Effect": "Deny",
                                "Action": "sns:Publish",
                                "Principal": "*",
                                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                            }
                        )
                    ]
                )
            },
        },
    )


def test_the_notification_email_is_subscribed(template: Template):
    template.has_resource_properties("AWS::SNS::Subscription", {"Protocol": "email", "Endpoint": "ops@example.com"})


def test_the_state_machine_logs_everything_and_is_traced(synth: Synthesized, template: Template):
    log_groups = synth.of_type("AWS::Logs::LogGroup")
    state_machine_logs = [k for k, r in log_groups.items() if "/vendedlogs/states/" in r["Properties"]["LogGroupName"]]
    assert len(state_machine_logs) == 1
    template.has_resource_properties(
        "AWS::StepFunctions::StateMachine",
        {
            "LoggingConfiguration": {
                "Level": "ALL",
                "IncludeExecutionData": True,
                "Destinations": [
                    {"CloudWatchLogsLogGroup": {"LogGroupArn": {"Fn::GetAtt": [state_machine_logs[0], "Arn"]}}}
                ],
            },
            "TracingConfiguration": {"Enabled": True},
        },
    )


def test_log_groups_are_encrypted_and_expire(synth: Synthesized, template: Template):
    key_id, _ = synth.one("AWS::KMS::Key")
    template.all_resources_properties(
        "AWS::Logs::LogGroup", {"KmsKeyId": {"Fn::GetAtt": [key_id, "Arn"]}, "RetentionInDays": Match.any_value()}
    )


def test_glue_encrypts_logs_and_bookmarks_with_the_key(synth: Synthesized, template: Template):
    key_arn = {"Fn::GetAtt": [synth.one("AWS::KMS::Key")[0], "Arn"]}
    template.has_resource_properties(
        "AWS::Glue::SecurityConfiguration",
        {
            "EncryptionConfiguration": {
                "S3Encryptions": [{"S3EncryptionMode": "SSE-S3"}],
                "CloudWatchEncryption": {"CloudWatchEncryptionMode": "SSE-KMS", "KmsKeyArn": key_arn},
                "JobBookmarksEncryption": {"JobBookmarksEncryptionMode": "CSE-KMS", "KmsKeyArn": key_arn},
            }
        },
    )
    security_configuration, _ = synth.one("AWS::Glue::SecurityConfiguration")
    for kind, field in (
        ("AWS::Glue::Job", "SecurityConfiguration"),
        ("AWS::Glue::Crawler", "CrawlerSecurityConfiguration"),
    ):
        for logical_id, resource in synth.of_type(kind).items():
            assert resource["Properties"][field] == {"Ref": security_configuration}, logical_id
