"""Publishing a job's output so that readers see all of it or none of it.

A job writes into staging folders (``_staging/``: hidden from crawlers and queries), then commits:

1. a journal listing every swap (a staged folder that replaces a final one, or a final folder to
   remove) is written atomically to the dataset's ``_commits/`` folder;
2. each swap is applied: the old folder is moved to ``_trash/``, the staged one moved in;
3. the journal is deleted, then the trash.

A run killed before step 1 leaves only hidden staging folders, which its re-run replaces. Killed
during step 2, the journal remains, and whoever touches the dataset next (the job's re-run, the
local crawler or a local query) rolls it forward before anything else. Applying a swap twice is
harmless, so rolling forward is always safe.

Locally a file lock on the dataset hides a commit in progress: readers hold it shared, a commit
holds it exclusively. On S3 a rename is a copy and there is no lock, so Athena can see a
half-applied commit for the seconds the copies take; the journal still makes the re-run converge.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import urlparse

logger = logging.getLogger(__name__)

COMMITS = "_commits"
TRASH = "_trash"
LOCK_FILE = ".lock"


@dataclass(frozen=True)
class Status:
    name: str
    uri: str
    is_dir: bool
    size: int


class FileStore(Protocol):
    """The few file operations a commit needs; HadoopFs (s3:// and file://) and LocalFileStore have them."""

    def exists(self, uri: str) -> bool: ...
    def rename(self, src: str, dst: str) -> None: ...
    def delete(self, uri: str) -> None: ...
    def write_text(self, uri: str, text: str) -> None: ...
    def read_text(self, uri: str) -> str: ...
    def list(self, uri: str) -> list[Status]: ...


@dataclass(frozen=True)
class Swap:
    """Make ``staged`` the content of ``final``; with ``staged`` None, remove ``final``."""

    final: str
    staged: str | None = None


def _join(base: str, *parts: str) -> str:
    return "/".join([base.rstrip("/"), *parts])


def file_uri(path: str | os.PathLike[str]) -> str:
    """The ``file:`` URI of a local path as Hadoop reads it: the path as it is, not percent-encoded.

    Hadoop's Path takes a URI string's path literally, so ``Path.as_uri()`` (``a%20b``) would name
    another file than ``a b``.
    """
    return "file://" + Path(path).resolve().as_posix()


def local_path(uri: str | os.PathLike[str]) -> Path | None:
    """The local path of a ``file:`` URI (as ``file_uri`` writes it) or plain path; None for another scheme (s3://)."""
    text = os.fspath(uri)
    if text.startswith("file:"):
        rest = text[len("file:") :]
        if rest.startswith("//"):  # file:///path or file://host/path: the path starts at the third slash
            rest = "/" + rest[2:].partition("/")[2]
        return Path(rest)
    if urlparse(text).scheme == "":
        return Path(text)
    return None


@contextmanager
def dataset_lock(dataset: str | os.PathLike[str], *, exclusive: bool) -> Iterator[None]:
    """Hold the dataset's commit lock (local datasets only; S3 has no locks)."""
    path = local_path(dataset)
    if path is None:
        yield
        return
    lock_dir = path / COMMITS
    lock_dir.mkdir(parents=True, exist_ok=True)
    with (lock_dir / LOCK_FILE).open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def commit(store: FileStore, dataset: str, name: str, swaps: Sequence[Swap]) -> None:
    """Apply ``swaps`` to ``dataset`` as one unit (see the module docstring)."""
    with dataset_lock(dataset, exclusive=True):
        _roll_forward(store, dataset)
        journal = _join(dataset, COMMITS, f"{name}.json")
        store.write_text(journal, json.dumps([{"final": s.final, "staged": s.staged} for s in swaps]))
        _apply(store, dataset, swaps)
        store.delete(journal)
        store.delete(_join(dataset, TRASH))


def recover(store: FileStore, dataset: str) -> int:
    """Finish every commit to ``dataset`` that a killed run left half-applied; returns how many."""
    with dataset_lock(dataset, exclusive=True):
        return _roll_forward(store, dataset)


def pending(store: FileStore, dataset: str) -> list[str]:
    """Journals of commits that were started and not finished."""
    return sorted(
        s.uri for s in store.list(_join(dataset, COMMITS)) if not s.is_dir and s.name.endswith(".json")
    )


def _roll_forward(store: FileStore, dataset: str) -> int:
    journals = pending(store, dataset)
    for journal in journals:
        swaps = [Swap(final=item["final"], staged=item["staged"]) for item in json.loads(store.read_text(journal))]
        logger.warning("finishing an interrupted commit to %s (%d swaps, %s)", dataset, len(swaps), journal)
        _apply(store, dataset, swaps)
        store.delete(journal)
    if journals or store.exists(_join(dataset, TRASH)):
        store.delete(_join(dataset, TRASH))
    return len(journals)


def _apply(store: FileStore, dataset: str, swaps: Sequence[Swap]) -> None:
    """Idempotent: a swap whose staged folder is gone was applied already."""
    for swap in swaps:
        if swap.staged is not None and not store.exists(swap.staged):
            continue
        if store.exists(swap.final):
            store.rename(swap.final, _join(dataset, TRASH, uuid.uuid4().hex))
        if swap.staged is not None:
            store.rename(swap.staged, swap.final)


@contextmanager
def reading(datasets: Sequence[str | os.PathLike[str]]) -> Iterator[None]:
    """Read local datasets with no commit in progress, finishing any a killed run left behind."""
    local = sorted({p for p in (local_path(d) for d in datasets) if p is not None and p.is_dir()})
    store = LocalFileStore()
    for path in local:
        if pending(store, str(path)):
            recover(store, str(path))
    with _shared_locks(local):
        yield


@contextmanager
def _shared_locks(paths: Sequence[Path]) -> Iterator[None]:
    if not paths:
        yield
        return
    with dataset_lock(paths[0], exclusive=False), _shared_locks(paths[1:]):
        yield


class LocalFileStore:
    """FileStore on the local file system, for local readers (paths or ``file:`` URIs)."""

    @staticmethod
    def _path(uri: str) -> Path:
        path = local_path(uri)
        if path is None:
            raise ValueError(f"{uri} is not a local path")
        return path

    def exists(self, uri: str) -> bool:
        return self._path(uri).exists()

    def rename(self, src: str, dst: str) -> None:
        target = self._path(dst)
        target.parent.mkdir(parents=True, exist_ok=True)
        self._path(src).rename(target)

    def delete(self, uri: str) -> None:
        path = self._path(uri)
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        elif path.exists() or path.is_symlink():
            path.unlink()

    def write_text(self, uri: str, text: str) -> None:
        path = self._path(uri)
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
        temporary.write_text(text, encoding="utf-8")
        temporary.replace(path)

    def read_text(self, uri: str) -> str:
        return self._path(uri).read_text(encoding="utf-8")

    def list(self, uri: str) -> list[Status]:
        path = self._path(uri)
        if not path.is_dir():
            return []
        return [
            Status(child.name, str(child), child.is_dir(), child.stat().st_size if child.is_file() else 0)
            for child in sorted(path.iterdir())
        ]
