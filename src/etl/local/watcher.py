"""Process files as they land: the local stand-in for the S3 event that triggers the Lambda.

S3 shows an object only when its upload completes; a local file is there while it is written.
A file counts as landed as soon as its writer closes it or renames it into place (Linux file
events, etl.local.file_events), or else once its size and modification time are unchanged
between two scans and it was last written at least ``settle`` seconds ago (a local copy takes
time, and a slow writer may pause longer than one scan interval). A writer that closes and
reopens a file, or pauses longer than that, should write under a hidden name (``.name.tmp``)
and rename the file when it is complete.
Each landed file goes through the same start logic as the Lambda; the runtime keeps its
Spark session warm between runs.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

from etl.errors import LakePathError
from etl.local.file_events import FinishedFiles
from etl.local.lake import LANDING
from etl.local.runtime import LocalRuntime
from etl.trigger import StartReport

logger = logging.getLogger(__name__)


DEFAULT_SETTLE_SECONDS = 1.0


def stable_files(
    previous: dict[Path, tuple[int, int]],
    current: dict[Path, tuple[int, int]],
    *,
    now_ns: int | None = None,
    settle: float = 0.0,
) -> list[Path]:
    """Files whose (size, mtime) did not change since the previous scan and were last written ``settle`` s ago."""
    cutoff = (time.time_ns() if now_ns is None else now_ns) - int(settle * 1e9)
    return sorted(path for path, stat in current.items() if previous.get(path) == stat and stat[1] <= cutoff)


def scan(root: Path) -> dict[Path, tuple[int, int]]:
    found = {}
    for path in root.rglob("*"):
        try:
            if path.is_file():
                stat = path.stat()
                found[path] = (stat.st_size, stat.st_mtime_ns)
        except FileNotFoundError:  # removed between listing and stat
            continue
    return found


def watch(
    runtime: LocalRuntime,
    *,
    interval: float = 1.0,
    settle: float = DEFAULT_SETTLE_SECONDS,
    max_seconds: float | None = None,
    report: Callable[[StartReport], object] | None = None,
    stop: threading.Event | None = None,
    file_events: bool = True,
) -> None:
    """Scan landing/ every ``interval`` seconds until ``max_seconds`` pass or ``stop`` is set.

    A file is taken as soon as a file event says its writer finished it, else once it is unchanged
    between two scans and ``settle`` seconds old; each version of a file (size, mtime) once.
    """
    root = runtime.lake.path(LANDING)
    root.mkdir(parents=True, exist_ok=True)
    deadline = None if max_seconds is None else time.monotonic() + max_seconds
    seen: set[tuple[Path, tuple[int, int]]] = set()
    previous: dict[Path, tuple[int, int]] = {}
    stop = stop or threading.Event()
    events = FinishedFiles.open(root) if file_events else None
    finished: set[Path] = set()
    try:
        while not stop.is_set() and (deadline is None or time.monotonic() < deadline):
            current = scan(root)
            candidates = set(stable_files(previous, current, settle=settle)) | (finished & current.keys())
            previous = current
            _take(runtime, root, sorted(p for p in candidates if (p, current[p]) not in seen), current, seen, report)
            finished = _wait(events, stop, interval)
    finally:
        if events is not None:
            events.close()


def _wait(events: FinishedFiles | None, stop: threading.Event, interval: float) -> set[Path]:
    """Until the next scan: ``interval`` seconds, or less when a file is finished or ``stop`` is set."""
    if events is None:
        stop.wait(interval)
        return set()
    until = time.monotonic() + interval
    while not stop.is_set():
        left = until - time.monotonic()
        if left <= 0:
            return set()
        finished = events.wait(min(left, 0.25))  # short waits, so that ``stop`` is seen soon
        if finished:
            return finished
    return set()


def _take(
    runtime: LocalRuntime,
    root: Path,
    ready: list[Path],
    current: dict[Path, tuple[int, int]],
    seen: set[tuple[Path, tuple[int, int]]],
    report: Callable[[StartReport], object] | None,
) -> None:
    if not ready:
        return
    objects = []
    for path in ready:
        seen.add((path, current[path]))
        try:
            objects.append(runtime.lake.landing_object(path.relative_to(root).as_posix()))
        except FileNotFoundError:
            logger.warning("%s disappeared before it was processed", path)
        except LakePathError as exc:  # e.g. a symlink out of the lake: never read, the others go on
            logger.warning("landing object skipped: %s", exc)
    result = runtime.process_landing(objects)
    if report:
        report(result)
