"""Security checks of the local pipeline: no PII where it does not belong, query values always bound.

PII: the real pipeline runs once (module fixture) on generated shipments plus lines made for the
purpose: valid records whose destination_city is hostile SQL text, a record carrying PII in an
unknown field, rejected lines full of PII and an unreadable file with PII. The customer_name and
street_address values of the input (and the PII planted in rejected lines and the unreadable file)
must then appear in no processed file (Parquet decoded, not only its bytes), no notification, no run
record, no Athena result, no manifest, no log record (the etl loggers at DEBUG) and no CLI output.
The quarantine zone is operator-only and keeps rejected lines verbatim, PII included (README).

Parameters: hostile values given to LocalAthena and to ``etl query --param`` select exactly the
rows an independent computation expects and leave the tables as they were; a static AST guard
finds every SQL string built with f-strings, ``%``, ``+`` or ``.format`` in a call that executes SQL,
and only the allow-listed places (which build SQL from the project's own identifiers) may do so.
"""

from __future__ import annotations

import ast
import contextlib
import io
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from contract_rules import valid
from hypothesis import given, settings
from hypothesis import strategies as st

from etl.athena.local import LocalAthena
from etl.cli import main as cli
from etl.config import LocalSettings
from etl.contracts import load_contract
from etl.errors import QueryError
from etl.generator import write_file
from etl.local.runtime import LocalRuntime

SLOW = pytest.mark.slow
SRC = Path(__file__).resolve().parents[2] / "src" / "etl"
CONTRACT = load_contract("shipping")

HOSTILE_CITIES = [
    "O'Brien's Wharf",
    "'; DROP TABLE processed_shipping; --",
    "x'); DELETE FROM raw_shipping; --",
    "back\\slash\\",
    'double "quoted" city',
    "percent%_under",
    "ünïcødé 港 🚢",
    "? and $1 and :name",
    "tab\tinside",
]
NO_MATCH = [
    "' OR '1'='1", "' OR 1=1 --", "main_city' --", "main_city\\", "%", "*", "", "\\'", "MAIN_CITY", " main_city",
    "main_city\x00", "serverless_island' UNION SELECT shipping_id FROM raw_shipping --",
]
BY_CITY = "SELECT shipping_id FROM processed_shipping WHERE destination_city = ? ORDER BY shipping_id"

# Rejected lines carrying PII (and a name typed into the date field): quarantined verbatim, echoed nowhere else.
BAD_PII = ["Bea Badline", "1 Quarantine Row", "Tru Ncated", "2 Cut Off Rd", "Dee Datefield", "Mo Missingcity",
           "4 Nowhere Close"]
BAD_LINES = [
    json.dumps({"shipping_id": "bad", "shipping_date": "2024/01/15", "customer_name": "Bea Badline",
                "street_address": "1 Quarantine Row", "destination_city": "main_city", "shipping_cost": 1,
                "shipping_distance": 1, "quantity": 1}),
    '{"shipping_id": 990200, "customer_name": "Tru Ncated", "street_address": "2 Cut Off Rd", "shipping_date": "2024/0',
    json.dumps({"shipping_id": 990201, "shipping_date": "Dee Datefield", "destination_city": "main_city",
                "shipping_cost": 1, "shipping_distance": 1, "quantity": 1}),
    json.dumps({"shipping_id": 990202, "shipping_date": "2024/02/02", "customer_name": "Mo Missingcity",
                "street_address": "4 Nowhere Close", "shipping_cost": 1, "shipping_distance": 1, "quantity": 1}),
]
UNKNOWN_FIELD_PII = ["Pia Unknownfield", "7 Secret Lane"]
LATIN1_PII = ["Zoë Latin", "3 Encoding Ave"]
LATIN1_FILE = json.dumps(
    {"shipping_id": 1, "customer_name": LATIN1_PII[0], "street_address": LATIN1_PII[1]}, ensure_ascii=False
).encode("latin-1")


# --- the independent expectation ---------------------------------------------------------------------------


def latest_valid(lines: list[str]) -> dict[int, dict[str, Any]]:
    latest: dict[int, dict[str, Any]] = {}
    for text in lines:
        if "\ufffd" in text:  # the line held bytes that are not UTF-8 (read with errors="replace")
            continue
        try:
            record = json.loads(text)
        except ValueError:
            continue
        if valid(record):
            latest[record["shipping_id"]] = record
    return latest


def pii_values(lines: list[str]) -> set[str]:
    found = set()
    for text in lines:
        try:
            record = json.loads(text)
        except ValueError:
            continue
        if isinstance(record, dict):
            found |= {record[name] for name in CONTRACT.pii_fields if isinstance(record.get(name), str)}
    return {value for value in found if len(value) >= 6} | set(BAD_PII + UNKNOWN_FIELD_PII + LATIN1_PII)


# --- what the pipeline left behind ---------------------------------------------------------------------------


def nested_strings(value: Any) -> Iterator[str]:
    """Every string in a JSON value, and inside strings that hold JSON themselves (SNS messages do)."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from nested_strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from nested_strings(item)
    elif isinstance(value, str):
        yield value
        if value[:1] in ("{", "["):
            with contextlib.suppress(ValueError):
                yield from nested_strings(json.loads(value))


def file_texts(path: Path) -> list[str]:
    """The file's bytes as text, plus its decoded content: Parquet values, JSON strings (unescaped)."""
    data = path.read_bytes()
    text = data.decode("utf-8", "replace")
    texts = [text]
    if data[:4] == b"PAR1":
        table = pq.read_table(path)
        texts += table.column_names + [str(value) for column in table.columns for value in column.to_pylist()]
        metadata = pq.read_metadata(path).metadata or {}
        texts += [part.decode("utf-8", "replace") for pair in metadata.items() for part in pair]
        return texts
    try:
        texts += nested_strings(json.loads(text))
    except ValueError:
        for line in text.splitlines():
            with contextlib.suppress(ValueError):
                texts += nested_strings(json.loads(line))
    return texts


def leaks(pii: set[str], texts: list[str]) -> set[str]:
    joined = "\n".join(texts)
    return {value for value in pii if value in joined}


class Collector(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@dataclass
class Pipeline:
    runtime: LocalRuntime
    lines: list[str]
    pii: set[str]
    run_id: str
    logs: list[str]
    cli_output: list[str] = field(default_factory=list)
    snapshot: Any = None

    @property
    def lake(self) -> Path:
        return self.runtime.settings.lake_root


def snapshot(pipeline: Pipeline) -> Any:
    """What a destructive query would change: tables, their row counts and their files."""
    athena = LocalAthena(pipeline.runtime.catalog, database=pipeline.runtime.settings.database)
    tables = sorted(t.qualified_name for t in pipeline.runtime.catalog.tables())
    counts = [athena.execute(f"SELECT count(*) FROM {name}").rows for name in ("processed_shipping", "raw_shipping")]
    files = sorted(
        (str(p.relative_to(pipeline.lake)), p.stat().st_size)
        for bucket in ("raw", "processed")
        for p in (pipeline.lake / bucket).rglob("*")
        if p.is_file()
    )
    return tables, counts, files


def run_cli(args: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli(args)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory, spark: Any) -> Iterator[Pipeline]:
    folder = tmp_path_factory.mktemp("input")
    source = folder / "shipping_data.json-2026-11-23-10-00-00.json"
    write_file(source, 300, seed=29, duplicate_rate=0.05, bad_rate=0.03)
    hostile = [
        {"shipping_id": 990000 + index, "shipping_date": f"2025/0{1 + index % 9}/1{index % 10}",
         "customer_name": f"Hostile Customer{index}", "street_address": f"{index} Injection Street",
         "destination_city": city, "shipping_cost": 10.5 + index, "shipping_distance": 1.0, "quantity": 2.0}
        for index, city in enumerate(HOSTILE_CITIES)
    ]
    # A corrected re-send: 990000 moves to the second city, so the first city must match no row.
    hostile.append({**hostile[0], "destination_city": HOSTILE_CITIES[1]})
    extra = [json.dumps(record, ensure_ascii=index % 2 == 0) for index, record in enumerate(hostile)]
    extra.append(json.dumps({
        "shipping_id": 990100, "shipping_date": "2025/03/03", "customer_name": UNKNOWN_FIELD_PII[0],
        "street_address": UNKNOWN_FIELD_PII[1], "destination_city": "main_city", "shipping_cost": 1.0,
        "shipping_distance": 1.0, "quantity": 1.0, "notes": f"{UNKNOWN_FIELD_PII[0]} of {UNKNOWN_FIELD_PII[1]}",
    }))
    extra += BAD_LINES
    with source.open("a", encoding="utf-8") as handle:
        handle.write("\n".join(extra) + "\n")
    # The generator's bad lines include one with a Latin-1 byte: it reads as U+FFFD, as in the quarantine.
    lines = source.read_text(encoding="utf-8", errors="replace").splitlines()
    unreadable = folder / "customers-latin1.json"
    unreadable.write_bytes(LATIN1_FILE)

    collector = Collector()
    etl_logger, root = logging.getLogger("etl"), logging.getLogger()
    previous_level = etl_logger.level
    etl_logger.setLevel(logging.DEBUG)
    root.addHandler(collector)
    try:
        root_dir = tmp_path_factory.mktemp("lake")
        runtime = LocalRuntime(LocalSettings.resolve(lake_root=root_dir, wait_scale=0.001), spark=lambda: spark)
        runtime.drop(source, "shipping")
        report = runtime.process_landing()
        assert len(report.started) == 1 and not report.failed, report
        result = Pipeline(runtime, lines, pii_values(lines), report.started[0]["run_id"], collector.lines)
        assert runtime.runs.get(result.run_id).status == "SUCCEEDED"
        # The unreadable file goes through the CLI, as a user would run it; then the CLI's read commands.
        commands = [  # (arguments, whether the command succeeds)
            (["run", str(unreadable), "--dataset", "shipping"], False),  # the run fails: the file is quarantined
            (["runs", "--steps"], True),
            (["notifications", "--limit", "10"], True),
            (["notifications", "--raw", "--limit", "10"], True),
            (["tables"], True),
            (["query", "SELECT * FROM processed_shipping", "--format", "csv"], True),
            (["query", "SELECT * FROM no_such_table"], False),
        ]
        for arguments, succeeds in commands:
            code, out, err = run_cli(["--lake", str(root_dir), *arguments])
            result.cli_output += [out, err]
            assert (code == 0) is succeeds, (arguments, code, err)
    finally:
        root.removeHandler(collector)
        etl_logger.setLevel(previous_level)
    result.snapshot = snapshot(result)
    yield result


# --- 6a: PII -------------------------------------------------------------------------------------------------


@SLOW
def test_the_input_really_carries_pii(pipeline: Pipeline) -> None:
    assert len(pipeline.pii) >= 100
    raw = "\n".join(pipeline.lines)
    assert all(value in raw for value in pipeline.pii - set(LATIN1_PII))


@SLOW
@pytest.mark.parametrize(
    "zone", ["processed", "athena-results", "_system/outbox", "_system/runs", "_system", "raw/_runs"]
)
def test_no_pii_in_processed_data_results_notifications_run_log_and_manifests(pipeline: Pipeline, zone: str) -> None:
    files = [p for p in (pipeline.lake / zone).rglob("*") if p.is_file()]
    assert files, f"nothing under {zone}: the scan would prove nothing"
    for path in files:
        found = leaks(pipeline.pii, file_texts(path))
        assert not found, f"{path.relative_to(pipeline.lake)} holds PII: {sorted(found)[:5]}"


@SLOW
def test_the_scan_finds_pii_where_it_is_kept(pipeline: Pipeline) -> None:
    """Control: the raw zone keeps PII in compressed Parquet, and the scan above must see it there."""
    files = list((pipeline.lake / "raw" / "shipping").rglob("*.parquet"))
    found = set().union(*(leaks(pipeline.pii, file_texts(path)) for path in files))
    utf8_lines = [line for line in pipeline.lines if "\ufffd" not in line]  # the others are quarantined
    assert found >= pii_values(utf8_lines) - set(BAD_PII + LATIN1_PII)


@SLOW
def test_no_pii_in_logs_or_cli_output(pipeline: Pipeline) -> None:
    assert any(line.startswith("DEBUG etl.") for line in pipeline.logs), "the etl loggers were not captured"
    assert not leaks(pipeline.pii, pipeline.logs)
    assert any("customers-latin1.json" in text for text in pipeline.cli_output)  # the CLI did report the run
    assert not leaks(pipeline.pii, pipeline.cli_output)


@SLOW
def test_processed_columns_are_the_published_fields_only(pipeline: Pipeline) -> None:
    files = list((pipeline.lake / "processed").rglob("*.parquet"))
    assert files
    for path in files:
        names = set(pq.read_schema(path).names)
        assert not names & {*CONTRACT.pii_fields, "notes"}, path


@SLOW
def test_quarantine_keeps_rejected_lines_verbatim_with_their_pii(pipeline: Pipeline) -> None:
    """Operator-only zone: the README says rejected lines are kept as sent, so PII stays there."""
    folder = pipeline.lake / "quarantine" / "shipping" / f"run_id={pipeline.run_id}"
    rows = [json.loads(line) for path in folder.glob("*.json") for line in path.read_text("utf-8").splitlines()]
    raw_lines = [row["raw_line"] for row in rows]
    for line in BAD_LINES:
        assert line in raw_lines
    assert leaks(set(BAD_PII), raw_lines) == set(BAD_PII)
    whole = list((pipeline.lake / "quarantine" / "_files").rglob("customers-latin1.json"))
    assert [p.read_bytes() for p in whole] == [LATIN1_FILE]


@SLOW
def test_notifications_give_counts_of_bad_lines_never_the_lines(pipeline: Pipeline) -> None:
    notes = pipeline.runtime.outbox.list()
    success = [n for n in notes if n.body.get("run_id") == pipeline.run_id]
    assert len(success) == 1 and success[0].body["counts"]["quarantined"] >= len(BAD_LINES)
    failure = [n for n in notes if n.body.get("status") == "FAILED"]
    assert len(failure) == 1 and "customers-latin1.json" in failure[0].message
    for note in notes:
        texts = [note.subject, note.message, *note.attributes.values(), *nested_strings(note.body)]
        assert not leaks(set(BAD_LINES) | set(BAD_PII), texts)


# --- 6b: parameters are bound, never formatted into SQL -----------------------------------------------------


def expected_ids(pipeline: Pipeline, city: str) -> list[int]:
    latest = latest_valid(pipeline.lines)
    return sorted(i for i, record in latest.items() if record["destination_city"].strip(" ") == city)


@SLOW
@pytest.mark.parametrize("city", HOSTILE_CITIES + NO_MATCH + ["main_city"])
def test_hostile_values_select_exactly_the_matching_rows(pipeline: Pipeline, city: str) -> None:
    athena = LocalAthena(pipeline.runtime.catalog, database=pipeline.runtime.settings.database)
    rows = athena.execute(BY_CITY, parameters=[city]).rows
    assert [row[0] for row in rows] == expected_ids(pipeline, city)
    both = athena.execute(
        "SELECT count(*) FROM processed_shipping WHERE destination_city IN (?, ?) AND shipping_id > ?",
        parameters=[city, HOSTILE_CITIES[1], 0],
    ).rows
    assert both == [(len(set(expected_ids(pipeline, city)) | set(expected_ids(pipeline, HOSTILE_CITIES[1]))),)]
    assert snapshot(pipeline) == pipeline.snapshot


@SLOW
def test_the_hostile_cities_reached_the_processed_table(pipeline: Pipeline) -> None:
    """Guards the data the checks above rely on: all but the first hostile city have rows, that one lost its only
    record to a later re-send, and the plain city has many."""
    assert expected_ids(pipeline, HOSTILE_CITIES[0]) == []
    assert all(expected_ids(pipeline, city) for city in HOSTILE_CITIES[1:])
    assert len(expected_ids(pipeline, HOSTILE_CITIES[1])) == 2
    assert len(expected_ids(pipeline, "main_city")) > 10


@SLOW
@settings(max_examples=60, deadline=None)
@given(value=st.sampled_from(HOSTILE_CITIES + NO_MATCH) | st.text(max_size=24))
def test_any_text_parameter_matches_exactly_its_rows(pipeline: Pipeline, value: str) -> None:
    athena = LocalAthena(pipeline.runtime.catalog, database=pipeline.runtime.settings.database)
    rows = athena.execute(BY_CITY, parameters=[value]).rows
    assert [row[0] for row in rows] == expected_ids(pipeline, value)


@SLOW
@pytest.mark.parametrize("city", [c for c in HOSTILE_CITIES + NO_MATCH if "\x00" not in c])
def test_cli_param_is_bound_the_same_way(pipeline: Pipeline, city: str) -> None:
    literal = "'" + city.replace("'", "''") + "'"  # a string parameter is a quoted SQL literal, as on Athena
    code, out, err = run_cli(["--lake", str(pipeline.lake), "query", BY_CITY, f"--param={literal}", "--format", "json"])
    assert code == 0, err
    assert [row["shipping_id"] for row in json.loads(out)] == expected_ids(pipeline, city)
    assert snapshot(pipeline) == pipeline.snapshot


@SLOW
def test_parameters_are_refused_where_they_would_be_ignored(pipeline: Pipeline) -> None:
    athena = LocalAthena(pipeline.runtime.catalog, database=pipeline.runtime.settings.database)
    for sql in ("SHOW TABLES", "DESCRIBE processed_shipping"):
        with pytest.raises(QueryError, match="takes no \\? parameters"):
            athena.execute(sql, parameters=["'; DROP TABLE processed_shipping; --"])
    with pytest.raises(QueryError, match="placeholders"):
        athena.execute("SELECT count(*) FROM processed_shipping", parameters=["x"])
    assert snapshot(pipeline) == pipeline.snapshot


# --- 6b: static guard ------------------------------------------------------------------------------------------

SQL_CALLS = {"execute", "executemany", "sql", "query", "expr", "selectExpr", "where", "filter"}
# Places that build SQL text from the project's own identifiers, each with why that is safe.
ALLOWED = {
    ("athena/local.py", "LocalAthena._create_view"):
        "schema and view names are catalog identifiers in double quotes; the SELECT comes from _table_select",
    ("athena/local.py", "LocalAthena._table_select"):
        "file paths and partition values of the lake, each written with _sql_string (quotes doubled)",
    ("athena/local.py", "LocalAthena._create_version_view"):
        "the time-travel expression is the translator's DuckDB output, like the query itself; the view name is a "
        "catalog identifier in double quotes",
    ("glue/catalog.py", "Catalog._delete_table"): "the table name comes from the constant _CHILD_TABLES",
    ("jobs/iceberg.py", "ensure_table"):
        "names and types from the contract's Spark schema in backquotes, the location through sql_string, "
        "properties constants",
    ("jobs/iceberg.py", "merge"):
        "table, temporary view and key columns are quoted identifiers; the conditions are the job's constants with "
        "partition values through sql_string",
    ("jobs/maintain.py", "_call"): "procedure names are constants; their arguments are built by the job's functions",
    ("jobs/maintain.py", "crowded_partitions"): "the table name is table_name()'s; the numbers are constants",
    ("jobs/maintain.py", "live_files"): "the table name is table_name()'s",
    ("jobs/maintain.py", "processed_datasets"): "the database is the job's deployed --database, quoted as table_name()",
    ("jobs/maintain.py", "maintain_table"): "the table name is table_name()'s; the timestamp is formatted by the job",
    ("glue/catalog.py", "Catalog._load_tables"): "the WHERE text is one of three constants with ? placeholders",
    ("jobs/json_to_parquet.py", "rejected_candidates"):
        "an IN list of integers, each passed through int(); the column name is a constant in backquotes",
}


def _formatted(node: ast.expr, built: set[str]) -> bool:
    """Whether an expression is text put together at run time (f-string, %, +, .format, .join)."""
    if isinstance(node, ast.JoinedStr):
        return any(isinstance(part, ast.FormattedValue) for part in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod | ast.Add):
        return any(
            (isinstance(side, ast.Constant) and isinstance(side.value, str)) or _formatted(side, built)
            for side in (node.left, node.right)
        )
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        return node.func.attr in ("format", "join", "replace")
    return isinstance(node, ast.Name) and node.id in built


class _SqlBuilders(ast.NodeVisitor):
    def __init__(self, module: str) -> None:
        self.module = module
        self.scope: list[str] = []
        self.built: list[set[str]] = [set()]
        self.found: set[tuple[str, str]] = set()

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self.scope.append(node.name)
        self.generic_visit(node)
        self.scope.pop()

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        built: set[str] = set()
        for sub in ast.walk(node):  # names assigned formatted text anywhere in the function
            if isinstance(sub, ast.Assign) and _formatted(sub.value, built):
                built |= {target.id for target in sub.targets if isinstance(target, ast.Name)}
            elif (
                isinstance(sub, ast.AnnAssign | ast.AugAssign)
                and isinstance(sub.target, ast.Name)
                and sub.value is not None
                and (isinstance(sub, ast.AugAssign) or _formatted(sub.value, built))
            ):
                built.add(sub.target.id)
        self.scope.append(node.name)
        self.built.append(built)
        self.generic_visit(node)
        self.built.pop()
        self.scope.pop()

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Call(self, node: ast.Call) -> None:
        call = node.func
        if isinstance(call, ast.Attribute) and call.attr in SQL_CALLS and node.args and _formatted(
            node.args[0], self.built[-1]
        ):
            self.found.add((self.module, ".".join(self.scope) or "<module>"))
        self.generic_visit(node)


def sql_builders(source: str, module: str) -> set[tuple[str, str]]:
    visitor = _SqlBuilders(module)
    visitor.visit(ast.parse(source))
    return visitor.found


def test_only_allow_listed_code_formats_sql_that_it_executes() -> None:
    found: set[tuple[str, str]] = set()
    for path in sorted(SRC.rglob("*.py")):
        found |= sql_builders(path.read_text(encoding="utf-8"), path.relative_to(SRC).as_posix())
    unexpected = found - set(ALLOWED)
    assert not unexpected, f"SQL built from values in {sorted(unexpected)}: bind them as ? parameters instead"
    stale = set(ALLOWED) - found
    assert not stale, f"allow-list entries that no longer build SQL: {sorted(stale)}; remove them"


@pytest.mark.parametrize(
    ("source", "flagged"),
    [
        ("def f(con, x):\n    con.execute(f'SELECT * FROM t WHERE a = {x}')", True),
        ("def f(con, x):\n    con.execute('SELECT * FROM t WHERE a = %s' % x)", True),
        ("def f(con, x):\n    sql = 'SELECT ' + x\n    con.sql(sql)", True),
        ("def f(con, x):\n    con.execute('SELECT {}'.format(x))", True),
        ("def f(spark, x):\n    spark.sql(f'SELECT {x}')", True),
        ("def f(df, x):\n    df.where(f\"city = '{x}'\")", True),
        ("def f(con, x):\n    con.execute('SELECT * FROM t WHERE a = ?', [x])", False),
        ("def f(con):\n    for s in STATEMENTS:\n        con.execute(s)", False),
        ("def f(node):\n    return node.sql(dialect='duckdb')", False),
    ],
)
def test_the_static_guard_flags_formatted_sql_and_only_that(source: str, flagged: bool) -> None:
    assert bool(sql_builders(source, "m.py")) is flagged
