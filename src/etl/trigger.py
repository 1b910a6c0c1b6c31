"""Start pipeline executions for landing events: the logic of the start_pipeline Lambda.

The local watcher calls :func:`start_runs` with a local starter; the Lambda calls it with a
Step Functions starter. A duplicate event maps to the same execution name and is reported
as a duplicate, not an error; one bad record does not stop the others.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any, Protocol

from etl.errors import EtlError
from etl.events import RunRequest, Skipped, SourceObject, plan_run, sources_from_s3_event

logger = logging.getLogger(__name__)


class ExecutionAlreadyExistsError(EtlError):
    """An execution with this name was already started (a duplicate event)."""


class ExecutionStarter(Protocol):
    def start(self, request: RunRequest) -> str:
        """Start one execution named ``request.run_id``; return its id/ARN.

        Raises ExecutionAlreadyExistsError when that name was used before.
        """
        ...


@dataclass
class StartReport:
    started: list[dict[str, str]] = field(default_factory=list)
    duplicates: list[dict[str, str]] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)
    failed: list[dict[str, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "started": self.started,
            "duplicates": self.duplicates,
            "skipped": self.skipped,
            "failed": self.failed,
        }


def start_runs(
    sources: list[SourceObject], starter: ExecutionStarter, report: StartReport | None = None
) -> StartReport:
    report = report or StartReport()
    for source in sources:
        plan = plan_run(source)
        if isinstance(plan, Skipped):
            _log("skipped", key=source.key, reason=plan.reason)
            report.skipped.append({"key": source.key, "reason": plan.reason})
            continue
        try:
            execution = starter.start(plan)
        except ExecutionAlreadyExistsError:
            _log("duplicate", key=source.key, run_id=plan.run_id)
            report.duplicates.append({"key": source.key, "run_id": plan.run_id})
        except Exception as exc:  # one failing record must not stop the batch
            _log("failed", key=source.key, run_id=plan.run_id, error=f"{type(exc).__name__}: {exc}")
            report.failed.append({"key": source.key, "run_id": plan.run_id, "error": str(exc)})
        else:
            _log("started", key=source.key, run_id=plan.run_id, execution=execution)
            report.started.append({"key": source.key, "run_id": plan.run_id, "execution": execution})
    return report


def start_runs_for_event(event: dict[str, Any], starter: ExecutionStarter) -> StartReport:
    sources, bad = sources_from_s3_event(event)
    report = StartReport()
    for item in bad:
        _log("failed", key=item.key, error=item.reason)
        report.failed.append({"key": item.key, "error": item.reason})
    return start_runs(sources, starter, report)


def _log(outcome: str, **fields: str) -> None:
    level = logging.WARNING if outcome in ("failed",) else logging.INFO
    logger.log(level, json.dumps({"message": f"landing object {outcome}", "outcome": outcome, **fields}))
