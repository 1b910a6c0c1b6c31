"""File operations through Spark's own Hadoop FileSystem.

Glue jobs reach S3 (s3://) and local runs reach the lake (file://) through the same calls,
with no extra client. It is the FileStore that etl.commits publishes jobs' output with.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from etl.commits import Status

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


# py4j writes an answer to the socket in pieces of 8192 characters, and neither end turns off Nagle's
# algorithm: a piece sent behind one not yet acknowledged waits for the delayed ACK, 40 ms on Linux.
# A byte[] travels as base64, so 4 KB is the largest read whose answer is one piece: json_to_parquet's
# 64 KB sniff of a file took 4-48 ms in one call and 5 ms in 4 KB reads.
READ_CHUNK_BYTES = 4096


class HadoopFs:
    def __init__(self, spark: SparkSession) -> None:
        jvm: Any = spark._jvm
        self._jvm = jvm
        self._conf: Any = spark._jsc.hadoopConfiguration()
        # Each step of a py4j name (org, apache, ...) is a call to the JVM: the class is looked up once.
        self._path_class: Any = jvm.org.apache.hadoop.fs.Path

    def _path(self, uri: str) -> Any:
        return self._path_class(uri)

    def _fs(self, path: Any) -> Any:
        return path.getFileSystem(self._conf)  # Hadoop caches the FileSystem of each scheme and bucket

    def exists(self, uri: str) -> bool:
        path = self._path(uri)
        return bool(self._fs(path).exists(path))

    def size(self, uri: str) -> int:
        path = self._path(uri)
        return int(self._fs(path).getFileStatus(path).getLen())

    def delete(self, uri: str) -> None:
        path = self._path(uri)
        fs = self._fs(path)
        if fs.exists(path):
            fs.delete(path, True)

    def du(self, uri: str) -> int:
        """Bytes of every file under ``uri`` (0 when it does not exist)."""
        path = self._path(uri)
        fs = self._fs(path)
        return int(fs.getContentSummary(path).getLength()) if fs.exists(path) else 0

    def mkdirs(self, uri: str) -> None:
        path = self._path(uri)
        self._fs(path).mkdirs(path)

    def rename(self, src: str, dst: str) -> None:
        source, target = self._path(src), self._path(dst)
        fs = self._fs(source)
        fs.mkdirs(target.getParent())
        if not fs.rename(source, target):
            raise OSError(f"could not move {src} to {dst}")

    def copy(self, src: str, dst: str) -> None:
        """Copy a file under a hidden name, then rename it: a reader never sees half a copy."""
        source, target = self._path(src), self._path(dst)
        temporary = self._path(f"{target.getParent().toString()}/.{target.getName()}.{uuid.uuid4().hex}.tmp")
        self._jvm.org.apache.hadoop.fs.FileUtil.copy(
            self._fs(source), source, self._fs(temporary), temporary, False, True, self._conf
        )
        fs = self._fs(target)
        if fs.exists(target):
            fs.delete(target, False)
        if not fs.rename(temporary, target):
            raise OSError(f"could not copy {src} to {dst}")

    def list(self, uri: str) -> list[Status]:
        path = self._path(uri)
        fs = self._fs(path)
        if not fs.exists(path):
            return []
        return [
            Status(s.getPath().getName(), s.getPath().toString(), bool(s.isDirectory()), int(s.getLen()))
            for s in fs.listStatus(path)
        ]

    def read_head(self, uri: str, limit: int) -> bytes:
        """The first ``limit`` bytes of the file (all of it when it is shorter)."""
        path = self._path(uri)
        stream = self._fs(path).open(path)
        parts, remaining = [], limit
        try:
            while remaining > 0:
                part = bytes(stream.readNBytes(min(READ_CHUNK_BYTES, remaining)))  # py4j returns byte[] as bytes
                if not part:
                    break
                parts.append(part)
                remaining -= len(part)
        finally:
            stream.close()
        return b"".join(parts)

    def read_text(self, uri: str) -> str:
        return self.read_head(uri, self.size(uri)).decode("utf-8")

    def write_text(self, uri: str, text: str) -> None:
        """Write a small text file atomically (temporary name, then rename)."""
        target = self._path(uri)
        fs = self._fs(target)
        temporary = self._path(f"{uri}.{uuid.uuid4().hex}.tmp")
        stream = fs.create(temporary, True)
        try:
            stream.write(bytearray(text.encode("utf-8")))
        finally:
            stream.close()
        if fs.exists(target):
            fs.delete(target, False)
        if not fs.rename(temporary, target):
            raise OSError(f"could not write {uri}")
