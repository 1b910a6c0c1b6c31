import codecs
import gzip

import pytest

from etl.errors import InputFileError
from etl.sniff import HEAD_BYTES, Sniffed, head_text, looks_like, sniff


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


PRETTY = b'{\n  "shipping_id": 1,\n  "destination_city": "main_city"\n}\n'


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (PRETTY, Sniffed("json_object")),
        (b"\xef\xbb\xbf\r\n" + PRETTY.replace(b"\n", b"\r\n"), Sniffed("json_object")),
        (gzip.compress(PRETTY), Sniffed("json_object", gzip=True)),
        (PRETTY + PRETTY, Sniffed("jsonl")),  # several objects: not one record; their lines are checked
        (b'{"shipping_id": 1}\n', Sniffed("jsonl")),  # one object on one line is JSON Lines
        (b'{"a": 1}\n{"a": 2}\n', Sniffed("jsonl")),
        (PRETTY[:-3], Sniffed("jsonl")),  # cut short: not an object
        (b'{\n  "a": [1,\n 2]\n}\n', Sniffed("json_object")),
    ],
)
def test_one_object_over_several_lines_is_one_record(head, expected):
    assert sniff(head, "s3://b/k") == expected


def test_an_object_longer_than_the_head_is_not_taken_for_one_record():
    padding = b'  "note": "' + b"x" * HEAD_BYTES + b'",\n'
    head = (b"{\n" + padding + b'  "a": 1\n}\n')[:HEAD_BYTES]
    assert sniff(head, "s3://b/k") == Sniffed("jsonl")
    assert sniff(PRETTY, "s3://b/k", whole=False) == Sniffed("jsonl")


def test_a_contract_without_json_arrays_reads_no_object_over_lines():
    assert sniff(PRETTY, "s3://b/k", ("jsonl",)) == Sniffed("jsonl")


@pytest.mark.parametrize(
    ("text", "looks"),
    [
        ("id,date,city\r\n1,2024/03/01,main\r\n2,2024/03/02,island\r\n",
         "CSV (comma-separated, first line 'id,date,city')"),
        ("id;date\n1;2024\n", "CSV (semicolon-separated"),
        ("id\tdate\n1\t2024\n", "CSV (tab-separated"),
        ('{\n  "a": 1\n}\n{\n  "a": 2\n}\n', "JSON spread over several lines"),
        ('  "a": 1,\n  "b": 2,\n  "c": 3\n', "JSON spread over several lines"),
        ("<?xml version='1.0'?>\n<rows/>\n", "XML or HTML"),
    ],
)
def test_what_a_file_of_no_records_looks_like(text, looks):
    assert (looks_like(text) or "").startswith(looks)


@pytest.mark.parametrize("text", ["", "\n\n", '{"a": 1}\n{"a": 2}\n', '[1, 2]\n', "not json at all\n"])
def test_json_lines_and_plain_text_look_like_nothing_else(text):
    assert looks_like(text) is None


def test_head_text_inflates_gzip_and_drops_the_byte_order_mark():
    assert head_text(gzip.compress(b"\xef\xbb\xbfa,b\n1,2\n")) == "a,b\n1,2\n"
    assert head_text(b"caf\xe9") == "caf\ufffd"
