"""The lake-growth series: what one producer file costs on a lake that has grown.

For each lake size (0, 1m, 5m records already in the processed table) one worker process builds
the lake with the pipeline's own jobs (not timed), warms its JVM on a 1,000-record drop, then drops,
one after another through the local runtime (state machine, crawlers, normalize, Athena, outbox):

- *new*: a 10,000-record realistic file of new shipments (0.1% bad lines, 1% re-sent within it);
- *corrections*: the same kind of file plus 100 records already in the lake, re-sent with a new cost
  (1%): the MERGE has to rewrite the files that hold them.

Each repetition drops a new pair (its own seeds). Recorded per drop: the normalize step and the
whole run (drop to notification), from the run log.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bench.datasets import CLEAN, REALISTIC, ensure_dataset, size_label

GROWTH = "growth"
DROP_RECORDS = 10_000
NEW, CORRECTIONS = "new", "corrections"
DROPS = (NEW, CORRECTIONS)
CORRECTED_RECORDS = 100
DEFAULT_LAKE_SIZES = (0, 1_000_000, 5_000_000)


def drop_seed(seed: int, rep: int, drop: str) -> int:
    return seed + 7_000 + 10 * rep + DROPS.index(drop)


def measure_growth(
    *, lake_sizes: Sequence[int], reps: int, seed: int, data_dir: Path, work_dir: Path, timeout: float,
    progress: Callable[[str], None],
) -> list[dict[str, Any]]:
    """One worker per lake size; its records (one per drop and repetition)."""
    from bench.measure import run_sampled
    from bench.runner import _fresh, _worker_env, worker_cause

    warm_up = ensure_dataset(data_dir, 1_000, seed + 1, REALISTIC)
    drops = {(rep, drop): ensure_dataset(data_dir, DROP_RECORDS, drop_seed(seed, rep, drop), REALISTIC)
             for rep in range(1, reps + 1) for drop in DROPS}
    records: list[dict[str, Any]] = []
    for lake_records in lake_sizes:
        base = ensure_dataset(data_dir, lake_records, seed, CLEAN) if lake_records else None
        run_dir = _fresh(work_dir / f"growth-{size_label(lake_records) if lake_records else '0'}")
        result = run_dir / "result.json"
        command = [sys.executable, "-m", "bench.growth", str(run_dir / "lake"), str(result), str(warm_up.path),
                   "--base", str(base.path) if base else "",
                   *[f"{rep}:{drop}:{dataset.path}" for (rep, drop), dataset in sorted(drops.items())]]
        log = run_dir / "worker.log"
        # Sampled like every other worker: it waits for the whole process tree, the JVM included, to end.
        finished = run_sampled(command, log=log, env=_worker_env(), timeout=timeout * (reps + 1))
        if finished.exit_code != 0 or not result.is_file():
            cause = worker_cause(log.read_text(encoding="utf-8", errors="replace"))
            records.append({"kind": GROWTH, "lake_records": lake_records, "ok": False, "error": cause})
            progress(f"growth lake {lake_records:>9,}: FAILED: {cause}")
            continue
        for record in json.loads(result.read_text(encoding="utf-8")):
            records.append({"kind": GROWTH, "lake_records": lake_records, "ok": True, "error": None, **record})
            progress(f"[rep {record['rep']}/{reps}] growth lake {lake_records:>9,} {record['drop']:<11} "
                     f"normalize {record['normalize_seconds']:.2f}s, drop {record['drop_seconds']:.2f}s")
        _remove_lake(run_dir / "lake")
    return records


def _remove_lake(lake: Path) -> None:
    import shutil

    shutil.rmtree(lake, ignore_errors=True)


def _corrections_file(drop: Path, base: Path | None, target: Path) -> Path:
    """The drop plus ``CORRECTED_RECORDS`` records of the lake's own input, re-sent with a new cost."""
    lines = drop.read_bytes()
    if base is not None:
        corrected = []
        with base.open("rb") as handle:
            for raw in handle:
                record = json.loads(raw)
                corrected.append(json.dumps({**record, "shipping_cost": round(record["shipping_cost"] + 1, 2)}))
                if len(corrected) == CORRECTED_RECORDS:
                    break
        lines += ("\n".join(corrected) + "\n").encode()
    target.write_bytes(lines)
    return target


def _run(lake: Path, warm_up: Path, base: Path | None, drops: list[tuple[int, str, Path]]) -> list[dict[str, Any]]:
    from etl.spark import local_session, stop_local_session

    spark = local_session("bench-growth")
    try:
        return _drops(spark, lake, warm_up, base, drops)
    finally:
        stop_local_session()  # the JVM ends with this process, not after it


def _drops(spark: Any, lake: Path, warm_up: Path, base: Path | None,
           drops: list[tuple[int, str, Path]]) -> list[dict[str, Any]]:
    from bench.engines.common import EngineJob, StepClock
    from bench.engines.pipeline_engine import run as run_jobs
    from etl.config import LocalSettings
    from etl.local.runtime import LocalRuntime

    if base is not None:  # the grown lake, built by the pipeline's own jobs (not timed)
        run_jobs(EngineJob(source=base, lake=lake, run_id="lake-base"), StepClock())
    runtime = LocalRuntime(LocalSettings.resolve(lake_root=lake), spark=lambda: spark)

    def drop(source: Path) -> dict[str, Any]:
        runtime.drop(source, "shipping")
        [started] = runtime.process_landing().started
        run = runtime.runs.get(started["run_id"])
        if run is None or run.status != "SUCCEEDED":
            raise RuntimeError(f"run of {source.name} ended {run.status if run else 'unrecorded'}")
        normalize = sum(step.seconds or 0 for step in run.steps if step.state == "Normalize")
        return {"normalize_seconds": round(normalize, 3), "drop_seconds": round(run.seconds or 0, 3),
                "loaded": run.counts.get("loaded")}

    drop(warm_up)
    results = []
    for rep, kind, path in drops:
        source = path if kind == NEW else _corrections_file(path, base, lake.parent / f"corrections-{rep}.json")
        started = time.monotonic()
        measured = drop(source)
        results.append({"rep": rep, "drop": kind, "wall_seconds": round(time.monotonic() - started, 3), **measured})
    return results


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.growth", description="one lake size of the growth series")
    parser.add_argument("lake", type=Path)
    parser.add_argument("result", type=Path)
    parser.add_argument("warm_up", type=Path)
    parser.add_argument("--base", default="", help="the clean file the lake is built from (empty: an empty lake)")
    parser.add_argument("drops", nargs="+", help="rep:kind:path")
    args = parser.parse_args(argv)
    drops = [(int(rep), kind, Path(path)) for rep, kind, path in (item.split(":", 2) for item in args.drops)]
    results = _run(args.lake, args.warm_up, Path(args.base) if args.base else None, drops)
    args.result.write_text(json.dumps(results), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())


