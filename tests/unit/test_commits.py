"""Crash safety of publishing: a commit killed after any of its file operations is seen by readers
as all-or-nothing, and finishing it (a re-run or the next reader) gives the uninterrupted result."""

from __future__ import annotations

import fcntl
import tempfile
import threading
from pathlib import Path

import pytest

from etl.commits import COMMITS, LOCK_FILE, LocalFileStore, Swap, commit, pending, reading, recover
from etl.glue.crawler import list_data_files


class Killed(Exception):
    """The process died here."""


class DyingStore(LocalFileStore):
    """The real local store, killed after ``survive`` changing operations."""

    def __init__(self, survive: int) -> None:
        self.survive = survive
        self.done = 0

    def _step(self) -> None:
        if self.done == self.survive:
            raise Killed
        self.done += 1

    def rename(self, src: str, dst: str) -> None:
        self._step()
        super().rename(src, dst)

    def delete(self, uri: str) -> None:
        self._step()
        super().delete(uri)

    def write_text(self, uri: str, text: str) -> None:
        self._step()
        super().write_text(uri, text)


OLD = {"year=2024/month=01/part-0.json": "old january", "year=2024/month=02/part-0.json": "old february",
       "year=2024/month=03/part-0.json": "old march"}
NEW = {"year=2024/month=01/part-0.json": "new january", "year=2024/month=02/part-1.json": "new february",
       "year=2024/month=04/part-0.json": "new april"}  # march: every key moved elsewhere


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def visible(dataset: Path) -> dict[str, str]:
    """What a query sees: the data files a reader lists, after finishing any interrupted commit."""
    with reading([dataset]):
        return {str(p.relative_to(dataset)): p.read_text(encoding="utf-8") for p in list_data_files(dataset)}


def stage(dataset: Path) -> list[Swap]:
    staging = dataset / "_staging" / "run-1"
    _write(staging, {k: v for k, v in NEW.items()})
    swaps = []
    for month in ("01", "02", "03", "04"):
        staged = staging / f"year=2024/month={month}"
        swaps.append(Swap(str(dataset / f"year=2024/month={month}"), str(staged) if staged.exists() else None))
    return swaps


def count_operations() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        dataset = Path(tmp) / "count"
        _write(dataset, OLD)
        store = DyingStore(survive=10**6)
        commit(store, str(dataset), "run-1", stage(dataset))
        return store.done


OPERATIONS = count_operations()


def test_an_uninterrupted_commit_replaces_the_partitions_it_names(tmp_path):
    dataset = tmp_path / "processed" / "shipping"
    _write(dataset, OLD)
    commit(LocalFileStore(), str(dataset), "run-1", stage(dataset))
    assert visible(dataset) == NEW
    assert not pending(LocalFileStore(), str(dataset))
    assert not (dataset / "_trash").exists()


def test_the_commit_has_the_operations_the_crash_test_kills_after():
    # write the journal; January and February: old to trash, staged in; March: old to trash;
    # April: staged in; delete the journal, then the trash
    assert OPERATIONS == 1 + (2 + 2 + 1 + 1) + 2


@pytest.mark.parametrize("survive", range(OPERATIONS))
def test_a_commit_killed_after_any_operation_is_all_or_nothing_and_finishes(tmp_path, survive):
    dataset = tmp_path / "processed" / "shipping"
    _write(dataset, OLD)
    with pytest.raises(Killed):
        commit(DyingStore(survive), str(dataset), "run-1", stage(dataset))
    journal_written = bool(pending(LocalFileStore(), str(dataset)))
    assert journal_written == (0 < survive < OPERATIONS - 1)
    seen = visible(dataset)  # a query after the crash
    assert seen == (OLD if survive == 0 else NEW)
    # The re-run stages the same output and commits again: the uninterrupted result, nothing left over.
    commit(LocalFileStore(), str(dataset), "run-1", stage(dataset))
    assert visible(dataset) == NEW
    assert not pending(LocalFileStore(), str(dataset))
    assert not (dataset / "_trash").exists()


def test_recover_finishes_a_half_applied_commit_without_a_reader(tmp_path):
    dataset = tmp_path / "raw" / "shipping"
    _write(dataset, OLD)
    with pytest.raises(Killed):
        commit(DyingStore(survive=3), str(dataset), "run-1", stage(dataset))
    assert recover(LocalFileStore(), str(dataset)) == 1
    assert recover(LocalFileStore(), str(dataset)) == 0
    assert {str(p.relative_to(dataset)): p.read_text() for p in list_data_files(dataset)} == NEW


def test_a_reader_holds_off_commits_and_a_commit_holds_off_readers(tmp_path):
    dataset = tmp_path / "processed" / "shipping"
    _write(dataset, OLD)
    lock = dataset / COMMITS / LOCK_FILE

    def try_lock(kind: int) -> bool:
        with lock.open("a") as handle:
            try:
                fcntl.flock(handle, kind | fcntl.LOCK_NB)
            except BlockingIOError:
                return False
            fcntl.flock(handle, fcntl.LOCK_UN)
            return True

    with reading([dataset]):
        assert not try_lock(fcntl.LOCK_EX)  # a commit would wait
        assert try_lock(fcntl.LOCK_SH)  # other readers go ahead

    entered, release = threading.Event(), threading.Event()

    class SlowStore(LocalFileStore):
        def rename(self, src: str, dst: str) -> None:
            entered.set()
            release.wait(10)
            super().rename(src, dst)

    writer = threading.Thread(target=commit, args=(SlowStore(), str(dataset), "run-1", stage(dataset)))
    writer.start()
    try:
        assert entered.wait(10)
        assert not try_lock(fcntl.LOCK_SH)  # a reader would wait for the whole commit
    finally:
        release.set()
        writer.join()
    assert visible(dataset) == NEW


def test_datasets_on_s3_are_not_locked_locally(tmp_path):
    with reading(["s3://bucket/processed/shipping"]):
        pass
    assert not list(tmp_path.iterdir())
