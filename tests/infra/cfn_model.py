"""Test helpers: resolve CloudFormation values to example strings and evaluate a role's IAM policies.

Pseudo parameters become a fixed account/region; a Ref/GetAtt becomes the name or ARN the
resource would have (buckets get their logical id as name). This is enough to ask "does
this role allow action A on resource R?" the way IAM matches (``*`` and ``?`` wildcards).
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Iterable
from typing import Any

ACCOUNT = "123456789012"
REGION = "eu-west-1"
PARTITION = "aws"
PSEUDO = {
    "AWS::AccountId": ACCOUNT,
    "AWS::Region": REGION,
    "AWS::Partition": PARTITION,
    "AWS::URLSuffix": "amazonaws.com",
}


class Resolver:
    def __init__(self, template: dict[str, Any]) -> None:
        self.resources: dict[str, dict[str, Any]] = template["Resources"]

    def __call__(self, value: Any) -> Any:
        if isinstance(value, str):
            return _sub(value)
        if isinstance(value, list):
            return [self(v) for v in value]
        if not isinstance(value, dict):
            return value
        if "Ref" in value:
            return self.ref(value["Ref"])
        if "Fn::GetAtt" in value:
            logical_id, attribute = value["Fn::GetAtt"]
            return self.get_att(logical_id, attribute)
        if "Fn::Join" in value:
            delimiter, items = value["Fn::Join"]
            return delimiter.join(str(self(item)) for item in items)
        if "Fn::Sub" in value:
            return _sub(value["Fn::Sub"]) if isinstance(value["Fn::Sub"], str) else json.dumps(value)
        return {k: self(v) for k, v in value.items()}

    def ref(self, logical_id: str) -> str:
        if logical_id in PSEUDO:
            return PSEUDO[logical_id]
        resource = self.resources[logical_id]
        props = resource.get("Properties", {})
        kind = resource["Type"]
        if kind in (
            "AWS::Glue::Job",
            "AWS::Glue::Crawler",
            "AWS::Athena::WorkGroup",
            "AWS::Glue::SecurityConfiguration",
        ):
            return str(props["Name"])
        if kind == "AWS::Glue::Database":
            return str(props["DatabaseInput"]["Name"])
        if kind == "AWS::S3::Bucket":
            return bucket_name(logical_id)
        if kind == "AWS::SNS::Topic":
            return f"arn:{PARTITION}:sns:{REGION}:{ACCOUNT}:{props.get('TopicName', logical_id)}"
        if kind == "AWS::StepFunctions::StateMachine":
            return f"arn:{PARTITION}:states:{REGION}:{ACCOUNT}:stateMachine:{props.get('StateMachineName', logical_id)}"
        return f"ref-{logical_id}"

    def get_att(self, logical_id: str, attribute: str) -> str:
        kind = self.resources[logical_id]["Type"]
        if attribute == "Arn":
            if kind == "AWS::S3::Bucket":
                return f"arn:{PARTITION}:s3:::{bucket_name(logical_id)}"
            if kind == "AWS::KMS::Key":
                return f"arn:{PARTITION}:kms:{REGION}:{ACCOUNT}:key/{logical_id}"
            if kind == "AWS::IAM::Role":
                return f"arn:{PARTITION}:iam::{ACCOUNT}:role/{logical_id}"
            if kind == "AWS::Logs::LogGroup":
                name = self.resources[logical_id]["Properties"].get("LogGroupName", logical_id)
                return f"arn:{PARTITION}:logs:{REGION}:{ACCOUNT}:log-group:{name}:*"
        return f"getatt-{logical_id}.{attribute}"


def bucket_name(logical_id: str) -> str:
    return f"bucket-{logical_id.lower()}"


def _sub(text: str) -> str:
    for name, value in PSEUDO.items():
        text = text.replace("${" + name + "}", value)
    return text


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def role_statements(template: dict[str, Any], role_logical_id: str) -> list[dict[str, Any]]:
    """Every statement of the role: its inline policies and the AWS::IAM::Policy resources attached to it."""
    resources = template["Resources"]
    statements: list[dict[str, Any]] = []
    for policy in resources[role_logical_id].get("Properties", {}).get("Policies", []):
        statements += policy["PolicyDocument"]["Statement"]
    for resource in resources.values():
        if resource["Type"] == "AWS::IAM::Policy" and {"Ref": role_logical_id} in resource["Properties"].get(
            "Roles", []
        ):
            statements += resource["Properties"]["PolicyDocument"]["Statement"]
    return statements


def iam_statements(template: dict[str, Any]) -> Iterable[tuple[str, dict[str, Any]]]:
    """(logical id, statement) for every identity policy statement in the template."""
    for logical_id, resource in template["Resources"].items():
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::IAM::Policy":
            for statement in props["PolicyDocument"]["Statement"]:
                yield logical_id, statement
        elif resource["Type"] == "AWS::IAM::Role":
            for policy in props.get("Policies", []):
                for statement in policy["PolicyDocument"]["Statement"]:
                    yield logical_id, statement


def allows(statements: list[dict[str, Any]], resolve: Resolver, action: str, resource: str) -> bool:
    """Whether an Allow statement matches ``action`` on ``resource`` and no Deny does, as IAM decides
    (conditions are not evaluated)."""
    matching = [statement.get("Effect") for statement in statements if _matches(statement, resolve, action, resource)]
    return "Allow" in matching and "Deny" not in matching


def _matches(statement: dict[str, Any], resolve: Resolver, action: str, resource: str) -> bool:
    actions = _as_list(statement.get("Action", []))
    if not any(fnmatch.fnmatchcase(action.lower(), pattern.lower()) for pattern in actions):
        return False
    patterns = [str(resolve(r)) for r in _as_list(statement.get("Resource", []))]
    return any(fnmatch.fnmatchcase(resource, pattern) for pattern in patterns)
