import codecs
import gzip

import pytest

from etl.errors import InputFileError
from etl.sniff import Sniffed, sniff


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b'{"a": 1}\n{"a": 2}\n', Sniffed("jsonl")),
        (b'\xef\xbb\xbf{"a": 1}\n', Sniffed("jsonl")),
        (b'  \n[{"a": 1}]', Sniffed("json_array")),
        (b"", Sniffed("empty")),
        (b" \n\t\n", Sniffed("empty")),
        (gzip.compress(b'{"a": 1}\n'), Sniffed("jsonl", gzip=True)),
        (gzip.compress(b'[{"a": 1}]'), Sniffed("json_array", gzip=True)),
        ('{"name": "Zoë"}\n'.encode(), Sniffed("jsonl")),
    ],
)
def test_readable_files(head, expected):
    assert sniff(head, "s3://b/k") == expected


@pytest.mark.parametrize(
    ("head", "reason"),
    [
        (codecs.BOM_UTF16_LE + '{"a": 1}'.encode("utf-16-le"), "UTF-16 text"),
        ('{"a": 1}'.encode("utf-16-le"), "UTF-16 text without a byte order mark"),
        ('{"name": "Zoë"}\n'.encode("latin-1"), "not UTF-8 text"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary data"),
        (b"PK\x03\x04rest", "zip archive"),
        (b"PAR1....", "Parquet file"),
        (gzip.compress(b"{}")[:10] + b"\xff" * 100, "corrupt gzip"),
    ],
)
def test_unreadable_files_are_refused_with_a_reason(head, reason):
    with pytest.raises(InputFileError, match=reason) as caught:
        sniff(head, "s3://b/k")
    assert "quarantined whole" in str(caught.value)


def test_formats_not_accepted_by_the_contract_are_refused():
    with pytest.raises(InputFileError, match="JSON array files are not accepted"):
        sniff(b"[]", "s3://b/k", ("jsonl",))
