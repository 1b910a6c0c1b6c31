"""Retry (attempts, backoff, MaxDelaySeconds, jitter, retrier order) and Catch (matching, ResultPath)."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

import pytest

from etl.errors import AslDefinitionError, TaskFailedError
from etl.stepfunctions import ExecutionResult, StateMachine, TaskContext

ARN = "arn:aws:lambda:us-east-1:123456789012:function:work"


class Flaky:
    """A handler that fails with the given errors, in order, then returns ``result``."""

    def __init__(self, errors: Iterable[str | BaseException], result: Any = "done") -> None:
        self.errors = list(errors)
        self.result = result
        self.calls: list[tuple[Any, TaskContext]] = []

    def __call__(self, payload: Any, context: TaskContext) -> Any:
        self.calls.append((payload, context))
        if self.errors:
            error = self.errors.pop(0)
            if isinstance(error, BaseException):
                raise error
            raise TaskFailedError(error, f"{error} on call {len(self.calls)}")
        return self.result


def task_machine(
    task: dict[str, Any], handler: Callable[[Any, TaskContext], Any], *, extra: Any = None, **options: Any
) -> StateMachine:
    states: dict[str, Any] = {"Work": {"Type": "Task", "Resource": ARN, "End": True, **task}}
    catchers = task.get("Catch", [])
    for name in ("Caught", "CaughtToo", "Z"):  # the catch targets in use (unreachable states are refused)
        if isinstance(catchers, list) and any(
            isinstance(c, dict) and c.get("Next") == name for c in catchers
        ):
            states[name] = {"Type": "Pass", "End": True}
    states.update(extra or {})
    return StateMachine({"StartAt": "Work", "States": states}, {ARN: handler}, **options)


def run(
    task: dict[str, Any], handler: Callable[[Any, TaskContext], Any], data: Any = None, **options: Any
) -> tuple[ExecutionResult, list[float]]:
    sleeps: list[float] = []
    machine = task_machine(task, handler, sleep=sleeps.append, **options)
    return machine.execute({"in": 1} if data is None else data, name="exec"), sleeps


def reached(result: ExecutionResult) -> list[str | None]:
    return [event.state for event in result.events if event.type == "StateEntered"]


# --- Retry ----------------------------------------------------------------------------------------


def test_retries_with_exponential_backoff_until_success() -> None:
    handler = Flaky(["E", "E", "E"])
    result, sleeps = run(
        {"Retry": [{"ErrorEquals": ["E"], "IntervalSeconds": 2, "BackoffRate": 3, "MaxAttempts": 3}]}, handler
    )
    assert result.status == "SUCCEEDED"
    assert result.output == "done"
    assert sleeps == [2, 6, 18]
    assert len(handler.calls) == 4


def test_retry_defaults_are_one_second_three_attempts_and_rate_two() -> None:
    handler = Flaky(["E"] * 10)
    result, sleeps = run({"Retry": [{"ErrorEquals": ["E"]}]}, handler)
    assert sleeps == [1, 2, 4]
    assert len(handler.calls) == 4
    assert (result.status, result.error, result.cause) == ("FAILED", "E", "E on call 4")


def test_max_attempts_zero_never_retries() -> None:
    handler = Flaky(["E", "E"])
    result, sleeps = run(
        {
            "Retry": [{"ErrorEquals": ["E"], "MaxAttempts": 0}],
            "Catch": [{"ErrorEquals": ["E"], "Next": "Caught"}],
        },
        handler,
    )
    assert sleeps == []
    assert len(handler.calls) == 1
    assert reached(result) == ["Work", "Caught"]


def test_max_delay_seconds_caps_the_backoff() -> None:
    handler = Flaky(["E"] * 4)
    result, sleeps = run(
        {
            "Retry": [
                {
                    "ErrorEquals": ["E"],
                    "IntervalSeconds": 10,
                    "BackoffRate": 3,
                    "MaxAttempts": 4,
                    "MaxDelaySeconds": 50,
                }
            ]
        },
        handler,
    )
    assert result.status == "SUCCEEDED"
    assert sleeps == [10, 30, 50, 50]


def test_full_jitter_draws_each_delay_uniformly_below_the_backoff_from_the_injected_random() -> None:
    handler = Flaky(["E"] * 4)
    retry = {
        "ErrorEquals": ["E"],
        "IntervalSeconds": 10,
        "BackoffRate": 2,
        "MaxAttempts": 4,
        "MaxDelaySeconds": 60,
        "JitterStrategy": "FULL",
    }
    result, sleeps = run({"Retry": [retry]}, handler, random=random.Random(7))
    reference = random.Random(7)
    assert sleeps == [reference.uniform(0, cap) for cap in (10, 20, 40, 60)]
    assert all(0 <= delay <= cap for delay, cap in zip(sleeps, (10, 20, 40, 60), strict=True))
    assert result.status == "SUCCEEDED"
    again, _ = run({"Retry": [retry]}, Flaky(["E"] * 4), random=random.Random(7))
    assert [e.details["delay_seconds"] for e in again.events if e.type == "TaskRetry"] == sleeps


def test_jitter_none_is_the_plain_backoff() -> None:
    _, sleeps = run(
        {"Retry": [{"ErrorEquals": ["E"], "JitterStrategy": "NONE", "MaxAttempts": 2}]},
        Flaky(["E", "E"]),
        random=random.Random(7),
    )
    assert sleeps == [1, 2]


def test_each_retrier_counts_its_own_attempts_as_documented() -> None:
    """The AWS "complex retry scenario" (current text): ErrorA, ErrorB, ErrorC, then ErrorB goes to Catch."""
    handler = Flaky(["ErrorA", "ErrorB", "ErrorC", "ErrorB", "ErrorB"])
    task = {
        "Retry": [
            {"ErrorEquals": ["ErrorA", "ErrorB"], "IntervalSeconds": 1, "BackoffRate": 2.0, "MaxAttempts": 2},
            {"ErrorEquals": ["ErrorC"], "IntervalSeconds": 5},
        ],
        "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Z"}],
    }
    result, sleeps = run(task, handler)
    assert sleeps == [1, 2, 5]  # the fourth error finds the first retrier's two attempts used up
    assert len(handler.calls) == 4
    assert reached(result) == ["Work", "Z"]
    assert result.output == {"Error": "ErrorB", "Cause": "ErrorB on call 4"}


def test_the_first_matching_retrier_is_used_even_when_a_later_one_matches() -> None:
    handler = Flaky(["E", "E"])
    result, sleeps = run(
        {
            "Retry": [
                {"ErrorEquals": ["E"], "IntervalSeconds": 3, "MaxAttempts": 1},
                {"ErrorEquals": ["States.ALL"], "IntervalSeconds": 7},
            ]
        },
        handler,
    )
    assert sleeps == [3]  # once its attempts are spent the error is not handed to the next retrier
    assert (result.status, result.error) == ("FAILED", "E")


def test_retry_count_is_in_the_context_object_and_the_task_context() -> None:
    handler = Flaky(["E", "E"])
    result, _ = run(
        {
            "Parameters": {"retry.$": "$$.State.RetryCount", "name.$": "$$.State.Name"},
            "Retry": [{"ErrorEquals": ["E"]}],
        },
        handler,
    )
    assert [payload for payload, _ in handler.calls] == [{"retry": n, "name": "Work"} for n in range(3)]
    assert [context.retry_count for _, context in handler.calls] == [0, 1, 2]
    assert result.status == "SUCCEEDED"


def test_task_retry_events_report_error_attempt_and_delay() -> None:
    result, _ = run({"Retry": [{"ErrorEquals": ["E"], "IntervalSeconds": 2}]}, Flaky(["E", "E"]))
    retries = [event for event in result.events if event.type == "TaskRetry"]
    assert [
        (e.state, e.details["error"], e.details["attempt"], e.details["delay_seconds"]) for e in retries
    ] == [
        ("Work", "E", 1, 2.0),
        ("Work", "E", 2, 4.0),
    ]
    assert retries[0].details["cause"] == "E on call 1"


def test_states_all_retries_any_error_and_task_failed_matches_handler_exceptions() -> None:
    result, sleeps = run(
        {"Retry": [{"ErrorEquals": ["States.ALL"], "MaxAttempts": 1}]}, Flaky(["Custom.Error"])
    )
    assert (result.status, sleeps) == ("SUCCEEDED", [1])
    result, sleeps = run(
        {"Retry": [{"ErrorEquals": ["States.TaskFailed"], "MaxAttempts": 2}]},
        Flaky([ValueError("boom"), "Glue.ThrottlingException"]),
    )
    assert (result.status, sleeps) == ("SUCCEEDED", [1, 2])


def test_task_failed_does_not_match_a_timeout_but_states_all_does() -> None:
    task = {
        "Catch": [
            {"ErrorEquals": ["States.TaskFailed"], "Next": "Caught"},
            {"ErrorEquals": ["States.ALL"], "Next": "CaughtToo"},
        ]
    }
    result, _ = run(task, Flaky(["States.Timeout"]))
    assert reached(result) == ["Work", "CaughtToo"]
    result, _ = run(task, Flaky(["Anything.Else"]))
    assert reached(result) == ["Work", "Caught"]


def test_states_timeout_also_matches_a_heartbeat_timeout() -> None:
    result, _ = run(
        {"Catch": [{"ErrorEquals": ["States.Timeout"], "Next": "Caught"}]}, Flaky(["States.HeartbeatTimeout"])
    )
    assert reached(result) == ["Work", "Caught"]


def test_states_runtime_is_neither_retried_nor_caught() -> None:
    handler = Flaky([])
    task = {
        "InputPath": "$.missing",
        "Retry": [{"ErrorEquals": ["States.Runtime"]}, {"ErrorEquals": ["States.ALL"]}],
        "Catch": [
            {"ErrorEquals": ["States.Runtime"], "Next": "Caught"},
            {"ErrorEquals": ["States.ALL"], "Next": "CaughtToo"},
        ],
    }
    result, sleeps = run(task, handler)
    assert (result.status, result.error) == ("FAILED", "States.Runtime")
    assert sleeps == []
    assert handler.calls == []
    assert reached(result) == ["Work"]
    assert [e.type for e in result.events][-2:] == ["StateFailed", "ExecutionFailed"]


def test_a_parallel_state_is_retried_as_a_whole() -> None:
    attempts = {"n": 0}

    def sometimes(payload: Any, context: TaskContext) -> Any:
        attempts["n"] += 1
        if attempts["n"] == 1:
            raise TaskFailedError("Transient", "first time")
        return payload

    definition = {
        "StartAt": "P",
        "States": {
            "P": {
                "Type": "Parallel",
                "Branches": [
                    {"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": ARN, "End": True}}},
                    {"StartAt": "B", "States": {"B": {"Type": "Pass", "Result": "b", "End": True}}},
                ],
                "Retry": [{"ErrorEquals": ["Transient"], "IntervalSeconds": 4}],
                "End": True,
            }
        },
    }
    sleeps: list[float] = []
    result = StateMachine(definition, {ARN: sometimes}, sleep=sleeps.append).execute({"x": 1}, name="e")
    assert result.status == "SUCCEEDED"
    assert result.output == [{"x": 1}, "b"]
    assert sleeps == [4]
    assert attempts["n"] == 2


# --- Catch ----------------------------------------------------------------------------------------


def test_catch_default_result_path_replaces_the_input_with_the_error_output() -> None:
    result, _ = run({"Catch": [{"ErrorEquals": ["E"], "Next": "Caught"}]}, Flaky(["E"]))
    assert result.status == "SUCCEEDED"
    assert result.output == {"Error": "E", "Cause": "E on call 1"}


def test_catch_result_path_adds_the_error_to_the_raw_input() -> None:
    task = {
        "InputPath": "$.in",
        "Catch": [{"ErrorEquals": ["E"], "ResultPath": "$.error.info", "Next": "Caught"}],
    }
    result, _ = run(task, Flaky(["E"]), {"in": 1, "other": True})
    assert result.output == {
        "in": 1,
        "other": True,
        "error": {"info": {"Error": "E", "Cause": "E on call 1"}},
    }


def test_catch_result_path_null_keeps_the_raw_input() -> None:
    result, _ = run(
        {"Catch": [{"ErrorEquals": ["E"], "ResultPath": None, "Next": "Caught"}]},
        Flaky(["E"]),
        {"keep": "me"},
    )
    assert result.output == {"keep": "me"}


def test_catchers_are_evaluated_in_order() -> None:
    task = {
        "Catch": [
            {"ErrorEquals": ["Other"], "Next": "Z"},
            {"ErrorEquals": ["Other", "E"], "Next": "Caught"},
            {"ErrorEquals": ["States.ALL"], "Next": "CaughtToo"},
        ]
    }
    result, _ = run(task, Flaky(["E"]))
    assert reached(result) == ["Work", "Caught"]
    result, _ = run(task, Flaky(["Unknown"]))
    assert reached(result) == ["Work", "CaughtToo"]


def test_catch_applies_only_after_the_retries_are_exhausted() -> None:
    handler = Flaky(["E"] * 5)
    result, sleeps = run(
        {
            "Retry": [{"ErrorEquals": ["E"], "MaxAttempts": 2}],
            "Catch": [{"ErrorEquals": ["E"], "ResultPath": "$.error", "Next": "Caught"}],
        },
        handler,
    )
    assert sleeps == [1, 2]
    assert len(handler.calls) == 3
    assert result.output == {"in": 1, "error": {"Error": "E", "Cause": "E on call 3"}}
    types = [event.type for event in result.events]
    assert types == [
        "ExecutionStarted",
        "StateEntered",
        "TaskRetry",
        "TaskRetry",
        "StateFailed",
        "TaskCaught",
        "StateEntered",
        "StateExited",
        "ExecutionSucceeded",
    ]
    caught = next(event for event in result.events if event.type == "TaskCaught")
    assert caught.details["next"] == "Caught"
    assert caught.details["catcher"] == 0


def test_an_uncaught_error_fails_the_execution_with_its_error_and_cause() -> None:
    result, _ = run({"Catch": [{"ErrorEquals": ["Other"], "Next": "Caught"}]}, Flaky(["E"]))
    assert (result.status, result.output, result.error, result.cause) == ("FAILED", None, "E", "E on call 1")
    failed = next(event for event in result.events if event.type == "StateFailed")
    assert (failed.state, failed.details["error"], failed.details["cause"]) == ("Work", "E", "E on call 1")
    assert failed.details["duration_seconds"] >= 0


def test_a_handler_bug_becomes_states_task_failed_and_can_be_caught() -> None:
    result, _ = run(
        {"Catch": [{"ErrorEquals": ["States.TaskFailed"], "Next": "Caught"}]}, Flaky([KeyError("bucket")])
    )
    assert result.output == {"Error": "States.TaskFailed", "Cause": "KeyError: 'bucket'"}


def test_a_result_path_match_failure_on_the_state_can_be_caught() -> None:
    result, _ = run(
        {
            "ResultPath": "$.in.value",
            "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Caught"}],
        },
        Flaky([]),
        {"in": 1},
    )
    assert result.status == "SUCCEEDED"
    assert result.output["error"]["Error"] == "States.ResultPathMatchFailure"


def test_a_catcher_whose_result_path_cannot_apply_fails_the_execution() -> None:
    result, _ = run(
        {"Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Caught"}]},
        Flaky(["E"]),
        "a string input",
    )
    assert (result.status, result.error) == ("FAILED", "States.ResultPathMatchFailure")


# --- TimeoutSeconds -------------------------------------------------------------------------------


def blocking(release: threading.Event) -> Callable[[Any, TaskContext], Any]:
    def handler(payload: Any, context: TaskContext) -> Any:
        release.wait(10)
        return "late"

    return handler


def test_timeout_seconds_fails_a_slow_task_with_states_timeout() -> None:
    release = threading.Event()
    started = time.monotonic()
    try:
        result, _ = run(
            {"TimeoutSeconds": 1, "Catch": [{"ErrorEquals": ["States.Timeout"], "Next": "Caught"}]},
            blocking(release),
        )
    finally:
        release.set()
    assert time.monotonic() - started < 5
    assert reached(result) == ["Work", "Caught"]
    assert result.output == {"Error": "States.Timeout", "Cause": ""}  # AWS records no cause for a timeout


def test_timeout_seconds_path_and_retrying_a_timeout() -> None:
    release = threading.Event()
    calls: list[int] = []

    def slow_then_fast(payload: Any, context: TaskContext) -> Any:
        calls.append(context.retry_count)
        if context.retry_count == 0:
            release.wait(10)
        return "fast"

    try:
        result, sleeps = run(
            {"TimeoutSecondsPath": "$.limit", "Retry": [{"ErrorEquals": ["States.Timeout"]}]},
            slow_then_fast,
            {"limit": 1},
        )
    finally:
        release.set()
    assert (result.status, result.output, sleeps, calls) == ("SUCCEEDED", "fast", [1], [0, 1])


def test_a_fast_task_is_not_timed_out() -> None:
    result, _ = run({"TimeoutSeconds": 5}, lambda payload, context: {"ok": True})
    assert result.output == {"ok": True}


# --- validation -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("task", "message"),
    [
        ({"Retry": [{"ErrorEquals": ["States.ALL", "E"]}]}, "States.ALL must be alone"),
        ({"Retry": [{"ErrorEquals": ["States.ALL"]}, {"ErrorEquals": ["E"]}]}, "States.ALL must be alone"),
        (
            {"Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Z"}, {"ErrorEquals": ["E"], "Next": "Z"}]},
            "Catch[0]: States.ALL must be alone in ErrorEquals and in the last Catch entry",
        ),
        ({"Catch": [{"ErrorEquals": ["E", "States.ALL"], "Next": "Z"}]}, "States.ALL must be alone"),
        ({"Retry": [{"ErrorEquals": []}]}, "non-empty array"),
        ({"Retry": [{}]}, "ErrorEquals"),
        ({"Retry": [{"ErrorEquals": ["E"], "BackoffRate": 0.5}]}, "BackoffRate"),
        ({"Retry": [{"ErrorEquals": ["E"], "MaxAttempts": -1}]}, "MaxAttempts"),
        ({"Retry": [{"ErrorEquals": ["E"], "IntervalSeconds": 0}]}, "IntervalSeconds"),
        ({"Retry": [{"ErrorEquals": ["E"], "IntervalSeconds": 1.5}]}, "IntervalSeconds"),
        ({"Retry": [{"ErrorEquals": ["E"], "MaxDelaySeconds": 0}]}, "MaxDelaySeconds"),
        ({"Retry": [{"ErrorEquals": ["E"], "JitterStrategy": "HALF"}]}, "JitterStrategy"),
        ({"Retry": [{"ErrorEquals": ["E"], "Backoff": 2}]}, "'Backoff' is not allowed"),
        ({"Retry": {"ErrorEquals": ["E"]}}, "Retry must be an array"),
        ({"Catch": [{"ErrorEquals": ["E"]}]}, "needs Next"),
        ({"Catch": [{"ErrorEquals": ["E"], "Next": "Nowhere"}]}, "Catch[0].Next names 'Nowhere'"),
        ({"Catch": [{"ErrorEquals": ["E"], "Next": "Z", "ResultPath": "$.a[*]"}]}, "not a reference path"),
        ({"TimeoutSeconds": 0}, "TimeoutSeconds must be an integer"),
        ({"TimeoutSeconds": 5, "TimeoutSecondsPath": "$.t"}, "not both"),
        ({"TimeoutSeconds": 5, "HeartbeatSeconds": 5}, "HeartbeatSeconds must be smaller"),
    ],
)
def test_invalid_retry_catch_and_timeout_fields_are_refused(task: dict[str, Any], message: str) -> None:
    with pytest.raises(
        AslDefinitionError,
        match=r"^state 'Work': .*"
        + message.replace("[", r"\[").replace("]", r"\]").replace(".", r"\.").replace("(", r"\("),
    ):
        task_machine(task, Flaky([]))


def test_heartbeat_seconds_is_accepted_and_ignored() -> None:
    result, _ = run({"HeartbeatSeconds": 1, "TimeoutSeconds": 10}, lambda p, c: "ok")
    assert result.output == "ok"
