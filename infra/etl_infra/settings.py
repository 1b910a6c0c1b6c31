"""Stage settings from CDK context (``-c stage=prod -c notificationEmail=ops@example.com``) and resource names.

Every value has a default, so ``cdk synth`` works with no context at all. Values given on
the command line arrive as strings and are converted and checked here; a bad value stops
synthesis with one line naming the context key and what is allowed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from constructs import Node

from etl.errors import ConfigError

# Context keys (cdk.json "context" or `cdk ... -c key=value`).
STAGE = "stage"
NOTIFICATION_EMAIL = "notificationEmail"
GLUE_WORKERS = "glueWorkers"
GLUE_TIMEOUT_MINUTES = "glueTimeoutMinutes"
GLUE_MAX_CONCURRENT_RUNS = "glueMaxConcurrentRuns"
ATHENA_BYTES_SCANNED_CUTOFF = "athenaBytesScannedCutoff"
RAW_RETENTION_DAYS = "rawRetentionDays"
QUARANTINE_RETENTION_DAYS = "quarantineRetentionDays"
ATHENA_RESULTS_RETENTION_DAYS = "athenaResultsRetentionDays"
GENERATOR_RECORDS = "generatorRecords"

_STAGE_PATTERN = re.compile(r"^[a-z][a-z0-9-]{0,19}$")
_EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
ATHENA_MIN_CUTOFF = 10 * 1024 * 1024  # Athena rejects a per-query limit below 10 MB


@dataclass(frozen=True)
class StageSettings:
    """What differs between deployments of the same app (dev, test, prod, a developer's sandbox)."""

    stage: str = "dev"
    notification_email: str | None = None
    glue_workers: int = 2
    glue_timeout_minutes: int = 30
    glue_max_concurrent_runs: int = 5
    athena_bytes_scanned_cutoff: int = 1024**3
    raw_retention_days: int = 90
    quarantine_retention_days: int = 90
    athena_results_retention_days: int = 7
    generator_records: int = 1000

    def __post_init__(self) -> None:
        if not _STAGE_PATTERN.match(self.stage):
            raise ConfigError(
                f"context {STAGE}={self.stage!r}: use 1-20 lowercase letters, digits or '-', starting with a letter"
            )
        if self.notification_email is not None and not _EMAIL_PATTERN.match(self.notification_email):
            raise ConfigError(f"context {NOTIFICATION_EMAIL}={self.notification_email!r} is not an e-mail address")
        _at_least(GLUE_WORKERS, self.glue_workers, 2)  # G.1X jobs need two workers (driver + executor)
        _at_least(GLUE_TIMEOUT_MINUTES, self.glue_timeout_minutes, 1)
        _at_least(GLUE_MAX_CONCURRENT_RUNS, self.glue_max_concurrent_runs, 1)
        _at_least(ATHENA_BYTES_SCANNED_CUTOFF, self.athena_bytes_scanned_cutoff, ATHENA_MIN_CUTOFF)
        _at_least(RAW_RETENTION_DAYS, self.raw_retention_days, 1)
        _at_least(QUARANTINE_RETENTION_DAYS, self.quarantine_retention_days, 1)
        _at_least(ATHENA_RESULTS_RETENTION_DAYS, self.athena_results_retention_days, 1)
        _at_least(GENERATOR_RECORDS, self.generator_records, 1)

    @classmethod
    def from_context(cls, node: Node) -> StageSettings:
        def value(key: str) -> Any:
            return node.try_get_context(key)

        defaults = cls()
        email = value(NOTIFICATION_EMAIL)
        return cls(
            stage=str(value(STAGE) or defaults.stage),
            notification_email=str(email).strip() if email else None,
            glue_workers=_int(GLUE_WORKERS, value(GLUE_WORKERS), defaults.glue_workers),
            glue_timeout_minutes=_int(GLUE_TIMEOUT_MINUTES, value(GLUE_TIMEOUT_MINUTES), defaults.glue_timeout_minutes),
            glue_max_concurrent_runs=_int(
                GLUE_MAX_CONCURRENT_RUNS, value(GLUE_MAX_CONCURRENT_RUNS), defaults.glue_max_concurrent_runs
            ),
            athena_bytes_scanned_cutoff=_int(
                ATHENA_BYTES_SCANNED_CUTOFF, value(ATHENA_BYTES_SCANNED_CUTOFF), defaults.athena_bytes_scanned_cutoff
            ),
            raw_retention_days=_int(RAW_RETENTION_DAYS, value(RAW_RETENTION_DAYS), defaults.raw_retention_days),
            quarantine_retention_days=_int(
                QUARANTINE_RETENTION_DAYS, value(QUARANTINE_RETENTION_DAYS), defaults.quarantine_retention_days
            ),
            athena_results_retention_days=_int(
                ATHENA_RESULTS_RETENTION_DAYS,
                value(ATHENA_RESULTS_RETENTION_DAYS),
                defaults.athena_results_retention_days,
            ),
            generator_records=_int(GENERATOR_RECORDS, value(GENERATOR_RECORDS), defaults.generator_records),
        )

    # Names of the resources the ASL and operators refer to; everything else gets a CDK-generated name.
    @property
    def prefix(self) -> str:
        return f"etl-{self.stage}"

    def name(self, suffix: str) -> str:
        return f"{self.prefix}-{suffix}"

    @property
    def stack_name(self) -> str:
        return f"EtlPipeline-{self.stage}"

    @property
    def database(self) -> str:
        """Glue database: Athena wants lowercase letters, digits and underscores."""
        return f"etl_{self.stage.replace('-', '_')}"


def _int(key: str, raw: Any, default: int) -> int:
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except (TypeError, ValueError):
        raise ConfigError(f"context {key}={raw!r} is not a whole number") from None


def _at_least(key: str, value: int, minimum: int) -> None:
    if value < minimum:
        raise ConfigError(f"context {key}={value} is below the minimum {minimum}")
