"""The local lake: one folder per bucket under a root, addressed like S3 (bucket + key)."""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from etl.commits import file_uri
from etl.errors import EtlError, LakePathError
from etl.events import SourceObject

logger = logging.getLogger(__name__)

LANDING = "landing"
RAW = "raw"
PROCESSED = "processed"
QUARANTINE = "quarantine"
ATHENA_RESULTS = "athena-results"
BUCKETS = (LANDING, RAW, PROCESSED, QUARANTINE, ATHENA_RESULTS)
SYSTEM = "_system"  # run log, outbox and catalog: not a bucket
NAME_MAX = 255  # bytes in one file or folder name (Linux, macOS)


class UnsafeKeyError(LakePathError):
    """A bucket or key the lake refuses for another reason than leaving its bucket."""

    def __init__(self, path: str, root: str, problem: str, fix: str) -> None:
        EtlError.__init__(self, f"{problem} (in {root!r}); {fix}")
        self.path = path
        self.root = root


class Lake:
    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self._etags: dict[tuple[str, int, int], str] = {}

    def ensure(self) -> None:
        for bucket in BUCKETS:
            (self.root / bucket).mkdir(parents=True, exist_ok=True)
        (self.root / SYSTEM).mkdir(parents=True, exist_ok=True)

    @property
    def system(self) -> Path:
        return self.root / SYSTEM

    def path(self, bucket: str, key: str = "") -> Path:
        """Local path of ``bucket/key``; refuses anything that would leave the bucket.

        Symlinks are resolved before the check, so a link under a bucket cannot lead out of it.
        Every refusal is a LakePathError (never ValueError or RuntimeError from the OS layer).
        """
        if bucket not in BUCKETS:
            raise UnsafeKeyError(
                f"{bucket}/{key}", str(self.root), f"{bucket!r} is not a bucket of the lake",
                f"use one of {', '.join(BUCKETS)}",
            )
        base = (self.root / bucket).resolve()
        # Keys S3 accepts but a local file name cannot hold: refused here, not as ValueError/OSError at first use.
        try:
            encoded = os.fsencode(key)
        except UnicodeEncodeError:
            raise UnsafeKeyError(
                key, str(base), f"key {key!r} is not valid Unicode (a lone surrogate)", "send the key as UTF-8"
            ) from None
        if b"\x00" in encoded:
            raise UnsafeKeyError(key, str(base), f"key {key!r} contains a NUL character", "remove it from the key")
        if any(len(part) > NAME_MAX for part in encoded.split(b"/")):
            raise UnsafeKeyError(
                key, str(base), f"key {key[:60]!r}... has a segment longer than {NAME_MAX} bytes",
                "use shorter folder and file names",
            )
        try:
            target = (base / key).resolve() if key else base
        except RuntimeError:  # Python 3.11 reports a symlink loop as RuntimeError
            raise UnsafeKeyError(
                key, str(base), f"key {key!r} runs into a symlink loop", "remove the looping link"
            ) from None
        if target != base and base not in target.parents:
            raise LakePathError(key, str(base))
        return target

    def local_uri(self, s3_uri: str) -> str:
        """``s3://bucket/key`` (as the ASL writes it) to the ``file://`` URI Spark reads locally."""
        if not s3_uri.startswith("s3://"):
            return s3_uri
        bucket, _, key = s3_uri[len("s3://") :].partition("/")
        uri = file_uri(self.path(bucket, key))
        return uri + "/" if s3_uri.endswith("/") and not uri.endswith("/") else uri

    def landing_objects(self) -> Iterator[SourceObject]:
        """Every file under landing/, identified the way S3 would (key, size, ETag, time)."""
        base = self.path(LANDING)
        for path in sorted(p for p in base.rglob("*") if p.is_file()):
            key = path.relative_to(base).as_posix()
            try:
                source = self.landing_object(key)
            except LakePathError as exc:  # a symlink out of the bucket: never read it, and list the other files
                logger.warning("landing object skipped: %s", exc)
                continue
            yield source

    def landing_object(self, key: str) -> SourceObject:
        path = self.path(LANDING, key)
        stat = path.stat()
        return SourceObject(
            bucket=LANDING,
            key=key,
            size=stat.st_size,
            etag=self._etag(path, stat.st_size, stat.st_mtime_ns),
            event_time=datetime.fromtimestamp(stat.st_mtime, UTC).isoformat(timespec="milliseconds").replace(
                "+00:00", "Z"
            ),
        )

    def _etag(self, path: Path, size: int, mtime_ns: int) -> str:
        """MD5 of the content, as S3 gives for a single-part upload (cached per size and mtime)."""
        cache_key = (str(path), size, mtime_ns)
        if cache_key not in self._etags:
            digest = hashlib.md5(usedforsecurity=False)
            with path.open("rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
            self._etags[cache_key] = digest.hexdigest()
        return self._etags[cache_key]
