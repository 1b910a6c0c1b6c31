"""Typed settings of the local runtime. Explicit arguments beat environment variables."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from etl.errors import ConfigError

ENV_LAKE_ROOT = "ETL_LAKE_ROOT"
ENV_PROJECT_ROOT = "ETL_PROJECT_ROOT"
ENV_WAIT_SCALE = "ETL_LOCAL_WAIT_SCALE"
ENV_DATABASE = "ETL_DATABASE"
ENV_BYTES_SCANNED_CUTOFF = "ETL_ATHENA_BYTES_SCANNED_CUTOFF"

DEFAULT_LAKE_ROOT = "lake"
# Wait and Retry delays written for AWS (a crawler polled every 15 s) are scaled down locally,
# where a crawl takes well under a second. Not zero: the poll loop would use up its 80 polls
# before a crawl could finish.
DEFAULT_WAIT_SCALE = 0.01
DEFAULT_DATABASE = "etl"
# The Athena workgroup's per-query limit (the AWS stage's default); locally a query whose tables'
# files are larger is cancelled, as Athena cancels one that scans more.
DEFAULT_BYTES_SCANNED_CUTOFF = 1024**3


def _default_project_root() -> Path:
    # src/etl/config.py -> the repository root (editable install or PYTHONPATH=src)
    return Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class LocalSettings:
    lake_root: Path
    project_root: Path
    wait_scale: float = DEFAULT_WAIT_SCALE
    database: str = DEFAULT_DATABASE
    bytes_scanned_cutoff: int = DEFAULT_BYTES_SCANNED_CUTOFF

    @classmethod
    def resolve(
        cls,
        lake_root: str | os.PathLike[str] | None = None,
        project_root: str | os.PathLike[str] | None = None,
        wait_scale: float | None = None,
        database: str | None = None,
        bytes_scanned_cutoff: int | None = None,
    ) -> LocalSettings:
        lake = Path(lake_root or os.environ.get(ENV_LAKE_ROOT) or DEFAULT_LAKE_ROOT).expanduser().resolve()
        project = Path(project_root or os.environ.get(ENV_PROJECT_ROOT) or _default_project_root()).resolve()
        if not (project / "stepfunctions" / "pipeline.asl.json").is_file():
            raise ConfigError(
                f"no stepfunctions/pipeline.asl.json under {project}; set {ENV_PROJECT_ROOT} to the repository root"
            )
        if wait_scale is None:
            raw = os.environ.get(ENV_WAIT_SCALE, str(DEFAULT_WAIT_SCALE))
            try:
                wait_scale = float(raw)
            except ValueError as exc:
                raise ConfigError(f"{ENV_WAIT_SCALE}={raw!r} is not a number; use e.g. 0.01") from exc
        if wait_scale <= 0:
            raise ConfigError(
                f"wait scale must be above 0 (crawlers are polled with Wait states), got {wait_scale}; use e.g. 0.01"
            )
        if bytes_scanned_cutoff is None:
            raw = os.environ.get(ENV_BYTES_SCANNED_CUTOFF, str(DEFAULT_BYTES_SCANNED_CUTOFF))
            try:
                bytes_scanned_cutoff = int(raw)
            except ValueError as exc:
                raise ConfigError(f"{ENV_BYTES_SCANNED_CUTOFF}={raw!r} is not a whole number of bytes") from exc
        if bytes_scanned_cutoff < 1:
            raise ConfigError(f"the bytes-scanned cutoff must be at least 1 byte, got {bytes_scanned_cutoff}")
        return cls(
            lake_root=lake,
            project_root=project,
            wait_scale=wait_scale,
            database=database or os.environ.get(ENV_DATABASE) or DEFAULT_DATABASE,
            bytes_scanned_cutoff=bytes_scanned_cutoff,
        )
