"""`etl generate` never overwrites a file: unique names, safe when run at once, a folder or a file as output."""

from __future__ import annotations

import re
import threading
from pathlib import Path

from etl.cli import main
from etl.generator import landing_file_name, write_new_file


def _data_files(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*"))


def test_four_runs_in_the_same_second_write_four_files(tmp_path: Path, capsys) -> None:
    for _ in range(4):
        assert main(["--lake", str(tmp_path), "generate", "--records", "20"]) == 0
    files = _data_files(tmp_path / "landing" / "shipping")
    assert len(files) == 4
    assert not [f for f in files if f.name.startswith(".")]  # no temporary file left
    assert len({f.read_bytes() for f in files}) == 4  # a seed of its own each: four different files
    out = capsys.readouterr().out
    assert all(f"to {f} " in out for f in files)


def test_two_writers_at_once_both_keep_their_file(tmp_path: Path) -> None:
    name, errors, paths = landing_file_name(), [], []

    def write(seed: int) -> None:
        try:
            paths.append(write_new_file(tmp_path, name, 2_000, seed=seed).path)
        except Exception as exc:  # the test reports any failure of either writer
            errors.append(exc)

    writers = [threading.Thread(target=write, args=(seed,)) for seed in (1, 2)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join()

    assert errors == []
    assert sorted(p.name for p in _data_files(tmp_path)) == sorted(p.name for p in paths)
    assert len(set(paths)) == 2
    assert {p.name for p in paths} == {name, name.removesuffix(".json") + "-2.json"}


def test_a_taken_gzip_name_gets_its_counter_before_the_suffixes(tmp_path: Path) -> None:
    first = write_new_file(tmp_path, "data.json.gz", 5).path
    second = write_new_file(tmp_path, "data.json.gz", 5).path
    assert (first.name, second.name) == ("data.json.gz", "data-2.json.gz")  # type: ignore[union-attr]


def test_output_may_be_a_folder_or_a_new_file(tmp_path: Path, capsys) -> None:
    folder = tmp_path / "out"
    folder.mkdir()
    assert main(["--lake", str(tmp_path / "lake"), "generate", "--records", "5", "--output", str(folder)]) == 0
    assert main(["--lake", str(tmp_path / "lake"), "generate", "--records", "5", "--output",
                 str(tmp_path / "new") + "/"]) == 0
    assert main(["--lake", str(tmp_path / "lake"), "generate", "--records", "5", "--output",
                 str(tmp_path / "deeper" / "mine.json")]) == 0

    [in_folder] = _data_files(folder)
    assert in_folder.name.startswith("shipping_data.json-")
    [in_new_folder] = _data_files(tmp_path / "new")
    assert in_new_folder.name.startswith("shipping_data.json-")
    assert (tmp_path / "deeper" / "mine.json").read_text(encoding="utf-8").count("\n") >= 5
    assert "seed " in capsys.readouterr().out


def test_an_existing_output_file_is_refused_and_kept(tmp_path: Path, capsys) -> None:
    target = tmp_path / "mine.json"
    target.write_text("keep me\n", encoding="utf-8")
    assert main(["--lake", str(tmp_path / "lake"), "generate", "--records", "5", "--output", str(target)]) == 2
    assert target.read_text(encoding="utf-8") == "keep me\n"
    assert capsys.readouterr().err.startswith(f"etl: error: {target} exists and is not a folder")
    assert [p.name for p in tmp_path.iterdir()] == ["mine.json"]


def test_generate_ev_population_writes_a_csv_export_into_its_landing_folder(tmp_path: Path, capsys) -> None:
    import csv

    from etl.generator_ev import HEADER

    args = ["--lake", str(tmp_path), "generate", "--dataset", "ev_population", "--records", "50", "--seed", "1",
            "--duplicate-rate", "0.1", "--bad-rate", "0.1"]
    assert main(args) == 0
    [export] = _data_files(tmp_path / "landing" / "ev_population")
    rows = list(csv.reader(export.open(encoding="utf-8", newline="")))
    assert tuple(rows[0]) == HEADER and export.suffix == ".csv"
    out = capsys.readouterr().out
    vehicles, corrections, bad = (int(n) for n in re.findall(r"(\d+) (?:vehicles|re-sent|bad)", out))
    assert vehicles == 50 and len(rows) == 1 + vehicles + corrections + bad and corrections and bad
    assert main([*args[:-8], "--output", str(export)]) == 2  # an existing file is refused


def test_generate_users_writes_a_crlf_csv_export_under_the_append_folder(tmp_path: Path, capsys) -> None:
    import csv

    from etl.generator_users import HEADER

    assert main(["--lake", str(tmp_path), "generate", "--dataset", "users", "--records", "40", "--seed", "2",
                 "--bad-rate", "0.1"]) == 0
    [export] = _data_files(tmp_path / "landing" / "users" / "append")
    assert export.read_bytes().count(b"\r\n") == 1 + 40 + 4  # header, users, bad rows
    rows = list(csv.reader(export.open(encoding="utf-8", newline="")))
    assert tuple(rows[0]) == HEADER
    assert "wrote 40 users (+0 re-sent corrections, +4 bad rows, seed 2)" in capsys.readouterr().out
