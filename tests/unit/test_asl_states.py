"""Each state type and field, the context object, events, Parallel concurrency and definition validation."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from etl.errors import AslDefinitionError, TaskFailedError
from etl.stepfunctions import ExecutionEvent, ExecutionResult, StateMachine, TaskContext

ARN = "arn:aws:states:::lambda:invoke"
T0 = datetime(2024, 1, 1, tzinfo=UTC)


def machine(states: dict[str, Any], handlers: dict[str, Any] | None = None, **options: Any) -> StateMachine:
    return StateMachine({"StartAt": next(iter(states)), "States": states}, handlers or {}, **options)


def execute(
    states: dict[str, Any], data: Any = None, handlers: dict[str, Any] | None = None, **options: Any
) -> ExecutionResult:
    return machine(states, handlers, **options).execute({} if data is None else data, name="exec-1")


def entered(result: ExecutionResult) -> list[str | None]:
    return [event.state for event in result.events if event.type == "StateEntered"]


class Clock:
    """A clock that moves one millisecond each time it is read."""

    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def __call__(self) -> datetime:
        self.now += timedelta(milliseconds=1)
        return self.now


# --- Pass -----------------------------------------------------------------------------------------


def test_pass_without_result_passes_its_input() -> None:
    assert execute({"P": {"Type": "Pass", "End": True}}, {"a": [1, 2]}).output == {"a": [1, 2]}


def test_pass_result_with_result_path() -> None:
    result = execute({"P": {"Type": "Pass", "Result": {"x": 1}, "ResultPath": "$.r", "End": True}}, {"a": 1})
    assert result.output == {"a": 1, "r": {"x": 1}}


def test_pass_parameters_build_the_output() -> None:
    states = {
        "P": {"Type": "Pass", "InputPath": "$.in", "Parameters": {"v.$": "$.v", "k": "const"}, "End": True}
    }
    assert execute(states, {"in": {"v": 3}}).output == {"v": 3, "k": "const"}


def test_pass_result_wins_over_parameters() -> None:
    states = {"P": {"Type": "Pass", "Parameters": {"v.$": "$.v"}, "Result": "fixed", "End": True}}
    assert execute(states, {"v": 3}).output == "fixed"


def test_pass_output_path_and_next() -> None:
    states = {
        "A": {"Type": "Pass", "Result": {"keep": 1, "drop": 2}, "OutputPath": "$.keep", "Next": "B"},
        "B": {"Type": "Pass", "ResultPath": "$", "End": True},
    }
    result = execute(states)
    assert result.output == 1
    assert entered(result) == ["A", "B"]


# --- Task -----------------------------------------------------------------------------------------


def test_task_handler_gets_the_effective_input_and_a_task_context() -> None:
    calls: list[tuple[Any, TaskContext]] = []

    def handler(payload: Any, context: TaskContext) -> Any:
        calls.append((payload, context))
        return {"ok": True}

    states = {
        "T": {
            "Type": "Task",
            "Resource": ARN,
            "InputPath": "$.job",
            "Parameters": {"Name.$": "$.name"},
            "End": True,
        }
    }
    clock = Clock()
    result = execute(states, {"job": {"name": "j1"}}, {ARN: handler}, clock=clock)
    assert result.output == {"ok": True}
    payload, context = calls[0]
    assert payload == {"Name": "j1"}
    assert (context.execution_name, context.state_name, context.retry_count, context.resource) == (
        "exec-1",
        "T",
        0,
        ARN,
    )
    assert context.execution_input == {"job": {"name": "j1"}}
    assert context.entered_time.tzinfo is not None and T0 < context.entered_time < clock.now


def test_a_handler_mutating_its_input_does_not_change_the_state_data() -> None:
    def mutate(payload: Any, context: TaskContext) -> Any:
        payload["added"] = True
        context.execution_input["added"] = True
        return None

    states = {
        "T": {"Type": "Task", "Resource": ARN, "ResultPath": None, "Next": "P"},
        "P": {"Type": "Pass", "Parameters": {"original.$": "$$.Execution.Input", "now.$": "$"}, "End": True},
    }
    result = execute(states, {"a": 1}, {ARN: mutate})
    assert result.output == {"original": {"a": 1}, "now": {"a": 1}}


def test_task_results_are_converted_to_json() -> None:
    result = execute(
        {"T": {"Type": "Task", "Resource": ARN, "End": True}}, {}, {ARN: lambda p, c: (1, {2: "x"})}
    )
    assert result.output == [1, {"2": "x"}]


def test_a_result_that_is_not_json_is_a_task_failure() -> None:
    result = execute({"T": {"Type": "Task", "Resource": ARN, "End": True}}, {}, {ARN: lambda p, c: {1, 2}})
    assert (result.status, result.error) == ("FAILED", "States.TaskFailed")
    assert "not JSON" in (result.cause or "")


def test_task_failed_error_sets_the_error_name_and_cause() -> None:
    def fail(payload: Any, context: TaskContext) -> Any:
        raise TaskFailedError("Glue.CrawlerRunningException", "Crawler with name raw has already started")

    result = execute({"T": {"Type": "Task", "Resource": ARN, "End": True}}, {}, {ARN: fail})
    assert (result.status, result.error, result.cause) == (
        "FAILED",
        "Glue.CrawlerRunningException",
        "Crawler with name raw has already started",
    )


def test_any_other_exception_is_states_task_failed_with_type_and_message() -> None:
    def broken(payload: Any, context: TaskContext) -> Any:
        raise ZeroDivisionError("division by zero")

    result = execute({"T": {"Type": "Task", "Resource": ARN, "End": True}}, {}, {ARN: broken})
    assert (result.error, result.cause) == ("States.TaskFailed", "ZeroDivisionError: division by zero")


# --- Choice ---------------------------------------------------------------------------------------


def choose(rule: dict[str, Any], data: Any) -> str | None:
    states = {
        "C": {"Type": "Choice", "Choices": [{**rule, "Next": "Yes"}], "Default": "No"},
        "Yes": {"Type": "Succeed"},
        "No": {"Type": "Succeed"},
    }
    result = execute(states, data)
    assert result.status == "SUCCEEDED", (result.error, result.cause)
    return entered(result)[-1]


CHOICE_CASES = [
    ({"Variable": "$.v", "StringEquals": "a"}, {"v": "a"}, True),
    ({"Variable": "$.v", "StringEquals": "a"}, {"v": "b"}, False),
    ({"Variable": "$.v", "StringEquals": "1"}, {"v": 1}, False),
    ({"Variable": "$.v", "StringLessThan": "b"}, {"v": "a"}, True),
    ({"Variable": "$.v", "StringLessThan": "a"}, {"v": "a"}, False),
    ({"Variable": "$.v", "StringGreaterThan": "a"}, {"v": "b"}, True),
    ({"Variable": "$.v", "StringLessThanEquals": "b"}, {"v": "b"}, True),
    ({"Variable": "$.v", "StringGreaterThanEquals": "c"}, {"v": "b"}, False),
    ({"Variable": "$.v", "StringLessThan": "\uffff"}, {"v": "\U0001f600"}, True),  # UTF-16 order, as Java
    ({"Variable": "$.v", "StringEqualsPath": "$.w"}, {"v": "x", "w": "x"}, True),
    ({"Variable": "$.v", "StringLessThanPath": "$.w"}, {"v": "x", "w": "y"}, True),
    ({"Variable": "$.v", "StringGreaterThanPath": "$.w"}, {"v": "x", "w": "y"}, False),
    ({"Variable": "$.v", "StringLessThanEqualsPath": "$.w"}, {"v": "x", "w": "x"}, True),
    ({"Variable": "$.v", "StringGreaterThanEqualsPath": "$.w"}, {"v": "x", "w": 1}, False),
    ({"Variable": "$.v", "StringMatches": "log-*.txt"}, {"v": "log-2024-01.txt"}, True),
    ({"Variable": "$.v", "StringMatches": "log-*.txt"}, {"v": "log.txt"}, False),
    ({"Variable": "$.v", "StringMatches": "*"}, {"v": ""}, True),
    ({"Variable": "$.v", "StringMatches": "a\\*b"}, {"v": "a*b"}, True),
    ({"Variable": "$.v", "StringMatches": "a\\*b"}, {"v": "axb"}, False),
    ({"Variable": "$.v", "StringMatches": "a.c"}, {"v": "abc"}, False),
    ({"Variable": "$.v", "NumericEquals": 1}, {"v": 1.0}, True),
    ({"Variable": "$.v", "NumericEquals": 1}, {"v": "1"}, False),
    ({"Variable": "$.v", "NumericEquals": 1}, {"v": True}, False),
    ({"Variable": "$.v", "NumericLessThan": 10}, {"v": 9.5}, True),
    ({"Variable": "$.v", "NumericGreaterThan": 10}, {"v": 10}, False),
    ({"Variable": "$.v", "NumericLessThanEquals": 10}, {"v": 10}, True),
    ({"Variable": "$.v", "NumericGreaterThanEquals": 80}, {"v": 80}, True),
    ({"Variable": "$.v", "NumericEqualsPath": "$.w"}, {"v": 2, "w": 2}, True),
    ({"Variable": "$.v", "NumericLessThanPath": "$.w"}, {"v": 1, "w": 2}, True),
    ({"Variable": "$.v", "NumericGreaterThanPath": "$.w"}, {"v": 1, "w": 2}, False),
    ({"Variable": "$.v", "NumericLessThanEqualsPath": "$.w"}, {"v": 2, "w": 2}, True),
    ({"Variable": "$.v", "NumericGreaterThanEqualsPath": "$.w"}, {"v": 3, "w": 2}, True),
    ({"Variable": "$.v", "BooleanEquals": True}, {"v": True}, True),
    ({"Variable": "$.v", "BooleanEquals": False}, {"v": 0}, False),
    ({"Variable": "$.v", "BooleanEqualsPath": "$.w"}, {"v": False, "w": False}, True),
    (
        {"Variable": "$.v", "TimestampEquals": "2001-01-01T12:00:00Z"},
        {"v": "2001-01-01T13:00:00+01:00"},
        True,
    ),
    ({"Variable": "$.v", "TimestampEquals": "2001-01-01T12:00:00Z"}, {"v": "2001-01-01T12:00:00.000Z"}, True),
    (
        {"Variable": "$.v", "TimestampLessThan": "2001-01-01T12:00:00.51Z"},
        {"v": "2001-01-01T12:00:00.5Z"},
        True,
    ),
    (
        {"Variable": "$.v", "TimestampGreaterThan": "2001-01-01T12:00:00Z"},
        {"v": "2001-01-02T00:00:00Z"},
        True,
    ),
    (
        {"Variable": "$.v", "TimestampLessThanEquals": "2001-01-01T12:00:00Z"},
        {"v": "2001-01-01T12:00:00Z"},
        True,
    ),
    (
        {"Variable": "$.v", "TimestampGreaterThanEquals": "2001-01-01T12:00:00Z"},
        {"v": "2000-12-31T23:59:59Z"},
        False,
    ),
    ({"Variable": "$.v", "TimestampEquals": "2001-01-01T12:00:00Z"}, {"v": "2001-01-01 12:00:00Z"}, False),
    ({"Variable": "$.v", "TimestampEquals": "2001-01-01T12:00:00Z"}, {"v": "2001-01-01t12:00:00z"}, False),
    (
        {"Variable": "$.v", "TimestampEqualsPath": "$.w"},
        {"v": "2001-01-01T12:00:00Z", "w": "2001-01-01T12:00:00Z"},
        True,
    ),
    (
        {"Variable": "$.v", "TimestampLessThanPath": "$.w"},
        {"v": "2001-01-01T12:00:00Z", "w": "2002-01-01T00:00:00Z"},
        True,
    ),
    (
        {"Variable": "$.v", "TimestampGreaterThanPath": "$.w"},
        {"v": "2001-01-01T12:00:00Z", "w": "nope"},
        False,
    ),
    (
        {"Variable": "$.v", "TimestampLessThanEqualsPath": "$.w"},
        {"v": "2001-01-01T12:00:00Z", "w": "2001-01-01T12:00:00Z"},
        True,
    ),
    (
        {"Variable": "$.v", "TimestampGreaterThanEqualsPath": "$.w"},
        {"v": "2001-01-01T12:00:00Z", "w": "2001-01-01T12:00:01Z"},
        False,
    ),
    ({"Variable": "$.v", "IsNull": True}, {"v": None}, True),
    ({"Variable": "$.v", "IsNull": False}, {"v": None}, False),
    ({"Variable": "$.v", "IsPresent": True}, {"v": None}, True),
    ({"Variable": "$.v", "IsPresent": True}, {"w": 1}, False),
    ({"Variable": "$.v", "IsPresent": False}, {"w": 1}, True),
    ({"Variable": "$.v.deeper", "IsPresent": True}, {"v": 1}, False),
    ({"Variable": "$.v", "IsNumeric": True}, {"v": 1.5}, True),
    ({"Variable": "$.v", "IsNumeric": True}, {"v": True}, False),
    ({"Variable": "$.v", "IsString": True}, {"v": "s"}, True),
    ({"Variable": "$.v", "IsString": False}, {"v": 1}, True),
    ({"Variable": "$.v", "IsBoolean": True}, {"v": False}, True),
    ({"Variable": "$.v", "IsBoolean": True}, {"v": 0}, False),
    ({"Variable": "$.v", "IsTimestamp": True}, {"v": "2016-03-14T01:59:00Z"}, True),
    ({"Variable": "$.v", "IsTimestamp": True}, {"v": "2016-03-14"}, False),
    ({"Variable": "$.v", "IsTimestamp": True}, {"v": "2016-02-30T01:59:00Z"}, False),
    (
        {
            "And": [
                {"Variable": "$.v", "NumericGreaterThanEquals": 20},
                {"Variable": "$.v", "NumericLessThan": 30},
            ]
        },
        {"v": 22},
        True,
    ),
    (
        {
            "And": [
                {"Variable": "$.v", "NumericGreaterThanEquals": 20},
                {"Variable": "$.v", "NumericLessThan": 30},
            ]
        },
        {"v": 30},
        False,
    ),
    (
        {"Or": [{"Variable": "$.v", "StringEquals": "a"}, {"Variable": "$.v", "StringEquals": "b"}]},
        {"v": "b"},
        True,
    ),
    (
        {"Or": [{"Variable": "$.v", "StringEquals": "a"}, {"Variable": "$.v", "StringEquals": "b"}]},
        {"v": "c"},
        False,
    ),
    ({"Not": {"Variable": "$.type", "StringEquals": "Private"}}, {"type": "Public"}, True),
    ({"Not": {"Variable": "$.type", "StringEquals": "Private"}}, {"type": "Private"}, False),
    ({"Variable": "$$.Execution.Name", "StringEquals": "exec-1"}, {}, True),
    ({"Variable": "$.v", "StringEqualsPath": "$$.Execution.Name"}, {"v": "exec-1"}, True),
]


@pytest.mark.parametrize(("rule", "data", "matches"), CHOICE_CASES)
def test_choice_comparisons(rule: dict[str, Any], data: Any, matches: bool) -> None:
    assert choose(rule, data) == ("Yes" if matches else "No")


def test_choice_rules_are_tried_in_order_and_the_first_match_wins() -> None:
    states = {
        "C": {
            "Type": "Choice",
            "Choices": [
                {"Variable": "$.v", "NumericGreaterThan": 1, "Next": "A"},
                {"Variable": "$.v", "NumericGreaterThan": 0, "Next": "B"},
            ],
        },
        "A": {"Type": "Succeed"},
        "B": {"Type": "Succeed"},
    }
    assert entered(execute(states, {"v": 2}))[-1] == "A"
    assert entered(execute(states, {"v": 1}))[-1] == "B"


def test_no_match_without_default_is_no_choice_matched() -> None:
    states = {
        "C": {"Type": "Choice", "Choices": [{"Variable": "$.v", "BooleanEquals": True, "Next": "A"}]},
        "A": {"Type": "Succeed"},
    }
    result = execute(states, {"v": False})
    assert (result.status, result.error) == ("FAILED", "States.NoChoiceMatched")


def test_a_missing_choice_variable_is_states_runtime() -> None:
    states: dict[str, Any] = {
        "C": {
            "Type": "Choice",
            "Choices": [{"Variable": "$.type", "StringEquals": "x", "Next": "A"}],
            "Default": "A",
        },
        "A": {"Type": "Succeed"},
    }
    result = execute(states, {"value": 1})
    assert (result.status, result.error) == ("FAILED", "States.Runtime")
    assert "$.type" in (result.cause or "")
    path_rule = {"Variable": "$.v", "NumericEqualsPath": "$.missing", "Next": "A"}
    states["C"]["Choices"] = [path_rule]
    assert execute(states, {"v": 1}).error == "States.Runtime"


def test_choice_input_path_and_output_path() -> None:
    states = {
        "C": {
            "Type": "Choice",
            "InputPath": "$.in",
            "OutputPath": "$.keep",
            "Choices": [{"Variable": "$.go", "BooleanEquals": True, "Next": "A"}],
        },
        "A": {"Type": "Succeed"},
    }
    assert execute(states, {"in": {"go": True, "keep": {"k": 1}}, "other": 2}).output == {"k": 1}


# --- Wait -----------------------------------------------------------------------------------------


def wait(state: dict[str, Any], data: Any, **options: Any) -> tuple[ExecutionResult, list[float]]:
    sleeps: list[float] = []
    result = execute({"W": {"Type": "Wait", "End": True, **state}}, data, sleep=sleeps.append, **options)
    return result, sleeps


def test_wait_seconds_sleeps_and_passes_the_input_on() -> None:
    result, sleeps = wait({"Seconds": 5}, {"a": 1})
    assert (result.output, sleeps) == ({"a": 1}, [5])


def test_wait_seconds_path_reads_the_effective_input() -> None:
    result, sleeps = wait(
        {"InputPath": "$.w", "SecondsPath": "$.delay", "OutputPath": "$.delay"}, {"w": {"delay": 7}}
    )
    assert (result.output, sleeps) == (7, [7])


@pytest.mark.parametrize("delay", ["7", -1, 1.5, True])
def test_wait_seconds_path_must_select_a_non_negative_integer(delay: Any) -> None:
    result, sleeps = wait({"SecondsPath": "$.delay"}, {"delay": delay})
    assert (result.status, result.error, sleeps) == ("FAILED", "States.Runtime", [])


def test_wait_timestamp_sleeps_until_the_moment() -> None:
    clock = Clock(datetime(2024, 1, 1, 0, 0, 0, tzinfo=UTC) - timedelta(milliseconds=1))
    _, sleeps = wait({"Timestamp": "2024-01-01T00:01:30Z"}, {}, clock=clock)
    assert len(sleeps) == 1 and 89.99 < sleeps[0] < 90


def test_wait_timestamp_in_the_past_does_not_sleep_a_negative_time() -> None:
    _, sleeps = wait({"Timestamp": "2000-01-01T00:00:00Z"}, {})
    assert sleeps == [0.0]


def test_wait_timestamp_path_with_an_offset() -> None:
    clock = Clock(datetime(2024, 1, 1, 0, 0, 0, tzinfo=UTC))
    _, sleeps = wait({"TimestampPath": "$.at"}, {"at": "2024-01-01T02:00:10+02:00"}, clock=clock)
    assert len(sleeps) == 1 and 9.9 < sleeps[0] < 10
    result, _ = wait({"TimestampPath": "$.at"}, {"at": "tomorrow"})
    assert result.error == "States.Runtime"


# --- Succeed and Fail -----------------------------------------------------------------------------


def test_succeed_ends_the_execution_with_its_filtered_input() -> None:
    states = {
        "C": {
            "Type": "Choice",
            "Choices": [{"Variable": "$.done", "BooleanEquals": True, "Next": "S"}],
            "Default": "F",
        },
        "S": {"Type": "Succeed", "InputPath": "$.result", "OutputPath": "$.value"},
        "F": {"Type": "Fail"},
    }
    result = execute(states, {"done": True, "result": {"value": 42}})
    assert (result.status, result.output) == ("SUCCEEDED", 42)


def test_fail_with_error_and_cause() -> None:
    result = execute({"F": {"Type": "Fail", "Error": "ErrorA", "Cause": "Invalid response."}})
    assert (result.status, result.output, result.error, result.cause) == (
        "FAILED",
        None,
        "ErrorA",
        "Invalid response.",
    )
    assert [event.type for event in result.events] == [
        "ExecutionStarted",
        "StateEntered",
        "StateFailed",
        "ExecutionFailed",
    ]


def test_fail_with_error_path_and_cause_path() -> None:
    states = {
        "F": {"Type": "Fail", "ErrorPath": "$.notification.error", "CausePath": "$.notification.summary"}
    }
    result = execute(states, {"notification": {"error": "Glue.Boom", "summary": "it broke"}})
    assert (result.error, result.cause) == ("Glue.Boom", "it broke")


def test_fail_cause_path_may_be_an_intrinsic_function() -> None:
    states = {
        "F": {
            "Type": "Fail",
            "Error": "Bad",
            "CausePath": "States.Format('run {} failed', $$.Execution.Name)",
        }
    }
    assert execute(states).cause == "run exec-1 failed"


def test_fail_paths_must_select_strings() -> None:
    result = execute({"F": {"Type": "Fail", "ErrorPath": "$.code"}}, {"code": 500})
    assert result.error == "States.Runtime"
    assert execute({"F": {"Type": "Fail", "ErrorPath": "$.missing"}}, {}).error == "States.Runtime"


def test_fail_without_error_or_cause() -> None:
    result = execute({"F": {"Type": "Fail"}})
    assert (result.status, result.error, result.cause) == ("FAILED", None, "")


# --- Parallel -------------------------------------------------------------------------------------


def branch(states: dict[str, Any]) -> dict[str, Any]:
    return {"StartAt": next(iter(states)), "States": states}


def test_parallel_output_is_the_branch_outputs_in_branch_order() -> None:
    states = {
        "P": {
            "Type": "Parallel",
            "Parameters": {"n.$": "$.n"},
            "Branches": [
                branch(
                    {
                        "A": {
                            "Type": "Pass",
                            "Parameters": {"doubled.$": "States.MathAdd($.n, $.n)"},
                            "End": True,
                        }
                    }
                ),
                branch({"B": {"Type": "Pass", "End": True}}),
                branch(
                    {"C": {"Type": "Pass", "Result": "c", "Next": "C2"}, "C2": {"Type": "Pass", "End": True}}
                ),
            ],
            "ResultSelector": {"first.$": "$[0]", "all.$": "$"},
            "ResultPath": "$.parallel",
            "End": True,
        }
    }
    result = execute(states, {"n": 2, "other": 1})
    assert result.output == {
        "n": 2,
        "other": 1,
        "parallel": {"first": {"doubled": 4}, "all": [{"doubled": 4}, {"n": 2}, "c"]},
    }


def test_parallel_branches_run_concurrently() -> None:
    barrier = threading.Barrier(2, timeout=5)

    def meet(payload: Any, context: TaskContext) -> Any:
        barrier.wait()
        return context.state_name

    states = {
        "P": {
            "Type": "Parallel",
            "End": True,
            "Branches": [
                branch({"Left": {"Type": "Task", "Resource": ARN, "End": True}}),
                branch({"Right": {"Type": "Task", "Resource": ARN, "End": True}}),
            ],
        }
    }
    result = execute(states, {}, {ARN: meet})
    assert (result.status, result.output) == ("SUCCEEDED", ["Left", "Right"])


def test_a_failing_branch_fails_the_parallel_and_can_be_caught() -> None:
    states = {
        "P": {
            "Type": "Parallel",
            "Next": "Done",
            "Branches": [
                branch({"Ok": {"Type": "Pass", "End": True}}),
                branch({"Bad": {"Type": "Fail", "Error": "CrawlerFailed", "Cause": "no luck"}}),
            ],
            "Catch": [{"ErrorEquals": ["CrawlerFailed"], "ResultPath": "$.error", "Next": "Handled"}],
        },
        "Done": {"Type": "Succeed"},
        "Handled": {"Type": "Pass", "End": True},
    }
    result = execute(states, {"run": 1})
    assert result.status == "SUCCEEDED"
    assert result.output == {"run": 1, "error": {"Error": "CrawlerFailed", "Cause": "no luck"}}
    assert "Done" not in entered(result)


def test_an_uncaught_branch_failure_fails_the_execution() -> None:
    states = {
        "P": {
            "Type": "Parallel",
            "End": True,
            "Branches": [branch({"Bad": {"Type": "Task", "Resource": ARN, "End": True}})],
        }
    }
    result = execute(states, {}, {ARN: lambda p, c: 1 / 0})
    assert (result.status, result.error, result.cause) == (
        "FAILED",
        "States.TaskFailed",
        "ZeroDivisionError: division by zero",
    )


def test_siblings_of_a_failed_branch_start_no_further_state() -> None:
    sibling_failed = threading.Event()

    def listener(event: ExecutionEvent) -> None:
        if event.type == "StateFailed" and event.state == "Bad":
            sibling_failed.set()

    def slow(payload: Any, context: TaskContext) -> Any:
        assert sibling_failed.wait(5)
        return "slow done"

    states = {
        "P": {
            "Type": "Parallel",
            "End": True,
            "Branches": [
                branch(
                    {
                        "Slow": {"Type": "Task", "Resource": ARN, "Next": "After"},
                        "After": {"Type": "Pass", "End": True},
                    }
                ),
                branch({"Bad": {"Type": "Fail", "Error": "Boom"}}),
            ],
        }
    }
    result = execute(states, {}, {ARN: slow}, listener=listener)
    assert (result.status, result.error) == ("FAILED", "Boom")
    assert "Slow" in entered(result)
    assert "After" not in entered(result)


def test_a_nested_parallel_stopped_by_a_failing_sibling_closes_its_events() -> None:
    sibling_failed = threading.Event()

    def listener(event: ExecutionEvent) -> None:
        if event.type == "StateFailed" and event.state == "Bad":
            sibling_failed.set()

    def slow(payload: Any, context: TaskContext) -> Any:
        assert sibling_failed.wait(5)
        return "slow done"

    inner = {
        "Type": "Parallel",
        "End": True,
        "Branches": [
            branch(
                {
                    "Slow": {"Type": "Task", "Resource": ARN, "Next": "After"},
                    "After": {"Type": "Pass", "End": True},
                }
            )
        ],
    }
    states = {
        "Outer": {
            "Type": "Parallel",
            "End": True,
            "Branches": [branch({"Inner": inner}), branch({"Bad": {"Type": "Fail", "Error": "Boom"}})],
        }
    }
    result = execute(states, {}, {ARN: slow}, listener=listener)
    assert (result.status, result.error) == ("FAILED", "Boom")
    closing = {"StateExited", "StateFailed"}
    opened = [str(e.state) for e in result.events if e.type == "StateEntered"]
    closed = [str(e.state) for e in result.events if e.type in closing]
    assert sorted(opened) == sorted(closed)
    stopped = next(e for e in result.events if e.type == "StateFailed" and e.state == "Inner")
    assert stopped.details["error"] == "States.BranchFailed"
    assert "After" not in opened


def test_nested_parallel_events_carry_the_branch() -> None:
    states = {
        "Outer": {
            "Type": "Parallel",
            "End": True,
            "Branches": [
                branch(
                    {
                        "Inner": {
                            "Type": "Parallel",
                            "End": True,
                            "Branches": [branch({"Leaf": {"Type": "Pass", "End": True}})],
                        }
                    }
                ),
            ],
        }
    }
    result = execute(states, {"x": 1})
    assert result.output == [[{"x": 1}]]
    leaf = next(e for e in result.events if e.type == "StateEntered" and e.state == "Leaf")
    assert leaf.details["branch"] == "Outer[0]/Inner[0]"
    outer = next(e for e in result.events if e.state == "Outer")
    assert "branch" not in outer.details


# --- context object, events and the listener ------------------------------------------------------


def test_the_context_object() -> None:
    states = {
        "First": {"Type": "Pass", "Next": "Ctx"},
        "Ctx": {
            "Type": "Pass",
            "Parameters": {
                "execution.$": "$$.Execution",
                "state.$": "$$.State",
                "machine.$": "$$.StateMachine.Name",
            },
            "End": True,
        },
    }
    clock = Clock()
    result = machine(states, name="etl-pipeline", clock=clock).execute({"in": 1}, name="run-42")
    output = result.output
    assert output["machine"] == "etl-pipeline"
    assert output["execution"]["Name"] == "run-42"
    assert output["execution"]["Input"] == {"in": 1}
    assert output["execution"]["Id"].endswith(":execution:etl-pipeline:run-42")
    assert output["execution"]["StartTime"] == "2024-01-01T00:00:00.001Z"
    assert output["state"]["Name"] == "Ctx"
    assert "RetryCount" not in output["state"]  # a Pass cannot retry; AWS leaves the count out there
    assert re.fullmatch(r"2024-01-01T00:00:00\.\d{3}Z", output["state"]["EnteredTime"])
    assert output["state"]["EnteredTime"] > output["execution"]["StartTime"]


def test_events_are_reported_to_the_listener_and_collected() -> None:
    heard: list[ExecutionEvent] = []
    states = {"A": {"Type": "Pass", "Result": 1, "Next": "B"}, "B": {"Type": "Succeed"}}
    clock = Clock()
    result = machine(states, listener=heard.append, clock=clock).execute({"x": 1}, name="e")
    assert heard == result.events
    assert [(e.type, e.state) for e in heard] == [
        ("ExecutionStarted", None),
        ("StateEntered", "A"),
        ("StateExited", "A"),
        ("StateEntered", "B"),
        ("StateExited", "B"),
        ("ExecutionSucceeded", None),
    ]
    assert heard[0].details["input"] == {"x": 1}
    exited = heard[2]
    assert (exited.details["output"], exited.details["next"]) == (1, "B")
    assert exited.details["duration_seconds"] >= 0
    assert heard[-1].details["output"] == 1
    stamps = [e.timestamp for e in heard]
    assert stamps == sorted(stamps) and all(s.tzinfo is not None for s in stamps)
    assert result.start_time <= stamps[0] and result.stop_time >= stamps[-1]


def test_a_failing_listener_does_not_break_the_execution() -> None:
    def explode(event: ExecutionEvent) -> None:
        raise RuntimeError("listener bug")

    result = machine({"A": {"Type": "Pass", "End": True}}, listener=explode).execute({}, name="e")
    assert result.status == "SUCCEEDED"


def test_the_listener_is_never_called_concurrently() -> None:
    inside = threading.Lock()
    overlaps: list[str] = []

    def careful(event: ExecutionEvent) -> None:
        if not inside.acquire(blocking=False):
            overlaps.append(event.type)
            return
        try:
            threading.Event().wait(0.001)
        finally:
            inside.release()

    branches = [
        branch({f"S{i}": {"Type": "Pass", "Next": f"T{i}"}, f"T{i}": {"Type": "Pass", "End": True}})
        for i in range(4)
    ]
    result = machine(
        {"P": {"Type": "Parallel", "Branches": branches, "End": True}}, listener=careful
    ).execute({}, name="e")
    assert result.status == "SUCCEEDED"
    assert overlaps == []


def test_input_that_is_not_json_fails_the_execution() -> None:
    result = execute({"A": {"Type": "Pass", "End": True}}, {"when": datetime.now(UTC)})
    assert (result.status, result.error) == ("FAILED", "States.Runtime")


def test_a_state_machine_can_run_many_executions() -> None:
    sm = machine({"A": {"Type": "Pass", "Parameters": {"n.$": "$$.Execution.Name"}, "End": True}})
    assert [sm.execute({}, name=n).output for n in ("a", "b")] == [{"n": "a"}, {"n": "b"}]


# --- validation -----------------------------------------------------------------------------------

Build = Callable[[], StateMachine]


def refused(build: Build, pattern: str) -> str:
    with pytest.raises(AslDefinitionError, match=pattern) as caught:
        build()
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_map_is_refused_naming_the_state() -> None:
    refused(
        lambda: machine({"Each": {"Type": "Map", "ItemProcessor": {}, "End": True}}),
        "^state 'Each': Map states are not supported",
    )


def test_a_map_inside_a_parallel_branch_is_refused_naming_the_inner_state() -> None:
    states = {
        "P": {"Type": "Parallel", "End": True, "Branches": [branch({"Inner": {"Type": "Map", "End": True}})]}
    }
    refused(lambda: machine(states), "^state 'Inner': Map")


def test_a_missing_handler_is_refused_naming_the_state_and_the_resource() -> None:
    message = refused(
        lambda: machine(
            {"Run job": {"Type": "Task", "Resource": "arn:aws:states:::glue:startJobRun.sync", "End": True}}
        ),
        "no handler",
    )
    assert "'Run job'" in message and "arn:aws:states:::glue:startJobRun.sync" in message


def test_jsonata_is_refused() -> None:
    refused(
        lambda: StateMachine(
            {"QueryLanguage": "JSONata", "StartAt": "A", "States": {"A": {"Type": "Succeed"}}}, {}
        ),
        "JSONata is not supported",
    )
    refused(
        lambda: machine({"A": {"Type": "Pass", "QueryLanguage": "JSONata", "End": True}}),
        "^state 'A': QueryLanguage JSONata",
    )
    refused(
        lambda: machine({"A": {"Type": "Pass", "Output": "{% $states.input %}", "End": True}}),
        "JSONata field",
    )
    refused(lambda: machine({"A": {"Type": "Pass", "Assign": {"x": 1}, "End": True}}), "variables")


@pytest.mark.parametrize(
    ("definition", "pattern"),
    [
        ([], "must be a JSON object"),
        ({"States": {"A": {"Type": "Succeed"}}}, "needs StartAt"),
        ({"StartAt": "A", "States": {}}, "needs States"),
        ({"StartAt": "B", "States": {"A": {"Type": "Succeed"}}}, "StartAt names 'B'"),
        ({"StartAt": "A", "States": {"A": {"Type": "Succeed"}}, "Extra": 1}, "unknown top-level field"),
        (
            {"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "Nowhere"}}},
            "^state 'A': Next names 'Nowhere'",
        ),
        ({"StartAt": "A", "States": {"A": {"Type": "Pass"}}}, "needs Next"),
        ({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True, "Next": "A"}}}, "not both"),
        (
            {"StartAt": "A", "States": {"A": {"Type": "Succeed"}, "B": {"Type": "Succeed"}}},
            "^state 'B': the state cannot be reached",
        ),
        ({"StartAt": "A", "States": {"A": {"Pass": 1}}}, "unknown state Type None"),
        ({"StartAt": "A", "States": {"A": {"Type": "Sleep"}}}, "unknown state Type 'Sleep'"),
        (
            {"StartAt": "A", "States": {"A": {"Type": "Succeed", "Next": "A"}}},
            "'Next' is not allowed in a Succeed",
        ),
        (
            {"StartAt": "A", "States": {"A": {"Type": "Pass", "ResultSelector": {}, "End": True}}},
            "'ResultSelector' is not allowed",
        ),
        ({"StartAt": "A", "States": {"A": {"Type": "Task", "End": True}}}, "needs Resource"),
        ({"StartAt": "A", "States": {"A": {"Type": "Choice", "Choices": []}}}, "non-empty array of rules"),
        (
            {
                "StartAt": "A",
                "States": {"A": {"Type": "Choice", "Choices": [{"Variable": "$.a", "IsNull": True}]}},
            },
            "needs Next",
        ),
        (
            {
                "StartAt": "A",
                "States": {
                    "A": {
                        "Type": "Choice",
                        "Default": "Z",
                        "Choices": [{"Variable": "$.a", "IsNull": True, "Next": "A"}],
                    }
                },
            },
            "Default names 'Z'",
        ),
        (
            {
                "StartAt": "A",
                "States": {
                    "A": {
                        "Type": "Choice",
                        "Choices": [{"Not": {"Variable": "$.a", "IsNull": True, "Next": "A"}, "Next": "A"}],
                    }
                },
            },
            "only top-level",
        ),
        (
            {
                "StartAt": "A",
                "States": {
                    "A": {
                        "Type": "Choice",
                        "Choices": [{"Variable": "$.a", "IsNull": True, "IsString": True, "Next": "A"}],
                    }
                },
            },
            "exactly one comparison",
        ),
        (
            {
                "StartAt": "A",
                "States": {
                    "A": {
                        "Type": "Choice",
                        "Choices": [{"Variable": "$.a", "StringContains": "x", "Next": "A"}],
                    }
                },
            },
            "unknown comparison operator",
        ),
        (
            {
                "StartAt": "A",
                "States": {
                    "A": {
                        "Type": "Choice",
                        "Choices": [{"Variable": "$.a", "NumericEquals": "1", "Next": "A"}],
                    }
                },
            },
            "must be a number",
        ),
        (
            {
                "StartAt": "A",
                "States": {
                    "A": {
                        "Type": "Choice",
                        "Choices": [{"Variable": "$.a", "TimestampEquals": "2020-01-01", "Next": "A"}],
                    }
                },
            },
            "RFC 3339",
        ),
        (
            {
                "StartAt": "A",
                "States": {
                    "A": {"Type": "Choice", "Choices": [{"Variable": "$.a", "IsNull": "yes", "Next": "A"}]}
                },
            },
            "true or false",
        ),
        (
            {"StartAt": "A", "States": {"A": {"Type": "Choice", "Choices": [{"And": [], "Next": "A"}]}}},
            "non-empty array of rules",
        ),
        (
            {
                "StartAt": "A",
                "States": {"A": {"Type": "Choice", "Choices": [{"StringEquals": "x", "Next": "A"}]}},
            },
            "needs Variable",
        ),
        (
            {
                "StartAt": "A",
                "States": {"A": {"Type": "Wait", "Seconds": 1, "SecondsPath": "$.s", "End": True}},
            },
            "exactly one of",
        ),
        ({"StartAt": "A", "States": {"A": {"Type": "Wait", "Seconds": -1, "End": True}}}, "Seconds must be"),
        ({"StartAt": "A", "States": {"A": {"Type": "Wait", "Timestamp": "soon", "End": True}}}, "RFC 3339"),
        ({"StartAt": "A", "States": {"A": {"Type": "Fail", "Error": "E", "ErrorPath": "$.e"}}}, "not both"),
        (
            {"StartAt": "A", "States": {"A": {"Type": "Fail", "CausePath": "States.Array($.a)"}}},
            "does not return a string",
        ),
        ({"StartAt": "A", "States": {"A": {"Type": "Fail", "ErrorPath": "$.e[*]"}}}, "not a reference path"),
        (
            {"StartAt": "A", "States": {"A": {"Type": "Parallel", "Branches": [], "End": True}}},
            "non-empty array",
        ),
        (
            {
                "StartAt": "A",
                "States": {
                    "A": {
                        "Type": "Parallel",
                        "End": True,
                        "Branches": [{"StartAt": "A", "States": {"A": {"Type": "Succeed"}}}],
                    }
                },
            },
            "used twice",
        ),
        (
            {
                "StartAt": "A",
                "States": {
                    "A": {
                        "Type": "Parallel",
                        "End": True,
                        "Branches": [{"StartAt": "B", "States": {"B": {"Type": "Pass", "Next": "C"}}}],
                    },
                    "C": {"Type": "Succeed"},
                },
            },
            "^state 'B': Next names 'C', which is not a state of the branch of 'A'",
        ),
    ],
)
def test_invalid_definitions_are_refused(definition: Any, pattern: str) -> None:
    refused(lambda: StateMachine(definition, {}), pattern)
