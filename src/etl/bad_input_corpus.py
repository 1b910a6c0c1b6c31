"""The bad-input corpus: ``tests/bad_inputs/cases.json`` and its files, read as data.

Each case is an input producers really send (a file, or content generated when it is better built
than committed: large, binary, encoding-sensitive), what the pipeline must do with it (``Expect``:
the outcome, counts, the reason of each bad line) and the words the README's "What happens to bad
input" table shows for it (``readme_table``). etl.reliability runs the cases through the local
pipeline and accounts for every record.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from etl.config import LocalSettings
from etl.errors import ConfigError

CORPUS = Path("tests") / "bad_inputs"
DESCRIPTION = "cases.json"

# What happened to a file, as the table shows it.
LOADED = "loaded"
PARTLY_QUARANTINED = "partly quarantined"
ALL_QUARANTINED = "every line quarantined, run failed"
NOTHING_TO_LOAD = "nothing to load"
QUARANTINED_WHOLE = "quarantined whole, run failed"
SOURCE_GONE = "run failed: source gone"
RUN_FAILED = "run failed"
REFUSED = "refused at the trigger"
NOT_STARTED = "start failed"
OUTCOMES = (LOADED, PARTLY_QUARANTINED, ALL_QUARANTINED, NOTHING_TO_LOAD, QUARANTINED_WHOLE, SOURCE_GONE,
            RUN_FAILED, REFUSED, NOT_STARTED)
_UTF8_BOM = b"\xef\xbb\xbf"


# --- the corpus --------------------------------------------------------------------------------
ContentBuilder = Callable[[Mapping[str, Any], "Corpus"], bytes]


@dataclass(frozen=True)
class Expect:
    outcome: str
    loaded: int = 0
    quarantined: int = 0
    reasons: Mapping[int, str] = field(default_factory=dict)  # line (or element) number -> reason
    whole_file_reason: str | None = None  # text in the reason of a file quarantined whole
    notification: str | None = None  # SUCCEEDED | FAILED | None (no run, no notification)
    cause: str | None = None  # text in the failure notification's cause
    trigger_reason: str | None = None  # text in the reason the trigger gave for not starting a run
    lost: int | str = 0  # 0, a number, or "all" (nothing of the file reached the lake): only for a known bug
    not_verbatim: tuple[int, ...] = ()  # quarantined lines whose raw_line is not the source line: only for a known bug
    processed: Mapping[int, Mapping[str, Any]] = field(default_factory=dict)  # id -> values in processed/


@dataclass(frozen=True)
class Case:
    name: str
    input: str
    example: tuple[str, ...]  # snippets, shown as code
    example_text: str | None  # shown as text after the snippets
    key: str
    content: Mapping[str, Any] | None
    expect: Expect
    what_happens: str
    where: str | None = None
    remove_before_run: bool = False
    bug: str | None = None


@dataclass(frozen=True)
class Corpus:
    folder: Path
    dataset: str
    template: Mapping[str, Any]
    cases: tuple[Case, ...]

    def file(self, name: str) -> bytes:
        path = (self.folder / "files" / name).resolve()
        if (self.folder / "files").resolve() not in path.parents or not path.is_file():
            raise ConfigError(f"corpus file {name!r} is not a file under {self.folder / 'files'}")
        return path.read_bytes()

    def good_line(self, shipping_id: int, **changes: Any) -> str:
        return json.dumps({**self.template, "shipping_id": shipping_id, **changes})

    def content(self, case: Case) -> bytes | None:
        if case.content is None:
            return None
        name = case.content.get("builder", "file")
        if name not in BUILDERS:
            raise ConfigError(f"case {case.name}: no content builder {name!r}; known: {', '.join(sorted(BUILDERS))}")
        return BUILDERS[name](case.content, self)


def default_corpus_path(project_root: Path | None = None) -> Path:
    root = project_root or LocalSettings.resolve().project_root
    return root / CORPUS


def load_corpus(folder: Path | None = None) -> Corpus:
    folder = Path(folder) if folder is not None else default_corpus_path()
    path = folder / DESCRIPTION
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read the corpus description {path}: {exc}") from exc
    cases = []
    names: set[str] = set()
    for item in data["cases"]:
        expect = dict(item["expect"])
        expect["reasons"] = {int(k): v for k, v in expect.get("reasons", {}).items()}
        expect["processed"] = {int(k): v for k, v in expect.get("processed", {}).items()}
        expect["not_verbatim"] = tuple(expect.get("not_verbatim", ()))
        case = Case(
            name=item["name"], input=item["input"], example=tuple(item.get("example", ())),
            example_text=item.get("example_text"), key=item["key"],
            content=item.get("content"), expect=Expect(**expect), what_happens=item["what_happens"],
            where=item.get("where"), remove_before_run=item.get("remove_before_run", False), bug=item.get("bug"),
        )
        if case.expect.outcome not in OUTCOMES:
            raise ConfigError(f"case {case.name}: unknown outcome {case.expect.outcome!r}; use one of {OUTCOMES}")
        if case.name in names:
            raise ConfigError(f"case {case.name} is described twice")
        names.add(case.name)
        cases.append(case)
    return Corpus(folder, data["dataset"], data["template"], tuple(cases))


# Content of a case that is better generated than committed (large, binary or encoding-sensitive).
def _file(spec: Mapping[str, Any], corpus: Corpus) -> bytes:
    return corpus.file(spec["file"])


def _crlf(spec: Mapping[str, Any], corpus: Corpus) -> bytes:
    return corpus.file(spec["file"]).replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def _bom(spec: Mapping[str, Any], corpus: Corpus) -> bytes:
    return _UTF8_BOM + corpus.file(spec["file"])


def _encode(spec: Mapping[str, Any], corpus: Corpus) -> bytes:
    return corpus.file(spec["file"]).decode("utf-8").encode(spec["encoding"])


def _gzip(spec: Mapping[str, Any], corpus: Corpus) -> bytes:
    return gzip.compress(corpus.file(spec["file"]), mtime=0)


def _good_lines(spec: Mapping[str, Any], corpus: Corpus) -> list[str]:
    first = int(spec["first_id"])
    return [corpus.good_line(first + i, customer_name=f"Customer {i:06d}") for i in range(int(spec["lines"]))]


def _truncated_gzip(spec: Mapping[str, Any], corpus: Corpus) -> bytes:
    whole = gzip.compress(("\n".join(_good_lines(spec, corpus)) + "\n").encode(), mtime=0)
    return whole[: int(len(whole) * float(spec["keep"]))]


def _damaged_gzip(spec: Mapping[str, Any], corpus: Corpus) -> bytes:
    whole = bytearray(gzip.compress(("\n".join(_good_lines(spec, corpus)) + "\n").encode(), mtime=0))
    middle = len(whole) // 2
    whole[middle : middle + 40] = bytes(b ^ 0x5A for b in whole[middle : middle + 40])
    return bytes(whole)


def _binary(spec: Mapping[str, Any], corpus: Corpus) -> bytes:
    header = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"  # what a scanned delivery note looks like
    return header + bytes(range(256)) * int(spec.get("repeat", 4))


def _long_line(spec: Mapping[str, Any], corpus: Corpus) -> bytes:
    first = int(spec["first_id"])
    filler = "x" * int(float(spec["megabytes"]) * 1024 * 1024)
    cut = corpus.good_line(first + 1, customer_name=filler)[:-40]  # an unterminated string: malformed
    return "\n".join([corpus.good_line(first), cut, corpus.good_line(first + 2)]).encode() + b"\n"


def _after_lines(spec: Mapping[str, Any], corpus: Corpus) -> bytes:
    """Good UTF-8 lines, then a file in another encoding (past the bytes the type sniffing reads)."""
    head = ("\n".join(_good_lines(spec, corpus)) + "\n").encode()
    return head + corpus.file(spec["file"]).decode("utf-8").encode(spec["encoding"])


BUILDERS: dict[str, ContentBuilder] = {
    "file": _file,
    "crlf": _crlf,
    "bom": _bom,
    "encode": _encode,
    "gzip": _gzip,
    "truncated_gzip": _truncated_gzip,
    "damaged_gzip": _damaged_gzip,
    "binary": _binary,
    "long_line": _long_line,
    "after_lines": _after_lines,
}


# --- the README table --------------------------------------------------------------------------
_LINES_SPLIT = "good lines: `raw/`, then `processed/`; bad lines: `quarantine/shipping/run_id=…/`"
_WHERE = {
    LOADED: "`raw/` (typed, PII kept), then `processed/` (latest record per id); success notification with the counts",
    PARTLY_QUARANTINED: f"{_LINES_SPLIT}; success notification with the counts",
    ALL_QUARANTINED: "every line: `quarantine/shipping/run_id=…/`; failure notification saying what the file "
                     "looks like",
    NOTHING_TO_LOAD: "nothing is written; success notification: 0 records read",
    QUARANTINED_WHOLE: "the file, byte for byte: `quarantine/_files/shipping/run_id=…/`; its reason: "
                       "`quarantine/shipping/run_id=…/`; failure notification with the reason",
    SOURCE_GONE: "nothing is written; failure notification",
    RUN_FAILED: "failure notification",
    REFUSED: "nothing is read or written; no run, no notification: the trigger (Lambda) logs the key and the reason",
    NOT_STARTED: "the trigger reports the start as failed",
}


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _code(text: str) -> str:
    fence = "``" if "`" in text else "`"
    padding = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{padding}{text}{padding}{fence}"


def readme_table(corpus: Corpus) -> str:
    """The "What happens to bad input" table of the README, rendered from the corpus description."""
    lines = ["| input | example | what happens | where it goes |", "|---|---|---|---|"]
    for case in corpus.cases:
        expect = case.expect
        example = ", ".join(_code(snippet) for snippet in case.example)
        if case.example_text:
            example = f"{example} {case.example_text}" if example else case.example_text
        reasons = [*dict.fromkeys(expect.reasons.values())]
        reasons += [r for r in (expect.whole_file_reason, expect.trigger_reason) if r and r not in reasons]
        what = f"**{expect.outcome}**: {case.what_happens}"
        if reasons:
            what += " Reason: " + "; ".join(_code(r) for r in reasons) + "."
        if expect.cause and expect.outcome in (RUN_FAILED, SOURCE_GONE):
            what += f" The notification's cause says {_code(expect.cause)}."
        if case.bug:
            what += f" **Bug:** {case.bug}"
        where = case.where or _WHERE[expect.outcome]
        lines.append(f"| {_cell(case.input)} | {_cell(example)} | {_cell(what)} | {_cell(where)} |")
    return "\n".join(lines)
