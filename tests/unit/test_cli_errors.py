"""Every `etl` subcommand given a user's mistake answers with one `etl: error:` line and exit status 2.

Run as a real process (the console script's module), so what is asserted is what a person sees:
no usage dump, no Python traceback.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

MISTAKES = {
    "no command": [],
    "unknown command": ["nope"],
    "generate: records not a number": ["generate", "--records", "ten"],
    "generate: negative records": ["generate", "--records", "-5"],
    "generate: rate above 1": ["generate", "--bad-rate", "2"],
    "generate: rate not a number": ["generate", "--duplicate-rate", "lots"],
    "generate: output is an existing file": ["generate", "--records", "1", "--output", "{existing}"],
    "run: no such file": ["run", "{lake}/nope.json"],
    "run: empty folder": ["run", "{empty}"],
    "run: unknown dataset": ["run", "{existing}", "--dataset", "vehicles"],
    "watch: negative interval": ["watch", "--interval", "-1"],
    "watch: interval not a number": ["watch", "--max-seconds", "soon"],
    "query: neither SQL nor file": ["query"],
    "query: both SQL and file": ["query", "SELECT 1", "--file", "{existing}"],
    "query: no such SQL file": ["query", "--file", "{lake}/nope.sql"],
    "query: SQL file is a folder": ["query", "--file", "{empty}"],
    "query: unknown format": ["query", "SELECT 1", "--format", "xml"],
    "tables: extra argument": ["tables", "extra"],
    "runs: limit not a number": ["runs", "--limit", "all"],
    "notifications: negative limit": ["notifications", "--limit", "-1"],
    "unknown option": ["runs", "--colour"],
}


@pytest.mark.parametrize("arguments", MISTAKES.values(), ids=MISTAKES.keys())
def test_a_mistake_is_one_error_line_and_exit_status_2(tmp_path: Path, arguments: list[str]) -> None:
    existing = tmp_path / "existing.json"
    existing.write_text('{"shipping_id": 1}\n', encoding="utf-8")
    (tmp_path / "empty").mkdir()
    places = {"lake": str(tmp_path / "lake"), "existing": str(existing), "empty": str(tmp_path / "empty")}
    argv = [part.format(**places) for part in arguments]

    done = subprocess.run([sys.executable, "-m", "etl.cli", "--lake", places["lake"], *argv],
                          capture_output=True, text=True, timeout=120)

    assert done.returncode == 2, (done.stdout, done.stderr)
    assert done.stdout == ""
    [line] = done.stderr.splitlines()
    assert line.startswith("etl: error: ") and len(line) > len("etl: error: ") + 10
    assert "Traceback" not in done.stderr
    assert existing.read_text(encoding="utf-8") == '{"shipping_id": 1}\n'  # nothing overwritten


def test_the_usage_error_names_the_help_to_read(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "etl.cli", "--lake", str(tmp_path), "generate", "--records", "x"],
                          capture_output=True, text=True, timeout=120)
    assert done.stderr.strip() == (
        "etl: error: generate: argument --records: 'x' is not a whole number (see `etl generate --help`)"
    )
