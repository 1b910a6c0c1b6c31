"""CSV landing files through json_to_parquet (the ev_population contract): quirks, rejected rows, splits.

Expected line numbers and reasons are worked out here in plain Python from the text written: a row's
line number is that of its first physical line, the header being line 1.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from pathlib import Path

import pytest

from etl.contracts import load_contract
from etl.errors import InputFileError
from etl.generator_ev import HEADER, ev_rows
from etl.jobs import csv_records, json_to_parquet
from etl.jobs.runner import run_job
from etl.sniff import HEAD_BYTES
from etl.transforms_csv import mostly_plain_records

pytestmark = pytest.mark.slow

CITY, MODEL, ID = HEADER.index("City"), HEADER.index("Model"), HEADER.index("DOL Vehicle ID")
TRICKY = ['Sea, "ttle"', "Bellevue\nEast", 'He said "hi",\nthen left', ""]
BAD = [  # (how the good row is spoiled, the reason)
    (lambda r: r[:-1], "too few columns: 16 of 17"),
    (lambda r: [*r, "x", "y"], "too many columns: 19 of 17"),
    (lambda r: [*r[:5], "19x0", *r[6:]], "invalid model_year '19x0': expected an integer (int)"),
    (lambda r: [*r[:6], "", *r[7:]], "missing required make"),
    (lambda r: [*r[:11], "12.345", *r[12:]],
     "invalid base_msrp '12.345': expected a number of at most 8 digits and 2 decimals"),
    (lambda r: [*r[:7], "Line\nbreak, \"quoted\"", "Fuel Cell", *r[9:]],
     "electric_vehicle_type 'Fuel Cell' is not one of the allowed values (Battery Electric Vehicle (BEV), "
     "Plug-in Hybrid Electric Vehicle (PHEV))"),
]
# The same kinds, each bad row on one line (the last one's quoted value holds no line break).
BAD_ONE_LINE = [*BAD[:-1], (lambda r: [*r[:7], 'Line, "quoted"', "Fuel Cell", *r[9:]], BAD[-1][1])]


def csv_text(rows: list[list[str]], terminator: str = "\r\n") -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator=terminator).writerows(rows)
    return buffer.getvalue()


def vehicles_with_bad(records: int, every: int, seed: int = 3, tricky: list[str] = TRICKY,
                      tricky_every: int = 7, kinds: list = BAD) -> tuple[list[list[str]], dict[int, str]]:
    """Header and vehicles, some with quoted commas, quotes and line breaks; a bad row after every ``every``-th.

    Returns the rows and, by row index, the reason of each bad one.
    """
    rows = [row for row in ev_rows(records, seed=seed)]
    out, bad = [rows[0]], {}
    for index, row in enumerate(rows[1:]):
        if index % tricky_every == tricky_every // 2:
            row = [*row[:CITY], tricky[index % len(tricky)], *row[CITY + 1:]]
        out.append(row)
        if index % every == every - 1:
            spoil, reason = kinds[len(bad) % len(kinds)]
            bad[len(out)] = reason
            out.append(spoil([*row[:ID], str(900_000_000 + index), *row[ID + 1:]]))
    return out, bad


def start_lines(rows: list[list[str]], terminator: str = "\r\n") -> list[int]:
    """The 1-based physical line each row starts on, once written."""
    numbers, line = [], 1
    for row in rows:
        numbers.append(line)
        line += csv_text([row], terminator).count("\n")
    return numbers


def run_to_raw(spark, tmp_path: Path, source: Path) -> dict:
    lake = tmp_path / "lake"
    argv = ["json_to_parquet.py", "--JOB_NAME", "json_to_parquet", "--run_id", "r1", "--dataset", "ev_population",
            "--database", "etl", "--source_uri", source.as_uri(), "--ingested_at", "2026-12-01T00:00:00Z",
            "--raw_uri", (lake / "raw").as_uri(), "--quarantine_uri", (lake / "quarantine").as_uri()]
    return run_job(json_to_parquet.run, json_to_parquet.ARGUMENTS, argv, spark)


def quarantined(tmp_path: Path) -> dict[int, tuple[str, str]]:
    rows = [json.loads(line) for path in sorted((tmp_path / "lake/quarantine/ev_population/run_id=r1").glob("*.json"))
            for line in path.read_text(encoding="utf-8").splitlines()]
    return {row["line_number"]: (row["raw_line"], row["reason"]) for row in rows}


def expected_quarantine(rows, bad, terminator="\r\n") -> dict[int, tuple[str, str]]:
    lines = start_lines(rows, terminator)
    return {lines[index]: (csv_text([rows[index]], terminator).removesuffix(terminator).replace("\r\n", "\n"),
                           reason) for index, reason in bad.items()}


def raw_rows(spark, tmp_path: Path) -> dict[int, dict]:
    frame = spark.read.parquet(str(tmp_path / "lake/raw/ev_population/run_id=r1"))
    return {row["dol_vehicle_id"]: row.asDict() for row in frame.collect()}


@pytest.mark.parametrize("compressed", [False, True], ids=["plain", "gzip"])
def test_bom_crlf_and_quoted_commas_quotes_and_line_breaks(spark, tmp_path, compressed):
    rows, bad = vehicles_with_bad(60, every=9)
    data = ("\ufeff" + csv_text(rows)).encode("utf-8")
    source = tmp_path / ("ev.csv.gz" if compressed else "ev.csv")
    source.write_bytes(gzip.compress(data) if compressed else data)

    manifest = run_to_raw(spark, tmp_path, source)

    assert manifest["format"] == ("csv.gz" if compressed else "csv")
    assert (manifest["records_read"], manifest["loaded"], manifest["quarantined"]) == (len(rows) - 1, 60, len(bad))
    assert quarantined(tmp_path) == expected_quarantine(rows, bad)
    loaded = raw_rows(spark, tmp_path)
    for row in rows[1:]:
        vehicle_id = int(row[ID]) if row[ID].isdigit() else None
        if vehicle_id in loaded and vehicle_id < 900_000_000:
            assert loaded[vehicle_id]["city"] == (row[CITY] or None)  # an empty value is NULL
            assert loaded[vehicle_id]["model_year"] == int(row[5])
    assert {v["city"] for v in loaded.values()} >= {t for t in TRICKY if t}


LOOKUPS = ["kept by the first read", "by position, IN list", "by position, join", "every row again"]
# Quoted city names, by whether they span lines.
QUOTED = {True: ["Bellevue\nEast", 'He said "hi",\nthen left'], False: ['Sea, "ttle"', 'He said "hi", left']}


def quoted_export(tmp_path: Path, spanning: bool, records: int, every: int,
                  quoted_every: int) -> tuple[list[list[str]], dict[int, str], Path]:
    """An export (LF line ends) with a bad row after every ``every``-th and a quoted city every ``quoted_every``-th
    row; a bad row spans lines when ``spanning``. Its rows, the reason of each bad one (by row index), its path."""
    rows, bad = vehicles_with_bad(records, every=every, tricky=QUOTED[spanning], tricky_every=quoted_every,
                                  kinds=BAD if spanning else BAD_ONE_LINE)
    source = tmp_path / "ev.csv"
    source.write_text(csv_text(rows, "\n"), encoding="utf-8")
    return rows, bad, source


def use_lookup(monkeypatch, lookup: str) -> None:
    """Make the job find the rows its first pass held back (or rejected) the way ``lookup`` names."""
    if lookup != "kept by the first read":
        monkeypatch.setattr(json_to_parquet, "KEPT_LINES_PER_SPLIT", 0)
    if lookup == "by position, join":
        monkeypatch.setattr(json_to_parquet, "IN_LIST_UP_TO", 1)
    if lookup == "every row again":
        monkeypatch.setattr(json_to_parquet, "REJECTED_BY_POSITION", 3)


@pytest.mark.parametrize("lookup", LOOKUPS)
@pytest.mark.parametrize("spanning", [True, False], ids=["rows spanning lines", "a line per row"])
def test_rows_of_a_file_read_as_several_splits_keep_their_line_numbers(spark, tmp_path, monkeypatch, lookup,
                                                                        spanning):
    # Spanning: every other row spans two lines, so split boundaries fall inside rows as well as between
    # them, and the records are put together from their lines. Otherwise each line is a record (quoted
    # commas and quotes, no line break) and the one pass that writes them numbers them: no scan first.
    # The rejected rows are kept by the first read, found again by the position it gave them, or all
    # checked again. Every other row is quoted: the first pass makes the full check (no rows held).
    use_lookup(monkeypatch, lookup)
    rows, bad, source = quoted_export(tmp_path, spanning, 30_000, every=997, quoted_every=2)
    monkeypatch.setattr(json_to_parquet, "MAX_SPLIT_BYTES", 1024**2)  # some 6 MB: six splits of 1 MiB
    size, cores = source.stat().st_size, spark.sparkContext.defaultParallelism
    waves = -(-size // (cores * 1024**2))
    split = max(1024**2, -(-size // (cores * waves)))
    assert inside_a_row_spanning_lines(rows, [k * split for k in range(1, size // split + 1)]) == spanning
    if not spanning:
        monkeypatch.setattr(csv_records, "_scan", lambda *args: pytest.fail("a file of one-line rows was scanned"))

    manifest = run_to_raw(spark, tmp_path, source)

    assert (manifest["loaded"], manifest["quarantined"]) == (30_000, len(bad))
    assert quarantined(tmp_path) == expected_quarantine(rows, bad, "\n")
    loaded = raw_rows(spark, tmp_path)
    assert len(loaded) == 30_000
    # The processed partitions (model years) normalize will write: those of the loaded rows only.
    assert manifest["partitions"] == [[str(year)] for year in sorted({row["model_year"] for row in loaded.values()})]


@pytest.mark.parametrize("lookup", LOOKUPS)
@pytest.mark.parametrize("spanning", [True, False], ids=["rows spanning lines", "a line per row"])
def test_a_mostly_plain_file_holds_its_quoted_rows_back_and_loads_the_valid_ones(spark, tmp_path, monkeypatch,
                                                                                 lookup, spanning):
    # Few rows hold a quote: the first pass makes only the quick yes, and holds the quoted rows (valid ones
    # too) and the bad ones; they are then checked in full, the valid loaded and the bad quarantined.
    use_lookup(monkeypatch, lookup)
    rows, bad, source = quoted_export(tmp_path, spanning, 3_000, every=211, quoted_every=173)
    assert mostly_plain_records(source.read_text(encoding="utf-8")[:HEAD_BYTES], load_contract("ev_population"))
    holds = []
    classify = csv_records.classify_records

    def spied(*args, **kwargs):
        holds.append(kwargs.get("hold", False))
        return classify(*args, **kwargs)

    monkeypatch.setattr(csv_records, "classify_records", spied)

    manifest = run_to_raw(spark, tmp_path, source)

    assert holds[0] is True and False in holds  # the first pass held rows back; the held ones were checked in full
    assert (manifest["loaded"], manifest["quarantined"]) == (3_000, len(bad))
    assert quarantined(tmp_path) == expected_quarantine(rows, bad, "\n")
    loaded = raw_rows(spark, tmp_path)
    assert sorted(loaded) == sorted({int(row[ID]) for index, row in enumerate(rows[1:], start=1) if index not in bad})
    assert {v["city"] for v in loaded.values()} >= set(QUOTED[spanning])  # the quoted rows held, loaded after all
    assert manifest["key_range"] == [min(loaded), max(loaded)]


def test_an_export_that_quotes_every_value_is_not_held_back(spark):
    contract = load_contract("ev_population")
    rows = list(ev_rows(50, seed=5))
    quoted = io.StringIO()
    csv.writer(quoted, quoting=csv.QUOTE_ALL, lineterminator="\n").writerows(rows)
    assert not mostly_plain_records(quoted.getvalue(), contract)
    assert mostly_plain_records(csv_text(rows, "\n"), contract)


def inside_a_row_spanning_lines(rows: list[list[str]], offsets: list[int]) -> bool:
    """Whether some byte offset falls on a line of a row spanning lines, after its first line."""
    position, inside = 0, False
    remaining = sorted(offsets)
    for row in rows:
        encoded = csv_text([row], "\n").encode()
        first_break = encoded.index(b"\n")
        multi = first_break < len(encoded) - 1
        while remaining and remaining[0] < position + len(encoded):
            inside |= multi and remaining[0] > position + first_break
            remaining.pop(0)
        position += len(encoded)
    return inside


def test_a_quote_never_closed_quarantines_the_rest_of_the_file_as_one_row(spark, tmp_path):
    rows = list(ev_rows(5, seed=4))
    text = csv_text(rows[:3], "\n") + '1234567890,King,"Seattle\n' + csv_text(rows[3:], "\n")
    source = tmp_path / "ev.csv"
    source.write_text(text, encoding="utf-8")

    manifest = run_to_raw(spark, tmp_path, source)

    assert (manifest["loaded"], manifest["quarantined"]) == (2, 1)
    ((line, (raw_line, reason)),) = quarantined(tmp_path).items()
    assert line == 4 and raw_line == text.split("\n", 3)[3].rstrip("\n")
    assert reason.startswith("malformed quoting")


def test_blank_lines_are_counted_and_reordered_columns_are_matched_by_name(spark, tmp_path):
    rows = list(ev_rows(3, seed=5))
    order = list(reversed(range(len(HEADER))))
    text = csv_text([[row[i] for i in order] for row in rows], "\n")
    source = tmp_path / "ev.csv"
    source.write_text(text.replace("\n", "\n\n", 1) + "  \n", encoding="utf-8")

    manifest = run_to_raw(spark, tmp_path, source)

    assert (manifest["loaded"], manifest["quarantined"], manifest["blank_lines"]) == (3, 0, 2)
    assert sorted(raw_rows(spark, tmp_path)) == sorted(int(row[ID]) for row in rows[1:])


def test_a_header_without_a_required_column_quarantines_the_file(spark, tmp_path):
    rows = [[value for i, value in enumerate(row) if i != ID] for row in ev_rows(3, seed=6)]
    source = tmp_path / "ev.csv"
    source.write_text(csv_text(rows, "\n"), encoding="utf-8")

    with pytest.raises(InputFileError, match="the CSV header lacks the required columns \\['DOL Vehicle ID'\\]"):
        run_to_raw(spark, tmp_path, source)
    assert (tmp_path / "lake/quarantine/ev_population/_files/ev.csv").is_file() or any(
        (tmp_path / "lake/quarantine").rglob("ev.csv"))


def test_optional_columns_a_header_lacks_load_as_null(spark, tmp_path):
    # A producer still on an earlier contract version: its header has no Electric Utility, no 2020 Census Tract.
    absent = {HEADER.index("Electric Utility"), HEADER.index("2020 Census Tract")}
    rows = [[value for i, value in enumerate(row) if i not in absent] for row in ev_rows(4, seed=8)]
    source = tmp_path / "ev.csv"
    source.write_text(csv_text(rows, "\n"), encoding="utf-8")

    manifest = run_to_raw(spark, tmp_path, source)

    assert (manifest["loaded"], manifest["quarantined"]) == (4, 0)
    loaded = raw_rows(spark, tmp_path)
    assert sorted(loaded) == sorted(int(row[ID]) for row in rows[1:])  # the absent columns come after the ID
    assert {(row["electric_utility"], row["n_2020_census_tract"]) for row in loaded.values()} == {(None, None)}
    assert {row["make"] for row in loaded.values()} == {row[HEADER.index("Make")] for row in rows[1:]}


def test_a_file_with_no_good_row_fails_naming_the_most_common_reason(spark, tmp_path):
    from etl.errors import NothingLoadedError

    rows = list(ev_rows(4, seed=7))
    source = tmp_path / "ev.csv"
    source.write_text(csv_text([rows[0], *[row[:-1] for row in rows[1:]]], "\n"), encoding="utf-8")

    with pytest.raises(NothingLoadedError, match="most common reason \\(4 lines\\): 'too few columns: 16 of 17'"):
        run_to_raw(spark, tmp_path, source)
    assert len(quarantined(tmp_path)) == 4
