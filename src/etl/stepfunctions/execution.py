"""Running a compiled definition: ``StateMachine`` and one execution, state by state."""

from __future__ import annotations

import copy
import json
import logging
import random as random_module
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import wait as wait_for
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from etl.errors import TaskFailedError
from etl.stepfunctions.compiler import _RETRYING, _Compiler, _is_int, parse_timestamp
from etl.stepfunctions.intrinsics import java_text
from etl.stepfunctions.paths import RUNTIME, Expression, JsonPath, StatesError, place, reference_value, select
from etl.stepfunctions.states import (
    ALL,
    BRANCH_FAILED,
    DATA_LIMIT_BYTES,
    DATA_LIMIT_EXCEEDED,
    FAILED,
    MAX_DELAY_SECONDS,
    MAX_WAIT_SECONDS,
    SUCCEEDED,
    TASK_FAILED,
    TIMEOUT,
    UNCATCHABLE,
    ExecutionEvent,
    ExecutionResult,
    TaskContext,
    TaskHandler,
    _Cancelled,
    _Catcher,
    _Retrier,
    _Scope,
    _State,
)

logger = logging.getLogger(__name__)


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
        self.history = 1  # the id of the last event AWS would have recorded (ExecutionStarted is #1)
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

    def next_event_id(self, count: int = 1) -> int:
        """Count ``count`` more events of AWS's execution history; the id of the last one.

        AWS numbers them: ExecutionStarted #1, then per state Entered and Exited, Scheduled, Started
        and Succeeded/Failed/TimedOut per Task attempt, ParallelStateStarted and Succeeded/Failed
        around the branches. The id of a state's Entered event is quoted in States.Runtime causes.
        """
        with self.lock:
            self.history += count
            return self.history

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
        entered_event = self.next_event_id()
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
                _check_size(output, state.name)
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
                if err.error == RUNTIME and not err.located:
                    err = StatesError(
                        RUNTIME,
                        f"An error occurred while executing the state '{state.name}' "
                        f"(entered at the event id #{entered_event}). {err.cause}",
                        located=True,
                    )
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
        self.next_event_id()
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
        self.next_event_id()  # the state exits to the catcher's Next
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
        return select(visit.state.input_path, visit.raw, visit.context)

    def parameters(self, visit: _Visit, effective: Any) -> Any:
        if visit.state.parameters is None:
            return effective
        return visit.state.parameters.evaluate(effective, visit.context, self.machine._random)

    def finish(self, visit: _Visit, result: Any) -> Any:
        state = visit.state
        if state.result_selector is not None:
            result = state.result_selector.evaluate(result, visit.context, self.machine._random)
        output = place(state.result_path, visit.raw, result)
        return select(state.output_path, output, visit.context)

    def run_pass(self, visit: _Visit) -> tuple[Any, str | None]:
        effective = self.parameters(visit, self.effective_input(visit))
        result = copy.deepcopy(visit.state.result) if visit.state.has_result else effective
        _check_size(result, visit.state.name)
        return self.finish(visit, result), visit.state.next

    def run_task(self, visit: _Visit) -> tuple[Any, str | None]:
        state = visit.state
        effective = self.effective_input(visit)
        timeout = state.timeout
        if state.timeout_path is not None:
            timeout = _positive_seconds(state.timeout_path, effective, visit.context, "TimeoutSecondsPath")
        if state.heartbeat_path is not None:  # checked like AWS does, then unused (no heartbeats locally)
            _positive_seconds(state.heartbeat_path, effective, visit.context, "HeartbeatSecondsPath")
        payload = self.parameters(visit, effective)
        return self.finish(visit, self.invoke(visit, payload, timeout)), state.next

    def invoke(self, visit: _Visit, payload: Any, timeout: int | None) -> Any:
        state = visit.state
        assert state.handler is not None
        task_context = TaskContext(
            self.name, state.name, visit.retry_count, copy.deepcopy(self.input), visit.entered, state.resource
        )
        self.next_event_id(2)  # TaskScheduled, TaskStarted
        try:
            result = _call(state.handler, copy.deepcopy(payload), task_context, timeout)
        except StatesError:
            raise
        except TaskFailedError as exc:
            raise StatesError(exc.error, exc.cause) from None
        except Exception as exc:
            logger.warning("the handler of %r (%s) raised", state.name, state.resource, exc_info=True)
            raise StatesError(TASK_FAILED, f"{type(exc).__name__}: {exc}") from None
        finally:
            self.next_event_id()  # TaskSucceeded, TaskFailed or TaskTimedOut
        try:
            result = _json_copy(result)
        except (TypeError, ValueError) as exc:
            raise StatesError(
                TASK_FAILED, f"the handler of {state.resource} returned a value that is not JSON: {exc}"
            ) from None
        _check_size(result, _task_label(state.resource))
        return result

    def run_parallel(self, visit: _Visit) -> tuple[Any, str | None]:
        payload = self.parameters(visit, self.effective_input(visit))
        self.next_event_id()  # ParallelStateStarted
        try:
            results = self.run_branches(visit, payload)
        finally:
            self.next_event_id()  # ParallelStateSucceeded or ParallelStateFailed
        return self.finish(visit, results), visit.state.next

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
        return select(state.output_path, effective, visit.context), target

    def run_wait(self, visit: _Visit) -> tuple[Any, str | None]:
        state = visit.state
        effective = self.effective_input(visit)
        if state.wait_seconds is not None:
            seconds: float = state.wait_seconds
        elif state.wait_timestamp is not None:
            seconds = self.until(state.wait_timestamp)
        else:
            assert state.wait_path is not None
            value = reference_value(state.wait_path, effective, visit.context)
            found = f"{state.wait_path.text} == {java_text(value)}"
            if state.wait_path_is_timestamp:
                moment = parse_timestamp(value)
                if moment is None:
                    raise StatesError(
                        RUNTIME,
                        "The TimestampPath parameter does not reference a valid ISO-8601 extended "
                        f"offset date-time format string: {found}",
                    )
                seconds = self.until(moment)
            else:
                if not _is_int(value) or not -(2**63) <= value < 2**63:
                    raise StatesError(
                        RUNTIME, f"The SecondsPath parameter cannot be parsed as a long value: {found}"
                    )
                if value < 0:
                    raise StatesError(RUNTIME, f"The SecondsPath parameter references a negative value: {found}")
                seconds = value
        if seconds > MAX_WAIT_SECONDS:
            raise StatesError(RUNTIME, "Wait state delay is too long.")
        self.machine._sleep(max(0.0, float(seconds)))
        return select(state.output_path, effective, visit.context), state.next

    def until(self, moment: Decimal) -> float:
        now = self.machine._clock()
        return max(0.0, float(moment - Decimal(int(now.timestamp())) - Decimal(now.microsecond) / 1_000_000))

    def run_succeed(self, visit: _Visit) -> tuple[Any, str | None]:
        effective = self.effective_input(visit)
        return select(visit.state.output_path, effective, visit.context), None

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


def _positive_seconds(path: JsonPath, data: Any, context: Any, field_name: str) -> int:
    seconds = reference_value(path, data, context)
    if not _is_int(seconds) or seconds <= 0:
        raise StatesError(
            RUNTIME, f"{field_name} '{path.text}' must select a positive integer, not {seconds!r}"
        )
    return int(seconds)


def _check_size(value: Any, label: str) -> None:
    """States.DataLimitExceeded when ``value``'s JSON is over the 256 KiB a state may pass on."""
    size = len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode())
    if size > DATA_LIMIT_BYTES:
        raise StatesError(
            DATA_LIMIT_EXCEEDED,
            f"The state/task '{label}' returned a result with a size exceeding the maximum number "
            "of bytes service limit.",
        )


def _task_label(resource: str) -> str:
    """How AWS names a task in a States.DataLimitExceeded cause: the service of an integration
    (``arn:aws:states:::lambda:invoke`` -> ``lambda``, recorded), else the Resource ARN (recorded
    for a Lambda function ARN)."""
    integration = resource.partition(":states:::")[2]
    return integration.split(":")[0] if integration else resource


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
        raise StatesError(TIMEOUT)  # AWS gives States.Timeout no cause
    if "error" in outcome:
        raise outcome["error"]
    return outcome["result"]
