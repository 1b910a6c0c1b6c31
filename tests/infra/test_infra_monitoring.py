"""Alarms and failure events reach the topic; the dashboard shows the pipeline; the generator schedule is off."""

from __future__ import annotations

import json

import pytest
from aws_cdk.assertions import Match, Template

from .synthesis import STAGE, Synthesized


def _topic(synth: Synthesized) -> dict:
    return {"Ref": synth.one("AWS::SNS::Topic")[0]}


def _alarms(synth: Synthesized) -> dict[str, dict]:
    return {
        r["Properties"]["AlarmDescription"]: r["Properties"] for r in synth.of_type("AWS::CloudWatch::Alarm").values()
    }


def test_every_alarm_notifies_the_topic(synth: Synthesized):
    alarms = _alarms(synth)
    assert alarms
    for description, alarm in alarms.items():
        assert alarm["AlarmActions"] == [_topic(synth)], description
        assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold" and alarm["Threshold"] == 1


@pytest.mark.parametrize(
    ("namespace", "metric"),
    [
        ("AWS/States", "ExecutionsFailed"),
        ("AWS/States", "ExecutionsTimedOut"),
        ("AWS/Lambda", "Errors"),
        (f"EtlPipeline/{STAGE}", "StartFailures"),
    ],
)
def test_alarms_watch_failures(synth: Synthesized, namespace: str, metric: str):
    watched = [(a["Namespace"], a["MetricName"]) for a in _alarms(synth).values()]
    assert (namespace, metric) in watched


def test_each_lambda_has_an_error_alarm(synth: Synthesized):
    functions = {
        k for k, r in synth.of_type("AWS::Lambda::Function").items() if not k.startswith("BucketNotificationsHandler")
    }
    alarmed = {a["Dimensions"][0]["Value"]["Ref"] for a in _alarms(synth).values() if a["MetricName"] == "Errors"}
    assert alarmed == functions


def test_start_failures_are_counted_from_the_handler_log(synth: Synthesized, template: Template):
    template.has_resource_properties(
        "AWS::Logs::MetricFilter",
        {
            "FilterPattern": '{ $.outcome = "failed" }',
            "MetricTransformations": [Match.object_like({"MetricName": "StartFailures", "MetricValue": "1"})],
        },
    )


@pytest.mark.parametrize(
    ("detail_type", "field", "states"),
    [
        ("Glue Job State Change", "jobName", ["FAILED", "TIMEOUT", "ERROR"]),
        ("Glue Crawler State Change", "crawlerName", ["Failed"]),
    ],
)
def test_glue_failures_are_published_to_the_topic(synth: Synthesized, detail_type: str, field: str, states: list[str]):
    rules = [r["Properties"] for r in synth.of_type("AWS::Events::Rule").values()
             if r["Properties"].get("EventPattern", {}).get("detail-type") == [detail_type]]  # fmt: skip
    assert len(rules) == 1
    rule = rules[0]
    assert rule["EventPattern"]["source"] == ["aws.glue"]
    assert rule["EventPattern"]["detail"]["state"] == states
    # Three jobs (the pipeline's two and the daily maintain), two crawlers (raw, quarantine).
    assert len(rule["EventPattern"]["detail"][field]) == (3 if field == "jobName" else 2)
    assert rule["State"] == "ENABLED"
    assert [t["Arn"] for t in rule["Targets"]] == [_topic(synth)]


def test_the_topic_policy_lets_eventbridge_publish(template: Template):
    template.has_resource_properties(
        "AWS::SNS::TopicPolicy",
        {"PolicyDocument": {"Statement": Match.array_with([Match.object_like(
            {"Effect": "Allow", "Action": "sns:Publish", "Principal": {"Service": "events.amazonaws.com"}}
        )])}},
    )  # fmt: skip


def test_the_topic_policy_lets_this_accounts_alarms_publish(template: Template):
    # The stack's topic policy replaces SNS's default: without this statement no alarm reaches the topic.
    template.has_resource_properties(
        "AWS::SNS::TopicPolicy",
        {"PolicyDocument": {"Statement": Match.array_with([Match.object_like({
            "Effect": "Allow", "Action": "sns:Publish", "Principal": {"Service": "cloudwatch.amazonaws.com"},
            "Condition": Match.object_like({"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}),
        })])}},
    )  # fmt: skip


def test_the_generator_schedule_is_disabled(synth: Synthesized):
    scheduled = [
        r["Properties"] for r in synth.of_type("AWS::Events::Rule").values() if "ScheduleExpression" in r["Properties"]
    ]
    assert len(scheduled) == 1
    assert scheduled[0]["State"] == "DISABLED"
    generator = next(k for k in synth.of_type("AWS::Lambda::Function") if k.startswith("FunctionsGenerateShipments"))
    assert scheduled[0]["Targets"][0]["Arn"] == {"Fn::GetAtt": [generator, "Arn"]}


def test_the_dashboard_shows_executions_lambda_and_glue(synth: Synthesized):
    _, dashboard = synth.one("AWS::CloudWatch::Dashboard")
    body = json.dumps(dashboard["Properties"]["DashboardBody"])
    for metric in ("ExecutionsStarted", "ExecutionsSucceeded", "ExecutionsFailed", "ExecutionTime", "Errors",
                   "glue.driver.aggregate.elapsedTime", "ProcessedBytes", "StartFailures"):  # fmt: skip
        assert metric in body, metric
