"""The benchmark's CSV series without Spark: its option, its inputs, which engines run it, and its report rows,
targets and output checks (from made-up measurements)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # `bench` lives at the repository root, next to src/

from bench import report  # noqa: E402
from bench.cli import parser  # noqa: E402
from bench.datasets import CLEAN, EV, INPUTS, REALISTIC, SHIPPING, ensure_dataset  # noqa: E402
from bench.engines import engine_run, reads  # noqa: E402
from bench.runner import Plan, job_order, prepare_datasets  # noqa: E402


def test_csv_sizes_option():
    assert parser().parse_args([]).csv_sizes == [100_000, 1_000_000]
    assert parser().parse_args(["--csv-sizes", "none"]).csv_sizes == []
    assert parser().parse_args(["--csv-sizes", "2k,1k"]).csv_sizes == [1_000, 2_000]


def test_only_the_pipeline_and_plain_spark_read_the_csv_series():
    assert reads("pipeline", EV) == reads("spark", EV) == INPUTS
    assert reads("duckdb", EV) == reads("pandas", EV) == ()
    assert reads("pandas", SHIPPING) == (CLEAN,)
    with pytest.raises(ValueError, match="does not read"):
        engine_run("duckdb", EV)


def test_csv_inputs_are_cached_ev_exports(tmp_path):
    realistic = ensure_dataset(tmp_path, 3_000, seed=3, kind=REALISTIC, dataset=EV)
    assert realistic.path.suffix == ".csv" and realistic.path.name.startswith("ev_population-3k-")
    assert realistic.dataset == EV and realistic.generated and realistic.bad_lines > 0
    assert realistic.lines == realistic.records + realistic.duplicates + realistic.bad_lines
    assert realistic.path.read_text(encoding="utf-8").startswith("VIN (1-10),County,")
    again = ensure_dataset(tmp_path, 3_000, seed=3, kind=REALISTIC, dataset=EV)
    assert again == realistic and not again.generated
    clean = ensure_dataset(tmp_path, 3_000, seed=3, kind=CLEAN, dataset=EV)
    assert clean.bad_lines == 0 and clean.duplicates > 0 and clean.path != realistic.path


def test_the_csv_series_runs_after_the_shipping_sizes_on_engines_that_read_csv(tmp_path):
    keys = [(EV, 1_000, REALISTIC), (SHIPPING, 2_000, CLEAN), (EV, 1_000, CLEAN), (SHIPPING, 1_000, REALISTIC)]
    assert sorted(keys, key=job_order) == [(SHIPPING, 1_000, REALISTIC), (SHIPPING, 2_000, CLEAN),
                                           (EV, 1_000, CLEAN), (EV, 1_000, REALISTIC)]
    plan = Plan(sizes=[], csv_sizes=[1_000], reps=1, engines=["duckdb", "pandas"], e2e_modes=[], e2e_sizes=[],
                seed=1, data_dir=tmp_path, work_dir=tmp_path / "work")
    jobs, _, _ = prepare_datasets(plan, progress=lambda text: None)
    assert jobs == {}  # neither engine reads CSV: nothing generated
    assert list(tmp_path.iterdir()) == []


def _job(engine: str, kind: str, seconds: float, *, dataset: str = EV, value_sum: str = "100.00") -> dict:
    return {
        "kind": "job", "engine": engine, "dataset": dataset, "size": "2k", "input": kind, "records": 2_000,
        "lines": 2_030, "bytes": 400_000, "rep": 1, "position": 1, "ok": True, "error": None, "peak_bytes": 2**28,
        "steps": {step: {"seconds": seconds, "peak_bytes": 2**28} for step in ("json_to_parquet", "normalize")}
        | {"work": {"seconds": 2 * seconds, "peak_bytes": 2**28}},
        "counts": {"json_to_parquet": {"quarantined": 2 if kind == REALISTIC else 0}},
        "output": {"rows": 2_000, "distinct_keys": 2_000, "sum_column": "base_msrp", "value_sum": value_sum,
                   "partitions": 15},
    }


MEASUREMENTS = [
    _job("pipeline", CLEAN, 5.0), _job("spark", CLEAN, 4.5), _job("pipeline", REALISTIC, 5.5),
    _job("spark", REALISTIC, 5.0), _job("duckdb", CLEAN, 1.0, dataset=SHIPPING),
]


def test_csv_rows_are_a_series_of_their_own_against_plain_spark():
    shipping = report.summarize(MEASUREMENTS)
    assert {(r.engine, r.dataset) for r in shipping} == {("duckdb", SHIPPING)}
    rows = report.summarize(MEASUREMENTS, EV)
    assert {(r.engine, r.input) for r in rows} == {(e, k) for e in ("pipeline", "spark") for k in INPUTS}
    [work] = [r for r in rows if (r.engine, r.input, r.step) == ("pipeline", REALISTIC, "work")]
    assert work.dataset == EV and work.x_duckdb is None and work.x_spark == pytest.approx(1.1)
    assert work.cells()[-1] == "1.10×"


def test_two_csv_targets_per_size():
    targets = report.csv_targets(report.summarize(MEASUREMENTS, EV))
    assert [(t.name, t.measured, t.limit, t.verdict) for t in targets] == [
        ("CSV pipeline work at 2k, realistic ÷ clean", "1.10×", "≤ 1.2×", "PASS"),
        ("CSV pipeline work at 2k ÷ plain Spark, either input", "1.11×", "≤ 1.2×", "PASS"),  # clean: 10 ÷ 9
    ]
    assert report.csv_targets(report.summarize(MEASUREMENTS[-1:], EV)) == []  # the series did not run
    slow = report.csv_targets(report.summarize([*MEASUREMENTS[:2], _job("pipeline", REALISTIC, 9.0)], EV))
    assert [t.verdict for t in slow] == ["FAIL", "n/a"]  # no plain Spark on realistic input: not measured


def test_csv_outputs_are_checked_per_dataset_and_reported():
    checks = report.consistency(MEASUREMENTS)
    assert [(c["dataset"], c["input"], c["engines"], c["agree"]) for c in checks] == [
        (SHIPPING, CLEAN, ["duckdb"], True), (EV, CLEAN, ["pipeline", "spark"], True),
        (EV, REALISTIC, ["pipeline", "spark"], True)]
    lines = report.consistency_lines(checks)
    assert lines[1] == ("CSV size 2k clean rep 1: pipeline, spark agree (2000 rows, base_msrp sum 100.00, "
                        "0 lines quarantined)")
    differ = report.consistency([*MEASUREMENTS[:3], _job("spark", REALISTIC, 5.0, value_sum="99.00")])
    assert [c["agree"] for c in differ] == [True, False]
    assert "OUTPUTS DIFFER" in report.consistency_lines(differ)[1]

    rows = report.summarize(MEASUREMENTS)
    targets = report.evaluate_targets(rows) + report.csv_targets(report.summarize(MEASUREMENTS, EV))
    text = report.render_text(rows, targets, checks, MEASUREMENTS)
    assert report.CSV_TITLE in text and "× spark" in text
    assert "2k realistic: plain Spark (CSV source) 10.00 s; the pipeline 11.00 s, 1.10× plain Spark" in text
    assert "pipeline 2k: clean 10.00 s, realistic 11.00 s, 1.10×" in text
    meta = {"started_at": "now", "command": "python -m bench", "results_file": "r.json",
            "machine": {"cores": 2, "cpu_model": "cpu", "memory_total_bytes": 2**30, "python": "3.11", "java": "java",
                        "versions": {}}, "load_average_start": [0], "load_average_end": [0],
            "plan": {"reps": 1, "watch_interval": 1.0}}
    markdown = report.render_markdown(rows, targets, checks, MEASUREMENTS, meta)
    assert f"**{report.CSV_TITLE}**" in markdown and "| × spark |" in markdown
    assert "| CSV pipeline work at 2k ÷ plain Spark, either input | 1.11× | ≤ 1.2× | PASS |" in markdown
