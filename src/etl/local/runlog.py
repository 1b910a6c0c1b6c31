"""The local run log: one JSON document per run (status, steps with times, counts, error).

It is what ``etl runs`` shows, and the local equivalent of the Step Functions execution
history plus the Glue job-run list. Each write replaces the file atomically.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RUNNING, SUCCEEDED, FAILED = "RUNNING", "SUCCEEDED", "FAILED"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class Step:
    """One state of a run; a state entered again (a crawler polled once more) adds to its row."""

    state: str
    started_at: str
    seconds: float | None = None
    status: str = RUNNING
    error: str | None = None
    retries: int = 0
    entries: int = 1


@dataclass
class RunRecord:
    run_id: str
    dataset: str
    source: dict[str, Any]
    status: str = RUNNING
    started_at: str = field(default_factory=_now)
    ended_at: str | None = None
    seconds: float | None = None
    counts: dict[str, Any] = field(default_factory=dict)
    steps: list[Step] = field(default_factory=list)
    error: str | None = None
    cause: str | None = None
    reason: str | None = None  # the failure in one line, as the failure notification gives it
    pid: int = field(default_factory=os.getpid)

    def headline(self) -> str:
        """The error and its reason in one line (``States.TaskFailed: s3://…: not UTF-8 text …``)."""
        return ": ".join(part for part in (self.error, self.reason) if part)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunRecord:
        steps = [Step(**s) for s in data.pop("steps", [])]
        return cls(**data, steps=steps)


class RunLog:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._lock = threading.Lock()

    def _path(self, run_id: str) -> Path:
        return self.folder / f"{run_id}.json"

    def get(self, run_id: str) -> RunRecord | None:
        path = self._path(run_id)
        if not path.is_file():
            return None
        return RunRecord.from_dict(json.loads(path.read_text(encoding="utf-8")))

    def save(self, record: RunRecord) -> None:
        with self._lock:
            self.folder.mkdir(parents=True, exist_ok=True)
            temporary = self.folder / f".{record.run_id}.{threading.get_ident()}.tmp"
            temporary.write_text(json.dumps(asdict(record), indent=2), encoding="utf-8")
            os.replace(temporary, self._path(record.run_id))

    def create(self, record: RunRecord) -> bool:
        """Claim ``record.run_id`` atomically; False when a record for it exists already."""
        self.folder.mkdir(parents=True, exist_ok=True)
        temporary = self.folder / f".{record.run_id}.{os.getpid()}.{threading.get_ident()}.new"
        temporary.write_text(json.dumps(asdict(record), indent=2), encoding="utf-8")
        try:
            os.link(temporary, self._path(record.run_id))  # fails if the name exists: one winner
        except FileExistsError:
            return False
        finally:
            temporary.unlink(missing_ok=True)
        return True

    def list(self, limit: int | None = None) -> list[RunRecord]:
        if not self.folder.is_dir():
            return []
        records = [RunRecord.from_dict(json.loads(p.read_text(encoding="utf-8"))) for p in self.folder.glob("*.json")]
        records.sort(key=lambda r: r.started_at)
        return records[-limit:] if limit else records


def is_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def cause_text(cause: Any) -> str:
    """A Step Functions cause in one line: the message inside a Glue job run or an Athena query, else the text."""
    if isinstance(cause, str):
        try:
            parsed = json.loads(cause)
        except ValueError:
            return " ".join(cause.split())
        if isinstance(parsed, dict):
            status = parsed.get("QueryExecution", {}).get("Status", {})
            return " ".join(str(parsed.get("ErrorMessage") or status.get("StateChangeReason") or cause).split())
    return " ".join(str(cause).split())
