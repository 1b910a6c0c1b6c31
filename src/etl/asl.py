"""The local Step Functions executor's former module, kept for callers that import ``etl.asl``.

The external conformance runner (``../shared/asl_conformance/run.py``) imports this path; the
executor itself is the ``etl.stepfunctions`` package.
"""

from etl.stepfunctions import ExecutionEvent, ExecutionResult, StateMachine, TaskContext, TaskHandler

__all__ = ["ExecutionEvent", "ExecutionResult", "StateMachine", "TaskContext", "TaskHandler"]
