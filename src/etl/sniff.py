"""Recognise what a landing file holds from its first bytes, before Spark reads it.

Files that cannot be read as UTF-8 JSON at all (binary, UTF-16, other compressions,
other encodings) are refused here with a reason, so they are quarantined whole instead
of being turned into garbage lines.
"""

from __future__ import annotations

import codecs
import json
import re
import zlib
from collections import Counter
from dataclasses import dataclass

from etl.errors import InputFileError

HEAD_BYTES = 64 * 1024
GZIP_MAGIC = b"\x1f\x8b"
_OTHER_FORMATS = {
    b"PK\x03\x04": "a zip archive",
    b"BZh": "a bzip2 archive",
    b"\x28\xb5\x2f\xfd": "a zstd archive",
    b"PAR1": "a Parquet file",
    b"\xfd7zXZ": "an xz archive",
    b"%PDF": "a PDF document",
}
_UTF16_32_BOMS = {
    codecs.BOM_UTF32_LE: "UTF-32",
    codecs.BOM_UTF32_BE: "UTF-32",
    codecs.BOM_UTF16_LE: "UTF-16",
    codecs.BOM_UTF16_BE: "UTF-16",
}


@dataclass(frozen=True)
class Sniffed:
    format: str  # "jsonl" | "json_array" | "json_object" (one object over several lines) | "empty"
    gzip: bool = False


def sniff(
    head: bytes,
    source: str,
    accepted_formats: tuple[str, ...] = ("jsonl", "json_array", "gzip"),
    *,
    whole: bool | None = None,
) -> Sniffed:
    """Classify a file from its first bytes (``head``); raise InputFileError when it is unreadable.

    ``whole``: ``head`` is the whole file (by default, when it is shorter than HEAD_BYTES).
    """
    if head.startswith(GZIP_MAGIC):
        if "gzip" not in accepted_formats:
            raise InputFileError(source, "gzip files are not accepted for this dataset")
        inflater = zlib.decompressobj(wbits=zlib.MAX_WBITS | 16)
        try:
            inflated = inflater.decompress(head, HEAD_BYTES)
        except zlib.error as exc:
            raise InputFileError(source, f"corrupt gzip data ({exc})") from exc
        inner = sniff(inflated, source, accepted_formats, whole=inflater.eof and len(inflated) < HEAD_BYTES)
        return Sniffed(inner.format, gzip=True)
    for bom, name in _UTF16_32_BOMS.items():
        if head.startswith(bom):
            raise InputFileError(source, f"{name} text; send UTF-8")
    for magic, name in _OTHER_FORMATS.items():
        if head.startswith(magic):
            raise InputFileError(source, f"{name}, not JSON; send JSON Lines, a JSON array or gzip")
    if b"\x00" in head:
        hint = "UTF-16 text without a byte order mark" if _looks_utf16(head) else "binary data"
        raise InputFileError(source, f"{hint}, not UTF-8 JSON")
    text = _decode_head(head, source)
    stripped = text.lstrip("\ufeff \t\r\n")
    if not stripped:
        return Sniffed("empty")
    if stripped.startswith("["):
        if "json_array" not in accepted_formats:
            raise InputFileError(source, "JSON array files are not accepted for this dataset")
        return Sniffed("json_array")
    if "json_array" in accepted_formats and _is_one_object_over_lines(stripped, len(head) < HEAD_BYTES
                                                                     if whole is None else whole):
        return Sniffed("json_object")
    return Sniffed("jsonl")


def _is_one_object_over_lines(text: str, whole: bool) -> bool:
    """The file is one JSON object spread over several lines (pretty-printed): a one-element array.

    Only a whole file that parses as exactly one object counts; a file of several pretty-printed
    objects, or one larger than the head, stays JSON Lines (its lines are quarantined, and the run
    says what the file looks like).
    """
    if not whole or not text.startswith("{") or "\n" not in text.strip():
        return False
    try:
        value, end = json.JSONDecoder().raw_decode(text)
    except ValueError:
        return False
    return isinstance(value, dict) and not text[end:].strip()


def head_text(head: bytes) -> str:
    """The first bytes of a file as text, inflated when gzip, undecodable bytes replaced: for a hint."""
    if head.startswith(GZIP_MAGIC):
        try:
            head = zlib.decompressobj(wbits=zlib.MAX_WBITS | 16).decompress(head, HEAD_BYTES)
        except zlib.error:
            return ""
    return head.decode("utf-8", errors="replace").lstrip("\ufeff")


_SEPARATORS = (",", ";", "\t", "|")
_KEY_VALUE_LINE = re.compile(r'^\s*"[^"]*"\s*:')


def looks_like(text: str) -> str | None:
    """What a text whose lines are not JSON records looks like (CSV, pretty-printed JSON, XML), or None."""
    lines = [line.strip() for line in text.splitlines() if line.strip()][:20]
    if not lines:
        return None
    first = lines[0]
    if first.startswith("<"):
        return "XML or HTML"
    if first in ("{", "[") or sum(bool(_KEY_VALUE_LINE.match(line)) for line in lines) * 2 > len(lines):
        return "JSON spread over several lines (pretty-printed); send one object per line (JSON Lines) or one array"
    if not first.startswith(("{", "[")):
        for separator in _SEPARATORS:
            fields = Counter(line.count(separator) for line in lines)
            columns, rows = fields.most_common(1)[0]
            if columns >= 1 and rows * 2 > len(lines):
                name = {"\t": "tab", ",": "comma", ";": "semicolon", "|": "pipe"}[separator]
                return f"CSV ({name}-separated, first line {first[:60]!r})"
    return None


def _decode_head(head: bytes, source: str) -> str:
    """The head as text; raise InputFileError when most of its lines are not UTF-8.

    A file is judged by its lines, not by its first bad byte: a few lines saved in another encoding
    (one Latin-1 name among UTF-8 records) are quarantined one by one when the file is read, as they
    would be further into the file; a file most of whose lines do not decode is not UTF-8 text at
    all and is refused whole. A JSON array cannot be split into lines, so any undecodable byte in
    its head refuses it.
    """
    decoder = codecs.getincrementaldecoder("utf-8")(errors="strict")
    try:
        return decoder.decode(head, final=False)
    except UnicodeDecodeError as exc:
        first = exc
    lines = head.split(b"\n")
    if len(head) == HEAD_BYTES and len(lines) > 1:
        lines = lines[:-1]  # the head may end inside a line, even inside a character
    written = [line for line in lines if line.strip(b" \t\r")]
    undecodable = sum(1 for line in written if not _is_utf8(line))
    is_array = head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"[")
    if is_array or undecodable * 2 > len(written):
        sample = "" if is_array else f"{undecodable} of {len(written)} lines, "
        raise InputFileError(
            source,
            f"not UTF-8 text ({sample}byte 0x{head[first.start]:02x} at offset {first.start}; Latin-1?); "
            "convert to UTF-8",
        )
    return head.decode("utf-8", errors="replace")


def _is_utf8(line: bytes) -> bool:
    try:
        line.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _looks_utf16(head: bytes) -> bool:
    sample = head[:200]
    return sample[1::2].count(0) > len(sample) // 4 or sample[0::2].count(0) > len(sample) // 4
