"""The compiled form of a definition, and what an execution reports (events, result, task context)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Final

from etl.errors import AslError
from etl.stepfunctions.paths import RUNTIME, Expression, JsonPath, PayloadTemplate

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
DATA_LIMIT_EXCEEDED: Final = "States.DataLimitExceeded"
UNCATCHABLE: Final = frozenset({RUNTIME})  # AWS catches DataLimitExceeded with it or States.ALL (recorded)
DATA_LIMIT_BYTES: Final = 262_144  # 256 KiB of JSON: the most a state may return or pass on
MAX_SECONDS: Final = 99_999_999
MAX_WAIT_SECONDS: Final = 2**31 - 1  # AWS: "Wait state delay is too long." beyond (about 24,855 days)
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
    heartbeat_path: JsonPath | None = None
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


