"""Failures worded as AWS words them: the States.Runtime prefix and its event id, Wait and path causes,
States.DataLimitExceeded, HeartbeatSecondsPath and Wait delays past AWS's limit."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from etl.errors import TaskFailedError
from etl.stepfunctions import ExecutionResult, StateMachine, TaskContext

FUNCTION = "arn:aws:lambda:us-east-1:123456789012:function:work"
INVOKE = "arn:aws:states:::lambda:invoke"
LIMIT = 262_144  # bytes of JSON a state may return


def execute(
    states: dict[str, Any], data: Any = None, handlers: dict[str, Any] | None = None, **options: Any
) -> ExecutionResult:
    definition = {"StartAt": next(iter(states)), "States": states}
    options.setdefault("sleep", lambda seconds: None)
    return StateMachine(definition, handlers or {}, **options).execute({} if data is None else data, name="e")


def prefix(state: str, event_id: int) -> str:
    return f"An error occurred while executing the state '{state}' (entered at the event id #{event_id}). "


# --- the States.Runtime prefix and the event id ---------------------------------------------------


def test_a_missing_input_path_in_the_first_state_names_it_entered_at_event_2() -> None:
    result = execute({"P": {"Type": "Pass", "InputPath": "$.nope", "End": True}}, {"a": 1})
    assert (result.error, result.cause) == (
        "States.Runtime",
        prefix("P", 2) + "Invalid path '$.nope' : No results for path: $['nope']",
    )


def test_a_missing_property_on_the_way_is_named_as_jayway_names_it() -> None:
    result = execute({"P": {"Type": "Pass", "OutputPath": "$.a.b.c", "End": True}}, {"x": 1})
    assert result.cause == prefix("P", 2) + "Invalid path '$.a.b.c' : Missing property in path $['a']"


def test_a_fail_state_after_a_pass_was_entered_at_event_4() -> None:
    states = {
        "P": {"Type": "Pass", "Result": {"Error": "boom"}, "Next": "F"},
        "F": {"Type": "Fail", "ErrorPath": "$.Missing"},
    }
    result = execute(states)
    assert result.cause == prefix("F", 4) + (
        "The JSONPath '$.Missing' specified for the field 'ErrorPath' could not be found in the input "
        """'{"Error":"boom"}'"""
    )


def test_each_task_attempt_counts_scheduled_started_and_its_outcome() -> None:
    calls: list[int] = []

    def flaky(payload: Any, context: TaskContext) -> Any:
        calls.append(context.retry_count)
        if len(calls) == 1:
            raise TaskFailedError("Boom", "first call")
        return {"ok": True}

    states = {
        # Entered #2; attempt 1: #3-#5; attempt 2: #6-#8; Exited #9
        "T": {"Type": "Task", "Resource": FUNCTION, "Retry": [{"ErrorEquals": ["Boom"]}], "Next": "P"},
        "P": {"Type": "Pass", "Parameters": {"v.$": "$.missing"}, "End": True},
    }
    result = execute(states, handlers={FUNCTION: flaky})
    assert calls == [0, 1]
    assert result.cause == prefix("P", 10) + (
        """The JSONPath '$.missing' specified for the field 'v.$' could not be found in the input '{"ok":true}'"""
    )


def test_a_failure_inside_a_parallel_branch_keeps_the_inner_state_and_is_not_prefixed_twice() -> None:
    branch = {"StartAt": "B", "States": {"B": {"Type": "Pass", "InputPath": "$.gone", "End": True}}}
    result = execute({"Par": {"Type": "Parallel", "Branches": [branch], "End": True}})
    # Par entered #2, ParallelStateStarted #3, B entered #4
    assert result.cause == prefix("B", 4) + "Invalid path '$.gone' : No results for path: $['gone']"


def test_states_runtime_is_still_not_caught_by_a_catcher_naming_it() -> None:
    states = {
        "T": {
            "Type": "Task",
            "Resource": FUNCTION,
            "OutputPath": "$.nothing.here",
            "Catch": [{"ErrorEquals": ["States.Runtime"], "Next": "Caught"}],
            "End": True,
        },
        "Caught": {"Type": "Pass", "End": True},
    }
    result = execute(states, handlers={FUNCTION: lambda payload, context: {}})
    assert result.cause == prefix("T", 2) + "Invalid path '$.nothing.here' : Missing property in path $['nothing']"


# --- Wait -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "detail"),
    [
        ("SecondsPath", -1, "The SecondsPath parameter references a negative value: $.w == -1"),
        ("SecondsPath", 1.5, "The SecondsPath parameter cannot be parsed as a long value: $.w == 1.5"),
        ("SecondsPath", -1.5, "The SecondsPath parameter cannot be parsed as a long value: $.w == -1.5"),
        ("SecondsPath", "7", "The SecondsPath parameter cannot be parsed as a long value: $.w == 7"),
        (
            "TimestampPath",
            "2016-12-05 21:29:29Z",
            "The TimestampPath parameter does not reference a valid ISO-8601 extended offset date-time "
            "format string: $.w == 2016-12-05 21:29:29Z",
        ),
        (
            "TimestampPath",
            "2016-12-05T21:29:29",
            "The TimestampPath parameter does not reference a valid ISO-8601 extended offset date-time "
            "format string: $.w == 2016-12-05T21:29:29",
        ),
    ],
)
def test_wait_paths_selecting_bad_values_fail_with_aws_words(field: str, value: Any, detail: str) -> None:
    sleeps: list[float] = []
    result = execute({"W": {"Type": "Wait", field: "$.w", "End": True}}, {"w": value}, sleep=sleeps.append)
    assert (result.error, result.cause, sleeps) == ("States.Runtime", prefix("W", 2) + detail, [])


def test_a_wait_past_two_to_the_31_seconds_is_too_long() -> None:
    now = datetime(2024, 6, 3, 10, 0, 0, tzinfo=UTC)
    sleeps: list[float] = []
    limit = {"Type": "Wait", "SecondsPath": "$.s", "End": True}
    assert execute({"W": limit}, {"s": 2**31 - 1}, sleep=sleeps.append).status == "SUCCEEDED"
    assert sleeps == [2**31 - 1]
    result = execute({"W": limit}, {"s": 2**31}, sleep=sleeps.append)
    assert (result.error, result.cause) == ("States.Runtime", prefix("W", 2) + "Wait state delay is too long.")
    far = {"Type": "Wait", "TimestampPath": "$.at", "End": True}
    result = execute({"W": far}, {"at": "2092-06-22T10:00:00Z"}, clock=lambda: now)  # 24,856 days ahead
    assert result.cause == prefix("W", 2) + "Wait state delay is too long."
    assert sleeps == [2**31 - 1]


# --- HeartbeatSecondsPath -------------------------------------------------------------------------


def test_a_missing_heartbeat_seconds_path_fails_before_the_task_runs() -> None:
    calls: list[Any] = []
    task = {"Type": "Task", "Resource": FUNCTION, "HeartbeatSecondsPath": "$.beat", "End": True}
    result = execute({"T": task}, {"x": 1}, {FUNCTION: lambda payload, context: calls.append(payload)})
    assert (result.error, result.cause, calls) == (
        "States.Runtime",
        prefix("T", 2) + "Invalid path '$.beat' : No results for path: $['beat']",
        [],
    )
    assert execute({"T": task}, {"beat": 5}, {FUNCTION: lambda payload, context: "ran"}).output == "ran"


# --- States.DataLimitExceeded ---------------------------------------------------------------------


def big_task(resource: str, result: Any, catch: str) -> dict[str, Any]:
    return {
        "T": {
            "Type": "Task",
            "Resource": resource,
            "Catch": [{"ErrorEquals": [catch], "Next": "Caught"}],
            "End": True,
        },
        "Caught": {"Type": "Pass", "End": True},
    }


@pytest.mark.parametrize(
    ("resource", "catch", "named"),
    [(FUNCTION, "States.DataLimitExceeded", FUNCTION), (INVOKE, "States.ALL", "lambda")],
)
def test_a_task_result_over_256_kib_is_data_limit_exceeded_and_can_be_caught(
    resource: str, catch: str, named: str
) -> None:
    too_big = "a" * (LIMIT - 1)  # with its two quotes, one byte over
    result = execute(big_task(resource, too_big, catch), handlers={resource: lambda payload, context: too_big})
    assert result.output == {
        "Error": "States.DataLimitExceeded",
        "Cause": f"The state/task '{named}' returned a result with a size exceeding the maximum number of "
        "bytes service limit.",
    }


def test_the_limit_counts_utf8_bytes_and_a_result_of_exactly_256_kib_passes() -> None:
    def run(value: str) -> ExecutionResult:
        states = {"T": {"Type": "Task", "Resource": FUNCTION, "End": True}}
        return execute(states, handlers={FUNCTION: lambda payload, context: value})

    assert run("a" * (LIMIT - 2)).status == "SUCCEEDED"
    assert run("é" * ((LIMIT - 2) // 2)).status == "SUCCEEDED"
    assert run("é" * ((LIMIT - 2) // 2 + 1)).error == "States.DataLimitExceeded"


def test_a_pass_result_over_256_kib_fails_the_execution_naming_the_state() -> None:
    result = execute({"Big": {"Type": "Pass", "Result": {"Arg1": "a" * LIMIT}, "End": True}})
    assert (result.error, result.cause) == (
        "States.DataLimitExceeded",
        "The state/task 'Big' returned a result with a size exceeding the maximum number of bytes service limit.",
    )
