"""The README's "Using it locally" table, run row by row in a terminal (a pseudo-terminal, by pexpect).

Each row's command runs as a user would type it, in the table's order, in a folder of its own with a
lake of its own; its output must show the row's answer (``…`` stands for what varies). So the table
cannot drift from what the commands do.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import pexpect
import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
TABLE_HEADER = "| I want to… | command | it answers"
CODE = re.compile(r"(``?)(.+?)\1")
RUN_SECONDS = 300


@dataclass(frozen=True)
class Row:
    purpose: str
    command: str
    answer: str

    def pattern(self) -> re.Pattern[str]:
        parts = [r"\s+".join(re.escape(word) for word in piece.split()) for piece in self.answer.split("…")]
        return re.compile(".*?".join(parts))


def readme_rows() -> list[Row]:
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(TABLE_HEADER))
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        purpose, command, answer = [cell.strip() for cell in line.strip("|").split(" | ")]
        rows.append(Row(purpose, CODE.search(command).group(2).strip(), CODE.search(answer).group(2).strip()))
    return rows


def test_the_table_is_found_and_every_row_has_a_command_and_an_answer():
    rows = readme_rows()
    assert len(rows) >= 10
    assert all(row.command.startswith("etl ") and row.answer for row in rows)


@pytest.fixture()
def terminal_folder(tmp_path: Path, spark) -> Path:  # spark: the tests' session is up, so CPU is not contended
    (tmp_path / "src").symlink_to(ROOT / "src")  # the README names the saved queries by their path
    good = {"shipping_date": "2024/03/01", "customer_name": "Ann Example", "street_address": "1 Test Road",
            "destination_city": "main_city", "shipping_cost": 10.5, "shipping_distance": 2.0, "quantity": 3.0}
    lines = [json.dumps({"shipping_id": 900_000 + i, **good}) for i in range(3)]
    (tmp_path / "my_shipments.json").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return tmp_path


def test_every_row_of_the_readme_table_runs_and_shows_its_answer(terminal_folder: Path):
    env = {**os.environ, "ETL_LAKE_ROOT": str(terminal_folder / "lake"), "ETL_PROJECT_ROOT": str(ROOT),
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}", "COLUMNS": "200"}
    for row in readme_rows():
        argv = shlex.split(row.command)
        child = pexpect.spawn(argv[0], argv[1:], cwd=str(terminal_folder), env=env, encoding="utf-8",
                              timeout=RUN_SECONDS, dimensions=(50, 200))
        if argv[:2] == ["etl", "watch"]:
            child.expect(row.pattern())
            shutil.copy(terminal_folder / "my_shipments.json",
                        terminal_folder / "lake" / "landing" / "shipping" / "arrived.json")
            child.expect("ETL shipping run succeeded")
            child.sendintr()
            child.expect(pexpect.EOF)
            child.close()
            assert child.exitstatus == 130, row
            continue
        child.expect(pexpect.EOF)
        child.close()
        output = child.before
        assert child.exitstatus == 0, f"{row.command} exited {child.exitstatus}:\n{output}"
        assert row.pattern().search(output), f"{row.command}: no line like {row.answer!r} in:\n{output}"
        assert "Traceback" not in output
