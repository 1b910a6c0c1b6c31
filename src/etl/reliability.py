"""Reliability accounting: what became of every record a landing file brought in.

The pipeline reports its own counts; this module counts again, independently, from the bytes
of the source file and from what the run left in the lake, and prints one table row per case:

* **records in**: the records of the file, counted in plain Python from its bytes: the
  non-blank lines of JSON Lines (lines end at LF, CR or CRLF, as Hadoop splits them; a line of
  JSON whitespace only is blank), or the elements of a JSON array (gzip inflated first, as far
  as it inflates). A file the pipeline quarantined whole counts as **one** unit, whatever it
  holds, because it is kept as one unit. A file that was gone before its run, or an event the
  trigger refused, brought nothing in: 0.
* **loaded**: rows of the run's raw Parquet, ``raw/<dataset>/run_id=<run>/``, read with pyarrow.
* **quarantined**: rows of the run's quarantine JSON, ``quarantine/<dataset>/run_id=<run>/``,
  that hold a line (``raw_line``), plus 1 for a whole file under
  ``quarantine/_files/<dataset>/run_id=<run>/`` when that copy is byte-identical to the source
  (the row giving its reason is not a record).
* **lost** = in - loaded - quarantined. It must be 0; a negative number means a record counted twice.

A *scenario* is anything that returns rows of that table (``Scenario``); the bad-input corpus is
one (``tests/bad_inputs``: ``cases.json`` plus files, read as data). ``python -m etl.reliability``
runs every registered scenario in a temporary lake, prints the table and exits non-zero if a
case lost records or did not do what its description expects.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import sys
import tempfile
import time
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote_plus

from etl.bad_input_corpus import (
    ALL_QUARANTINED,
    LOADED,
    NOT_STARTED,
    NOTHING_TO_LOAD,
    PARTLY_QUARANTINED,
    QUARANTINED_WHOLE,
    REFUSED,
    RUN_FAILED,
    SOURCE_GONE,
    Case,
    Corpus,
    default_corpus_path,
    load_corpus,
    readme_table,
)
from etl.config import LocalSettings
from etl.errors import EtlError, LakePathError

if TYPE_CHECKING:
    import pyarrow as pa
    from pyspark.sql import SparkSession

    from etl.local.runlog import RunRecord
    from etl.local.runtime import LocalRuntime
    from etl.trigger import StartReport

logger = logging.getLogger(__name__)

TRACEBACK = "Traceback (most recent call last)"
JAVA_FRAME = "\tat "  # a line of a Java stack trace

_GZIP_MAGIC = b"\x1f\x8b"
_UTF8_BOM = b"\xef\xbb\xbf"
_JSON_WHITESPACE = b" \t\r\n"
_HIDDEN = ("_", ".")


# --- the table ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Row:
    """One row of the reliability table; ``problems`` says where a case deviated from its expectation."""

    case: str
    outcome: str
    records_in: int
    loaded: int
    quarantined: int
    problems: tuple[str, ...] = ()

    @property
    def lost(self) -> int:
        return self.records_in - self.loaded - self.quarantined

    @property
    def ok(self) -> bool:
        return self.lost == 0 and not self.problems


COLUMNS = ("case", "outcome", "records in", "loaded", "quarantined", "lost")


def format_table(rows: Sequence[Row]) -> str:
    """The table: case, outcome, records in, loaded, quarantined, lost; then every problem."""
    from etl import console

    text = console.table(COLUMNS, [[r.case, r.outcome, r.records_in, r.loaded, r.quarantined, r.lost] for r in rows])
    lines = [text]
    failing = [r for r in rows if not r.ok]
    for row in failing:
        details = list(row.problems)
        if row.lost:
            details.insert(0, f"{row.lost} record(s) lost" if row.lost > 0 else f"{-row.lost} record(s) counted twice")
        lines.append(f"✗ {row.case}: " + "; ".join(details))
    lines.append(f"{len(rows)} cases, {len(failing)} with lost records or deviations")
    return "\n".join(lines)


# --- scenarios ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class ScenarioContext:
    """What a scenario gets: a fresh folder of its own, the repository root and a Spark session."""

    workdir: Path
    project_root: Path
    spark: Callable[[], SparkSession]


Scenario = Callable[[ScenarioContext], Iterable[Row]]
SCENARIOS: dict[str, Scenario] = {}


def register(name: str, scenario: Scenario) -> Scenario:
    """Add a scenario to the table ``python -m etl.reliability`` prints (later ones: crash, concurrency)."""
    SCENARIOS[name] = scenario
    return scenario


# --- counting records in ----------------------------------------------------------------------
def inflate(data: bytes) -> bytes:
    """gzip content inflated as far as it inflates (every member; a cut or corrupt tail is ignored)."""
    if not data.startswith(_GZIP_MAGIC):
        return data
    out = bytearray()
    rest = data
    while rest.startswith(_GZIP_MAGIC):
        inflater = zlib.decompressobj(wbits=zlib.MAX_WBITS | 16)
        try:
            for start in range(0, len(rest), 1 << 16):
                out += inflater.decompress(rest[start : start + (1 << 16)])
                if inflater.eof:
                    break
        except zlib.error:
            break
        if not inflater.eof:
            break
        rest = inflater.unused_data
    return bytes(out)


@dataclass(frozen=True)
class SourceRecords:
    """The record candidates of a file, read in plain Python.

    ``lines`` holds every line (1-based line N is ``lines[N - 1]``), decoded as UTF-8 with U+FFFD for
    bytes that are not UTF-8 and without a leading byte order mark; ``elements`` the values of a
    JSON array file.
    """

    kind: str  # "jsonl" | "json_array" | "malformed_array" | "absent"
    lines: tuple[str, ...] = ()
    elements: tuple[Any, ...] = ()

    @property
    def count(self) -> int:
        if self.kind == "jsonl":
            return sum(1 for line in self.lines if line.strip(_JSON_WHITESPACE.decode()))
        if self.kind == "json_array":
            return len(self.elements)
        return 1 if self.kind == "malformed_array" else 0


def read_records(data: bytes | None) -> SourceRecords:
    if data is None:
        return SourceRecords("absent")
    content = inflate(data)
    if content.startswith(_UTF8_BOM):
        content = content[len(_UTF8_BOM) :]
    if content.lstrip(_JSON_WHITESPACE).startswith(b"["):
        try:
            value = json.loads(content.decode("utf-8"))
        except ValueError:
            return SourceRecords("malformed_array")
        return SourceRecords("json_array", elements=tuple(value)) if isinstance(value, list) else SourceRecords(
            "malformed_array"
        )
    one_object = _one_object_over_lines(content)
    if one_object is not None:  # one record pretty-printed over several lines: a one-element array
        return SourceRecords("json_array", elements=(one_object,))
    return SourceRecords("jsonl", lines=tuple(line.decode("utf-8", errors="replace") for line in content.splitlines()))


def _one_object_over_lines(content: bytes) -> dict[str, Any] | None:
    text = content.strip(_JSON_WHITESPACE)
    if not text.startswith(b"{") or b"\n" not in text:
        return None
    try:
        value = json.loads(text.decode("utf-8"))
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def count_records(data: bytes | None) -> int:
    """Records in a file as defined above (without the whole-file rule, which needs the outcome)."""
    return read_records(data).count


# --- counting what the run left ----------------------------------------------------------------
@dataclass(frozen=True)
class Account:
    """One run's records: in, loaded, quarantined (lines and whole file), and what looked wrong."""

    records_in: int
    loaded: int
    quarantine_rows: tuple[dict[str, Any], ...] = ()
    whole_file: bool = False
    problems: tuple[str, ...] = ()

    @property
    def quarantined_lines(self) -> tuple[dict[str, Any], ...]:
        return tuple(row for row in self.quarantine_rows if row.get("raw_line") is not None)

    @property
    def whole_file_reasons(self) -> tuple[str, ...]:
        return tuple(str(row.get("reason")) for row in self.quarantine_rows if row.get("raw_line") is None)

    @property
    def quarantined(self) -> int:
        return len(self.quarantined_lines) + (1 if self.whole_file else 0)

    @property
    def lost(self) -> int:
        return self.records_in - self.loaded - self.quarantined


def _visible_files(folder: Path, suffix: str) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(
        p for p in folder.rglob(f"*{suffix}")
        if p.is_file() and not any(part.startswith(_HIDDEN) for part in p.relative_to(folder).parts)
    )


def account(lake_root: Path, dataset: str, run_id: str, key: str, source: bytes | None) -> Account:
    """Count what run ``run_id`` of landing object ``key`` left in the lake, against ``source`` (its bytes)."""
    import pyarrow.parquet as pq

    root = Path(lake_root)
    raw = root / "raw" / dataset / f"run_id={run_id}"
    loaded = sum(pq.ParquetFile(path).metadata.num_rows for path in _visible_files(raw, ".parquet"))
    rows: list[dict[str, Any]] = []
    problems: list[str] = []
    for path in _visible_files(root / "quarantine" / dataset / f"run_id={run_id}", ".json"):
        for number, text in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if text.strip():
                try:
                    rows.append(json.loads(text))
                except ValueError:
                    problems.append(f"quarantine file {path.name} line {number} is not JSON")
    copy = root / "quarantine" / "_files" / dataset / f"run_id={run_id}" / key.rsplit("/", 1)[-1]
    whole_file = False
    reasons = [row for row in rows if row.get("raw_line") is None]
    if copy.is_file():
        if source is not None and copy.read_bytes() == source:
            whole_file = True
        else:
            problems.append(f"the quarantined copy {copy.name} is not byte-identical to the source")
        if not reasons:
            problems.append("the file was quarantined whole without a reason row")
    elif reasons:
        problems.append("a whole-file reason row, but no copy of the file under quarantine/_files/")
    records_in = 0 if source is None else 1 if whole_file else count_records(source)
    return Account(records_in, loaded, tuple(rows), whole_file, tuple(problems))


# --- running a case through the local pipeline -------------------------------------------------
@dataclass
class CaseResult:
    case: Case
    source: bytes | None  # the landing object's bytes when its run was asked for (None: no such object)
    report: StartReport
    run_id: str | None
    run: RunRecord | None
    notification: dict[str, Any] | None
    account: Account
    processed: dict[int, dict[str, Any]]

    @property
    def outcome(self) -> str:
        return outcome_of(self.report, self.run, self.account, self.source)

    def problems(self) -> list[str]:
        return deviations(self)

    def row(self) -> Row:
        account = self.account
        return Row(self.case.name, self.outcome, account.records_in, account.loaded, account.quarantined,
                   tuple(self.problems()))


def outcome_of(report: StartReport, run: RunRecord | None, account: Account, source: bytes | None) -> str:
    if report.skipped:
        return REFUSED
    if run is None:
        return NOT_STARTED
    if run.status == "SUCCEEDED":
        if account.records_in == 0:
            return NOTHING_TO_LOAD
        if account.quarantined == 0:
            return LOADED
        return ALL_QUARANTINED if account.loaded == 0 else PARTLY_QUARANTINED
    if account.whole_file:
        return QUARANTINED_WHOLE
    if account.records_in and account.loaded == 0 and account.quarantined == account.records_in:
        return ALL_QUARANTINED  # every line kept in quarantine with its reason; the run fails saying why
    return SOURCE_GONE if source is None else RUN_FAILED


def s3_put_event(key: str, size: int, etag: str, event_time: str, bucket: str = "landing") -> dict[str, Any]:
    """An S3 ObjectCreated:Put notification as S3 sends it (the key URL-encoded, a space as '+')."""
    return {"Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "eventName": "ObjectCreated:Put", "eventTime": event_time,
        "s3": {"bucket": {"name": bucket}, "object": {"key": quote_plus(key, safe="/"), "size": size, "eTag": etag}},
    }]}


def run_case(runtime: LocalRuntime, corpus: Corpus, case: Case) -> CaseResult:
    """Land the case's file, send the S3 event the Lambda would get, run the pipeline, count the result."""
    from etl.events import utc_now_iso
    from etl.local.lake import LANDING
    from etl.trigger import start_runs_for_event

    content = corpus.content(case)
    try:
        path: Path | None = runtime.lake.path(LANDING, case.key)
    except LakePathError:
        path = None  # the key cannot name a file in the landing folder: only the event exists
    size = len(content or b"")
    etag = hashlib.md5(content or b"", usedforsecurity=False).hexdigest()
    event_time = utc_now_iso()
    if path is not None and content is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.tmp")  # hidden while written, like a multipart upload
        temporary.write_bytes(content)
        temporary.replace(path)
        landed = runtime.lake.landing_object(case.key)
        size, etag, event_time = landed.size or 0, landed.etag or etag, landed.event_time or event_time
        if case.remove_before_run:
            path.unlink()
    source = path.read_bytes() if path is not None and path.is_file() else None
    published = len(runtime.outbox.list())
    report = start_runs_for_event(s3_put_event(case.key, size, etag, event_time), runtime)
    run_id = next((item.get("run_id") for item in [*report.started, *report.failed] if item.get("run_id")), None)
    run = runtime.runs.get(run_id) if run_id else None
    notes = [n.body for n in runtime.outbox.list()[published:] if isinstance(n.body, dict)]
    notification = next((body for body in reversed(notes) if body.get("run_id") == run_id), None)
    if run_id:
        counted = account(runtime.lake.root, corpus.dataset, run_id, case.key, source)
    else:
        counted = Account(records_in=0, loaded=0)
    processed = processed_rows(runtime.lake.root, corpus.dataset, list(case.expect.processed))
    return CaseResult(case, source, report, run_id, run, notification, counted, processed)


def processed_rows(
    lake_root: Path, dataset: str, ids: list[int], key: str = "shipping_id"
) -> dict[Any, dict[str, Any]]:
    """The processed table's rows for ``ids``, as its current Iceberg snapshot holds them."""
    if not ids:
        return {}
    import pyarrow as pa
    import pyarrow.compute as pc

    table = processed_snapshot(lake_root, dataset)
    if table is None:
        return {}
    table = table.filter(pc.is_in(table[key], value_set=pa.array(ids, type=table.schema.field(key).type)))
    return {row[key]: row for row in table.to_pylist()}


def processed_snapshot(lake_root: Path, dataset: str) -> pa.Table | None:
    """Every row of ``processed_<dataset>`` at its current snapshot (None: no such table yet)."""
    from etl.config import DEFAULT_DATABASE
    from etl.glue.iceberg import CATALOG_FILE, IcebergCatalog
    from etl.local.lake import SYSTEM

    catalog = IcebergCatalog(Path(lake_root) / SYSTEM / CATALOG_FILE)
    if f"processed_{dataset}" not in catalog.table_names(DEFAULT_DATABASE):
        return None
    return catalog.load(DEFAULT_DATABASE, f"processed_{dataset}").scan().to_arrow()


def _processed_ids(lake_root: Path, dataset: str, key: str = "shipping_id") -> list[Any]:
    table = processed_snapshot(lake_root, dataset)
    return [] if table is None else table.column(key).to_pylist()


def deviations(result: CaseResult) -> list[str]:
    """Where the result differs from the case's expectation (empty: as described)."""
    expect, counted = result.case.expect, result.account
    found: list[str] = []
    if result.outcome != expect.outcome:
        found.append(f"outcome {result.outcome!r}, expected {expect.outcome!r}")
    if (counted.loaded, counted.quarantined) != (expect.loaded, expect.quarantined):
        found.append(f"loaded/quarantined {counted.loaded}/{counted.quarantined}, "
                     f"expected {expect.loaded}/{expect.quarantined}")
    expected_lost = counted.records_in if expect.lost == "all" else expect.lost
    if counted.lost != expected_lost:
        found.append(f"lost {counted.lost}, expected {expected_lost}")
    reasons = {row.get("line_number"): row.get("reason") for row in counted.quarantined_lines}
    if reasons != dict(expect.reasons):
        found.append(f"quarantine reasons {reasons}, expected {dict(expect.reasons)}")
    changed = not_verbatim(result)
    if changed != list(expect.not_verbatim):
        found.append(f"lines {changed} were not quarantined verbatim, expected {list(expect.not_verbatim)}")
    if expect.whole_file_reason and not any(expect.whole_file_reason in r for r in counted.whole_file_reasons):
        found.append(f"no whole-file reason with {expect.whole_file_reason!r} (got {counted.whole_file_reasons})")
    found.extend(counted.problems)
    found.extend(_notification_deviations(result))
    if expect.trigger_reason:
        given = [item.get("reason", "") for item in result.report.skipped]
        if not any(expect.trigger_reason in reason for reason in given):
            found.append(f"trigger reasons {given}, expected one with {expect.trigger_reason!r}")
    for shipping_id, values in expect.processed.items():
        row = result.processed.get(shipping_id)
        actual = {name: row.get(name) for name in values} if row else None
        if actual != dict(values):
            found.append(f"processed row {shipping_id} is {actual}, expected {dict(values)}")
    trace = traces(result)
    if trace:
        found.append(f"a stack trace reached the user in {', '.join(trace)}")
    return found


def not_verbatim(result: CaseResult) -> list[int]:
    """Numbers of the quarantined lines whose raw_line is not the source line (array elements: not the same JSON
    value). The source line is its text; bytes that are not UTF-8 read as U+FFFD (JSON cannot hold them)."""
    records = read_records(result.source)
    changed = []
    for row in result.account.quarantined_lines:
        number, raw = row.get("line_number"), str(row.get("raw_line"))
        if not isinstance(number, int) or number < 1:
            changed.append(-1)
            continue
        if records.kind == "json_array":
            try:
                same = number <= len(records.elements) and json.loads(raw) == records.elements[number - 1]
            except ValueError:
                same = False
        else:
            same = number <= len(records.lines) and raw == records.lines[number - 1]
        if not same:
            changed.append(number)
    return sorted(changed)


def _notification_deviations(result: CaseResult) -> list[str]:
    expect, body, counted = result.case.expect, result.notification, result.account
    if expect.notification is None:
        return [] if body is None else [f"a notification ({body.get('status')}) where none was expected"]
    if body is None:
        return [f"no notification, expected {expect.notification}"]
    found = []
    if body.get("status") != expect.notification:
        found.append(f"notification {body.get('status')}, expected {expect.notification}")
    if body.get("status") == "SUCCEEDED":
        counts = body.get("counts") or {}
        notified = (counts.get("records_read"), counts.get("loaded"), counts.get("quarantined"))
        if notified != (counted.records_in, counted.loaded, counted.quarantined):
            found.append(f"notification counts read/loaded/quarantined {notified}, counted "
                         f"{(counted.records_in, counted.loaded, counted.quarantined)}")
    if expect.cause and expect.cause not in str(body.get("cause")):
        found.append(f"notification cause does not say {expect.cause!r}")
    return found


def traces(result: CaseResult) -> list[str]:
    """Where a Python or Java stack trace shows in what the user reads (notification, run log)."""
    places = {"notification": _texts(result.notification)}
    if result.run is not None:
        places["run log"] = _texts([result.run.error, result.run.cause, *(step.error for step in result.run.steps)])
    return [name for name, texts in places.items() if any(has_trace(text) for text in texts)]


def has_trace(text: str) -> bool:
    """A Python traceback or a Java stack frame line in ``text``."""
    return TRACEBACK in text or any(line.startswith(JAVA_FRAME) for line in text.splitlines())


def _texts(value: Any) -> list[str]:
    """Every string in a JSON-like value, and in JSON documents held as strings (a Glue or Athena cause)."""
    if isinstance(value, dict):
        return [text for item in value.values() for text in _texts(item)]
    if isinstance(value, list):
        return [text for item in value for text in _texts(item)]
    if not isinstance(value, str):
        return []
    if value.lstrip().startswith(("{", "[")):
        try:
            return [value, *_texts(json.loads(value))]
        except ValueError:
            pass
    return [value]


def run_corpus(runtime: LocalRuntime, corpus: Corpus) -> list[CaseResult]:
    """Every case, in the corpus order (a case may rely on an earlier one, e.g. duplicate ids across files)."""
    results = []
    for case in corpus.cases:
        logger.info("bad input case %s", case.name)
        results.append(run_case(runtime, corpus, case))
    return results


def scenario_runtime(context: ScenarioContext, name: str) -> LocalRuntime:
    """A runtime on a lake of the scenario's own (``<workdir>/<name>/lake``): its run list holds only its runs."""
    from etl.local.runtime import LocalRuntime

    settings = LocalSettings.resolve(lake_root=context.workdir / name / "lake", project_root=context.project_root)
    return LocalRuntime(settings, spark=context.spark)


def bad_input_scenario(context: ScenarioContext) -> list[Row]:
    runtime = scenario_runtime(context, "bad_inputs")
    corpus = load_corpus(default_corpus_path(context.project_root))
    return [result.row() for result in run_corpus(runtime, corpus)]


register("bad inputs", bad_input_scenario)


# --- delivery: the same event twice, many files at once ------------------------------------------
DUPLICATE_DELIVERIES = 3
BURST_FILES = 20
BURST_RECORDS = 200


def _ids(folder: Path, key: str = "shipping_id") -> list[Any]:
    """Every value of ``key`` in the Parquet files under ``folder`` (hidden folders such as _staging skipped)."""
    import pyarrow.dataset as ds

    files = [str(p) for p in _visible_files(folder, ".parquet")]
    return ds.dataset(files, format="parquet").to_table(columns=[key]).column(key).to_pylist() if files else []


def duplicate_event_scenario(context: ScenarioContext) -> list[Row]:
    """One S3 event delivered three times (at-least-once delivery): one run, every record loaded once."""
    from etl.generator import write_file
    from etl.trigger import start_runs_for_event

    runtime = scenario_runtime(context, "duplicate_event")
    source = context.workdir / "shipping_data.json-2026-01-01-00-00.json"
    write_file(source, 500, seed=7, bad_rate=0.01)
    landed = runtime.drop(source, "shipping")
    event = s3_put_event(landed.key, landed.size or 0, landed.etag or "", landed.event_time or "")
    reports = [start_runs_for_event(event, runtime) for _ in range(DUPLICATE_DELIVERIES)]
    started = [item["run_id"] for report in reports for item in report.started]
    problems = []
    if len(started) != 1:
        problems.append(f"{len(started)} runs started, expected 1")
    if sum(len(report.duplicates) for report in reports) != DUPLICATE_DELIVERIES - 1:
        problems.append("the repeated deliveries were not reported as duplicates")
    data = (runtime.lake.root / "landing" / landed.key).read_bytes()
    counted = account(runtime.lake.root, "shipping", started[0], landed.key, data) if started else Account(0, 0)
    run = runtime.runs.get(started[0]) if started else None
    outcome = outcome_of(reports[0], run, counted, data)
    processed = _processed_ids(runtime.lake.root, "shipping")
    if len(processed) != len(set(processed)) or len(processed) > counted.loaded:
        problems.append("processed/ holds a record twice")
    case = f"the same event delivered {DUPLICATE_DELIVERIES} times"
    return [Row(case, outcome, counted.records_in, counted.loaded, counted.quarantined, tuple(problems))]


def burst_during_watch_scenario(context: ScenarioContext) -> list[Row]:
    """Twenty files dropped at once while ``watch`` runs: each processed exactly once, nothing lost."""
    import threading

    from etl.generator import write_file
    from etl.local.watcher import watch

    runtime = scenario_runtime(context, "burst")
    runtime.lake.ensure()
    sources = []
    for index in range(BURST_FILES):
        path = context.workdir / "burst" / f"burst-{index:02d}.json"
        write_file(path, BURST_RECORDS, seed=100 + index)
        sources.append(path)
    stop = threading.Event()
    watcher = threading.Thread(target=watch, args=(runtime,), kwargs={"interval": 0.2, "stop": stop}, daemon=True)
    watcher.start()
    try:
        threads = [threading.Thread(target=runtime.drop, args=(path, "shipping")) for path in sources]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            runs = runtime.runs.list()
            if len(runs) >= BURST_FILES and all(run.status != "RUNNING" for run in runs):
                break
            time.sleep(0.5)
    finally:
        stop.set()
        watcher.join()
    runs = runtime.runs.list()
    problems = []
    keys = sorted(run.source.get("key", "") for run in runs)
    if keys != sorted(f"shipping/{path.name}" for path in sources):
        problems.append(f"{len(runs)} runs for {BURST_FILES} files")
    records_in = loaded = quarantined = 0
    for run in runs:
        key = run.source.get("key", "")
        data = (runtime.lake.root / "landing" / key).read_bytes()
        counted = account(runtime.lake.root, "shipping", run.run_id, key, data)
        records_in, loaded, quarantined = (records_in + counted.records_in, loaded + counted.loaded,
                                           quarantined + counted.quarantined)
        if run.status != "SUCCEEDED":
            problems.append(f"run {run.run_id} {run.status}")
    processed = _processed_ids(runtime.lake.root, "shipping")
    if sorted(processed) != sorted(set(_ids(runtime.lake.root / "raw" / "shipping"))):
        problems.append("processed/ does not hold each loaded shipping_id exactly once")
    outcome = LOADED if not problems else RUN_FAILED
    case = f"{BURST_FILES} files dropped at once during watch"
    return [Row(case, outcome, records_in, loaded, quarantined, tuple(problems))]


register("delivery", lambda context: [*duplicate_event_scenario(context), *burst_during_watch_scenario(context)])


# --- command line ------------------------------------------------------------------------------
def run_scenarios(names: Sequence[str], project_root: Path, spark: Callable[[], SparkSession]) -> list[Row]:
    rows: list[Row] = []
    for name in names:
        with tempfile.TemporaryDirectory(prefix="etl-reliability-") as folder:
            rows.extend(SCENARIOS[name](ScenarioContext(Path(folder), project_root, spark)))
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m etl.reliability", description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", action="append", choices=sorted(SCENARIOS),
                        help="run only this scenario (repeatable; default: all)")
    parser.add_argument("--readme", action="store_true",
                        help="print the README's 'What happens to bad input' table from the corpus and exit")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(name)s: %(message)s")
    try:
        settings = LocalSettings.resolve()
        if args.readme:
            print(readme_table(load_corpus(default_corpus_path(settings.project_root))))
            return 0
        from etl.spark import local_session

        rows = run_scenarios(args.scenario or list(SCENARIOS), settings.project_root, local_session)
    except EtlError as error:
        print(f"etl.reliability: error: {error}", file=sys.stderr)
        return error.exit_code
    print(format_table(rows))
    return 0 if all(row.ok for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
