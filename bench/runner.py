"""The schedule: every repetition runs every size, clean and realistic input side by side, on every
engine that reads that input, rotating the engine order per repetition (rep 1: pipeline, duckdb,
pandas; rep 2: duckdb, pandas, pipeline; ...) so that slow drift of a shared machine does not favour
one engine; then the CSV series' sizes (ev_population, on the engines that read CSV) in the same
rotated order; then the end-to-end runs of that repetition.

Each engine measurement is its own process (bench.worker) in a fresh lake, sampled for memory
from spawn to exit, then its processed output is summarised and the lake deleted.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.datasets import CLEAN, DATASETS, EV, INPUTS, SHIPPING, Dataset, ensure_dataset
from bench.e2e import COLD, WARM, E2EError, Notified, Watcher, run_cold
from bench.engines import reads
from bench.engines.common import NORMALIZE, TO_RAW
from bench.measure import run_sampled
from bench.memory import DEFAULT_INTERVAL, TreeSampler
from bench.outputs import summarize_in_subprocess

PROJECT_ROOT = Path(__file__).resolve().parents[1]
WORK = "work"  # json_to_parquet + normalize: the jobs' work time
PROCESS = "process"  # the engine's whole process: interpreter, imports, start-up, work, shutdown
WARM_UP_RECORDS = 1_000
Progress = Callable[[str], None]


@dataclass(frozen=True)
class Plan:
    sizes: list[int]
    reps: int
    engines: list[str]
    e2e_modes: list[str]
    e2e_sizes: list[int]
    seed: int
    data_dir: Path
    work_dir: Path
    inputs: tuple[str, ...] = INPUTS
    timeout: float = 3600.0
    watch_interval: float = 1.0
    sample_interval: float = DEFAULT_INTERVAL
    keep_outputs: bool = False
    csv_sizes: list[int] = field(default_factory=list)  # the CSV series (ev_population); empty skips it


def rotated(items: list[str], rep_index: int) -> list[str]:
    """The order of repetition ``rep_index`` (0-based): the list rotated left by that many places."""
    if not items:
        return []
    shift = rep_index % len(items)
    return items[shift:] + items[:shift]


def e2e_seed(plan: Plan, records: int) -> int:
    """Each end-to-end file gets its own seed, so its ids do not overlap the files dropped before it."""
    return plan.seed + records


JobKey = tuple[str, int, str]  # dataset, records, input


def job_order(key: JobKey) -> tuple[int, int, int]:
    """The shipping sizes first, then the CSV series; each size's clean input before its realistic one."""
    dataset, records, kind = key
    return DATASETS.index(dataset), records, INPUTS.index(kind)


def prepare_datasets(
    plan: Plan, progress: Progress
) -> tuple[dict[JobKey, Dataset], dict[int, Dataset], Dataset | None]:
    """Generate (or reuse) every input before anything is timed."""
    def get(records: int, seed: int, kind: str = CLEAN, name: str = SHIPPING) -> Dataset:
        started = time.monotonic()
        dataset = ensure_dataset(plan.data_dir, records, seed, kind, name)
        took = time.monotonic() - started
        progress(f"dataset {name} {dataset.label:>5} {kind:<9} seed {seed}: {dataset.lines} lines "
                 f"({dataset.bad_lines} bad), {dataset.bytes / 1e6:.1f} MB"
                 + (f" (generated in {took:.1f}s)" if dataset.generated else " (cached)"))
        return dataset

    sizes = {SHIPPING: plan.sizes, EV: plan.csv_sizes}
    jobs = {(name, records, kind): get(records, plan.seed, kind, name)
            for name in DATASETS for records in sizes[name] for kind in plan.inputs
            if any(kind in reads(engine, name) for engine in plan.engines)}
    e2e = {records: get(records, e2e_seed(plan, records)) for records in plan.e2e_sizes} if plan.e2e_modes else {}
    warm_up = get(WARM_UP_RECORDS, plan.seed + 1) if WARM in plan.e2e_modes and plan.e2e_sizes else None
    return jobs, e2e, warm_up


def run_plan(plan: Plan, progress: Progress) -> tuple[list[dict[str, Any]], list[Dataset]]:
    jobs, e2e, warm_up = prepare_datasets(plan, progress)
    plan.work_dir.mkdir(parents=True, exist_ok=True)
    measurements: list[dict[str, Any]] = []
    for rep_index in range(plan.reps):
        rep = rep_index + 1
        for key in sorted(jobs, key=job_order):
            dataset = jobs[key]
            engines = [engine for engine in rotated(plan.engines, rep_index) if dataset.input in reads(engine, key[0])]
            series = "csv " if dataset.dataset == EV else ""
            for position, engine in enumerate(engines, start=1):
                record = measure_engine(plan, engine, dataset, rep, position)
                measurements.append(record)
                progress(f"[rep {rep}/{plan.reps}] {engine:<8} {series}{dataset.label:>5} {dataset.input:<9}  "
                         f"{_brief(record)}")
        modes = rotated([m for m in (COLD, WARM) if m in plan.e2e_modes], rep_index)
        for mode in modes:
            if mode == COLD:
                for records in sorted(e2e):
                    record = measure_cold(plan, e2e[records], rep)
                    measurements.append(record)
                    progress(f"[rep {rep}/{plan.reps}] e2e cold {e2e[records].label:>5}  {_brief(record)}")
            elif warm_up is not None:
                for record in measure_warm(plan, [e2e[r] for r in sorted(e2e)], warm_up, rep):
                    measurements.append(record)
                    progress(f"[rep {rep}/{plan.reps}] e2e {record['step']} {record['size']:>5}  {_brief(record)}")
    used = {d.path: d for d in [*jobs.values(), *e2e.values(), *([warm_up] if warm_up else [])]}
    return measurements, list(used.values())


def _brief(record: dict[str, Any]) -> str:
    if not record["ok"]:
        return f"FAILED: {record['error'].splitlines()[0] if record['error'] else ''}"
    step = record["steps"].get(WORK) or record["steps"].get(record.get("step", ""), {})
    return f"{step.get('seconds', 0):.2f}s, peak {record['peak_bytes'] / 2**20:.0f} MiB"


def _base(kind: str, engine: str, dataset: Dataset, rep: int, position: int) -> dict[str, Any]:
    return {
        "kind": kind,
        "engine": engine,
        "size": dataset.label,
        "input": dataset.input,
        "dataset": dataset.dataset,
        "records": dataset.records,
        "lines": dataset.lines,
        "bytes": dataset.bytes,
        "rep": rep,
        "position": position,
        "ok": False,
        "error": None,
        "steps": {},
        "peak_bytes": 0,
    }


def _memory(sampler: TreeSampler) -> dict[str, Any]:
    return {
        "peak_bytes": sampler.peak_bytes,
        "peak_root_bytes": sampler.peak_root_bytes,
        "peak_rss_bytes": sampler.peak_rss_bytes,
        "max_processes": sampler.max_processes,
        "commands": sorted(sampler.commands),
        "memory_metric": sampler.metric,
        "samples": len(sampler.samples),
        "pss_samples": len(sampler.pss_samples),
        "sampler_pss_read_seconds": round(sampler.pss_read_seconds, 3),
    }


def _fresh(folder: Path) -> Path:
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


def worker_cause(log: str) -> str:
    """The line of a worker's log that says why it ended: the exception line of its last Python
    traceback (the first unindented line after the frames), else the log's last line."""
    lines = [line for line in log.splitlines() if line.strip()]
    starts = [i for i, line in enumerate(lines) if line.startswith("Traceback (")]
    if starts:
        for line in lines[starts[-1] + 1:]:
            if not line.startswith((" ", "\t")):
                return line.strip()
    return lines[-1].strip() if lines else ""


def _worker_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(PROJECT_ROOT), *filter(None, [env.get("PYTHONPATH")])])
    return env


def measure_engine(plan: Plan, engine: str, dataset: Dataset, rep: int, position: int) -> dict[str, Any]:
    record = _base("job", engine, dataset, rep, position)
    series = "csv-" if dataset.dataset == EV else ""
    run_dir = _fresh(plan.work_dir / f"{engine}-{series}{dataset.label}-{dataset.input}-r{rep}")
    result_path = run_dir / "result.json"
    lake = run_dir / "lake"
    command = [sys.executable, "-m", "bench.worker", engine, str(dataset.path), str(lake),
               f"bench-{dataset.label}-r{rep}", str(result_path), "--dataset", dataset.dataset]
    finished = run_sampled(command, log=run_dir / "worker.log", cwd=PROJECT_ROOT, env=_worker_env(),
                           timeout=plan.timeout, interval=plan.sample_interval)
    sampler = finished.sampler
    record.update(_memory(sampler), log=str(finished.log))
    try:
        if finished.exit_code != 0 or not result_path.is_file():
            reason = "timed out" if finished.exit_code is None else f"exit code {finished.exit_code}"
            cause = worker_cause(finished.log_tail(200))
            # The report shows the first line only, so that line names the cause.
            record["error"] = f"{engine} worker {reason}" + (f": {cause}" if cause else "") + f"\n{finished.log_tail()}"
            return record
        result = json.loads(result_path.read_text(encoding="utf-8"))
        steps = {
            s["name"]: {"seconds": s["seconds"], "peak_bytes": sampler.peak_between(s["start"], s["end"])}
            for s in result["steps"]
        }
        if TO_RAW in steps and NORMALIZE in steps:
            steps[WORK] = {
                "seconds": steps[TO_RAW]["seconds"] + steps[NORMALIZE]["seconds"],
                "peak_bytes": max(steps[TO_RAW]["peak_bytes"], steps[NORMALIZE]["peak_bytes"]),
            }
        steps[PROCESS] = {"seconds": finished.wall_seconds, "peak_bytes": sampler.peak_bytes}
        summary = summarize_in_subprocess(lake / "processed" / dataset.dataset)
        record.update(ok=True, steps=steps, counts=result.get("counts", {}),
                      output=summary.as_dict() if summary else None)
        return record
    finally:
        if not plan.keep_outputs:
            shutil.rmtree(lake, ignore_errors=True)


def _e2e_record(dataset: Dataset, rep: int, position: int, mode: str, notified: Notified, peak: int) -> dict[str, Any]:
    record = _base("e2e", "e2e", dataset, rep, position)
    record.update(
        ok=notified.status == "SUCCEEDED",
        error=None if notified.status == "SUCCEEDED" else f"run {notified.run_id} ended {notified.status}",
        step=mode,
        steps={mode: {"seconds": notified.seconds, "peak_bytes": peak}},
        peak_bytes=peak,
        status=notified.status,
        run_id=notified.run_id,
        counts=notified.counts,
        states=notified.states,
    )
    return record


def measure_cold(plan: Plan, dataset: Dataset, rep: int) -> dict[str, Any]:
    run_dir = _fresh(plan.work_dir / f"e2e-cold-{dataset.label}-r{rep}")
    try:
        notified, process, exit_seconds = run_cold(dataset.path, run_dir / "lake", run_dir / "etl.log", plan.timeout)
    except E2EError as error:
        record = _base("e2e", "e2e", dataset, rep, 1)
        record.update(step=COLD, error=str(error), log=str(run_dir / "etl.log"))
        return record
    finally:
        if not plan.keep_outputs:
            shutil.rmtree(run_dir / "lake", ignore_errors=True)
    sampler = process.sampler
    # Memory up to the notification: what the run needed, not the JVM's shutdown.
    record = _e2e_record(dataset, rep, 1, COLD, notified, sampler.peak_between(notified.started, notified.ended))
    record.update({k: v for k, v in _memory(sampler).items() if k != "peak_bytes"}, exit_seconds=exit_seconds)
    return record


def measure_warm(plan: Plan, datasets: list[Dataset], warm_up: Dataset, rep: int) -> list[dict[str, Any]]:
    """One watcher per repetition: a warm-up file first, then each size in ascending order, so every
    repetition measures each size against the same lake contents."""
    run_dir = _fresh(plan.work_dir / f"e2e-warm-r{rep}")
    watcher = Watcher(run_dir / "lake", run_dir / "etl.log", interval=plan.watch_interval, timeout=plan.timeout)
    records: list[dict[str, Any]] = []
    try:
        first = watcher.drop(warm_up.path, f"warm-up-r{rep}.json")
        # Kept in the results (not in the table): the first file after start-up pays for the JVM.
        records.append(_e2e_record(warm_up, rep, 0, "warm-up", first, watcher.process.sampler.peak_between(
            first.started, first.ended)) | {"kind": "e2e-warm-up"})
        for position, dataset in enumerate(datasets, start=1):
            notified = watcher.drop(dataset.path, f"warm-r{rep}-{dataset.label}.json")
            peak = watcher.process.sampler.peak_between(notified.started, notified.ended)
            records.append(_e2e_record(dataset, rep, position, WARM, notified, peak))
    except E2EError as error:
        # records holds the warm-up and then one entry per finished size: the next one is what failed.
        failed = _base("e2e", "e2e", datasets[len(records) - 1] if records else warm_up, rep, len(records))
        failed.update(step=WARM if records else "warm-up", error=str(error), log=str(run_dir / "etl.log"))
        records.append(failed)
    finally:
        try:
            watcher.stop()
        except E2EError as error:
            records.append(_base("e2e-warm-up", "e2e", warm_up, rep, 0) | {"step": "stop", "error": str(error)})
        if not plan.keep_outputs:
            shutil.rmtree(run_dir / "lake", ignore_errors=True)
    sampler = watcher.process.sampler
    for record in records:
        record.update({k: v for k, v in _memory(sampler).items() if k != "peak_bytes"})
    return records
