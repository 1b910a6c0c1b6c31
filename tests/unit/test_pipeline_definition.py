"""The pipeline's ASL file itself, run on the local executor with scripted services.

What AWS would do on paths the local services never take: a crawler that reports READY before
it has any LastCrawl, and how the execution ends when a step fails with a service's error.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from etl.definition import load_definition
from etl.errors import TaskFailedError
from etl.local.handlers import (
    ATHENA_GET_RESULTS,
    ATHENA_QUERY_SYNC,
    GLUE_GET_CRAWLER,
    GLUE_JOB_SYNC,
    GLUE_START_CRAWLER,
    S3_GET_OBJECT,
    SNS_PUBLISH,
)
from etl.stepfunctions import StateMachine

ROOT = Path(__file__).resolve().parents[2]
VALUES = {
    name: name.lower()
    for name in ("JsonToParquetJobName", "NormalizeJobName", "RawCrawlerName",
                 "QuarantineCrawlerName", "RawBucket", "ProcessedBucket", "QuarantineBucket", "GlueDatabase",
                 "AthenaWorkGroup")
} | {"NotificationTopicArn": "arn:aws:sns:us-east-1:123456789012:etl"}
INPUT = {"run_id": "shipping-r1", "dataset": "shipping",
         "source": {"bucket": "landing", "key": "shipping/a.json", "event_time": "2024-01-01T00:00:00Z"},
         "summary_query": {"name": "shipping_totals", "sql": "SELECT count(*) AS n FROM processed_shipping"},
         "write_mode": "upsert"}


@pytest.fixture(scope="module")
def definition() -> dict[str, Any]:
    return load_definition(ROOT, VALUES)


def _walk(states: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every state of ``states``, those inside Parallel branches included, with its name."""
    for name, state in states.items():
        yield name, state
        for branch in state.get("Branches", []):
            yield from _walk(branch["States"])


def _crawler_branch(definition: dict[str, Any], crawler: str) -> dict[str, Any]:
    """The branch of a Parallel that starts and polls ``crawler``, as a machine of its own."""
    for _, state in _walk(definition["States"]):
        for branch in state.get("Branches", []):
            if f"Start {crawler} crawler" in branch["States"]:
                return copy.deepcopy(branch)
    raise AssertionError(f"no branch starts the {crawler} crawler")


def _poll(answers: list[dict[str, Any]]) -> dict[str, Any]:
    replies: Iterator[dict[str, Any]] = iter(answers)
    return {
        GLUE_START_CRAWLER: lambda params, context: {},
        GLUE_GET_CRAWLER: lambda params, context: {"Crawler": {"Name": params["Name"], **next(replies)}},
    }


@pytest.mark.parametrize("crawler", ["Raw", "Quarantine"])
@pytest.mark.parametrize(
    ("answers", "status", "error"),
    [
        ([{"State": "RUNNING"}, {"State": "READY", "LastCrawl": {"Status": "SUCCEEDED"}}], "SUCCEEDED", None),
        ([{"State": "STOPPING"}, {"State": "READY", "LastCrawl": {"Status": "FAILED"}}], "FAILED", "CrawlerFailed"),
        # A first crawl's GetCrawler has no LastCrawl: Status must never be compared while it is missing.
        ([{"State": "READY"}], "FAILED", "CrawlerFailed"),
    ],
)
def test_a_crawler_poll_ends_by_its_last_crawl_and_never_on_a_missing_status(
    definition, crawler, answers, status, error
):
    machine = StateMachine(_crawler_branch(definition, crawler), _poll(answers), sleep=lambda seconds: None)
    result = machine.execute({"polls": {"count": 0}}, name="poll")
    assert (result.status, result.error) == (status, error), result.cause


@pytest.mark.parametrize("crawler", ["Raw", "Quarantine"])
@pytest.mark.parametrize(("catalog", "crawled", "ended"), [
    ({"action": "registered", "table": "t"}, False, "{zone} partition registered"),
    ({"action": "none", "table": "t"}, False, "No {key} folder to catalog"),
    ({"action": "crawl", "table": "t", "reason": "table t is not in the catalog yet"}, True, "{zone} catalog updated"),
    ({"action": "something new"}, True, "{zone} catalog updated"),  # a value it does not know: crawl
    (None, True, "{zone} catalog updated"),  # a manifest of an older job, without the decision: crawl
])
def test_a_crawl_runs_only_when_the_job_could_not_add_the_runs_folder(definition, crawler, catalog, crawled, ended):
    started: list[str] = []
    services = _poll([{"State": "READY", "LastCrawl": {"Status": "SUCCEEDED"}}])
    start = services[GLUE_START_CRAWLER]
    services[GLUE_START_CRAWLER] = lambda params, context: started.append(params["Name"]) or start(params, context)
    counts = {"loaded": 1} if catalog is None else {"loaded": 1, "catalog": {crawler.lower(): catalog}}
    machine = StateMachine(_crawler_branch(definition, crawler), services, sleep=lambda seconds: None)
    result = machine.execute({"manifest": {"counts": counts}}, name="choice")
    assert result.status == "SUCCEEDED", result.cause
    assert bool(started) == crawled
    entered = [event.state for event in result.events if event.state]
    assert entered[-1] == ended.format(zone=crawler, key=crawler.lower())


def test_a_crawler_that_never_finishes_times_out_after_its_polls(definition):
    answers = [{"State": "RUNNING"}] * 200
    machine = StateMachine(_crawler_branch(definition, "Raw"), _poll(answers), sleep=lambda seconds: None)
    result = machine.execute({}, name="poll")
    assert (result.status, result.error) == ("FAILED", "CrawlerTimeout")


def _services(glue_error: TaskFailedError | None, published: list[dict[str, Any]]) -> dict[str, Any]:
    def glue_job(params, context):
        if glue_error is not None:
            raise glue_error
        return {"Id": "jr_1", "JobRunState": "SUCCEEDED", "ExecutionTime": 1}

    counts = {"records_read": 1, "loaded": 1, "quarantined": 0}
    return {
        GLUE_JOB_SYNC: glue_job,
        S3_GET_OBJECT: lambda params, context: {"Body": json.dumps(counts)},
        GLUE_START_CRAWLER: lambda params, context: {},
        GLUE_GET_CRAWLER: lambda params, context: {"Crawler": {"State": "READY", "LastCrawl": {"Status": "SUCCEEDED"}}},
        ATHENA_QUERY_SYNC: lambda params, context: {"QueryExecution": {"QueryExecutionId": "q1",
                                                                       "Statistics": {"DataScannedInBytes": 10}}},
        ATHENA_GET_RESULTS: lambda params, context: {"ResultSet": {"ResultSetMetadata": {"ColumnInfo": []},
                                                                   "Rows": []}},
        SNS_PUBLISH: lambda params, context: published.append(params) or {"MessageId": "m1"},
    }


def test_a_step_failing_with_a_service_error_ends_the_run_under_the_pipelines_own_name(definition):
    published: list[dict[str, Any]] = []
    failure = TaskFailedError("States.TaskFailed", '{"JobRunState": "FAILED", "ErrorMessage": "no record loaded"}')
    result = StateMachine(definition, _services(failure, published), sleep=lambda s: None).execute(INPUT, name="r1")
    assert (result.status, result.error) == ("FAILED", "PipelineStepFailed")
    assert result.cause.startswith("States.TaskFailed: ") and "no record loaded" in result.cause
    [note] = published
    assert json.loads(note["Message"])["error"] == "States.TaskFailed"  # the notification keeps the service's name


def test_an_error_the_pipeline_names_ends_the_run_as_it_is(definition):
    published: list[dict[str, Any]] = []
    refused = {**INPUT, "refusal": {"Error": "UnknownDataset", "Cause": "no dataset reads the prefix x/"}}
    result = StateMachine(definition, _services(None, published), sleep=lambda s: None).execute(refused, name="r2")
    assert (result.status, result.error) == ("FAILED", "UnknownDataset")
    assert json.loads(published[0]["Message"])["error"] == "UnknownDataset"


def test_a_clean_run_publishes_success(definition):
    published: list[dict[str, Any]] = []
    result = StateMachine(definition, _services(None, published), sleep=lambda s: None).execute(INPUT, name="r3")
    assert result.status == "SUCCEEDED", (result.error, result.cause)
    assert json.loads(published[0]["Message"])["status"] == "SUCCEEDED"


def test_no_fail_state_names_a_states_error(definition):
    found = {name: state for name, state in _walk(definition["States"]) if state["Type"] == "Fail"}
    assert found
    for name, state in found.items():
        assert not state.get("Error", "").startswith("States."), name


def test_last_crawl_status_is_compared_only_after_a_rule_that_took_its_absence(definition):
    """AWS documents that the first matching rule wins, not that And stops at its first false operand."""
    status = "$.crawl.crawler.LastCrawl.Status"

    compared = 0
    for state in (state for _, state in _walk(definition["States"]) if state["Type"] == "Choice"):
        absent_taken = False
        for rule in state["Choices"]:
            if rule.get("Not") == {"Variable": status, "IsPresent": True}:
                absent_taken = True
            elif rule.get("Variable") == status:
                assert absent_taken, rule
                compared += 1
            else:
                assert status not in json.dumps(rule), rule  # never inside And, Or or Not
    assert compared == 2  # the raw and quarantine crawls
