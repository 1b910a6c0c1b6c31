"""HadoopFs, the file operations the jobs make through Spark's Hadoop file system."""

from __future__ import annotations

import pytest

from etl.jobs.hadoop_fs import READ_CHUNK_BYTES, HadoopFs

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("size", [0, 1, READ_CHUNK_BYTES - 1, READ_CHUNK_BYTES, READ_CHUNK_BYTES + 1, 70_000])
@pytest.mark.parametrize("limit", [1, READ_CHUNK_BYTES, 3 * READ_CHUNK_BYTES + 7, 100_000])
def test_read_head_returns_the_first_bytes_of_the_file(spark, tmp_path, size, limit):
    content = bytes((i * 7 + i // 251) % 256 for i in range(size))  # no period that a misplaced piece would hide
    path = tmp_path / "file.bin"
    path.write_bytes(content)
    assert HadoopFs(spark).read_head(path.as_uri(), limit) == content[:limit]


def test_read_text_reads_the_whole_file(spark, tmp_path):
    text = "".join(f'{{"line": {i}, "text": "caf\\u00e9 \u00e9t\u00e9"}}\n' for i in range(2000))  # ~70 KB, multibyte
    path = tmp_path / "manifest.json"
    path.write_text(text, encoding="utf-8")
    assert HadoopFs(spark).read_text(path.as_uri()) == text
