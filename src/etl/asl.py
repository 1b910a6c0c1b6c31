"""A local executor for Amazon States Language state machines that use the JSONPath query language.

The same ASL file that runs on AWS Step Functions runs here, with each Task's ``Resource`` ARN
mapped to a Python handler ``(effective_input, TaskContext) -> result``. The constructor validates
the whole definition (Parallel branches included) and refuses, with ``AslDefinitionError`` naming
the state, anything it cannot run faithfully. ``execute`` never raises for a runtime failure: an
uncaught error ends the execution as FAILED with its error and cause.

Implemented: Task, Choice, Wait, Pass, Parallel, Succeed and Fail; InputPath -> Parameters -> task
-> ResultSelector -> ResultPath -> OutputPath (paths, payload templates and intrinsic functions are
in ``etl.asl_paths`` and ``etl.asl_intrinsics``); Retry (IntervalSeconds, MaxAttempts, BackoffRate,
MaxDelaySeconds, JitterStrategy) and Catch on Task and Parallel; Task ``TimeoutSeconds`` /
``TimeoutSecondsPath``; the context object (``$$.Execution``, ``$$.State``, ``$$.StateMachine``).

Semantics, as documented by AWS:

* Error matching: ``States.ALL`` matches every error name and ``States.TaskFailed`` every name but
  ``States.Timeout``; neither (nor naming it) matches ``States.Runtime``, which is never retried or
  caught and always fails the execution. The first retrier whose ``ErrorEquals`` matches is used;
  once it has used its ``MaxAttempts`` the error goes to the catchers (later retriers are not tried).
  Each retrier counts its own attempts across the state's visit.
* Delay before retry *n* (0-based, per retrier): ``IntervalSeconds * BackoffRate ** n``, capped at
  ``MaxDelaySeconds``; with ``JitterStrategy: FULL`` a uniform random value in ``[0, delay]``.
* A path that matches nothing (InputPath, OutputPath, Parameters, ResultSelector, Choice variables,
  Wait/Fail/Timeout paths) is ``States.Runtime``. A ResultPath that cannot be applied is
  ``States.ResultPathMatchFailure``; an intrinsic function given bad values ``States.IntrinsicFailure``;
  a Choice without a match or Default ``States.NoChoiceMatched``; a Task over ``TimeoutSeconds``
  ``States.Timeout`` (the handler runs in a worker thread, abandoned when it times out).
* A handler raising ``TaskFailedError`` fails with that error and cause; any other exception fails
  with ``States.TaskFailed`` and cause ``"<ExceptionType>: <message>"``; a result that is not JSON
  fails with ``States.TaskFailed`` too. Handler inputs and results are copies, as JSON would be.
* Parallel runs its branches in threads; its result is the list of branch outputs in branch order.
  When a branch fails, its siblings start no further state and the Parallel fails with that error
  (a nested Parallel stopped that way reports ``StateFailed`` with ``States.BranchFailed``).
* Wait calls the injected ``sleep`` with the seconds to wait (never negative); ``Timestamp`` waits
  are measured from the injected ``clock`` (default: the UTC wall clock), which also stamps events
  and the context object's times. An execution input that is not JSON fails with States.Runtime.
* Choice string comparisons order by UTF-16 code units, like Java's ``String.compareTo``; timestamps
  follow RFC 3339 with an uppercase ``T`` and ``Z`` (or a numeric offset).

Refused when the definition is validated: ``Map`` and unknown state types; ``QueryLanguage:
JSONata``; variables (``Assign``) and the JSONata-only fields (``Arguments``, ``Output``); fields a
state type does not allow; missing required fields; Next/Default/StartAt/Catch targets that do not
exist in the same scope; unreachable states; state names repeated anywhere in the machine; a Task
whose Resource has no handler; ``States.ALL`` not alone and last in Retry/Catch; malformed paths,
JSONPath filters and scripts, malformed intrinsic calls, unknown intrinsic functions and wrong
argument counts.

Accepted and ignored: ``HeartbeatSeconds`` / ``HeartbeatSecondsPath`` (there are no activity
workers to send heartbeats locally), a Task's ``Credentials`` (handlers run with the local
identity), the machine-level ``TimeoutSeconds`` and ``Version``, and ``Comment`` everywhere.

Events: every step is reported as an ``ExecutionEvent`` to the optional listener (serialized under a
lock, so it may be called from branch threads) and collected in ``ExecutionResult.events``. Each
``StateEntered`` is closed by ``StateExited`` (``output``, ``next``, ``duration_seconds``) or
``StateFailed`` (``error``, ``cause``, ``duration_seconds``); ``TaskRetry`` (``error``, ``cause``,
``attempt``, ``retrier``, ``delay_seconds``) precedes a retry and ``TaskCaught`` (``error``,
``cause``, ``catcher``, ``next``, ``output``) follows a StateFailed that a catcher handles. Events
of states inside a Parallel carry ``branch`` (``"Parallel name[index]"``, nested with ``/``). A
listener that raises is logged and ignored; the execution goes on.
"""

from __future__ import annotations

import copy
import json
import logging
import operator
import random as random_module
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import wait as wait_for
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, Final

from etl.asl_intrinsics import IntrinsicSyntaxError
from etl.asl_paths import (
    RUNTIME,
    Expression,
    JsonPath,
    PathNotFoundError,
    PathSyntaxError,
    PayloadTemplate,
    StatesError,
    parse_path,
    parse_reference_path,
    place,
    select,
)
from etl.errors import AslDefinitionError, AslError, TaskFailedError

logger = logging.getLogger(__name__)

TaskHandler = Callable[[Any, "TaskContext"], Any]

EVENT_TYPES: Final = (
    "ExecutionStarted",
    "StateEntered",
    "StateExited",
    "StateFailed",
    "TaskRetry",
    "TaskCaught",
    "ExecutionSucceeded",
    "ExecutionFailed",
)
SUCCEEDED: Final = "SUCCEEDED"
FAILED: Final = "FAILED"
ALL: Final = "States.ALL"
TASK_FAILED: Final = "States.TaskFailed"
TIMEOUT: Final = "States.Timeout"
BRANCH_FAILED: Final = "States.BranchFailed"
UNCATCHABLE: Final = frozenset({RUNTIME, "States.DataLimitExceeded"})
MAX_SECONDS: Final = 99_999_999
MAX_DELAY_SECONDS: Final = 31_622_400  # a Standard execution lasts at most one year
FAIL_INTRINSICS: Final = (
    "States.Format",
    "States.JsonToString",
    "States.ArrayGetItem",
    "States.Base64Encode",
    "States.Base64Decode",
    "States.Hash",
    "States.UUID",
)


@dataclass(frozen=True)
class TaskContext:
    """What a Task handler knows about the call besides its input."""

    execution_name: str
    state_name: str
    retry_count: int
    execution_input: Any
    entered_time: datetime
    resource: str


@dataclass
class ExecutionEvent:
    type: str
    state: str | None
    timestamp: datetime
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class ExecutionResult:
    status: str
    output: Any
    error: str | None
    cause: str | None
    events: list[ExecutionEvent]
    start_time: datetime
    stop_time: datetime


class _Cancelled(AslError):
    """A sibling branch failed; this branch stops before its next state."""


# --- the compiled definition ----------------------------------------------------------------------

_Rule = Callable[[Any, Any], bool]


@dataclass
class _Retrier:
    error_equals: tuple[str, ...]
    interval: int
    max_attempts: int
    backoff: float
    max_delay: int | None
    full_jitter: bool


@dataclass
class _Catcher:
    error_equals: tuple[str, ...]
    next: str
    result_path: JsonPath | None


@dataclass
class _State:
    name: str
    type: str
    next: str | None = None
    input_path: JsonPath | None = None
    output_path: JsonPath | None = None
    result_path: JsonPath | None = None
    parameters: PayloadTemplate | None = None
    result_selector: PayloadTemplate | None = None
    has_result: bool = False
    result: Any = None
    retriers: list[_Retrier] = field(default_factory=list)
    catchers: list[_Catcher] = field(default_factory=list)
    resource: str = ""
    handler: TaskHandler | None = None
    timeout: int | None = None
    timeout_path: JsonPath | None = None
    branches: list[_Scope] = field(default_factory=list)
    choices: list[tuple[_Rule, str]] = field(default_factory=list)
    default: str | None = None
    wait_seconds: int | None = None
    wait_timestamp: Decimal | None = None
    wait_path: JsonPath | None = None
    wait_path_is_timestamp: bool = False
    error: str | None = None
    cause: str | None = None
    error_expression: Expression | None = None
    cause_expression: Expression | None = None

    def targets(self) -> list[tuple[str, str]]:
        """(field, state name) for every transition out of this state."""
        found = [("Next", self.next)] if self.next else []
        found += [(f"Choices[{i}].Next", target) for i, (_, target) in enumerate(self.choices)]
        found += [("Default", self.default)] if self.default else []
        found += [(f"Catch[{i}].Next", catcher.next) for i, catcher in enumerate(self.catchers)]
        return found


@dataclass
class _Scope:
    start_at: str
    states: dict[str, _State]


# --- validation and compilation -------------------------------------------------------------------

_COMMON: Final = frozenset({"Type", "Comment", "QueryLanguage"})
_IO: Final = frozenset({"InputPath", "OutputPath"})
_FLOW: Final = frozenset({"Next", "End"})
_RESULT: Final = frozenset({"ResultPath", "Parameters"})
_ERRORS: Final = frozenset({"Retry", "Catch", "ResultSelector"})
_RETRYING: Final = frozenset({"Task", "Parallel", "Map"})  # the states that may carry Retry
_FIELDS: Final[dict[str, frozenset[str]]] = {
    "Pass": _COMMON | _IO | _FLOW | _RESULT | {"Result"},
    "Task": _COMMON
    | _IO
    | _FLOW
    | _RESULT
    | _ERRORS
    | {
        "Resource",
        "TimeoutSeconds",
        "TimeoutSecondsPath",
        "HeartbeatSeconds",
        "HeartbeatSecondsPath",
        "Credentials",
    },
    "Choice": _COMMON | _IO | {"Choices", "Default"},
    "Wait": _COMMON | _IO | _FLOW | {"Seconds", "SecondsPath", "Timestamp", "TimestampPath"},
    "Succeed": _COMMON | _IO,
    "Fail": _COMMON | {"Error", "ErrorPath", "Cause", "CausePath"},
    "Parallel": _COMMON | _IO | _FLOW | _RESULT | _ERRORS | {"Branches"},
}
_UNSUPPORTED_FIELDS: Final = {
    "Assign": "variables (Assign) are not supported by the local executor",
    "Arguments": "Arguments is a JSONata field; the local executor runs JSONPath states only",
    "Output": "Output is a JSONata field; the local executor runs JSONPath states only",
}
_MACHINE_FIELDS: Final = frozenset(
    {"StartAt", "States", "Comment", "Version", "TimeoutSeconds", "QueryLanguage"}
)
_BRANCH_FIELDS: Final = frozenset({"StartAt", "States", "Comment", "QueryLanguage"})
_RETRIER_FIELDS: Final = frozenset(
    {
        "ErrorEquals",
        "IntervalSeconds",
        "MaxAttempts",
        "BackoffRate",
        "MaxDelaySeconds",
        "JitterStrategy",
        "Comment",
    }
)
_CATCHER_FIELDS: Final = frozenset({"ErrorEquals", "Next", "ResultPath", "Comment"})
_ROOT: Final = parse_path("$")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_query_language(owner: str | None, value: Any) -> None:
    if value == "JSONata":
        raise AslDefinitionError(
            owner, "QueryLanguage JSONata is not supported by the local executor; use JSONPath"
        )
    if value != "JSONPath":
        raise AslDefinitionError(owner, f"QueryLanguage must be JSONPath, not {value!r}")


class _Compiler:
    def __init__(self, handlers: Mapping[str, TaskHandler]) -> None:
        self.handlers = handlers
        self.names: set[str] = set()

    def machine(self, definition: Any) -> _Scope:
        if not isinstance(definition, dict):
            raise AslDefinitionError(None, "the definition must be a JSON object with StartAt and States")
        for key in definition:
            if key not in _MACHINE_FIELDS:
                raise AslDefinitionError(None, f"unknown top-level field {key!r}")
        if "QueryLanguage" in definition:
            _check_query_language(None, definition["QueryLanguage"])
        return self.scope(definition, None)

    def scope(self, body: Any, owner: str | None) -> _Scope:
        where = f"branch of {owner!r}" if owner else "state machine"
        start_at, states = body.get("StartAt"), body.get("States")
        if not isinstance(start_at, str):
            raise AslDefinitionError(owner, f"the {where} needs StartAt, the name of its first state")
        if not isinstance(states, dict) or not states:
            raise AslDefinitionError(owner, f"the {where} needs States, a non-empty object")
        compiled: dict[str, _State] = {}
        for name, raw in states.items():
            if name in self.names:
                raise AslDefinitionError(
                    name,
                    "the state name is used twice; names must be unique in the whole "
                    "state machine, Parallel branches included",
                )
            self.names.add(name)
            compiled[name] = self.state(name, raw)
        if start_at not in compiled:
            raise AslDefinitionError(
                owner, f"StartAt names {start_at!r}, which is not a state of the {where}"
            )
        for state in compiled.values():
            for where_from, target in state.targets():
                if target not in compiled:
                    raise AslDefinitionError(
                        state.name, f"{where_from} names {target!r}, which is not a state of the {where}"
                    )
        reached = {start_at}
        pending = [start_at]
        while pending:
            for _, target in compiled[pending.pop()].targets():
                if target not in reached:
                    reached.add(target)
                    pending.append(target)
        for name in compiled:
            if name not in reached:
                raise AslDefinitionError(name, f"the state cannot be reached from StartAt {start_at!r}")
        return _Scope(start_at, compiled)

    # --- one state ---

    def state(self, name: str, raw: Any) -> _State:
        if not isinstance(raw, dict):
            raise AslDefinitionError(name, "a state must be a JSON object")
        kind = raw.get("Type")
        if kind == "Map":
            raise AslDefinitionError(name, "Map states are not supported by the local executor")
        if kind not in _FIELDS:
            raise AslDefinitionError(
                name, f"unknown state Type {kind!r}; the local executor runs {', '.join(sorted(_FIELDS))}"
            )
        if "QueryLanguage" in raw:
            _check_query_language(name, raw["QueryLanguage"])
        for key in raw:
            if key in _UNSUPPORTED_FIELDS:
                raise AslDefinitionError(name, _UNSUPPORTED_FIELDS[key])
            if key not in _FIELDS[kind]:
                raise AslDefinitionError(name, f"field {key!r} is not allowed in a {kind} state")
        state = _State(name=name, type=kind)
        if "InputPath" in _FIELDS[kind]:
            state.input_path = self.path(name, raw, "InputPath")
            state.output_path = self.path(name, raw, "OutputPath")
        if "Next" in _FIELDS[kind]:
            state.next = self.transition(name, raw)
        if "ResultPath" in _FIELDS[kind]:
            state.result_path = self.path(name, raw, "ResultPath", reference=True)
            state.parameters = self.template(name, raw, "Parameters")
        if "ResultSelector" in _FIELDS[kind]:
            state.result_selector = self.template(name, raw, "ResultSelector")
            state.retriers = self.retriers(name, raw.get("Retry", []))
            state.catchers = self.catchers(name, raw.get("Catch", []))
        builders = {
            "Pass": self.pass_state,
            "Task": self.task,
            "Choice": self.choice,
            "Wait": self.wait,
            "Succeed": self.succeed,
            "Fail": self.fail,
            "Parallel": self.parallel,
        }
        builders[kind](state, raw)
        return state

    def pass_state(self, state: _State, raw: dict[str, Any]) -> None:
        state.has_result = "Result" in raw
        state.result = copy.deepcopy(raw.get("Result"))

    def task(self, state: _State, raw: dict[str, Any]) -> None:
        resource = raw.get("Resource")
        if not isinstance(resource, str) or not resource:
            raise AslDefinitionError(state.name, "a Task needs Resource, the ARN of what it runs")
        if resource not in self.handlers:
            raise AslDefinitionError(
                state.name,
                f"no handler is registered for Resource {resource!r}; add one to the handlers mapping",
            )
        state.resource, state.handler = resource, self.handlers[resource]
        state.timeout, state.timeout_path = self.seconds_pair(state.name, raw, "TimeoutSeconds")
        heartbeat, _ = self.seconds_pair(state.name, raw, "HeartbeatSeconds")
        if heartbeat is not None and state.timeout is not None and heartbeat >= state.timeout:
            raise AslDefinitionError(state.name, "HeartbeatSeconds must be smaller than TimeoutSeconds")

    def choice(self, state: _State, raw: dict[str, Any]) -> None:
        choices = raw.get("Choices")
        if not isinstance(choices, list) or not choices:
            raise AslDefinitionError(state.name, "a Choice needs Choices, a non-empty array of rules")
        state.choices = [
            (self.rule(state.name, rule, f"Choices[{i}]"), rule["Next"]) for i, rule in enumerate(choices)
        ]
        default = raw.get("Default")
        if default is not None and not isinstance(default, str):
            raise AslDefinitionError(state.name, "Default must be a state name")
        state.default = default

    def wait(self, state: _State, raw: dict[str, Any]) -> None:
        given = [key for key in ("Seconds", "SecondsPath", "Timestamp", "TimestampPath") if key in raw]
        if len(given) != 1:
            raise AslDefinitionError(
                state.name, "a Wait needs exactly one of Seconds, SecondsPath, Timestamp and TimestampPath"
            )
        key, value = given[0], raw[given[0]]
        if key == "Seconds":
            if not _is_int(value) or not 0 <= value <= MAX_SECONDS:
                raise AslDefinitionError(state.name, f"Seconds must be an integer from 0 to {MAX_SECONDS}")
            state.wait_seconds = value
        elif key == "Timestamp":
            state.wait_timestamp = parse_timestamp(value)
            if state.wait_timestamp is None:
                raise AslDefinitionError(
                    state.name,
                    f"Timestamp {value!r} is not an RFC 3339 timestamp such as 2016-03-14T01:59:00Z",
                )
        else:
            state.wait_path = self.path(state.name, raw, key, reference=True, nullable=False, context=True)
            state.wait_path_is_timestamp = key == "TimestampPath"

    def succeed(self, state: _State, raw: dict[str, Any]) -> None:
        pass

    def fail(self, state: _State, raw: dict[str, Any]) -> None:
        for key in ("Error", "Cause"):
            if key in raw and f"{key}Path" in raw:
                raise AslDefinitionError(state.name, f"a Fail state takes {key} or {key}Path, not both")
            if key in raw and not isinstance(raw[key], str):
                raise AslDefinitionError(state.name, f"{key} must be a string")
            expression = self.fail_expression(state.name, raw, f"{key}Path")
            if key == "Error":
                state.error, state.error_expression = raw.get(key), expression
            else:
                state.cause, state.cause_expression = raw.get(key), expression

    def parallel(self, state: _State, raw: dict[str, Any]) -> None:
        branches = raw.get("Branches")
        if not isinstance(branches, list) or not branches:
            raise AslDefinitionError(state.name, "a Parallel needs Branches, a non-empty array")
        for i, branch in enumerate(branches):
            if not isinstance(branch, dict):
                raise AslDefinitionError(
                    state.name, f"Branches[{i}] must be an object with StartAt and States"
                )
            for key in branch:
                if key not in _BRANCH_FIELDS:
                    raise AslDefinitionError(state.name, f"field {key!r} is not allowed in Branches[{i}]")
            if "QueryLanguage" in branch:
                _check_query_language(state.name, branch["QueryLanguage"])
            state.branches.append(self.scope(branch, state.name))

    # --- fields ---

    def transition(self, name: str, raw: dict[str, Any]) -> str | None:
        nxt, end = raw.get("Next"), raw.get("End", False)
        if end is not True and end is not False:
            raise AslDefinitionError(name, "End must be true or false")
        if end and "Next" in raw:
            raise AslDefinitionError(name, "a state has either Next or End: true, not both")
        if not end and not isinstance(nxt, str):
            raise AslDefinitionError(name, "the state needs Next (a state name) or End: true")
        return None if end else nxt

    def path(
        self,
        name: str,
        raw: dict[str, Any],
        key: str,
        *,
        reference: bool = False,
        nullable: bool = True,
        context: bool = False,
    ) -> JsonPath | None:
        if key not in raw:
            return _ROOT
        value = raw[key]
        if value is None and nullable:
            return None
        try:
            return parse_reference_path(value, context=context) if reference else parse_path(value)
        except PathSyntaxError as exc:
            raise AslDefinitionError(name, f"{key}: {exc}") from None

    def template(self, name: str, raw: dict[str, Any], key: str) -> PayloadTemplate | None:
        if key not in raw:
            return None
        try:
            return PayloadTemplate(raw[key], key)
        except (PathSyntaxError, IntrinsicSyntaxError) as exc:
            raise AslDefinitionError(name, f"{key}: {exc}") from None

    def seconds_pair(self, name: str, raw: dict[str, Any], key: str) -> tuple[int | None, JsonPath | None]:
        if key in raw and f"{key}Path" in raw:
            raise AslDefinitionError(name, f"a Task takes {key} or {key}Path, not both")
        value = raw.get(key)
        if value is not None and (not _is_int(value) or not 0 < value <= MAX_SECONDS):
            raise AslDefinitionError(name, f"{key} must be an integer from 1 to {MAX_SECONDS}")
        path = None
        if f"{key}Path" in raw:
            path = self.path(name, raw, f"{key}Path", reference=True, nullable=False, context=True)
        return value, path

    def fail_expression(self, name: str, raw: dict[str, Any], key: str) -> Expression | None:
        if key not in raw:
            return None
        value = raw[key]
        try:
            expression = Expression(value, key)
            if expression.path is not None:
                parse_reference_path(value, context=True)
        except (PathSyntaxError, IntrinsicSyntaxError) as exc:
            raise AslDefinitionError(name, f"{key}: {exc}") from None
        if expression.call is not None and expression.call.name not in FAIL_INTRINSICS:
            raise AslDefinitionError(
                name,
                f"{key}: {expression.call.name} does not return a string; use one of "
                f"{', '.join(FAIL_INTRINSICS)}",
            )
        return expression

    def error_equals(self, name: str, raw: dict[str, Any], where: str, last: bool) -> tuple[str, ...]:
        errors = raw.get("ErrorEquals")
        if not isinstance(errors, list) or not errors or not all(isinstance(e, str) and e for e in errors):
            raise AslDefinitionError(name, f"{where}.ErrorEquals must be a non-empty array of error names")
        if ALL in errors and (len(errors) > 1 or not last):
            raise AslDefinitionError(
                name,
                f"{where}: States.ALL must be alone in ErrorEquals and in the last "
                f"{where.split('[')[0]} entry",
            )
        return tuple(errors)

    def retriers(self, name: str, raw: Any) -> list[_Retrier]:
        if not isinstance(raw, list):
            raise AslDefinitionError(name, "Retry must be an array of retriers")
        found = []
        for i, retrier in enumerate(raw):
            where = f"Retry[{i}]"
            self.check_object(name, retrier, where, _RETRIER_FIELDS)
            errors = self.error_equals(name, retrier, where, i == len(raw) - 1)
            interval = retrier.get("IntervalSeconds", 1)
            attempts = retrier.get("MaxAttempts", 3)
            backoff = retrier.get("BackoffRate", 2.0)
            max_delay = retrier.get("MaxDelaySeconds")
            jitter = retrier.get("JitterStrategy", "NONE")
            if not _is_int(interval) or not 0 < interval <= MAX_SECONDS:
                raise AslDefinitionError(
                    name, f"{where}.IntervalSeconds must be an integer from 1 to {MAX_SECONDS}"
                )
            if not _is_int(attempts) or not 0 <= attempts <= MAX_SECONDS:
                raise AslDefinitionError(
                    name, f"{where}.MaxAttempts must be an integer from 0 to {MAX_SECONDS}"
                )
            if not _is_number(backoff) or backoff < 1.0:
                raise AslDefinitionError(name, f"{where}.BackoffRate must be a number of at least 1.0")
            if max_delay is not None and (not _is_int(max_delay) or not 0 < max_delay <= MAX_DELAY_SECONDS):
                raise AslDefinitionError(
                    name, f"{where}.MaxDelaySeconds must be an integer from 1 to {MAX_DELAY_SECONDS}"
                )
            if jitter not in ("FULL", "NONE"):
                raise AslDefinitionError(name, f"{where}.JitterStrategy must be FULL or NONE, not {jitter!r}")
            found.append(_Retrier(errors, interval, attempts, float(backoff), max_delay, jitter == "FULL"))
        return found

    def catchers(self, name: str, raw: Any) -> list[_Catcher]:
        if not isinstance(raw, list):
            raise AslDefinitionError(name, "Catch must be an array of catchers")
        found = []
        for i, catcher in enumerate(raw):
            where = f"Catch[{i}]"
            self.check_object(name, catcher, where, _CATCHER_FIELDS)
            errors = self.error_equals(name, catcher, where, i == len(raw) - 1)
            if not isinstance(catcher.get("Next"), str):
                raise AslDefinitionError(name, f"{where} needs Next, the state to go to")
            result_path = self.path(name, catcher, "ResultPath", reference=True)
            found.append(_Catcher(errors, catcher["Next"], result_path))
        return found

    def check_object(self, name: str, raw: Any, where: str, allowed: frozenset[str]) -> None:
        if not isinstance(raw, dict):
            raise AslDefinitionError(name, f"{where} must be an object")
        for key in raw:
            if key not in allowed:
                raise AslDefinitionError(name, f"field {key!r} is not allowed in {where}")

    # --- choice rules ---

    def rule(self, name: str, raw: Any, where: str, top: bool = True) -> _Rule:
        if not isinstance(raw, dict):
            raise AslDefinitionError(name, f"{where} must be an object")
        if top and not isinstance(raw.get("Next"), str):
            raise AslDefinitionError(name, f"{where} needs Next, the state to go to")
        if not top and "Next" in raw:
            raise AslDefinitionError(name, f"{where}: only top-level choice rules have Next")
        operators = [key for key in raw if key not in ("Next", "Comment", "Variable")]
        if len(operators) != 1:
            raise AslDefinitionError(
                name, f"{where} needs exactly one comparison or And/Or/Not, found {operators or 'none'}"
            )
        op, value = operators[0], raw[operators[0]]
        if op in ("And", "Or", "Not"):
            if "Variable" in raw:
                raise AslDefinitionError(name, f"{where}: {op} takes no Variable")
            if op == "Not":
                inner = self.rule(name, value, f"{where}.Not", top=False)
                return lambda data, context: not inner(data, context)
            if not isinstance(value, list) or not value:
                raise AslDefinitionError(name, f"{where}.{op} must be a non-empty array of rules")
            rules = [self.rule(name, item, f"{where}.{op}[{i}]", top=False) for i, item in enumerate(value)]
            combine = all if op == "And" else any
            return lambda data, context: combine(rule(data, context) for rule in rules)
        if "Variable" not in raw:
            raise AslDefinitionError(name, f"{where} needs Variable, the path to compare")
        try:
            variable = parse_path(raw["Variable"])
        except PathSyntaxError as exc:
            raise AslDefinitionError(name, f"{where}.Variable: {exc}") from None
        return _comparison(name, where, variable, op, value)


def _comparison(name: str, where: str, variable: JsonPath, op: str, value: Any) -> _Rule:
    if op in _TYPE_TESTS:
        if not isinstance(value, bool):
            raise AslDefinitionError(name, f"{where}.{op} must be true or false")
        if op == "IsPresent":
            return lambda data, context: variable.exists(data, context) is value
        test = _TYPE_TESTS[op]
        return lambda data, context: test(_variable(variable, data, context)) is value
    if op == "StringMatches":
        if not isinstance(value, str):
            raise AslDefinitionError(name, f"{where}.StringMatches must be a string pattern")
        pattern = _wildcard_pattern(value)
        return lambda data, context: _matches_pattern(pattern, _variable(variable, data, context))
    base = op[:-4] if op.endswith("Path") else op
    family = next((f for f in _FAMILIES if base in f.operators), None)
    if family is None:
        raise AslDefinitionError(name, f"{where}: unknown comparison operator {op!r}")
    compare = family.operators[base]
    if op.endswith("Path"):
        try:
            other_path = parse_reference_path(value, context=True)
        except PathSyntaxError as exc:
            raise AslDefinitionError(name, f"{where}.{op}: {exc}") from None

        def compare_paths(data: Any, context: Any) -> bool:
            left = family.convert(_variable(variable, data, context))
            right = family.convert(_variable(other_path, data, context))
            return left is not None and right is not None and compare(left, right)

        return compare_paths
    expected = family.convert(value)
    if expected is None:
        raise AslDefinitionError(name, f"{where}.{op} must be {family.description}, not {value!r}")

    def compare_value(data: Any, context: Any) -> bool:
        actual = family.convert(_variable(variable, data, context))
        return actual is not None and compare(actual, expected)

    return compare_value


def _variable(path: JsonPath, data: Any, context: Any) -> Any:
    try:
        return path.evaluate(data, context)
    except PathNotFoundError:
        raise StatesError(
            RUNTIME,
            f"Invalid path '{path.text}': The choice state's condition path references an invalid value.",
        ) from None


def _wildcard_pattern(pattern: str) -> re.Pattern[str]:
    """StringMatches: ``*`` matches any run of characters; a backslash makes the next character literal."""
    parts: list[str] = []
    position = 0
    while position < len(pattern):
        char = pattern[position]
        if char == "\\" and position + 1 < len(pattern):
            parts.append(re.escape(pattern[position + 1]))
            position += 2
            continue
        parts.append(".*" if char == "*" else re.escape(char))
        position += 1
    return re.compile("".join(parts), re.DOTALL)


def _matches_pattern(pattern: re.Pattern[str], value: Any) -> bool:
    return isinstance(value, str) and pattern.fullmatch(value) is not None


_TIMESTAMP: Final = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})"
)


def parse_timestamp(value: Any) -> Decimal | None:
    """Seconds since the epoch (exact, fractions kept) of an RFC 3339 timestamp, or None if it is not one."""
    if not isinstance(value, str):
        return None
    match = _TIMESTAMP.fullmatch(value)
    if not match:
        return None
    year, month, day, hour, minute, second = (int(match.group(i)) for i in range(1, 7))
    zone = match.group(8)
    try:
        if zone == "Z":
            tz = UTC
        else:
            hours, minutes = int(zone[1:3]), int(zone[4:6])
            if hours > 23 or minutes > 59:
                return None
            offset = timedelta(hours=hours, minutes=minutes)
            tz = timezone(-offset if zone[0] == "-" else offset)
        moment = datetime(year, month, day, hour, minute, second, tzinfo=tz)
    except ValueError:
        return None
    return Decimal(int(moment.timestamp())) + Decimal("0" + (match.group(7) or ".0"))


@dataclass(frozen=True)
class _Family:
    operators: dict[str, Callable[[Any, Any], bool]]
    convert: Callable[[Any], Any]  # a comparable value, or None when the value is of another type
    description: str


def _operators(prefix: str, equals_only: bool = False) -> dict[str, Callable[[Any, Any], bool]]:
    if equals_only:
        return {f"{prefix}Equals": operator.eq}
    return {
        f"{prefix}Equals": operator.eq,
        f"{prefix}LessThan": operator.lt,
        f"{prefix}GreaterThan": operator.gt,
        f"{prefix}LessThanEquals": operator.le,
        f"{prefix}GreaterThanEquals": operator.ge,
    }


_FAMILIES: Final = (
    _Family(
        _operators("String"), lambda v: v.encode("utf-16-be") if isinstance(v, str) else None, "a string"
    ),
    _Family(_operators("Numeric"), lambda v: v if _is_number(v) else None, "a number"),
    _Family(
        _operators("Boolean", equals_only=True), lambda v: v if isinstance(v, bool) else None, "true or false"
    ),
    _Family(_operators("Timestamp"), parse_timestamp, "an RFC 3339 timestamp"),
)
_TYPE_TESTS: Final[dict[str, Callable[[Any], bool]]] = {
    "IsNull": lambda v: v is None,
    "IsPresent": lambda v: True,
    "IsNumeric": _is_number,
    "IsString": lambda v: isinstance(v, str),
    "IsBoolean": lambda v: isinstance(v, bool),
    "IsTimestamp": lambda v: parse_timestamp(v) is not None,
}


# --- execution ------------------------------------------------------------------------------------


def _iso(moment: datetime) -> str:
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _json_copy(value: Any) -> Any:
    """A deep copy that is JSON, as Step Functions would see it (tuples become lists, keys strings)."""
    return json.loads(json.dumps(value, allow_nan=False))


def _match(entries: Sequence[_Retrier | _Catcher], error: str | None) -> int | None:
    if error in UNCATCHABLE:
        return None
    for index, entry in enumerate(entries):
        for name in entry.error_equals:
            if name in (ALL, error) or (name == TASK_FAILED and error != TIMEOUT):
                return index
            if name == TIMEOUT and error == "States.HeartbeatTimeout":
                return index
    return None


class _Cancel:
    """A cancellation flag for the branches of one Parallel, set when one of them fails."""

    def __init__(self, parent: _Cancel | None = None) -> None:
        self._event = threading.Event()
        self._parent = parent

    def set(self) -> None:
        self._event.set()

    def is_set(self) -> bool:
        return self._event.is_set() or (self._parent is not None and self._parent.is_set())


@dataclass
class _Visit:
    """One attempt at one state."""

    state: _State
    raw: Any
    context: dict[str, Any]
    retry_count: int
    entered: datetime
    cancel: _Cancel
    branch: str


class StateMachine:
    """A validated ASL definition that can be executed locally any number of times."""

    def __init__(
        self,
        definition: dict[str, Any],
        handlers: Mapping[str, TaskHandler],
        *,
        name: str = "local",
        sleep: Callable[[float], None] = time.sleep,
        listener: Callable[[ExecutionEvent], None] | None = None,
        random: random_module.Random | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.name = name
        self._root = _Compiler(handlers).machine(definition)
        self._sleep = sleep
        self._listener = listener
        self._random = random if random is not None else random_module.Random()
        self._clock = clock if clock is not None else (lambda: datetime.now(UTC))
        self.arn = f"arn:aws:states:local:000000000000:stateMachine:{name}"

    def execute(self, input: Any, *, name: str) -> ExecutionResult:
        """Run one execution to its end; runtime failures come back as a FAILED result."""
        return _Execution(self, name).run(input)


class _Execution:
    def __init__(self, machine: StateMachine, name: str) -> None:
        self.machine = machine
        self.name = name
        self.arn = f"arn:aws:states:local:000000000000:execution:{machine.name}:{name}"
        self.input: Any = None
        self.start_time = machine._clock()
        self.events: list[ExecutionEvent] = []
        self.lock = threading.Lock()
        self.runners: dict[str, Callable[[_Visit], tuple[Any, str | None]]] = {
            "Pass": self.run_pass,
            "Task": self.run_task,
            "Choice": self.run_choice,
            "Wait": self.run_wait,
            "Succeed": self.run_succeed,
            "Fail": self.run_fail,
            "Parallel": self.run_parallel,
        }

    def run(self, execution_input: Any) -> ExecutionResult:
        logger.info("execution %s of %s started", self.name, self.machine.name)
        try:
            self.input = _json_copy(execution_input)
        except (TypeError, ValueError) as exc:
            self.emit("ExecutionStarted", None, "", {"input": None})
            return self.failed(RUNTIME, f"the execution input is not JSON: {exc}")
        self.emit("ExecutionStarted", None, "", {"input": self.input})
        try:
            output = self.run_scope(self.machine._root, self.input, _Cancel(), "")
        except StatesError as err:
            return self.failed(err.error, err.cause)
        except Exception as exc:
            logger.exception("the local executor failed in execution %s", self.name)
            return self.failed(RUNTIME, f"internal error of the local executor: {type(exc).__name__}: {exc}")
        self.emit("ExecutionSucceeded", None, "", {"output": output})
        logger.info("execution %s succeeded", self.name)
        return ExecutionResult(
            SUCCEEDED, output, None, None, self.events, self.start_time, self.machine._clock()
        )

    def failed(self, error: str | None, cause: str) -> ExecutionResult:
        self.emit("ExecutionFailed", None, "", {"error": error, "cause": cause})
        logger.info("execution %s failed: %s: %s", self.name, error, cause)
        return ExecutionResult(
            FAILED, None, error, cause, self.events, self.start_time, self.machine._clock()
        )

    def emit(self, kind: str, state: str | None, branch: str, details: dict[str, Any]) -> None:
        if branch:
            details["branch"] = branch
        event = ExecutionEvent(kind, state, self.machine._clock(), details)
        logger.debug("execution %s: %s %s", self.name, kind, state or "")
        with self.lock:
            self.events.append(event)
            if self.machine._listener is not None:
                try:
                    self.machine._listener(event)
                except Exception:
                    logger.exception("the execution listener failed on %s of %r", kind, state)

    def context(self, state: str, entered: datetime, retry_count: int | None) -> dict[str, Any]:
        """The context object ``$$``; ``State.RetryCount`` only where the state can retry (AWS omits it in a Pass)."""
        entered_state: dict[str, Any] = {"EnteredTime": _iso(entered), "Name": state}
        if retry_count is not None:
            entered_state["RetryCount"] = retry_count
        return {
            "Execution": {
                "Id": self.arn,
                "Input": self.input,
                "Name": self.name,
                "StartTime": _iso(self.start_time),
                "RoleArn": "arn:aws:iam::000000000000:role/local",
                "RedriveCount": 0,
            },
            "State": entered_state,
            "StateMachine": {"Id": self.machine.arn, "Name": self.machine.name},
        }

    # --- scopes and states ---

    def run_scope(self, scope: _Scope, data: Any, cancel: _Cancel, branch: str) -> Any:
        name: str | None = scope.start_at
        while name is not None:
            if cancel.is_set():
                raise _Cancelled(f"stopped before {name!r}: a sibling branch failed")
            data, name = self.run_state(scope.states[name], data, cancel, branch)
        return data

    def run_state(self, state: _State, raw: Any, cancel: _Cancel, branch: str) -> tuple[Any, str | None]:
        entered = self.machine._clock()
        started = time.perf_counter()
        self.emit("StateEntered", state.name, branch, {"input": raw})
        attempts = [0] * len(state.retriers)
        retries = 0
        while True:
            visit = _Visit(
                state, raw, self.context(state.name, entered, retries if state.type in _RETRYING else None),
                retries, entered, cancel, branch
            )
            try:
                output, target = self.runners[state.type](visit)
                break
            except _Cancelled:  # a nested Parallel whose enclosing branch was stopped
                self.emit(
                    "StateFailed",
                    state.name,
                    branch,
                    {
                        "error": BRANCH_FAILED,
                        "cause": "stopped because a sibling branch failed",
                        "duration_seconds": time.perf_counter() - started,
                    },
                )
                raise
            except StatesError as err:
                index = _match(state.retriers, err.error)
                if (
                    index is not None
                    and attempts[index] < state.retriers[index].max_attempts
                    and not cancel.is_set()
                ):
                    delay = self.delay(state.retriers[index], attempts[index])
                    attempts[index] += 1
                    retries += 1
                    self.emit(
                        "TaskRetry",
                        state.name,
                        branch,
                        {
                            "error": err.error,
                            "cause": err.cause,
                            "attempt": retries,
                            "retrier": index,
                            "delay_seconds": delay,
                        },
                    )
                    self.machine._sleep(delay)
                    continue
                return self.fail_state(state, raw, err, started, branch)
        self.emit(
            "StateExited",
            state.name,
            branch,
            {"output": output, "next": target, "duration_seconds": time.perf_counter() - started},
        )
        return output, target

    def fail_state(
        self, state: _State, raw: Any, err: StatesError, started: float, branch: str
    ) -> tuple[Any, str | None]:
        index = _match(state.catchers, err.error)
        output: Any = None
        if index is not None:
            try:
                output = place(
                    state.catchers[index].result_path,
                    raw,
                    {"Error": err.error, "Cause": err.cause},
                    f"Catch[{index}].ResultPath",
                )
            except StatesError as placing:
                err, index = placing, None
        self.emit(
            "StateFailed",
            state.name,
            branch,
            {"error": err.error, "cause": err.cause, "duration_seconds": time.perf_counter() - started},
        )
        if index is None:
            raise err
        target = state.catchers[index].next
        self.emit(
            "TaskCaught",
            state.name,
            branch,
            {"error": err.error, "cause": err.cause, "catcher": index, "next": target, "output": output},
        )
        return output, target

    def delay(self, retrier: _Retrier, attempt: int) -> float:
        try:
            delay = min(float(retrier.interval) * retrier.backoff**attempt, MAX_DELAY_SECONDS)
        except OverflowError:
            delay = MAX_DELAY_SECONDS
        if retrier.max_delay is not None:
            delay = min(delay, retrier.max_delay)
        if retrier.full_jitter:
            delay = self.machine._random.uniform(0, delay)
        return delay

    # --- the state types ---

    def effective_input(self, visit: _Visit) -> Any:
        return select(visit.state.input_path, visit.raw, visit.context, "InputPath")

    def parameters(self, visit: _Visit, effective: Any) -> Any:
        if visit.state.parameters is None:
            return effective
        return visit.state.parameters.evaluate(effective, visit.context, self.machine._random)

    def finish(self, visit: _Visit, result: Any) -> Any:
        state = visit.state
        if state.result_selector is not None:
            result = state.result_selector.evaluate(result, visit.context, self.machine._random)
        output = place(state.result_path, visit.raw, result)
        return select(state.output_path, output, visit.context, "OutputPath")

    def run_pass(self, visit: _Visit) -> tuple[Any, str | None]:
        effective = self.parameters(visit, self.effective_input(visit))
        result = copy.deepcopy(visit.state.result) if visit.state.has_result else effective
        return self.finish(visit, result), visit.state.next

    def run_task(self, visit: _Visit) -> tuple[Any, str | None]:
        state = visit.state
        effective = self.effective_input(visit)
        timeout = state.timeout
        if state.timeout_path is not None:
            timeout = _reference_value(state.timeout_path, effective, visit.context, "TimeoutSecondsPath")
            if not _is_int(timeout) or timeout <= 0:
                raise StatesError(
                    RUNTIME,
                    f"TimeoutSecondsPath '{state.timeout_path.text}' must select a positive "
                    f"integer, not {timeout!r}",
                )
        payload = self.parameters(visit, effective)
        return self.finish(visit, self.invoke(visit, payload, timeout)), state.next

    def invoke(self, visit: _Visit, payload: Any, timeout: int | None) -> Any:
        state = visit.state
        assert state.handler is not None
        task_context = TaskContext(
            self.name, state.name, visit.retry_count, copy.deepcopy(self.input), visit.entered, state.resource
        )
        try:
            result = _call(state.handler, copy.deepcopy(payload), task_context, timeout)
        except StatesError:
            raise
        except TaskFailedError as exc:
            raise StatesError(exc.error, exc.cause) from None
        except Exception as exc:
            logger.warning("the handler of %r (%s) raised", state.name, state.resource, exc_info=True)
            raise StatesError(TASK_FAILED, f"{type(exc).__name__}: {exc}") from None
        try:
            return _json_copy(result)
        except (TypeError, ValueError) as exc:
            raise StatesError(
                TASK_FAILED, f"the handler of {state.resource} returned a value that is not JSON: {exc}"
            ) from None

    def run_parallel(self, visit: _Visit) -> tuple[Any, str | None]:
        payload = self.parameters(visit, self.effective_input(visit))
        return self.finish(visit, self.run_branches(visit, payload)), visit.state.next

    def run_branches(self, visit: _Visit, payload: Any) -> list[Any]:
        state = visit.state
        cancel = _Cancel(visit.cancel)
        failures: list[StatesError] = []
        guard = threading.Lock()

        def run_branch(index: int, scope: _Scope) -> Any:
            label = f"{visit.branch}/{state.name}[{index}]" if visit.branch else f"{state.name}[{index}]"
            try:
                return self.run_scope(scope, payload, cancel, label)
            except StatesError as err:
                with guard:
                    failures.append(err)
                cancel.set()
                raise

        with ThreadPoolExecutor(max_workers=len(state.branches), thread_name_prefix="asl-branch") as pool:
            futures = [pool.submit(run_branch, i, scope) for i, scope in enumerate(state.branches)]
            wait_for(futures)
        for future in futures:
            problem = future.exception()
            if problem is not None and not isinstance(problem, StatesError | _Cancelled):
                raise problem
        if failures:
            raise failures[0]
        return [future.result() for future in futures]

    def run_choice(self, visit: _Visit) -> tuple[Any, str | None]:
        state = visit.state
        effective = self.effective_input(visit)
        target = next(
            (target for rule, target in state.choices if rule(effective, visit.context)), state.default
        )
        if target is None:
            raise StatesError(
                "States.NoChoiceMatched",
                f"No Choice Rule matched and there is no Default in the Choice state '{state.name}'",
            )
        return select(state.output_path, effective, visit.context, "OutputPath"), target

    def run_wait(self, visit: _Visit) -> tuple[Any, str | None]:
        state = visit.state
        effective = self.effective_input(visit)
        if state.wait_seconds is not None:
            seconds: float = state.wait_seconds
        elif state.wait_timestamp is not None:
            seconds = self.until(state.wait_timestamp)
        else:
            assert state.wait_path is not None
            key = "TimestampPath" if state.wait_path_is_timestamp else "SecondsPath"
            value = _reference_value(state.wait_path, effective, visit.context, key)
            if state.wait_path_is_timestamp:
                moment = parse_timestamp(value)
                if moment is None:
                    raise StatesError(
                        RUNTIME,
                        f"TimestampPath '{state.wait_path.text}' must select an RFC 3339 "
                        f"timestamp, not {value!r}",
                    )
                seconds = self.until(moment)
            else:
                if not _is_int(value) or value < 0:
                    raise StatesError(
                        RUNTIME,
                        f"SecondsPath '{state.wait_path.text}' must select a non-negative "
                        f"integer, not {value!r}",
                    )
                seconds = value
        self.machine._sleep(max(0.0, float(seconds)))
        return select(state.output_path, effective, visit.context, "OutputPath"), state.next

    def until(self, moment: Decimal) -> float:
        now = self.machine._clock()
        return max(0.0, float(moment - Decimal(int(now.timestamp())) - Decimal(now.microsecond) / 1_000_000))

    def run_succeed(self, visit: _Visit) -> tuple[Any, str | None]:
        effective = self.effective_input(visit)
        return select(visit.state.output_path, effective, visit.context, "OutputPath"), None

    def run_fail(self, visit: _Visit) -> tuple[Any, str | None]:
        state = visit.state
        error = self.fail_text(visit, state.error, state.error_expression)
        cause = self.fail_text(visit, state.cause, state.cause_expression)
        raise StatesError(error, cause or "")

    def fail_text(self, visit: _Visit, text: str | None, expression: Expression | None) -> str | None:
        if expression is None:
            return text
        value = expression.evaluate(visit.raw, visit.context, self.machine._random)
        if not isinstance(value, str):
            raise StatesError(
                RUNTIME, f"{expression.field} '{expression.text}' must give a string, not {value!r}"
            )
        return value


def _reference_value(path: JsonPath, data: Any, context: Any, field_name: str) -> Any:
    try:
        return path.evaluate(data, context)
    except PathNotFoundError as exc:
        raise StatesError(RUNTIME, f"Invalid path '{path.text}' in {field_name}: {exc}") from None


def _call(handler: TaskHandler, payload: Any, context: TaskContext, timeout: int | None) -> Any:
    """The handler's result; with a timeout it runs in a worker thread that is abandoned if late."""
    if timeout is None:
        return handler(payload, context)
    outcome: dict[str, Any] = {}
    done = threading.Event()

    def work() -> None:
        try:
            outcome["result"] = handler(payload, context)
        except BaseException as exc:  # handed to the waiting thread
            outcome["error"] = exc
        finally:
            done.set()

    worker = threading.Thread(target=work, name=f"asl-task-{context.state_name}", daemon=True)
    worker.start()
    if not done.wait(timeout):
        logger.warning(
            "task %r timed out after %s s; its worker thread is abandoned", context.state_name, timeout
        )
        raise StatesError(
            TIMEOUT,
            f"The task '{context.state_name}' did not finish within {timeout} seconds (TimeoutSeconds)",
        )
    if "error" in outcome:
        raise outcome["error"]
    return outcome["result"]
