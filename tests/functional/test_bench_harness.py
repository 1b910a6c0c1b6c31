"""The benchmark harness (bench/) on a tiny size: it runs end to end on clean and realistic input, the
engines do the same work, the memory sampler sees the JVM, and the report has every column and target.
No timing is asserted. The CSV series is left out here (test_bench_csv_reference runs its engines)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow.compute as pc
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # `bench` lives at the repository root, next to src/

from bench import report  # noqa: E402
from bench.memory import TreeSampler  # noqa: E402
from bench.outputs import read_table  # noqa: E402

pytestmark = pytest.mark.slow

RECORDS = 2_000
ENGINES = ("pipeline", "duckdb", "pandas", "spark")
INPUTS = {"clean": ENGINES, "realistic": ("pipeline", "duckdb", "spark")}  # pyarrow stops at a malformed line
MARKER = "BENCH_HARNESS_TEST_RUN"


@pytest.fixture(scope="module")
def bench_run(tmp_path_factory):
    base = tmp_path_factory.mktemp("bench")
    command = [
        sys.executable, "-m", "bench",
        "--sizes", "2k", "--csv-sizes", "none", "--reps", "1", "--engines", ",".join(ENGINES),
        "--e2e", "cold,warm", "--e2e-sizes", "1k", "--watch-interval", "0.2", "--growth", "0,2k",
        "--data-dir", str(base / "data"), "--results-dir", str(base / "results"),
        "--work-dir", str(base / "work"), "--keep-outputs", "--timeout", "600",
    ]
    # Every process the harness starts (workers, etl, their JVMs) inherits this marker.
    env = {**os.environ, MARKER: str(base)}
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, done.stdout + done.stderr
    [results_file] = (base / "results").glob("2*.json")
    return base, done.stdout, json.loads(results_file.read_text(encoding="utf-8"))


@pytest.mark.parametrize("kind", INPUTS)
def test_engines_write_the_same_processed_rows(bench_run, kind):
    base, _, results = bench_run
    totals = {}
    for engine in INPUTS[kind]:
        table = read_table(base / "work" / f"{engine}-2k-{kind}-r1" / "lake" / "processed" / "shipping")
        assert "customer_name" not in table.column_names and "street_address" not in table.column_names
        assert table.num_rows == len(pc.unique(table.column("shipping_id")))  # deduplicated
        totals[engine] = (table.num_rows, round(pc.sum(table.column("shipping_cost")).as_py(), 2))
    assert len(set(totals.values())) == 1, totals
    assert totals["pipeline"][0] == RECORDS  # every shipment once, its re-sent duplicate dropped
    checks = [check for check in results["consistency"] if check["input"] == kind]
    assert checks and all(check["agree"] for check in checks)
    assert sorted(checks[0]["engines"]) == sorted(INPUTS[kind])


def test_realistic_input_has_bad_lines_that_every_engine_quarantines(bench_run):
    _, _, results = bench_run
    [dataset] = [d for d in results["datasets"] if d["input"] == "realistic"]
    assert dataset["bad_lines"] > 0
    quarantined = {m["engine"]: m["counts"]["json_to_parquet"]["quarantined"] for m in results["measurements"]
                   if m["kind"] == "job" and m["input"] == "realistic"}
    assert quarantined == dict.fromkeys(INPUTS["realistic"], dataset["bad_lines"])


def test_every_measurement_succeeded_with_step_times(bench_run):
    _, _, results = bench_run
    jobs = {(m["engine"], m["input"]): m for m in results["measurements"] if m["kind"] == "job"}
    assert set(jobs) == {(engine, kind) for kind, engines in INPUTS.items() for engine in engines}
    for measurement in jobs.values():
        assert measurement["ok"], measurement["error"]
        assert {"startup", "json_to_parquet", "normalize", "work", "process"} <= set(measurement["steps"])
    e2e = {m["step"]: m for m in results["measurements"] if m["kind"] == "e2e"}
    assert set(e2e) == {"cold", "warm"}
    for measurement in e2e.values():
        assert measurement["ok"], measurement["error"]
        assert measurement["status"] == "SUCCEEDED"
        assert measurement["counts"]["records_read"] == measurement["lines"]
        assert measurement["states"]  # the run log said where the time went


def test_memory_sampler_sees_the_jvm_below_the_python_process(bench_run):
    _, _, results = bench_run
    [pipeline] = [m for m in results["measurements"]
                  if m["kind"] == "job" and m["engine"] == "pipeline" and m["input"] == "clean"]
    assert "java" in pipeline["commands"]
    assert pipeline["max_processes"] >= 2
    assert pipeline["peak_bytes"] > pipeline["peak_root_bytes"] > 0
    [duckdb] = [m for m in results["measurements"]
                if m["kind"] == "job" and m["engine"] == "duckdb" and m["input"] == "clean"]
    assert "java" not in duckdb["commands"]


def test_no_process_is_left_running(bench_run):
    base, _, _ = bench_run
    marker = f"{MARKER}={base}".encode()
    leftovers = []
    for environ in Path("/proc").glob("[0-9]*/environ"):
        try:
            if marker in environ.read_bytes().split(b"\0"):
                leftovers.append((environ.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode())
        except OSError:  # gone, or not ours to read
            continue
    assert leftovers == []


def test_report_has_every_column_and_target(bench_run):
    base, stdout, results = bench_run
    markdown = (base / "results" / "latest.md").read_text(encoding="utf-8")
    markdown_header = next(line for line in markdown.splitlines() if line.startswith("| engine |"))
    text_header = stdout.splitlines()[0]
    for column in report.COLUMNS:
        assert f"| {column} |" in markdown_header
        assert column in text_header
    names = [target["name"] for target in results["targets"]]
    assert "pipeline work time at 2k, realistic ÷ clean input" in names
    guarantees = {f"pipeline work time at {size} {kind} ÷ plain Spark" for size in ("1m", "5m") for kind in INPUTS}
    assert guarantees <= set(names)
    assert len(names) == 12 and len(set(names)) == 12
    # The growth series ran on an empty lake and a 2k one: its table is there, its 5m targets are not measured.
    assert report.GROWTH_TITLE in stdout and report.GROWTH_TITLE in markdown
    growth = [m for m in results["measurements"] if m["kind"] == "growth"]
    assert {(m["lake_records"], m["drop"]) for m in growth} == {(0, "new"), (0, "corrections"), (2000, "new"),
                                                               (2000, "corrections")}
    assert all(m["ok"] and m["normalize_seconds"] > 0 and m["drop_seconds"] >= m["normalize_seconds"] for m in growth)
    for target in results["targets"]:
        assert target["name"] in stdout and target["name"] in markdown
        assert target["verdict"] in ("PASS", "FAIL", "n/a")
    [ratio] = [t for t in results["targets"] if t["name"] == "pipeline work time at 2k, realistic ÷ clean input"]
    assert ratio["verdict"] in ("PASS", "FAIL") and ratio["measured"].endswith("×")  # measured, whatever it is
    summary = {(row["engine"], row["step"]) for row in results["summary"]}
    assert {("pipeline", "work"), ("duckdb", "work"), ("pandas", "work"), ("spark", "work"), ("e2e", "cold"),
            ("e2e", "warm")} <= summary
    assert {row["input"] for row in results["summary"] if row["engine"] != "e2e"} == set(INPUTS)
    # Plain Spark's ratio to DuckDB, and the pipeline's to plain Spark, for either input.
    assert report.SPARK_REFERENCE_TITLE in stdout and report.SPARK_REFERENCE_TITLE in markdown
    for kind in INPUTS:
        [reference] = [line for line in stdout.splitlines() if line.startswith(f"2k {kind}: plain Spark ")]
        assert "× DuckDB; the pipeline " in reference and reference.endswith("× plain Spark")
    # Each engine's realistic time against its clean time.
    assert report.REALISTIC_TITLE in stdout and report.REALISTIC_TITLE in markdown
    assert [line.split()[0] for line in stdout.splitlines() if " 2k: clean " in line] == ["pipeline", "duckdb", "spark"]


def test_tree_sampler_adds_up_children(tmp_path):
    # A parent that starts a child holding ~200 MB: the tree's peak must exceed the parent's own.
    script = (
        "import subprocess, sys, time\n"
        "child = subprocess.Popen([sys.executable, '-c', "
        "'import time; block = b\"x\" * (200 * 2**20); time.sleep(2)'])\n"
        "child.wait()\n"
    )
    process = subprocess.Popen([sys.executable, "-c", script])
    sampler = TreeSampler(process.pid, interval=0.05).start()
    process.wait(timeout=60)
    sampler.stop()
    assert sampler.max_processes == 2
    assert sampler.peak_bytes > sampler.peak_root_bytes + 150 * 2**20
    assert sampler.metric in ("pss", "rss", "pss+rss")
