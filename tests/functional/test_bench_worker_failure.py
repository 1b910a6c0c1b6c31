"""A benchmark worker that fails is reported with its cause on the line the report shows."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # `bench` lives at the repository root, next to src/

from bench.datasets import Dataset  # noqa: E402
from bench.runner import Plan, measure_engine, worker_cause  # noqa: E402


def test_a_failed_worker_names_its_cause_on_the_first_line(tmp_path):
    missing = tmp_path / "data" / "no-such-file.json"
    dataset = Dataset(label="1k", records=1000, lines=1000, duplicates=0, bytes=0, seed=1, path=missing)
    plan = Plan(sizes=[1000], reps=1, engines=["duckdb"], e2e_modes=[], e2e_sizes=[], seed=1,
                data_dir=tmp_path / "data", work_dir=tmp_path / "work", timeout=120)

    record = measure_engine(plan, "duckdb", dataset, rep=1, position=1)

    assert not record["ok"]
    first_line, _, tail = record["error"].partition("\n")
    assert first_line.startswith("duckdb worker exit code 1: ")
    assert "no-such-file.json" in first_line  # the exception the worker died of, not only its exit code
    assert "Traceback" in tail  # the rest of the log's tail stays in the results


def test_the_cause_is_the_exception_line_of_the_last_traceback_else_the_last_line():
    log = "\n".join([
        "Traceback (most recent call last):",
        '  File "a.py", line 1, in <module>',
        "KeyError: 'first'",
        "",
        "During handling of the above exception, another exception occurred:",
        "",
        "Traceback (most recent call last):",
        '  File "a.py", line 3, in <module>',
        "    connection.execute(sql)",
        "IOException: IO Error: No files found",
        "",
        "LINE 4:         FROM read_json('x.json')",
        "                     ^",
    ])
    assert worker_cause(log) == "IOException: IO Error: No files found"
    assert worker_cause("done\nterminate called without an active exception\n") == (
        "terminate called without an active exception")
    assert worker_cause("") == ""
