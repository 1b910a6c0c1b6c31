"""Validation of an ASL definition and its compilation into states, retriers, catchers and Choice rules."""

from __future__ import annotations

import copy
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, Final

from etl.errors import AslDefinitionError
from etl.stepfunctions.intrinsics import IntrinsicSyntaxError
from etl.stepfunctions.paths import (
    RUNTIME,
    Expression,
    JsonPath,
    PathNotFoundError,
    PathSyntaxError,
    PayloadTemplate,
    StatesError,
    parse_path,
    parse_reference_path,
)
from etl.stepfunctions.states import (
    ALL,
    FAIL_INTRINSICS,
    MAX_DELAY_SECONDS,
    MAX_SECONDS,
    TaskHandler,
    _Catcher,
    _Retrier,
    _Rule,
    _Scope,
    _State,
)

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
        heartbeat, state.heartbeat_path = self.seconds_pair(state.name, raw, "HeartbeatSeconds")
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


