"""The SNS topic that receives run results, run failures and alarms (KMS-encrypted, TLS-only).

An e-mail subscription is added when the ``notificationEmail`` context is set; the
recipient confirms it from the message AWS sends. Other subscribers (HTTPS, SQS, chat)
can be added outside the stack.
"""

from __future__ import annotations

from aws_cdk import Aws
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from etl_infra.settings import StageSettings


def notification_topic(scope: Construct, settings: StageSettings, key: kms.IKey) -> sns.Topic:
    topic = sns.Topic(
        scope,
        "Notifications",
        topic_name=settings.name("notifications"),
        display_name=f"ETL pipeline ({settings.stage})",
        master_key=key,
        enforce_ssl=True,
    )
    # A topic policy written by the stack replaces SNS's default one, which let the account's alarms
    # publish; without this statement no CloudWatch alarm could notify. Only this account's alarms.
    topic.add_to_resource_policy(
        iam.PolicyStatement(
            sid="AllowThisAccountsAlarms",
            actions=["sns:Publish"],
            principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
            resources=[topic.topic_arn],
            conditions={
                "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
                "ArnLike": {"aws:SourceArn": f"arn:{Aws.PARTITION}:cloudwatch:{Aws.REGION}:{Aws.ACCOUNT_ID}:alarm:*"},
            },
        )
    )
    if settings.notification_email:
        topic.add_subscription(subscriptions.EmailSubscription(settings.notification_email))
    return topic
