"""Run a job's core function with Glue's arguments and session, or locally without Glue.

On Glue, ``awsglue`` is importable: arguments come from ``getResolvedOptions`` and the
session from GlueContext, with Job.init/commit around the run. Elsewhere the same
``--name value`` arguments are parsed here and the shared local session is used.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from etl.errors import ConfigError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

logger = logging.getLogger(__name__)

JobFunction = Callable[["SparkSession", Mapping[str, str]], dict[str, Any]]


def parse_job_args(argv: Sequence[str], names: Sequence[str]) -> dict[str, str]:
    """Parse Glue-style ``--name value`` (or ``--name=value``) arguments; unknown names are ignored
    (Glue passes its own), missing ones are an error naming them."""
    values: dict[str, str] = {}
    index = 0
    items = list(argv)
    while index < len(items):
        item = items[index]
        if item.startswith("--"):
            name, has_value, inline = item[2:].partition("=")
            if has_value:
                values[name] = inline
            elif index + 1 < len(items) and not items[index + 1].startswith("--"):
                values[name] = items[index + 1]
                index += 1
            else:
                values[name] = ""
        index += 1
    missing = [name for name in names if name not in values]
    if missing:
        raise ConfigError(f"missing job arguments: {', '.join('--' + m for m in missing)}")
    return {name: values[name] for name in names}


def _glue_modules() -> Any | None:
    try:
        from awsglue.context import GlueContext  # type: ignore[import-not-found]
        from awsglue.job import Job  # type: ignore[import-not-found]
        from awsglue.utils import getResolvedOptions  # type: ignore[import-not-found]
    except ImportError:
        return None
    return GlueContext, Job, getResolvedOptions


def run_job(
    job: JobFunction, names: Sequence[str], argv: Sequence[str], spark: SparkSession | None = None
) -> dict[str, Any]:
    """Run ``job`` with its arguments; ``spark`` (the local runtime's warm session) wins if given."""
    glue = None if spark is not None else _glue_modules()
    if glue is not None:
        glue_context_cls, job_cls, get_resolved_options = glue
        from pyspark.context import SparkContext

        from etl.spark import apply_job_conf

        args = get_resolved_options(list(argv), list(names))
        glue_context = glue_context_cls(SparkContext.getOrCreate())
        session = glue_context.spark_session
        apply_job_conf(session)
        glue_job = job_cls(glue_context)
        glue_job.init(args["JOB_NAME"], args)
        result = job(session, args)
        glue_job.commit()
        return result
    args = parse_job_args(argv, names)
    if spark is None:
        from etl.spark import local_session

        spark = local_session()
    return job(spark, args)
