"""Every case of the bad-input corpus (tests/bad_inputs) through the real local pipeline, in one lake.

The rule: good lines load, bad lines are quarantined verbatim with a reason, a file that cannot be
read at all is quarantined whole, the run's notification gives the counts, nothing is lost and no
stack trace reaches the user. Each case's expected outcome is written down in cases.json, and the
README table "What happens to bad input" is rendered from it. A case whose current behaviour is a
known bug says so (``bug``) and expects that behaviour, so fixing the bug makes its test fail until
the corpus is updated.
"""

from __future__ import annotations

import gzip
import json
import logging
from pathlib import Path
from urllib.parse import unquote

import pytest

from etl.bad_input_corpus import BUILDERS, QUARANTINED_WHOLE, REFUSED, load_corpus, readme_table
from etl.config import LocalSettings
from etl.local.runtime import LocalRuntime
from etl.reliability import Row, count_records, format_table, has_trace, run_corpus

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
CORPUS = load_corpus(ROOT / "tests" / "bad_inputs")
CASES = [pytest.param(case, id=case.name) for case in CORPUS.cases]


@pytest.fixture(scope="module")
def lake(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("bad_inputs") / "lake"


@pytest.fixture(scope="module")
def runtime(lake, spark) -> LocalRuntime:
    # Crawlers are polled with Wait states: a small scale keeps each run short.
    return LocalRuntime(LocalSettings.resolve(lake_root=lake, wait_scale=0.001), spark=lambda: spark)


@pytest.fixture(scope="module")
def results(runtime):
    return {result.case.name: result for result in run_corpus(runtime, CORPUS)}


def inflated(data: bytes) -> bytes:
    return gzip.decompress(data) if data.startswith(b"\x1f\x8b") else data


def source_lines(data: bytes) -> list[bytes]:
    """The file's lines as Hadoop splits them (LF, CR or CRLF), gzip inflated, a leading BOM dropped."""
    return inflated(data).removeprefix(b"\xef\xbb\xbf").splitlines()


@pytest.mark.parametrize("case", CASES)
def test_outcome_and_counts(results, case):
    result, expect = results[case.name], case.expect
    counted = result.account
    assert result.outcome == expect.outcome
    assert (counted.loaded, counted.quarantined) == (expect.loaded, expect.quarantined)
    assert not counted.problems
    expected_lost = counted.records_in if expect.lost == "all" else expect.lost
    assert counted.lost == expected_lost
    if expected_lost:  # only a case with a known bug may expect to lose records
        assert case.bug and counted.records_in > 0


@pytest.mark.parametrize("case", CASES)
def test_bad_lines_are_quarantined_verbatim_with_their_reason(results, case):
    result, expect = results[case.name], case.expect
    rows = result.account.quarantined_lines
    assert {row["line_number"]: row["reason"] for row in rows} == dict(expect.reasons)
    if not rows:
        return
    lines = source_lines(result.source or b"")
    array = lines and lines[0].lstrip().startswith(b"[")
    elements = json.loads(inflated(result.source or b"")) if array else []
    changed = []
    for row in rows:
        number, raw = row["line_number"], row["raw_line"]
        assert unquote(row["source"]).endswith("/landing/" + case.key)
        if array:  # an element of a JSON array: the same JSON value
            same = json.loads(raw) == elements[number - 1]
        else:  # the line's text; a byte that is not UTF-8 cannot be held in JSON and shows as U+FFFD
            same = raw == lines[number - 1].decode("utf-8", errors="replace")
        if not same:
            changed.append(number)
    assert changed == list(expect.not_verbatim)
    assert case.bug or not changed


@pytest.mark.parametrize("case", [c for c in CASES if c.values[0].expect.outcome == QUARANTINED_WHOLE])
def test_unreadable_file_is_quarantined_whole_byte_for_byte(results, runtime, case):
    result = results[case.name]
    name = case.key.rsplit("/", 1)[-1]
    copy = runtime.lake.path("quarantine", f"_files/shipping/run_id={result.run_id}/{name}")
    assert copy.read_bytes() == result.source
    [reason] = result.account.whole_file_reasons
    assert reason.startswith("whole file quarantined: ") and case.expect.whole_file_reason in reason
    assert not runtime.lake.path("raw", f"shipping/run_id={result.run_id}").exists()


@pytest.mark.parametrize("case", CASES)
def test_notification_gives_status_and_counts(results, case):
    result, expect = results[case.name], case.expect
    body = result.notification
    if expect.notification is None:
        assert body is None and result.run is None
        return
    assert body["status"] == expect.notification == result.run.status
    assert body["source"]["key"] == case.key
    if expect.notification == "SUCCEEDED":
        counts = body["counts"]
        counted = result.account
        assert (counts["records_read"], counts["loaded"], counts["quarantined"]) == (
            counted.records_in, counted.loaded, counted.quarantined
        )
        assert f"{counted.loaded} loaded, {counted.quarantined} quarantined" in body["summary"]
    else:
        assert expect.cause is None or expect.cause in body["cause"]
        assert result.run_id in body["summary"] and case.key in body["summary"]


@pytest.mark.parametrize("case", CASES)
def test_no_stack_trace_reaches_the_user(results, case):
    result = results[case.name]
    texts = [json.dumps(result.notification), str(result.notification)]
    if result.run is not None:
        texts += [result.run.error or "", result.run.cause or "", *(s.error or "" for s in result.run.steps)]
    for item in result.report.failed + result.report.skipped:
        texts += [str(value) for value in item.values()]
    assert not any("Traceback (most recent call last)" in text or has_trace(text) for text in texts)


def test_refused_key_writes_nothing_anywhere(results, lake):
    refused = [r for r in results.values() if r.case.expect.outcome == REFUSED]
    assert refused
    for result in refused:
        [skipped] = result.report.skipped
        assert result.case.expect.trigger_reason in skipped["reason"]
        assert result.run_id is None and not result.report.started
        assert not list(lake.parent.rglob(result.case.key.rsplit("/", 1)[-1]))


def test_the_later_duplicate_wins_in_processed(results, runtime):
    from etl.athena.local import LocalAthena

    expected = {}
    for result in results.values():
        for shipping_id, values in result.case.expect.processed.items():
            row = result.processed[shipping_id]  # read right after the case's run
            assert {name: row[name] for name in values} == dict(values)
            expected[shipping_id] = values["shipping_cost"]  # the last case's value is the final one
    assert expected
    athena = LocalAthena(runtime.catalog, database=runtime.settings.database)
    for shipping_id, cost in expected.items():
        sql = "SELECT shipping_cost FROM processed_shipping WHERE shipping_id = ?"
        assert athena.execute(sql, parameters=[shipping_id]).rows == [(cost,)]


def test_the_reliability_table_lists_every_case(results):
    rows = [result.row() for result in results.values()]
    table = format_table(rows).splitlines()
    assert table[0].split() == ["case", "outcome", "records", "in", "loaded", "quarantined", "lost"]
    assert [line.split()[0] for line in table[2 : 2 + len(rows)]] == [case.name for case in CORPUS.cases]
    failing = {row.case for row in rows if not row.ok}
    # Only cases with a known bug may lose records; every other case does what the corpus says.
    assert failing == {case.name for case in CORPUS.cases if case.expect.lost != 0}


def test_records_in_are_counted_from_the_bytes():
    good = CORPUS.good_line(1).encode()
    assert count_records(None) == 0
    assert count_records(b"") == 0
    assert count_records(b" \n\t\r\n") == 0
    assert count_records(good + b"\r\n\n  \n" + good + b"\r" + b"{bad") == 3
    assert count_records(b"\xef\xbb\xbf" + good + b"\n") == 1
    assert count_records(gzip.compress(good + b"\n" + good + b"\n")) == 2
    assert count_records(b"[" + good + b", 5, null]") == 3
    assert count_records(b"  [" + good + b", {") == 1  # a malformed array is one unit
    cut = gzip.compress(b"\n".join([good] * 2000))
    assert 0 < count_records(cut[: len(cut) // 2]) < 2000  # what inflates of a cut gzip


def test_a_row_loses_what_is_neither_loaded_nor_quarantined():
    assert Row("c", "loaded", 5, 3, 2).lost == 0 and Row("c", "loaded", 5, 3, 2).ok
    assert Row("c", "run failed", 5, 0, 0).lost == 5 and not Row("c", "run failed", 5, 0, 0).ok
    assert not Row("c", "loaded", 1, 1, 0, problems=("outcome differs",)).ok
    assert "✗ c: 5 record(s) lost" in format_table([Row("c", "run failed", 5, 0, 0)])


def test_readme_table_is_the_one_rendered_from_the_corpus():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    heading = "\n## What happens to bad input\n"
    assert heading in readme
    section = readme.split(heading, 1)[1].split("\n## ", 1)[0]
    table = "\n".join(line for line in section.splitlines() if line.startswith("|"))
    assert table == readme_table(CORPUS)


def test_cli_run_of_a_binary_file_prints_one_line_and_no_trace(tmp_path, spark, capsys, caplog):
    from etl.cli import main

    caplog.set_level(logging.WARNING)
    binary = tmp_path / "scan_0002.json"
    binary.write_bytes(BUILDERS["binary"]({"repeat": 2}, CORPUS))
    code = main(["--lake", str(tmp_path / "lake"), "run", "--quiet", str(binary)])
    out, err = capsys.readouterr()
    assert code == 1
    for text in (out, err, caplog.text):
        assert "Traceback" not in text and not has_trace(text)
    [line] = err.strip().splitlines()
    assert line.startswith("failed: shipping/scan_0002.json: run ")
    assert "binary data, not UTF-8 JSON" in out  # the failure notification, printed, names the reason
