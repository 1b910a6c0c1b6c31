"""Step Functions' local twin: an executor for Amazon States Language machines in the JSONPath query language.

The same ASL file that runs on AWS Step Functions runs here, with each Task's ``Resource`` ARN
mapped to a Python handler ``(effective_input, TaskContext) -> result``. The constructor validates
the whole definition (Parallel branches included) and refuses, with ``AslDefinitionError`` naming
the state, anything it cannot run faithfully. ``execute`` never raises for a runtime failure: an
uncaught error ends the execution as FAILED with its error and cause.

Implemented: Task, Choice, Wait, Pass, Parallel, Succeed and Fail; InputPath -> Parameters -> task
-> ResultSelector -> ResultPath -> OutputPath (paths, payload templates and intrinsic functions are
in ``paths`` and ``intrinsics``); Retry (IntervalSeconds, MaxAttempts, BackoffRate,
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
  Wait/Fail/Timeout/Heartbeat paths) is ``States.Runtime``. Its cause is worded as AWS words it and
  starts like AWS's: "An error occurred while executing the state 'X' (entered at the event id #n). ",
  where n is the id AWS's execution history would give the state's Entered event (ExecutionStarted
  is #1; each state adds Entered and Exited, each Task attempt Scheduled, Started and its outcome,
  a Parallel Started and its outcome around the branches).
* A state whose result or output is over 256 KiB of JSON (262,144 bytes) fails with
  ``States.DataLimitExceeded``, cause "The state/task '<name>' returned a result with a size
  exceeding the maximum number of bytes service limit." (a Task's result names its Resource ARN,
  or the service of an optimized integration such as ``lambda``); as recorded on AWS a catcher for
  it or for ``States.ALL`` catches it.
* A ResultPath that cannot be applied is ``States.ResultPathMatchFailure``; an intrinsic function
  given bad values ``States.IntrinsicFailure``; a Choice without a match or Default
  ``States.NoChoiceMatched``; a Task over ``TimeoutSeconds`` ``States.Timeout`` with an empty cause,
  as AWS gives it (the handler runs in a worker thread, abandoned when it times out).
* A handler raising ``TaskFailedError`` fails with that error and cause; any other exception fails
  with ``States.TaskFailed`` and cause ``"<ExceptionType>: <message>"``; a result that is not JSON
  fails with ``States.TaskFailed`` too. Handler inputs and results are copies, as JSON would be.
* Parallel runs its branches in threads; its result is the list of branch outputs in branch order.
  When a branch fails, its siblings start no further state and the Parallel fails with that error
  (a nested Parallel stopped that way reports ``StateFailed`` with ``States.BranchFailed``).
* Wait calls the injected ``sleep`` with the seconds to wait (never negative; more than 2**31 - 1,
  about 24,855 days, is ``States.Runtime`` "Wait state delay is too long."); ``Timestamp`` waits
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
workers to send heartbeats locally; the path must still select a positive integer, or the state
fails before its task runs), a Task's ``Credentials`` (handlers run with the local
identity), the machine-level ``TimeoutSeconds`` and ``Version``, and ``Comment`` everywhere.

Events: every step is reported as an ``ExecutionEvent`` to the optional listener (serialized under a
lock, so it may be called from branch threads) and collected in ``ExecutionResult.events``. Each
``StateEntered`` is closed by ``StateExited`` (``output``, ``next``, ``duration_seconds``) or
``StateFailed`` (``error``, ``cause``, ``duration_seconds``); ``TaskRetry`` (``error``, ``cause``,
``attempt``, ``retrier``, ``delay_seconds``) precedes a retry and ``TaskCaught`` (``error``,
``cause``, ``catcher``, ``next``, ``output``) follows a StateFailed that a catcher handles. Events
of states inside a Parallel carry ``branch`` (``"Parallel name[index]"``, nested with ``/``). A
listener that raises is logged and ignored; the execution goes on.

Modules: ``states`` (the compiled definition: states, retriers, catchers, events and results),
``compiler`` (validation of a definition and its compilation, Choice rules included),
``execution`` (``StateMachine`` and one execution's run), ``paths`` (JsonPath, ResultPath and
payload templates) and ``intrinsics`` (the ``States.*`` functions).
"""

from etl.stepfunctions.execution import StateMachine
from etl.stepfunctions.states import ExecutionEvent, ExecutionResult, TaskContext, TaskHandler

__all__ = ["ExecutionEvent", "ExecutionResult", "StateMachine", "TaskContext", "TaskHandler"]
