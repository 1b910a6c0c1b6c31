"""Least-privilege IAM statements whose every wildcard carries its reason for cdk-nag.

``allow`` adds one Allow statement to a role. A resource containing ``*`` (an object
prefix, a log-group family, an API without resource-level permissions) must come with
``wildcard_reason``; the finding cdk-nag will raise for it (AwsSolutions-IAM5) is
acknowledged on the role with that reason, so no wildcard is suppressed by accident.
Actions are always spelled out: no ``*`` in actions.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from aws_cdk import Acknowledgment, Aws, Stack, Validations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from etl.errors import ConfigError

READ = ["s3:GetObject"]
READ_WRITE = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"]

# Object prefixes end in '*' without a '/' so that a folder's own marker object (``shipping_$folder$``,
# written by some Hadoop S3 filesystems) is covered as well as the keys below it.
PREFIX_REASON = (
    "Object keys are created per run (run_id=..., year=/month= partitions, staging folders); "
    "the grant is limited to this zone's dataset/manifest prefixes in one bucket."
)

# The dataset zones (raw, quarantine, processed) hold one folder per dataset, and a contract dropped into landing
# defines a dataset at run time: a grant on such a zone covers its bucket, whose every key is the pipeline's own.
DATASETS_REASON = (
    "Each dataset is a folder of this zone's bucket, and a contract dropped into landing defines new datasets at "
    "run time; the bucket holds only this pipeline's datasets and run files."
)


def allow(
    role: iam.Role,
    actions: Sequence[str],
    resources: Sequence[str],
    *,
    wildcard_reason: str | None = None,
    conditions: Mapping[str, Any] | None = None,
) -> iam.PolicyStatement:
    wild_actions = [a for a in actions if "*" in a]
    if wild_actions:
        raise ConfigError(f"spell out IAM actions instead of {wild_actions} (role {role.node.path})")
    statement = iam.PolicyStatement(actions=list(actions), resources=list(resources), conditions=conditions)
    role.add_to_policy(statement)
    stack = Stack.of(role)
    for resource in resources:
        flat = flatten_reference(stack.resolve(resource))
        if "*" not in flat:
            continue
        if not wildcard_reason:
            raise ConfigError(f"resource {flat} of role {role.node.path} has a wildcard; give wildcard_reason")
        acknowledge(role, f"AwsSolutions-IAM5[Resource::{flat}]", wildcard_reason)
    return statement


def deny(role: iam.Role, actions: Sequence[str], resources: Sequence[str]) -> iam.PolicyStatement:
    """An explicit Deny: carves a folder out of a wider Allow (IAM has no 'except' in a resource)."""
    statement = iam.PolicyStatement(effect=iam.Effect.DENY, actions=list(actions), resources=list(resources))
    role.add_to_policy(statement)
    return statement


def depend_on_policy(resource: Construct, role: iam.Role) -> None:
    """``resource`` is created after ``role``'s policy, so a run it starts at once has its permissions."""
    policy = role.node.try_find_child("DefaultPolicy")
    if policy is not None:
        resource.node.add_dependency(policy)


def acknowledge(scope: Any, rule_id: str, reason: str) -> None:
    """Acknowledge one cdk-nag finding on ``scope`` (and everything below it) with a written reason."""
    if len(reason.strip()) < 20:
        raise ConfigError(f"the reason for acknowledging {rule_id} must say why (got {reason!r})")
    Validations.of(scope).acknowledge(Acknowledgment(id=rule_id, reason=reason))


def flatten_reference(value: Any) -> str:
    """A resolved CloudFormation value as the flat text cdk-nag names findings by.

    ``{"Ref": "X"}`` -> ``<X>``, ``{"Fn::GetAtt": ["X", "Arn"]}`` -> ``<X.Arn>``, ``Fn::Join`` joined.
    """
    if isinstance(value, str):
        return value.replace("${", "<").replace("}", ">")
    if isinstance(value, dict):
        if "Ref" in value:
            return f"<{flatten_reference(value['Ref'])}>"
        if "Fn::GetAtt" in value:
            logical_id, attribute = value["Fn::GetAtt"]
            return f"<{flatten_reference(logical_id)}.{flatten_reference(attribute)}>"
        if "Fn::Join" in value:
            delimiter, items = value["Fn::Join"]
            return delimiter.join(flatten_reference(item) for item in items)
        if "Fn::Sub" in value:
            return flatten_reference(value["Fn::Sub"])
    return json.dumps(value, separators=(",", ":"))


def grant_objects(
    role: iam.Role,
    bucket: s3.IBucket,
    prefixes: Sequence[str],
    actions: Sequence[str],
    *,
    list_bucket: bool = True,
    reason: str = PREFIX_REASON,
) -> None:
    """``actions`` on the objects under each prefix of ``bucket`` (and, by default, listing the bucket)."""
    allow(role, actions, [bucket.arn_for_objects(f"{prefix}*") for prefix in prefixes], wildcard_reason=reason)
    if list_bucket:
        allow(role, ["s3:ListBucket", "s3:GetBucketLocation"], [bucket.bucket_arn])


def catalog_arns(database: str) -> list[str]:
    """The catalog, one database and its tables: the resources of Glue Data Catalog table actions."""
    base = f"arn:{Aws.PARTITION}:glue:{Aws.REGION}:{Aws.ACCOUNT_ID}"
    return [f"{base}:catalog", f"{base}:database/{database}", f"{base}:table/{database}/*"]
