"""Start a command as a child process with its memory sampled for its whole life.

Only processes this module started (and their descendants it saw) are ever signalled, each
by pid, after checking the pid still belongs to the same process.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.memory import DEFAULT_INTERVAL, TreeSampler, descendants_alive

ORPHAN_GRACE_SECONDS = 10.0


@dataclass
class Finished:
    exit_code: int | None  # None: it had to be killed
    started: float  # time.monotonic() just before the process was spawned
    ended: float
    sampler: TreeSampler
    log: Path

    @property
    def wall_seconds(self) -> float:
        return self.ended - self.started

    def log_tail(self, lines: int = 25) -> str:
        try:
            return "\n".join(self.log.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


class SampledProcess:
    """A running child process plus the sampler that follows its process tree."""

    def __init__(
        self,
        command: Sequence[str],
        *,
        log: Path,
        cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
        interval: float = DEFAULT_INTERVAL,
    ) -> None:
        self.log = log
        log.parent.mkdir(parents=True, exist_ok=True)
        self._log_handle = log.open("wb")
        self.started = time.monotonic()
        self.process = subprocess.Popen(
            list(command),
            cwd=cwd,
            env=dict(env) if env is not None else None,
            stdin=subprocess.DEVNULL,
            stdout=self._log_handle,
            stderr=subprocess.STDOUT,
        )
        self.sampler = TreeSampler(self.process.pid, interval=interval).start()

    @property
    def pid(self) -> int:
        return self.process.pid

    def poll(self) -> int | None:
        return self.process.poll()

    def wait(self, timeout: float | None = None) -> Finished:
        """Wait for the exit (kill it after ``timeout`` seconds) and clean up orphans it left."""
        exit_code: int | None
        try:
            exit_code = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self._kill()
            exit_code = None
        ended = time.monotonic()
        self.sampler.stop()
        self._reap_orphans()
        self._log_handle.close()
        return Finished(exit_code=exit_code, started=self.started, ended=ended, sampler=self.sampler, log=self.log)

    def interrupt(self, timeout: float = 60.0) -> Finished:
        """Stop it like Ctrl-C would (SIGINT), then SIGTERM and SIGKILL if it does not exit."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        return self.wait(timeout=timeout)

    def _kill(self) -> None:
        for sig, grace in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
            if self.process.poll() is not None:
                return
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                continue

    def _reap_orphans(self) -> None:
        """A JVM normally exits with its Python parent; if it did not, end it (it is ours)."""
        deadline = time.monotonic() + ORPHAN_GRACE_SECONDS
        orphans = descendants_alive(self.sampler.seen.values(), self.pid)
        while orphans and time.monotonic() < deadline:
            time.sleep(0.2)
            orphans = descendants_alive(orphans, self.pid)
        for info in orphans:
            with contextlib.suppress(ProcessLookupError):
                os.kill(info.pid, signal.SIGKILL)


def run_sampled(
    command: Sequence[str],
    *,
    log: Path,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float | None = None,
    interval: float = DEFAULT_INTERVAL,
) -> Finished:
    return SampledProcess(command, log=log, cwd=cwd, env=env, interval=interval).wait(timeout=timeout)
