"""Where the files the stack deploys live in the repository (the same files the local runtime uses)."""

from __future__ import annotations

from pathlib import Path

INFRA_DIR = Path(__file__).resolve().parents[1]
PROJECT_ROOT = INFRA_DIR.parent
SRC_DIR = PROJECT_ROOT / "src"
ETL_PACKAGE_DIR = SRC_DIR / "etl"
GLUE_JOBS_DIR = PROJECT_ROOT / "glue_jobs"
LAMBDAS_DIR = PROJECT_ROOT / "lambdas"
ATHENA_QUERIES_DIR = PROJECT_ROOT / "athena_queries"
CDK_JSON = INFRA_DIR / "cdk.json"


def athena_query_files() -> list[Path]:
    """Every ``athena_queries/*.sql``, sorted by name (one Athena named query each)."""
    return sorted(ATHENA_QUERIES_DIR.glob("*.sql"))
