"""Files under a folder that their writer has just finished, from Linux inotify.

A file is finished when the process that wrote it closes it (``IN_CLOSE_WRITE``) or when it is
renamed into place (``IN_MOVED_TO``, the way ``etl run FILE`` and careful uploaders write). The
watcher takes such a file at once instead of waiting for two unchanged scans and the settle time;
its scans still find every file (on other systems, for files already there, or when the kernel's
event queue overflows), so an event missed only costs latency. A writer that closes a file and
opens it again to append shows up as a new version of the file, processed again whole, the way a
second upload of an S3 key is.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import logging
import os
import select
import struct
import sys
import time
from pathlib import Path

logger = logging.getLogger(__name__)

IN_CLOSE_WRITE = 0x00000008
IN_MOVED_FROM = 0x00000040
IN_MOVED_TO = 0x00000080
IN_CREATE = 0x00000100
IN_Q_OVERFLOW = 0x00004000
IN_IGNORED = 0x00008000  # the kernel dropped a watch: its folder was deleted (sent whatever the mask)
IN_ISDIR = 0x40000000
_MASK = IN_CLOSE_WRITE | IN_MOVED_FROM | IN_MOVED_TO | IN_CREATE
_EVENT_HEADER = struct.Struct("iIII")  # watch descriptor, mask, cookie, length of the name that follows


class FinishedFiles:
    """Watches ``root`` and every folder below it; ``wait`` returns the files finished since the last call."""

    def __init__(self, root: Path) -> None:
        self._libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        fd = self._libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        if fd < 0:
            raise OSError(ctypes.get_errno(), f"inotify_init1: {os.strerror(ctypes.get_errno())}")
        self._fd = fd
        self._folders: dict[int, Path] = {}
        self._watch_tree(root)

    @classmethod
    def open(cls, root: Path) -> FinishedFiles | None:
        """The events of ``root``, or None where inotify is not available (the scans then do all the work)."""
        if not sys.platform.startswith("linux"):
            return None
        try:
            return cls(root)
        except (OSError, AttributeError) as exc:
            logger.info("no file events for %s (%s): scanning only", root, exc)
            return None

    def wait(self, timeout: float) -> set[Path]:
        """Wait up to ``timeout`` seconds for events; the finished files (never hidden ones) among them."""
        readable, _, _ = select.select([self._fd], [], [], max(0.0, timeout))
        finished: set[Path] = set()
        if not readable:
            return finished
        time.sleep(0.005)  # a burst of files (a copy of a folder) comes as one batch
        while True:
            try:
                data = os.read(self._fd, 256 * 1024)
            except BlockingIOError:
                return finished
            self._parse(data, finished)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> FinishedFiles:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _parse(self, data: bytes, finished: set[Path]) -> None:
        offset = 0
        while offset + _EVENT_HEADER.size <= len(data):
            descriptor, mask, _cookie, length = _EVENT_HEADER.unpack_from(data, offset)
            raw_name = data[offset + _EVENT_HEADER.size : offset + _EVENT_HEADER.size + length].rstrip(b"\0")
            offset += _EVENT_HEADER.size + length
            if mask & IN_Q_OVERFLOW:
                logger.info("file event queue overflowed: the scans find the files")
                continue
            if mask & IN_IGNORED:
                self._folders.pop(descriptor, None)
                continue
            folder = self._folders.get(descriptor)
            if folder is None or not raw_name:
                continue
            path = folder / os.fsdecode(raw_name)
            if mask & IN_ISDIR:
                if mask & IN_MOVED_FROM:
                    self._unwatch_tree(path)  # moved away (or renamed: its new name comes as IN_MOVED_TO)
                if mask & (IN_CREATE | IN_MOVED_TO):
                    self._watch_tree(path)  # files written into it before this watch are found by the scans
            elif mask & (IN_CLOSE_WRITE | IN_MOVED_TO) and not raw_name.startswith(b"."):
                finished.add(path)

    def _watch_tree(self, root: Path) -> None:
        folders = [root]
        with contextlib.suppress(OSError):  # the folder went away meanwhile: nothing to watch
            folders += [path for path in root.rglob("*") if path.is_dir() and not path.is_symlink()]
        for folder in folders:
            descriptor = self._libc.inotify_add_watch(self._fd, os.fsencode(folder), _MASK)
            if descriptor >= 0:
                self._folders[descriptor] = folder

    def _unwatch_tree(self, root: Path) -> None:
        for descriptor, folder in list(self._folders.items()):
            if folder == root or root in folder.parents:
                self._libc.inotify_rm_watch(self._fd, descriptor)
                del self._folders[descriptor]

    @property
    def watched_folders(self) -> set[Path]:
        return set(self._folders.values())
