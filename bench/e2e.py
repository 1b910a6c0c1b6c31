"""Local end-to-end latency: from a file dropped into landing/ to its notification in the outbox.

Cold: a new ``etl --lake DIR run FILE`` process (JVM start included), timed from the moment the
process is spawned until the notification file appears; the exit time is kept too.
Warm: an ``etl --lake DIR watch`` process that has already finished a warm-up file (so its
Spark session is live); the file is copied in as a hidden ``.name.tmp`` and renamed, the way
a producer's upload becomes visible, and timed from the start of the copy to the notification.
The rename is a file event on Linux, and the watcher takes the file at once; elsewhere it picks
up a file once it looks the same in two scans, and its scan interval (recorded with the results)
is part of the warm latency.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.measure import SampledProcess

PROJECT_ROOT = Path(__file__).resolve().parents[1]
POLL_SECONDS = 0.02
COLD, WARM = "cold", "warm"
MODES = (COLD, WARM)


class E2EError(RuntimeError):
    """The pipeline did not notify in time, or its process died."""


@dataclass
class Notified:
    seconds: float  # drop -> notification
    started: float  # time.monotonic() of the drop
    ended: float
    status: str
    run_id: str | None
    counts: dict[str, Any] = field(default_factory=dict)
    states: dict[str, float] = field(default_factory=dict)  # seconds per ASL task state, from the run log


def etl_command() -> list[str]:
    """The installed ``etl`` console script next to this interpreter, else the module."""
    script = Path(sys.executable).with_name("etl")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "etl.cli"]


def outbox(lake: Path) -> Path:
    return lake / "_system" / "outbox"


def notifications(lake: Path) -> set[Path]:
    folder = outbox(lake)
    if not folder.is_dir():
        return set()
    return {p for p in folder.glob("*.json") if not p.name.startswith(".")}


def wait_for_notification(lake: Path, before: set[Path], process: SampledProcess, timeout: float) -> tuple[Path, float]:
    """The first new notification file and when it was seen; fails if the process exits or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        new = notifications(lake) - before
        if new:
            return min(new), time.monotonic()
        if process.poll() is not None:
            new = notifications(lake) - before  # it may have published just before exiting
            if new:
                return min(new), time.monotonic()
            raise E2EError(f"etl exited with code {process.poll()} before notifying; see {process.log}")
        time.sleep(POLL_SECONDS)
    raise E2EError(f"no notification within {timeout:.0f}s; see {process.log}")


def read_notification(lake: Path, path: Path, started: float, ended: float) -> Notified:
    note = json.loads(path.read_text(encoding="utf-8"))
    try:
        body = json.loads(note.get("message", ""))
    except ValueError:
        body = {}
    run_id = body.get("run_id") if isinstance(body, dict) else None
    return Notified(
        seconds=ended - started,
        started=started,
        ended=ended,
        status=str(body.get("status", "unknown")) if isinstance(body, dict) else "unknown",
        run_id=run_id,
        counts=body.get("counts", {}) if isinstance(body, dict) else {},
        states=_state_seconds(lake, run_id),
    )


def _state_seconds(lake: Path, run_id: str | None) -> dict[str, float]:
    """Where the run's time went, per task state (the local run log, as ``etl runs --steps`` shows it)."""
    path = lake / "_system" / "runs" / f"{run_id}.json"
    if run_id is None or not path.is_file():
        return {}
    seconds: dict[str, float] = {}
    for step in json.loads(path.read_text(encoding="utf-8")).get("steps", []):
        if step.get("seconds") is not None:
            seconds[step["state"]] = seconds.get(step["state"], 0.0) + float(step["seconds"])
    return seconds


def run_cold(source: Path, lake: Path, log: Path, timeout: float) -> tuple[Notified, SampledProcess, float]:
    """One ``etl run`` in a new process; returns the notification, the process and its exit time."""
    process = SampledProcess([*etl_command(), "--lake", str(lake), "run", str(source)], log=log, cwd=PROJECT_ROOT)
    try:
        path, seen = wait_for_notification(lake, set(), process, timeout)
    except E2EError:
        process.interrupt(timeout=30)
        raise
    finished = process.wait(timeout=timeout)
    if finished.exit_code != 0:
        raise E2EError(f"etl run exited with {finished.exit_code}: {finished.log_tail(5)}")
    return read_notification(lake, path, process.started, seen), process, finished.ended - process.started


class Watcher:
    """A running ``etl watch`` on its own lake, warmed up by one file before anything is measured."""

    def __init__(self, lake: Path, log: Path, *, interval: float, timeout: float) -> None:
        self.lake = lake
        self.timeout = timeout
        self.landing = lake / "landing" / "shipping"
        self.process = SampledProcess(
            [*etl_command(), "--lake", str(lake), "watch", "--interval", str(interval)], log=log, cwd=PROJECT_ROOT
        )

    def drop(self, source: Path, name: str) -> Notified:
        """Copy ``source`` in as ``name`` (hidden while copying) and wait for its notification."""
        self.landing.mkdir(parents=True, exist_ok=True)
        before = notifications(self.lake)
        target = self.landing / name
        temporary = self.landing / f".{name}.tmp"
        started = time.monotonic()
        shutil.copyfile(source, temporary)
        temporary.replace(target)
        path, seen = wait_for_notification(self.lake, before, self.process, self.timeout)
        return read_notification(self.lake, path, started, seen)

    def stop(self) -> None:
        finished = self.process.interrupt()
        if finished.exit_code not in (0, 130):
            raise E2EError(f"etl watch exited with {finished.exit_code}: {finished.log_tail(5)}")
