"""Memory of a whole process tree, sampled from /proc in a background thread.

PySpark's JVM is a child of the Python process, so the Python process alone would hide most
of the pipeline's memory. Each sample walks the tree below the root and adds up each
process's Pss (proportional set size: shared pages are split between their users, so the sum
does not double-count pages a forked child shares with its parent), falling back to VmRSS
where smaps_rollup cannot be read.

Reading smaps_rollup makes the kernel walk the process's page tables: for a JVM with a large
heap on a busy machine one read took up to ~0.3 s, and it competes with the measured process
for the CPU and for its memory map lock. So Pss is read at most every ``PSS_COST_FACTOR`` times
the duration of the previous Pss read (never more often than the interval), keeping the
sampler under ~10% of one core; VmRSS (a counter, microseconds to read) is read every interval
and kept alongside, so a short spike between two Pss reads still shows in ``peak_rss_bytes``.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

PROC = Path("/proc")
DEFAULT_INTERVAL = 0.05
PSS_COST_FACTOR = 10.0


@dataclass(frozen=True)
class ProcessInfo:
    pid: int
    ppid: int
    command: str
    start_ticks: int  # start time in clock ticks since boot: tells a reused pid from the original


@dataclass(frozen=True)
class Sample:
    at: float  # time.monotonic(): the same clock as the workers' step times (CLOCK_MONOTONIC)
    tree_rss: int
    root_rss: int
    processes: int
    tree_pss: int | None = None  # None: Pss was not read in this sample (see PSS_COST_FACTOR)
    root_pss: int | None = None


def read_process(pid: int) -> ProcessInfo | None:
    try:
        text = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    # The command is in parentheses and may itself contain spaces or parentheses.
    head, _, tail = text.rpartition(")")
    fields = tail.split()
    try:
        return ProcessInfo(pid=pid, ppid=int(fields[1]), command=head.partition("(")[2], start_ticks=int(fields[19]))
    except (IndexError, ValueError):
        return None


def all_processes() -> dict[int, ProcessInfo]:
    found = {}
    for entry in os.scandir(PROC):
        if entry.name.isdigit():
            info = read_process(int(entry.name))
            if info is not None:
                found[info.pid] = info
    return found


def process_tree(root: int, processes: dict[int, ProcessInfo] | None = None) -> list[ProcessInfo]:
    """The root and all its descendants (root first), from one snapshot of /proc."""
    processes = all_processes() if processes is None else processes
    if root not in processes:
        return []
    children: dict[int, list[int]] = {}
    for info in processes.values():
        children.setdefault(info.ppid, []).append(info.pid)
    tree, pending = [], [root]
    while pending:
        pid = pending.pop()
        tree.append(processes[pid])
        pending.extend(children.get(pid, ()))
    return tree


def _proc_kib_field(pid: int, file: str, label: str) -> int | None:
    """A ``Label:   N kB`` line of ``/proc/<pid>/<file>`` in bytes, or None if it cannot be read."""
    try:
        for line in (PROC / str(pid) / file).read_text().splitlines():
            if line.startswith(label):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def process_pss(pid: int) -> int | None:
    """Pss of one process in bytes, or None if smaps_rollup cannot be read (gone, or no permission)."""
    return _proc_kib_field(pid, "smaps_rollup", "Pss:")


def process_rss(pid: int) -> int | None:
    """VmRSS of one process in bytes, or None if it is gone (or a zombie, which has none)."""
    return _proc_kib_field(pid, "status", "VmRSS:")


def is_same_process(info: ProcessInfo) -> bool:
    current = read_process(info.pid)
    return current is not None and current.start_ticks == info.start_ticks


@dataclass
class TreeSampler:
    """Samples the memory of ``root`` and its descendants every ``interval`` seconds until stopped."""

    root: int
    interval: float = DEFAULT_INTERVAL
    samples: list[Sample] = field(default_factory=list)
    commands: set[str] = field(default_factory=set)
    metrics: set[str] = field(default_factory=set)
    # Every process seen in the tree: once the root exits its children are re-parented and drop out
    # of the tree, so cleaning up after it needs this list, not the last sample's tree.
    seen: dict[tuple[int, int], ProcessInfo] = field(default_factory=dict)
    pss_read_seconds: float = 0.0  # total time spent reading smaps_rollup: the sampler's own cost
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> TreeSampler:
        self._thread = threading.Thread(target=self._loop, name=f"memory-sampler-{self.root}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _loop(self) -> None:
        next_pss = 0.0
        while not self._stop.is_set():
            started = time.monotonic()
            with_pss = started >= next_pss
            self.sample_once(with_pss=with_pss)
            if with_pss:
                cost = time.monotonic() - started
                next_pss = started + max(self.interval, PSS_COST_FACTOR * cost)
            self._stop.wait(self.interval)

    def sample_once(self, *, with_pss: bool = True) -> Sample | None:
        at = time.monotonic()
        tree = process_tree(self.root)
        if not tree:
            return None
        tree_rss = root_rss = tree_pss = root_pss = 0
        for info in tree:
            rss = process_rss(info.pid)
            if rss is None:
                continue  # exited (or a zombie) since the listing
            self.commands.add(info.command)
            tree_rss += rss
            pss = None
            if with_pss:
                read_at = time.monotonic()
                pss = process_pss(info.pid)
                self.pss_read_seconds += time.monotonic() - read_at
                self.metrics.add("pss" if pss is not None else "rss")
                tree_pss += rss if pss is None else pss
            if info.pid == self.root:
                root_rss, root_pss = rss, (rss if pss is None else pss)
        sample = Sample(at=at, tree_rss=tree_rss, root_rss=root_rss, processes=len(tree),
                        tree_pss=tree_pss if with_pss else None, root_pss=root_pss if with_pss else None)
        self.samples.append(sample)
        self.seen.update({(info.pid, info.start_ticks): info for info in tree})
        return sample

    # --- summaries -------------------------------------------------------------------------
    @property
    def pss_samples(self) -> list[Sample]:
        return [s for s in self.samples if s.tree_pss is not None]

    @property
    def peak_bytes(self) -> int:
        """Peak of the whole tree: Pss (RSS for processes whose Pss is unreadable)."""
        return max((s.tree_pss or 0 for s in self.pss_samples), default=0)

    @property
    def peak_root_bytes(self) -> int:
        return max((s.root_pss or 0 for s in self.pss_samples), default=0)

    @property
    def peak_rss_bytes(self) -> int:
        """Peak of the summed VmRSS, read every interval (counts shared pages once per process)."""
        return max((s.tree_rss for s in self.samples), default=0)

    @property
    def max_processes(self) -> int:
        return max((s.processes for s in self.samples), default=0)

    @property
    def metric(self) -> str:
        """``pss``, ``rss`` or ``pss+rss`` (when some processes could only be read as RSS)."""
        return "+".join(sorted(self.metrics, reverse=True)) or "none"

    def peak_between(self, start: float, end: float) -> int:
        """Peak tree Pss of the samples taken in [start, end]; for a step shorter than the gap
        between two Pss reads, the last Pss sample before its end (else the first after it)."""
        samples = self.pss_samples
        inside = [s.tree_pss or 0 for s in samples if start <= s.at <= end]
        if inside:
            return max(inside)
        before = [s for s in samples if s.at <= end]
        if before:
            return before[-1].tree_pss or 0
        after = [s for s in samples if s.at > end]
        return (after[0].tree_pss or 0) if after else 0


def descendants_alive(tree: Iterable[ProcessInfo], root: int) -> list[ProcessInfo]:
    """Processes of a recorded tree (except the root) that still run: orphans to clean up."""
    return [info for info in tree if info.pid != root and is_same_process(info)]
