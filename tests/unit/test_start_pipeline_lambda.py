"""The start_pipeline Lambda handler against Step Functions in moto.

The handler file is imported by path, as Lambda loads it; its boto3 client is created on
first use, inside ``mock_aws``. Execution names and inputs are checked against
``etl.events.run_id_for`` and ``RunRequest.execution_input()`` for the objects the event names.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from moto import mock_aws

from conftest import load_event
from etl.events import RunRequest, SourceObject, run_id_for

ROOT = Path(__file__).resolve().parents[2]
HANDLER = ROOT / "lambdas" / "start_pipeline" / "handler.py"
REGION = "eu-west-1"
DEFINITION = {"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}

# The objects tests/events/s3_put.json names that are data files (the folder marker is skipped).
UNICODE_KEY = SourceObject(
    bucket="etl-dev-landing",
    key="shipping/shipping_data 2024 été.json",  # URL-encoded with '+' for spaces in the event
    size=1024,
    etag="0123456789abcdef0123456789abcdef",
    version_id="3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY",
    event_time="2024-01-15T10:30:00.000Z",
)
ROOT_KEY = SourceObject(
    bucket="etl-dev-landing",
    key="shipping_data.json-2024-01-15-10-30.json",
    size=2048,
    etag="fedcba9876543210fedcba9876543210-2",
    event_time="2024-01-15T10:31:00.000Z",
)


def _expected(source: SourceObject) -> RunRequest:
    return RunRequest(run_id=run_id_for(source, "shipping"), dataset="shipping", source=source)


@pytest.fixture
def handler_module() -> Iterator[ModuleType]:
    """The handler module, loaded by path; the root logger it reconfigures is restored afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    spec = importlib.util.spec_from_file_location("start_pipeline_handler", HANDLER)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    yield module
    root.handlers, root.level = handlers, level


@pytest.fixture
def state_machine_arn(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        client = boto3.client("stepfunctions", region_name=REGION)
        arn = client.create_state_machine(
            name="etl-test-pipeline",
            definition=json.dumps(DEFINITION),
            roleArn="arn:aws:iam::123456789012:role/etl-test-pipeline",
        )["stateMachineArn"]
        monkeypatch.setenv("STATE_MACHINE_ARN", arn)
        yield arn


def _executions(arn: str) -> dict[str, dict[str, Any]]:
    client = boto3.client("stepfunctions", region_name=REGION)
    found = {}
    for execution in client.list_executions(stateMachineArn=arn)["executions"]:
        described = client.describe_execution(executionArn=execution["executionArn"])
        found[execution["name"]] = json.loads(described["input"])
    return found


def test_an_s3_event_starts_one_named_execution_per_data_object(handler_module: ModuleType, state_machine_arn: str):
    report = handler_module.handler(load_event("s3_put.json"), None)

    expected = {request.run_id: request.execution_input() for request in map(_expected, (UNICODE_KEY, ROOT_KEY))}
    assert _executions(state_machine_arn) == expected
    assert [(s["key"], s["run_id"]) for s in report["started"]] == [
        (UNICODE_KEY.key, _expected(UNICODE_KEY).run_id),
        (ROOT_KEY.key, _expected(ROOT_KEY).run_id),
    ]
    assert all(
        s["execution"].startswith(state_machine_arn.replace(":stateMachine:", ":execution:")) for s in report["started"]
    )
    assert report["skipped"] == [{"key": "shipping/", "reason": "folder marker"}]
    assert report["duplicates"] == [] and report["failed"] == []


def test_the_same_event_again_starts_nothing_and_reports_duplicates(handler_module: ModuleType, state_machine_arn: str):
    event = load_event("s3_put.json")
    handler_module.handler(event, None)
    before = _executions(state_machine_arn)

    report = handler_module.handler(copy.deepcopy(event), None)

    assert _executions(state_machine_arn) == before
    assert report["started"] == [] and report["failed"] == []
    assert report["duplicates"] == [
        {"key": UNICODE_KEY.key, "run_id": _expected(UNICODE_KEY).run_id},
        {"key": ROOT_KEY.key, "run_id": _expected(ROOT_KEY).run_id},
    ]


def test_a_malformed_record_is_reported_and_the_others_still_start(handler_module: ModuleType, state_machine_arn: str):
    event = load_event("s3_put.json")
    del event["Records"][0]["s3"]["object"]["key"]

    report = handler_module.handler(event, None)

    assert list(_executions(state_machine_arn)) == [_expected(ROOT_KEY).run_id]
    assert [s["key"] for s in report["started"]] == [ROOT_KEY.key]
    assert len(report["failed"]) == 1
    assert "record 0" in report["failed"][0]["error"] and "malformed" in report["failed"][0]["error"]


def test_a_start_that_fails_is_reported_per_record_not_raised(
    handler_module: ModuleType, state_machine_arn: str, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("STATE_MACHINE_ARN", state_machine_arn.replace("etl-test-pipeline", "no-such-machine"))

    report = handler_module.handler(load_event("s3_put.json"), None)

    assert report["started"] == [] and _executions(state_machine_arn) == {}
    assert [f["run_id"] for f in report["failed"]] == [_expected(UNICODE_KEY).run_id, _expected(ROOT_KEY).run_id]


def test_an_object_under_an_unknown_prefix_starts_an_execution_that_carries_its_refusal(
    handler_module: ModuleType, state_machine_arn: str
):
    # The state machine's first Choice sends such an input to the failure notification (published on the
    # topic): the refused file has an execution in the console and is not taken again for the same event.
    event = load_event("s3_put.json")
    event["Records"] = [event["Records"][2]]  # the key at the root, moved under a prefix no dataset reads
    event["Records"][0]["s3"]["object"]["key"] = "vehicles/cars.json"

    report = handler_module.handler(event, None)
    again = handler_module.handler(copy.deepcopy(event), None)

    [(name, execution_input)] = _executions(state_machine_arn).items()
    assert name.startswith("vehicles-cars_json-") and [s["run_id"] for s in report["started"]] == [name]
    assert execution_input["dataset"] == "vehicles"
    assert execution_input["refusal"]["Error"] == "UnknownDataset"
    assert execution_input["refusal"]["Cause"].startswith("vehicles/cars.json: no dataset reads the prefix vehicles/")
    assert again["started"] == [] and [d["run_id"] for d in again["duplicates"]] == [name]
