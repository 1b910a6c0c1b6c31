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

DEFAULT_LAKE_ROOT = "lake"
# Local tasks finish before they return, so Wait and Retry delays written for AWS's
# asynchronous APIs are scaled down locally (the run log still records them).
DEFAULT_WAIT_SCALE = 0.01
DEFAULT_DATABASE = "etl"


def _default_project_root() -> Path:
    # src/etl/config.py -> the repository root (editable install or PYTHONPATH=src)
    return Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class LocalSettings:
    lake_root: Path
    project_root: Path
    wait_scale: float = DEFAULT_WAIT_SCALE
    database: str = DEFAULT_DATABASE

    @classmethod
    def resolve(
        cls,
        lake_root: str | os.PathLike[str] | None = None,
        project_root: str | os.PathLike[str] | None = None,
        wait_scale: float | None = None,
        database: str | None = None,
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
        if wait_scale < 0:
            raise ConfigError(f"wait scale must be >= 0, got {wait_scale}")
        return cls(
            lake_root=lake,
            project_root=project,
            wait_scale=wait_scale,
            database=database or os.environ.get(ENV_DATABASE) or DEFAULT_DATABASE,
        )
