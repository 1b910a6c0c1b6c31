"""Where the files the stack deploys live in the repository (the same files the local runtime uses)."""

from __future__ import annotations

from pathlib import Path

from etl.contracts import available_datasets, query_files

INFRA_DIR = Path(__file__).resolve().parents[1]
PROJECT_ROOT = INFRA_DIR.parent
SRC_DIR = PROJECT_ROOT / "src"
ETL_PACKAGE_DIR = SRC_DIR / "etl"
GLUE_JOBS_DIR = PROJECT_ROOT / "glue_jobs"
LAMBDAS_DIR = PROJECT_ROOT / "lambdas"
CDK_JSON = INFRA_DIR / "cdk.json"


def athena_query_files() -> list[tuple[str, Path]]:
    """Every dataset's ``queries/*.sql`` (one Athena named query each), as (dataset, file), by dataset and name."""
    return [(dataset, Path(str(file))) for dataset in available_datasets() for file in query_files(dataset).values()]
