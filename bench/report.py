"""From measurements to the tables: medians per (engine, size, input, step), ratios to DuckDB, the targets.

Times are medians over the repetitions; peak memory is the highest peak of any repetition
(the worst case is what has to fit). Throughput is per input line (records as sent,
duplicates included) and per MB (10^6 bytes) of input JSON.

The CSV series (ev_population) has rows and targets of its own: its engines are the pipeline and
plain Spark's CSV source, so its ratio column is against plain Spark (``× spark``), not DuckDB.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from bench.datasets import CLEAN, EV, INPUTS, REALISTIC, SHIPPING, size_label
from bench.engines import DUCKDB, ENGINES, PIPELINE, SPARK
from bench.engines.common import NORMALIZE, STARTUP, TO_RAW
from bench.growth import DROPS as GROWTH_DROPS
from bench.growth import GROWTH
from bench.growth import NEW as GROWTH_NEW
from bench.runner import PROCESS, WORK

E2E = "e2e"
STEP_ORDER = (STARTUP, TO_RAW, NORMALIZE, WORK, PROCESS, "cold", "warm")
ENGINE_ORDER = (*ENGINES, E2E)
COLUMNS = ("engine", "size", "input", "step", "n", "median s", "records/s", "MB/s", "peak MiB", "× duckdb")
CSV_COLUMNS = (*COLUMNS[:-1], "× spark")
CSV_TITLE = ("CSV series (ev_population exports): the pipeline and plain Spark's CSV source, "
             "clean and realistic (0.1% bad rows)")
SPARK_REFERENCE_TITLE = "Work time of plain Spark doing DuckDB's work (engine spark), and of the pipeline against it"
REALISTIC_TITLE = "Realistic input (0.1% bad lines) against clean input: work time, realistic ÷ clean"
GUARANTEES_LIMIT = 1.2  # the pipeline's work time against plain Spark doing the same work
REALISTIC_LIMIT = 1.2  # a realistic file's work time against a clean one's
GIB = 2**30
MIB = 2**20


@dataclass(frozen=True)
class Row:
    engine: str
    size: str
    records: int
    input: str
    step: str
    n: int
    failed: int
    median_seconds: float | None
    records_per_second: float | None
    mb_per_second: float | None
    peak_bytes: int | None
    x_duckdb: float | None
    dataset: str = SHIPPING
    x_spark: float | None = None  # the CSV series' ratio: the median against plain Spark's

    def cells(self) -> list[str]:
        return [
            self.engine,
            self.size,
            self.input,
            self.step,
            f"{self.n}/{self.n + self.failed}" if self.failed else f"{self.n}",  # succeeded/attempted
            _number(self.median_seconds, 2),
            _number(self.records_per_second, 0, thousands=True),
            _number(self.mb_per_second, 1),
            _number(self.peak_bytes / MIB if self.peak_bytes else None, 0, thousands=True),
            _number(self.x_duckdb if self.dataset == SHIPPING else self.x_spark, 2, suffix="×"),
        ]


@dataclass(frozen=True)
class Target:
    name: str
    measured: str
    limit: str
    verdict: str  # PASS, FAIL or n/a (not measured in this run)


def _number(value: float | None, digits: int, *, thousands: bool = False, suffix: str = "") -> str:
    if value is None:
        return "-"
    return (f"{value:,.{digits}f}" if thousands else f"{value:.{digits}f}") + suffix


def summarize(measurements: Iterable[dict[str, Any]], dataset: str = SHIPPING) -> list[Row]:
    """The rows of one series: shipping (the JSON Lines jobs and the end-to-end runs) or ev_population (CSV)."""
    Key = tuple[str, int, str, str]  # engine, records, input, step
    groups: dict[Key, list[dict[str, Any]]] = defaultdict(list)
    # A failed job measurement has no steps: it counts against every step of its engine and size ("*").
    failures: dict[Key, int] = defaultdict(int)
    lines: dict[tuple[str, int, str], tuple[int, int]] = {}  # the e2e files have their own seed: their own sizes
    for m in measurements:
        if m["kind"] not in ("job", "e2e"):
            continue  # the warm-up drop is kept in the JSON only
        if m.get("dataset", SHIPPING) != dataset:
            continue
        kind = m.get("input", CLEAN)
        lines[(m["engine"], m["records"], kind)] = (m["lines"], m["bytes"])
        if not m["ok"]:
            failures[(m["engine"], m["records"], kind, m.get("step") or "*")] += 1
            continue
        for step, value in m["steps"].items():
            groups[(m["engine"], m["records"], kind, step)].append(value)
    medians = {key: statistics.median(v["seconds"] for v in values) for key, values in groups.items()}
    rows = []
    for (engine, records, kind, step), values in groups.items():
        median = medians[(engine, records, kind, step)]
        line_count, size_bytes = lines[(engine, records, kind)]
        baseline = medians.get((DUCKDB, records, kind, step)) if engine != E2E and dataset == SHIPPING else None
        spark = medians.get((SPARK, records, kind, step)) if dataset == EV else None
        throughput = median > 0 and step != STARTUP
        rows.append(
            Row(
                engine=engine,
                size=size_label(records),
                records=records,
                input=kind,
                step=step,
                n=len(values),
                failed=failures.get((engine, records, kind, "*"), 0) + failures.get((engine, records, kind, step), 0),
                median_seconds=median,
                records_per_second=line_count / median if throughput else None,
                mb_per_second=size_bytes / 1e6 / median if throughput else None,
                peak_bytes=max(v["peak_bytes"] for v in values) or None,
                x_duckdb=median / baseline if baseline else None,
                dataset=dataset,
                x_spark=median / spark if spark else None,
            )
        )
    for (engine, records, kind, step), count in failures.items():  # what never succeeded still gets a row
        if not any((r.engine, r.records, r.input) == (engine, records, kind) and step in ("*", r.step) for r in rows):
            rows.append(Row(engine, size_label(records), records, kind, step, 0, count, None, None, None, None, None,
                            dataset))
    return sorted(rows, key=_row_order)


def _row_order(row: Row) -> tuple[int, int, int, int, int]:
    engine = ENGINE_ORDER.index(row.engine) if row.engine in ENGINE_ORDER else len(ENGINE_ORDER)
    step = STEP_ORDER.index(row.step) if row.step in STEP_ORDER else len(STEP_ORDER)
    kind = INPUTS.index(row.input) if row.input in INPUTS else len(INPUTS)
    return (engine == ENGINE_ORDER.index(E2E), row.records, kind, engine, step)


def _find(rows: Sequence[Row], engine: str, records: int, step: str, kind: str = CLEAN) -> Row | None:
    return next((r for r in rows if (r.engine, r.records, r.input, r.step) == (engine, records, kind, step)), None)


def _ratio(numerator: Row | None, denominator: Row | None) -> float | None:
    if numerator is None or denominator is None or not numerator.median_seconds or not denominator.median_seconds:
        return None
    return numerator.median_seconds / denominator.median_seconds


def _at_most(name: str, ratio: float | None, limit: float) -> Target:
    return Target(name, _number(ratio, 2, suffix="×"), f"≤ {limit:g}×",
                  _verdict(ratio is not None and ratio <= limit, ratio is not None))


def evaluate_targets(rows: Sequence[Row]) -> list[Target]:
    targets = []
    sizes = sorted({r.records for r in rows if r.engine == PIPELINE})
    for records in sizes or [100_000, 1_000_000, 5_000_000]:
        ratio = _ratio(_find(rows, PIPELINE, records, WORK, REALISTIC), _find(rows, PIPELINE, records, WORK, CLEAN))
        targets.append(_at_most(f"pipeline work time at {size_label(records)}, realistic ÷ clean input", ratio,
                                REALISTIC_LIMIT))
    for records in (1_000_000, 5_000_000):
        for kind in INPUTS:
            ratio = _ratio(_find(rows, PIPELINE, records, WORK, kind), _find(rows, SPARK, records, WORK, kind))
            targets.append(_at_most(f"pipeline work time at {size_label(records)} {kind} ÷ plain Spark", ratio,
                                    GUARANTEES_LIMIT))
    for mode, limit in (("warm", 3.0), ("cold", 15.0)):
        row = _find(rows, E2E, 10_000, mode)
        seconds = row.median_seconds if row else None
        targets.append(Target(f"{mode} end-to-end latency at 10k (drop -> notification)",
                              _number(seconds, 2, suffix=" s"), f"≤ {limit:g} s",
                              _verdict(seconds is not None and seconds <= limit, seconds is not None)))
    peaks = [row.peak_bytes for kind in INPUTS if (row := _find(rows, PIPELINE, 5_000_000, PROCESS, kind))]
    peak = max((p for p in peaks if p), default=None)
    targets.append(Target("pipeline peak memory (whole process tree) at 5m, either input",
                          _number(peak / GIB if peak else None, 2, suffix=" GiB"), "≤ 2 GiB",
                          _verdict(peak is not None and peak <= 2 * GIB, peak is not None)))
    for kind in INPUTS:
        per_1m = _per_line_micros(_find(rows, PIPELINE, 1_000_000, WORK, kind))
        per_5m = _per_line_micros(_find(rows, PIPELINE, 5_000_000, WORK, kind))
        targets.append(Target(f"pipeline work time per record at 5m vs 1m, {kind}",
                              f"{_number(per_5m, 2)} vs {_number(per_1m, 2)} µs",
                              "5m ≤ 1m",
                              _verdict(per_1m is not None and per_5m is not None and per_5m <= per_1m,
                                       per_1m is not None and per_5m is not None)))
    return targets


GROWTH_TITLE = "Lake growth: one 10k realistic file dropped on a lake already holding N records (median seconds)"
GROWTH_LIMIT = 1.5  # a drop's normalize (and whole run) on a 5m lake against an empty one


def _growth_medians(measurements: Iterable[dict[str, Any]]) -> dict[tuple[str, int, str], float]:
    """Median seconds per (drop kind, lake records, measure) of the growth series."""
    values: dict[tuple[str, int, str], list[float]] = defaultdict(list)
    for m in measurements:
        if m["kind"] == GROWTH and m["ok"]:
            for measure in ("normalize_seconds", "drop_seconds"):
                values[(m["drop"], m["lake_records"], measure)].append(m[measure])
    return {key: statistics.median(v) for key, v in values.items()}


def growth_table(measurements: Sequence[dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
    medians = _growth_medians(measurements)
    lakes = sorted({lake for _, lake, _ in medians})
    header = ["drop", "step", *[f"lake {size_label(lake) if lake else '0'}" for lake in lakes], "largest ÷ empty"]
    body = []
    for drop in GROWTH_DROPS:
        for measure, step in (("normalize_seconds", "normalize"), ("drop_seconds", "whole drop")):
            cells = [medians.get((drop, lake, measure)) for lake in lakes]
            if not any(cells):
                continue
            ratio = cells[-1] / cells[0] if len(cells) > 1 and cells[0] and cells[-1] else None
            body.append([drop, step, *[_number(c, 2) for c in cells], _number(ratio, 2, suffix="×")])
    return header, body


def growth_targets(measurements: Sequence[dict[str, Any]]) -> list[Target]:
    medians = _growth_medians(measurements)
    if not medians:
        return []
    targets = []
    for measure, step in (("normalize_seconds", "normalize"), ("drop_seconds", "whole drop")):
        empty, grown = medians.get((GROWTH_NEW, 0, measure)), medians.get((GROWTH_NEW, 5_000_000, measure))
        ratio = grown / empty if empty and grown else None
        targets.append(_at_most(f"{step} of a 10k realistic file, 5m lake ÷ empty lake", ratio, GROWTH_LIMIT))
    return targets


def csv_targets(csv_rows: Sequence[Row]) -> list[Target]:
    """Two per size of the CSV series (none when it did not run): the pipeline's work time on a realistic
    file against a clean one, and against plain Spark's CSV source doing the same work (the higher
    ratio of the two inputs: either one has to be within the limit)."""
    targets = []
    for records in sorted({r.records for r in csv_rows}):
        label = size_label(records)
        ratio = _ratio(_find(csv_rows, PIPELINE, records, WORK, REALISTIC), _find(csv_rows, PIPELINE, records, WORK))
        targets.append(_at_most(f"CSV pipeline work at {label}, realistic ÷ clean", ratio, REALISTIC_LIMIT))
        ratios = [_ratio(_find(csv_rows, PIPELINE, records, WORK, kind), _find(csv_rows, SPARK, records, WORK, kind))
                  for kind in INPUTS]
        measured = [r for r in ratios if r is not None]
        worst = max(measured) if len(measured) == len(ratios) else None  # n/a unless both inputs were measured
        targets.append(_at_most(f"CSV pipeline work at {label} ÷ plain Spark, either input", worst, GUARANTEES_LIMIT))
    return targets


def csv_reference_lines(csv_rows: Sequence[Row]) -> list[str]:
    """Per size and input of the CSV series: plain Spark's work time and the pipeline's against it."""
    lines = []
    for row in csv_rows:
        if (row.engine, row.step) != (SPARK, WORK) or row.median_seconds is None:
            continue
        pipeline = _find(csv_rows, PIPELINE, row.records, WORK, row.input)
        line = f"{row.size} {row.input}: plain Spark (CSV source) {_number(row.median_seconds, 2)} s"
        if pipeline and pipeline.median_seconds is not None:
            line += (f"; the pipeline {_number(pipeline.median_seconds, 2)} s, "
                     f"{_number(pipeline.median_seconds / row.median_seconds, 2)}× plain Spark")
        lines.append(line)
    return lines


def realistic_lines(rows: Sequence[Row]) -> list[str]:
    """Per engine and size that ran both inputs: the work time of each and their ratio."""
    lines = []
    for row in rows:
        if (row.input, row.step) != (REALISTIC, WORK) or row.median_seconds is None:
            continue
        clean = _find(rows, row.engine, row.records, WORK, CLEAN)
        if clean is None or clean.median_seconds is None:
            continue
        lines.append(f"{row.engine} {row.size}: clean {_number(clean.median_seconds, 2)} s, realistic "
                     f"{_number(row.median_seconds, 2)} s, {_number(_ratio(row, clean), 2)}×")
    return lines


def spark_reference_lines(rows: Sequence[Row]) -> list[str]:
    """Per size and input, plain Spark's work time against DuckDB's and the pipeline's against plain Spark's.

    The first ratio is what Spark itself costs on this machine for DuckDB's work; the second, what
    the pipeline's guarantees cost on top of it.
    """
    lines = []
    for row in rows:
        if (row.engine, row.step) != (SPARK, WORK) or row.median_seconds is None:
            continue
        pipeline = _find(rows, PIPELINE, row.records, WORK, row.input)
        line = (f"{row.size} {row.input}: plain Spark {_number(row.median_seconds, 2)} s, "
                f"{_number(row.x_duckdb, 2)}× DuckDB")
        if pipeline and pipeline.median_seconds is not None:
            line += (f"; the pipeline {_number(pipeline.median_seconds, 2)} s, "
                     f"{_number(pipeline.median_seconds / row.median_seconds, 2)}× plain Spark")
        lines.append(line)
    return lines


def _per_line_micros(row: Row | None) -> float | None:
    if row is None or not row.records_per_second:
        return None
    return 1e6 / row.records_per_second


def _verdict(passed: bool, measured: bool) -> str:
    if not measured:
        return "n/a"
    return "PASS" if passed else "FAIL"


OUTPUT_KEYS = ("rows", "distinct_keys", "sum_column", "value_sum", "partitions", "quarantined")
SERIES_ORDER = (SHIPPING, EV)


def consistency(measurements: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per dataset, size, input and repetition: did every engine write the same processed rows (count, keys,
    exact sum of the dataset's summed column, partitions) and quarantine as many lines?"""
    by_run: dict[tuple[str, int, str, int], dict[str, dict[str, Any]]] = defaultdict(dict)
    for m in measurements:
        if m["kind"] == "job" and m["ok"]:
            quarantined = (m.get("counts") or {}).get(TO_RAW, {}).get("quarantined")
            by_run[(m.get("dataset", SHIPPING), m["records"], m.get("input", CLEAN), m["rep"])][m["engine"]] = {
                **(m.get("output") or {}), "quarantined": quarantined}

    def order(key: tuple[str, int, str, int]) -> tuple[int, int, int, int]:
        dataset, records, kind, rep = key
        return SERIES_ORDER.index(dataset), records, rep, INPUTS.index(kind)

    checks = []
    for (dataset, records, kind, rep) in sorted(by_run, key=order):
        outputs = by_run[(dataset, records, kind, rep)]
        keys = {tuple(o.get(k) for k in OUTPUT_KEYS) for o in outputs.values()}
        checks.append({
            "dataset": dataset,
            "size": size_label(records),
            "input": kind,
            "rep": rep,
            "engines": sorted(outputs),
            "agree": len(keys) == 1,
            "outputs": {engine: {k: o.get(k) for k in OUTPUT_KEYS} for engine, o in outputs.items()},
        })
    return checks


def state_breakdown(measurements: Iterable[dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
    """Median seconds per ASL task state for each end-to-end (mode, size): where the latency goes."""
    per_column: dict[tuple[str, int], dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for m in measurements:
        if m["kind"] == "e2e" and m["ok"] and m.get("states"):
            for state, seconds in m["states"].items():
                per_column[(m["step"], m["records"])][state].append(seconds)
    columns = sorted(per_column, key=lambda c: (c[0], c[1]))
    states: list[str] = []
    for column in columns:
        states.extend(s for s in per_column[column] if s not in states)
    header = ["task state", *(f"{mode} {size_label(records)}" for mode, records in columns)]
    body = [
        [state, *(_number(statistics.median(per_column[c][state]), 2) if per_column[c].get(state) else "-"
                  for c in columns)]
        for state in states
    ]
    return header, body


# --- rendering -----------------------------------------------------------------------------
def text_table(header: Sequence[str], body: Sequence[Sequence[str]]) -> str:
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *body)]
    numeric = [all(_looks_numeric(row[i]) for row in body) if body else False for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(str(c).rjust(w) if n else str(c).ljust(w) for c, w, n in zip(cells, widths, numeric))

    return "\n".join([line(header), "  ".join("-" * w for w in widths), *(line(row) for row in body)]).rstrip()


def markdown_table(header: Sequence[str], body: Sequence[Sequence[str]]) -> str:
    numeric = [all(_looks_numeric(row[i]) for row in body) if body else False for i in range(len(header))]
    rule = ["---:" if n else "---" for n in numeric]
    rows = [header, rule, *body]
    return "\n".join("| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |" for row in rows)


def _looks_numeric(cell: str) -> bool:
    text = cell.replace(",", "").replace("×", "").replace(" s", "").strip()
    if text == "-":
        return True
    try:
        float(text)
    except ValueError:
        return False
    return True


def target_cells(targets: Sequence[Target]) -> tuple[list[str], list[list[str]]]:
    return ["target", "measured", "limit", "result"], [[t.name, t.measured, t.limit, t.verdict] for t in targets]


def consistency_lines(checks: Sequence[dict[str, Any]]) -> list[str]:
    lines = []
    for check in checks:
        outputs = check["outputs"]
        first: dict[str, Any] = next(iter(outputs.values()), {})
        series = "CSV " if check.get("dataset") == EV else ""
        what = f"{series}size {check['size']} {check['input']} rep {check['rep']}"
        if check["agree"]:
            lines.append(f"{what}: {', '.join(check['engines'])} "
                         f"agree ({first.get('rows')} rows, {first.get('sum_column')} sum {first.get('value_sum')}, "
                         f"{first.get('quarantined')} lines quarantined)")
        else:
            detail = "; ".join(f"{engine}: {o}" for engine, o in outputs.items())
            lines.append(f"{what}: OUTPUTS DIFFER: {detail}")
    return lines


def render_text(rows: Sequence[Row], targets: Sequence[Target], checks: Sequence[dict[str, Any]],
                measurements: Sequence[dict[str, Any]]) -> str:
    parts = [text_table(COLUMNS, [r.cells() for r in rows]), "", "Targets", text_table(*target_cells(targets))]
    if realistic := realistic_lines(rows):
        parts += ["", REALISTIC_TITLE, *realistic]
    if reference := spark_reference_lines(rows):
        parts += ["", SPARK_REFERENCE_TITLE, *reference]
    if csv_rows := summarize(measurements, EV):
        parts += ["", CSV_TITLE, text_table(CSV_COLUMNS, [r.cells() for r in csv_rows]),
                  *realistic_lines(csv_rows), *csv_reference_lines(csv_rows)]
    if checks:
        parts += ["", "Same output from every engine", *consistency_lines(checks)]
    header, body = state_breakdown(measurements)
    if body:
        parts += ["", "End-to-end: median seconds per task state", text_table(header, body)]
    header, body = growth_table(measurements)
    if body:
        parts += ["", GROWTH_TITLE, text_table(header, body)]
    failures = [m for m in measurements if not m["ok"] and m.get("error")]
    if failures:
        parts += ["", "Failures (log tails are in the results JSON)"]
        parts += [f"{m.get('engine', m['kind'])} {m.get('step') or ''} {m.get('size', m.get('lake_records'))} "
                  f"rep {m.get('rep', '-')}: {m['error'].splitlines()[0]}"
                  + (f" (log: {m['log']})" if m.get("log") else "") for m in failures]
    return "\n".join(parts)


def render_markdown(rows: Sequence[Row], targets: Sequence[Target], checks: Sequence[dict[str, Any]],
                    measurements: Sequence[dict[str, Any]], meta: dict[str, Any]) -> str:
    machine = meta["machine"]
    versions = machine["versions"]
    parts = [
        f"Run of {meta['started_at']} ({meta['command']}), results file `{meta['results_file']}`.",
        "",
        f"Machine: {machine['cores']} cores ({machine['cpu_model']}), "
        f"{(machine['memory_total_bytes'] or 0) / GIB:.1f} GiB RAM; Python {machine['python']}, {machine['java']}, "
        f"Spark {versions.get('pyspark')}, DuckDB {versions.get('duckdb')}, pandas {versions.get('pandas')}, "
        f"pyarrow {versions.get('pyarrow')}. Load average at start/end: {meta['load_average_start']} / "
        f"{meta['load_average_end']}. Repetitions: {meta['plan']['reps']}, engine order rotated per repetition; "
        f"watch interval {meta['plan']['watch_interval']} s. Code: commit {str(machine.get('git_commit'))[:10]}"
        f"{' with uncommitted changes' if machine.get('git_dirty') else ''}, pipeline sources "
        f"{machine.get('pipeline_sources_sha256')}.",
        "",
        markdown_table(COLUMNS, [r.cells() for r in rows]),
        "",
        "**Targets**",
        "",
        markdown_table(*target_cells(targets)),
    ]
    if realistic := realistic_lines(rows):
        parts += ["", f"**{REALISTIC_TITLE}**", "", *(f"- {line}" for line in realistic)]
    if reference := spark_reference_lines(rows):
        parts += ["", f"**{SPARK_REFERENCE_TITLE}**", "", *(f"- {line}" for line in reference)]
    if csv_rows := summarize(measurements, EV):
        parts += ["", f"**{CSV_TITLE}**", "", markdown_table(CSV_COLUMNS, [r.cells() for r in csv_rows]), "",
                  *(f"- {line}" for line in [*realistic_lines(csv_rows), *csv_reference_lines(csv_rows)])]
    if checks:
        parts += ["", "**Same output from every engine**", "", *(f"- {line}" for line in consistency_lines(checks))]
    header, body = state_breakdown(measurements)
    if body:
        parts += ["", "**End-to-end: median seconds per task state**", "", markdown_table(header, body)]
    header, body = growth_table(measurements)
    if body:
        parts += ["", f"**{GROWTH_TITLE}**", "", markdown_table(header, body)]
    return "\n".join(parts) + "\n"


def rows_as_dicts(rows: Sequence[Row]) -> list[dict[str, Any]]:
    return [asdict(r) for r in rows]


def targets_as_dicts(targets: Sequence[Target]) -> list[dict[str, Any]]:
    return [asdict(t) for t in targets]
