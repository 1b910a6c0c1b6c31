"""The machine and software a run was measured on, recorded with every result file."""

from __future__ import annotations

import hashlib
import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

PACKAGES = ("pyspark", "duckdb", "pandas", "pyarrow", "numpy", "awswrangler")
SETTINGS = ("ETL_SPARK_CORES", "ETL_SPARK_DRIVER_MEMORY", "ETL_SPARK_SHUFFLE_PARTITIONS", "ETL_LOCAL_WAIT_SCALE")


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_total_bytes() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return None


def _java_version() -> str:
    try:
        done = subprocess.run(["java", "-version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return "not found"
    lines = (done.stderr or done.stdout).strip().splitlines()
    return lines[0] if lines else "unknown"


def _git(*args: str) -> str | None:
    """Read-only git queries: which commit the numbers belong to, and whether the tree had local changes."""
    try:
        done = subprocess.run(["git", *args], capture_output=True, text=True, timeout=30,
                              cwd=Path(__file__).resolve().parents[1])
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.rstrip("\n") if done.returncode == 0 else None  # keep porcelain's leading columns


def pipeline_sources_digest() -> str:
    """A short hash of the code the pipeline engine runs (src/etl and glue_jobs): the jobs change
    often, and with uncommitted changes the commit alone does not say which version was measured."""
    root = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for path in sorted([*(root / "src" / "etl").rglob("*.py"), *(root / "glue_jobs").glob("*.py")]):
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def load_average() -> list[float]:
    try:
        return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]
    except (OSError, ValueError):
        return []


def describe() -> dict[str, Any]:
    versions: dict[str, str | None] = {}
    for package in PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    status = _git("status", "--porcelain")
    return {
        "cpu_model": _cpu_model(),
        "cores": os.cpu_count(),
        "memory_total_bytes": _memory_total_bytes(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "java": _java_version(),
        "versions": versions,
        "settings": {name: os.environ.get(name) for name in SETTINGS},
        "git_commit": _git("rev-parse", "HEAD"),
        "git_dirty": bool(status) if status is not None else None,
        "git_changes": [line[3:] for line in status.splitlines()] if status else [],
        "pipeline_sources_sha256": pipeline_sources_digest(),
    }
