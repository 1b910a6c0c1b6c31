"""Finished files from Linux file events, and the watcher taking a file the moment its writer is done."""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

import pytest

from etl.local.file_events import FinishedFiles
from etl.local.lake import Lake
from etl.local.watcher import watch
from etl.trigger import StartReport

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="inotify is Linux's")


def open_events(folder: Path) -> FinishedFiles:
    events = FinishedFiles.open(folder)
    if events is None:  # e.g. a container without inotify: the watcher scans, and these tests do not apply
        pytest.skip("no inotify on this machine")
    return events


def finished_within(events: FinishedFiles, seconds: float) -> set[Path]:
    found: set[Path] = set()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found |= events.wait(deadline - time.monotonic())
    return found


def test_a_file_is_finished_when_its_writer_closes_it_not_while_it_writes(tmp_path):
    with open_events(tmp_path) as events:
        with (tmp_path / "a.json").open("wb") as handle:
            handle.write(b'{"a": 1}\n')
            handle.flush()
            assert finished_within(events, 0.3) == set()
        assert finished_within(events, 0.3) == {tmp_path / "a.json"}


def test_a_file_renamed_into_place_is_finished_and_its_hidden_copy_never_is(tmp_path):
    with open_events(tmp_path) as events:
        (tmp_path / ".b.json.tmp").write_bytes(b"{}\n")
        (tmp_path / ".b.json.tmp").replace(tmp_path / "b.json")
        assert finished_within(events, 0.3) == {tmp_path / "b.json"}


def test_files_in_folders_made_after_the_watch_began_are_seen(tmp_path):
    with open_events(tmp_path) as events:
        (tmp_path / "shipping" / "2024").mkdir(parents=True)
        assert finished_within(events, 0.2) == set()  # the folders are watched now
        (tmp_path / "shipping" / "2024" / "c.json").write_bytes(b"{}\n")
        assert finished_within(events, 0.3) == {tmp_path / "shipping" / "2024" / "c.json"}


def test_a_deleted_folder_is_no_longer_watched(tmp_path):
    with open_events(tmp_path) as events:
        (tmp_path / "2024" / "01").mkdir(parents=True)
        finished_within(events, 0.2)
        assert events.watched_folders == {tmp_path, tmp_path / "2024", tmp_path / "2024" / "01"}
        (tmp_path / "2024" / "01").rmdir()
        (tmp_path / "2024").rmdir()
        finished_within(events, 0.2)
        assert events.watched_folders == {tmp_path}


def test_a_renamed_folder_is_watched_under_its_new_name_and_not_once_moved_away(tmp_path):
    landing, outside = tmp_path / "landing", tmp_path / "outside"
    (landing / "incoming" / "day").mkdir(parents=True)
    outside.mkdir()
    with open_events(landing) as events:
        (landing / "incoming").rename(landing / "shipping")
        finished_within(events, 0.2)
        assert events.watched_folders == {landing, landing / "shipping", landing / "shipping" / "day"}
        (landing / "shipping").rename(outside / "shipping")
        finished_within(events, 0.2)
        assert events.watched_folders == {landing}
        # Written where it now is, outside: not reported under the path it had in the landing folder.
        (outside / "shipping" / "day" / "d.json").write_bytes(b"{}\n")
        assert finished_within(events, 0.3) == set()


def test_without_file_events_there_is_nothing_to_open(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "platform", "darwin")
    assert FinishedFiles.open(tmp_path) is None


class RecordingRuntime:
    """The watcher's view of the runtime: the lake, and where landed objects go (recorded, not run)."""

    def __init__(self, root: Path) -> None:
        self.lake = Lake(root)
        self.lake.ensure()
        self.taken: list = []
        self.taken_event = threading.Event()

    def process_landing(self, objects):
        self.taken.extend(objects)
        self.taken_event.set()
        return StartReport()


def test_watch_takes_a_file_when_its_writer_closes_it_without_waiting_for_scans(tmp_path):
    """Scans a minute apart and a minute's settle time: only the close event can make the watcher take it."""
    open_events(tmp_path).close()
    runtime = RecordingRuntime(tmp_path / "lake")
    landing = runtime.lake.path("landing", "shipping")
    landing.mkdir(parents=True, exist_ok=True)
    stop = threading.Event()
    watcher = threading.Thread(target=watch, args=(runtime,), kwargs={"interval": 60, "settle": 60, "stop": stop})
    watcher.start()
    try:
        time.sleep(0.3)  # the watcher's first scan (an empty landing) is done
        with (landing / "slow.json").open("wb") as handle:
            handle.write(b'{"shipping_id": 1}\n')
            handle.flush()
            assert not runtime.taken_event.wait(0.5)  # paused mid-write, still open: not taken
            handle.write(b'{"shipping_id": 2}\n')
        assert runtime.taken_event.wait(10)
    finally:
        stop.set()
        watcher.join(10)
    [taken] = runtime.taken
    assert (taken.key, taken.size) == ("shipping/slow.json", 38)
    assert not watcher.is_alive()
