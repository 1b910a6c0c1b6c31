import codecs
import gzip

import pytest

from etl.errors import InputFileError
from etl.sniff import HEAD_BYTES, Sniffed, sniff


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


LATIN1_LINE = '{"name": "Zoë"}\n'.encode("latin-1")
UTF8_LINE = '{"name": "Zoë"}\n'.encode()


@pytest.mark.parametrize(
    "head",
    [
        UTF8_LINE + LATIN1_LINE,  # the second of two lines: its neighbour still loads
        LATIN1_LINE + UTF8_LINE * 2,  # the first line: where a line sits does not matter
        UTF8_LINE * 3 + LATIN1_LINE + b"\n \n\t\n",  # blank lines are no lines of text
    ],
)
def test_a_minority_of_undecodable_lines_is_left_to_the_line_checks(head):
    assert sniff(head, "s3://b/k") == Sniffed("jsonl")


@pytest.mark.parametrize(
    ("head", "reason"),
    [
        (LATIN1_LINE * 2 + UTF8_LINE, "not UTF-8 text (2 of 3 lines, byte 0xeb at offset 12"),
        (UTF8_LINE + LATIN1_LINE, None),
        (b"[" + LATIN1_LINE.rstrip() + b",\n" + UTF8_LINE.rstrip() + b"]", "not UTF-8 text (byte 0xeb at offset 13"),
    ],
)
def test_mostly_undecodable_text_and_undecodable_arrays_are_refused_whole(head, reason):
    if reason is None:
        assert sniff(head, "s3://b/k").format == "jsonl"
        return
    with pytest.raises(InputFileError) as caught:
        sniff(head, "s3://b/k")
    assert reason in str(caught.value)


@pytest.mark.parametrize("with_latin1_line", [False, True])
def test_a_head_cut_inside_a_character_is_not_taken_for_bad_text(with_latin1_line):
    line = ('{"name": "' + "Å" * 40 + '"}\n').encode()
    cut_inside_a_character = 0
    for shift in range(2):
        whole = b" " * shift + (LATIN1_LINE if with_latin1_line else b"") + line * (HEAD_BYTES // len(line) + 2)
        head = whole[:HEAD_BYTES]
        cut_inside_a_character += head[-1] == 0xC3  # the first byte of a two-byte character
        assert sniff(head, "s3://b/k") == Sniffed("jsonl")
    assert cut_inside_a_character == 1
