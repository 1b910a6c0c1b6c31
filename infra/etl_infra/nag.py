"""cdk-nag (AwsSolutions) for the app, and the acknowledgements for resources CDK itself generates.

Our own findings are acknowledged where the resource is made, next to the code that
needs them (``etl_infra.iam.allow`` for wildcard resources; storage, functions and
orchestration for the rest). What is left here belongs to constructs CDK adds: the
singleton Lambda that configures the landing bucket's S3 notifications.
``write_suppressions_to_cloud_formation`` copies every acknowledgement (id and reason)
into the template's resource Metadata, where the tests read them.
"""

from __future__ import annotations

from aws_cdk import App, Stack, Validations
from cdk_nag import AwsSolutionsChecks

from etl_infra.iam import acknowledge

# The construct id CDK gives the handler behind Bucket.add_event_notification (one per stack).
BUCKET_NOTIFICATIONS_HANDLER = "BucketNotificationsHandler050a0587b7544547bf325f094a3db834"


def add_nag_checks(app: App) -> None:
    Validations.of(app).add_plugins(AwsSolutionsChecks(app, verbose=True, write_suppressions_to_cloud_formation=True))


def acknowledge_cdk_internals(stack: Stack) -> None:
    handler = stack.node.try_find_child(BUCKET_NOTIFICATIONS_HANDLER)
    if handler is None:
        return
    acknowledge(
        handler,
        "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
        "CDK's own handler for S3 bucket notifications (runs only during deployment); CDK attaches this "
        "managed policy to it and offers no way to replace it.",
    )
    acknowledge(
        handler,
        "AwsSolutions-IAM5[Resource::*]",
        "CDK's own handler for S3 bucket notifications needs s3:PutBucketNotification; CDK scopes it to '*'.",
    )
