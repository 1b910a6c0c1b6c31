"""Start pipeline executions for landing events: the logic of the start_pipeline Lambda.

The local watcher calls :func:`start_runs` with a local starter; the Lambda calls it with a
Step Functions starter. A duplicate event maps to the same execution name and is reported
as a duplicate, not an error; one bad record does not stop the others.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from etl.contracts import Contract
from etl.contracts.store import ContractStore, apply_contract, contracts_in_force, dataset_of_contract_key
from etl.errors import ContractError, EtlError
from etl.events import RunRequest, Skipped, SourceObject, plan_run, run_id_for, sources_from_s3_event

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


@dataclass(frozen=True)
class ContractDrops:
    """What the trigger needs for contracts dropped into landing: where the contracts in force are kept, and
    how to read a landing object's bytes."""

    store: ContractStore
    read_landing: Callable[[SourceObject], bytes]


CONTRACT_REFUSED = "ContractRefused"


def plan(
    source: SourceObject, contracts: ContractDrops | None, in_force: Mapping[str, Contract] | None = None
) -> RunRequest | Skipped:
    """A landing object's run: a contract put in force (or refused), or a run of its dataset.

    ``in_force``: the contracts in force, when the caller has read them already (else they are read here).
    """
    updated = dataset_of_contract_key(source.key) if contracts is not None else None
    if contracts is None or updated is None:
        if in_force is None and contracts is not None:
            in_force = contracts_in_force(contracts.store)
        return plan_run(source, in_force)
    run_id = run_id_for(source, updated)
    try:
        text = contracts.read_landing(source).decode("utf-8")
        update = apply_contract(updated, text, contracts.store)
    except (ContractError, UnicodeDecodeError) as exc:
        cause = f"{source.key}: {exc}; the contract in force is unchanged"
        return RunRequest(run_id=run_id, dataset=updated, source=source,
                          refusal={"Error": CONTRACT_REFUSED, "Cause": cause})
    return RunRequest(run_id=run_id, dataset=updated, source=source, contract_update=update.as_input())


def start_runs(
    sources: list[SourceObject], starter: ExecutionStarter, report: StartReport | None = None,
    contracts: ContractDrops | None = None,
) -> StartReport:
    report = report or StartReport()
    # The contracts in force are read once for the batch, and again only after a contract drop in it.
    in_force: dict[str, Contract] | None = None
    for source in sources:
        if contracts is not None and in_force is None and dataset_of_contract_key(source.key) is None:
            in_force = contracts_in_force(contracts.store)
        plan_or_skip = plan(source, contracts, in_force)
        if isinstance(plan_or_skip, Skipped):
            _log("skipped", key=source.key, reason=plan_or_skip.reason)
            report.skipped.append({"key": source.key, "reason": plan_or_skip.reason})
            continue
        request = plan_or_skip
        if request.contract_update is not None:
            in_force = None
        try:
            execution = starter.start(request)
        except ExecutionAlreadyExistsError:
            _log("duplicate", key=source.key, run_id=request.run_id)
            report.duplicates.append({"key": source.key, "run_id": request.run_id})
        except Exception as exc:  # one failing record must not stop the batch
            _log("failed", key=source.key, run_id=request.run_id, error=f"{type(exc).__name__}: {exc}")
            report.failed.append({"key": source.key, "run_id": request.run_id, "error": str(exc)})
        else:
            _log("started", key=source.key, run_id=request.run_id, execution=execution)
            report.started.append({"key": source.key, "run_id": request.run_id, "execution": execution})
    return report


def start_runs_for_event(
    event: dict[str, Any], starter: ExecutionStarter, contracts: ContractDrops | None = None
) -> StartReport:
    sources, bad = sources_from_s3_event(event)
    report = StartReport()
    for item in bad:
        _log("failed", key=item.key, error=item.reason)
        report.failed.append({"key": item.key, "error": item.reason})
    return start_runs(sources, starter, report, contracts)


def _log(outcome: str, **fields: str) -> None:
    level = logging.WARNING if outcome in ("failed",) else logging.INFO
    logger.log(level, json.dumps({"message": f"landing object {outcome}", "outcome": outcome, **fields}))
