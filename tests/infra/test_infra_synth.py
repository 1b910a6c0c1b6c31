"""The app synthesizes; cfn-lint finds no errors; cdk-nag (AwsSolutions) leaves nothing unacknowledged,
and every acknowledgement is a written reason for an expected kind of finding."""

from __future__ import annotations

import json
import re

import pytest

from .cfn_model import iam_statements
from .synthesis import STAGE, Synthesized

# Kinds of cdk-nag findings this stack may acknowledge. A new kind needs a review and a line here.
ACKNOWLEDGEABLE = (
    re.compile(r"AwsSolutions-IAM5\[Resource::.+\]"),  # wildcard resources (reason given per grant)
    re.compile(r"AwsSolutions-L1"),  # Python 3.11 runtime, matching Glue 5.0
    re.compile(r"AwsSolutions-IAM4\[Policy::.+AWSLambdaBasicExecutionRole\]"),  # CDK's notification handler only
)


def test_the_app_synthesizes_without_validation_errors(synth: Synthesized):
    report = json.loads((synth.outdir / "validation-report.json").read_text(encoding="utf-8"))
    violations = [
        f"{v['ruleName']} at {[c.get('constructPath') for c in v.get('violatingConstructs', [])]}"
        for plugin in report.get("pluginReports", [])
        for v in plugin.get("violations", [])
    ]
    assert synth.error is None and violations == [], "\n".join([str(synth.error), *violations])
    assert synth.stack_name == f"EtlPipeline-{STAGE}"


def test_cfn_lint_reports_no_errors(synth: Synthesized):
    from cfnlint.api import ManualArgs, lint

    text = json.dumps(synth.template)
    matches = lint(text, config=ManualArgs(regions=["us-east-1", "eu-west-1"]))
    errors = [f"{m.rule.id} {m.message}" for m in matches if m.rule.id.startswith("E")]
    assert errors == []
    # Warnings are only the DependsOn that CDK's own Function/StateMachine constructs add next to a GetAtt.
    assert {m.rule.id for m in matches} <= {"W3005"}


def _acknowledgements(synth: Synthesized) -> list[tuple[str, str, str]]:
    found = []
    for logical_id, resource in synth.resources.items():
        for rule in resource.get("Metadata", {}).get("cdk_nag", {}).get("rules_to_suppress", []):
            found.append((logical_id, rule["id"], rule.get("reason", "")))
    return found


def test_every_cdk_nag_acknowledgement_has_a_written_reason(synth: Synthesized):
    acknowledgements = _acknowledgements(synth)
    assert acknowledgements, (
        "expected the acknowledgements in the template metadata (write_suppressions_to_cloud_formation)"
    )
    for logical_id, rule_id, reason in acknowledgements:
        assert len(reason.split()) >= 6, f"{logical_id} {rule_id}: reason too short: {reason!r}"
        assert any(p.fullmatch(rule_id) for p in ACKNOWLEDGEABLE), f"{logical_id}: unexpected acknowledgement {rule_id}"


def test_managed_policies_are_acknowledged_only_for_cdk_internals(synth: Synthesized):
    for logical_id, rule_id, _ in _acknowledgements(synth):
        if "IAM4" in rule_id:
            assert logical_id.startswith("BucketNotificationsHandler"), logical_id
    for logical_id, role in synth.of_type("AWS::IAM::Role").items():
        if not logical_id.startswith("BucketNotificationsHandler"):
            assert "ManagedPolicyArns" not in role["Properties"], logical_id


@pytest.mark.parametrize("field", ["Action", "NotAction"])
def test_no_iam_statement_allows_everything(synth: Synthesized, field: str):
    for logical_id, statement in iam_statements(synth.template):
        actions = statement.get(field, [])
        actions = actions if isinstance(actions, list) else [actions]
        resources = statement.get("Resource", [])
        resources = resources if isinstance(resources, list) else [resources]
        if statement.get("Effect") == "Allow":
            assert field != "NotAction" or not actions, f"{logical_id}: NotAction in an Allow statement"
            assert not ("*" in actions and "*" in resources), f"{logical_id}: Action * on Resource *"
            assert not any(a == "*" or a.endswith(":*") for a in actions), (
                f"{logical_id}: service-wide action {actions}"
            )
