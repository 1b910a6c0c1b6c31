"""The SNS topic that receives run results, run failures and alarms (KMS-encrypted, TLS-only).

An e-mail subscription is added when the ``notificationEmail`` context is set; the
recipient confirms it from the message AWS sends. Other subscribers (HTTPS, SQS, chat)
can be added outside the stack.
"""

from __future__ import annotations

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
    if settings.notification_email:
        topic.add_subscription(subscriptions.EmailSubscription(settings.notification_email))
    return topic
