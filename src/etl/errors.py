"""Exceptions of the etl package.

Every error a user can see derives from :class:`EtlError`; its ``str()`` is one
line saying what was wrong, where, and what to do. The CLI prints that line and
exits non-zero instead of showing a trace.
"""

from __future__ import annotations


class EtlError(Exception):
    """Base class for all errors raised by the etl package."""

    exit_code = 1


class ConfigError(EtlError):
    """The configuration (arguments, environment, files) is invalid."""

    exit_code = 2


class ContractError(EtlError):
    """A dataset contract file is missing or invalid."""

    def __init__(self, dataset: str, message: str) -> None:
        super().__init__(f"contract {dataset!r}: {message}")
        self.dataset = dataset


class InputFileError(EtlError):
    """A landing file cannot be read at all (binary, wrong encoding, unsupported format).

    The file is quarantined whole; ``reason`` is what goes into quarantine.
    """

    def __init__(self, source: str, reason: str) -> None:
        super().__init__(f"{source}: {reason}; the file was quarantined whole, fix it and drop it again")
        self.source = source
        self.reason = reason


class NothingLoadedError(EtlError):
    """Every line of a landing file was quarantined: the run fails, with a hint at what the file is."""

    def __init__(self, source: str, quarantined: int, hint: str) -> None:
        lines = "its only line was" if quarantined == 1 else f"all {quarantined} lines were"
        super().__init__(f"{source}: no record loaded, {lines} quarantined; {hint}")
        self.source = source
        self.quarantined = quarantined
        self.hint = hint


class LakePathError(EtlError):
    """A key or path would resolve outside the local lake root."""

    def __init__(self, path: str, root: str) -> None:
        super().__init__(f"path {path!r} escapes the lake root {root!r}; use a key inside the bucket")
        self.path = path
        self.root = root


class AslError(EtlError):
    """Base for errors of the local Step Functions (ASL) executor."""


class AslDefinitionError(AslError):
    """The state machine definition uses something the local executor refuses or is invalid."""

    def __init__(self, state: str | None, message: str) -> None:
        where = f"state {state!r}: " if state else ""
        super().__init__(f"{where}{message}")
        self.state = state


class TaskFailedError(AslError):
    """A Task handler failed with a Step Functions error name (e.g. ``States.TaskFailed``).

    ``error`` and ``cause`` become ``$.Error`` / ``$.Cause`` for Retry and Catch.
    """

    def __init__(self, error: str, cause: str = "") -> None:
        super().__init__(f"{error}: {cause}" if cause else error)
        self.error = error
        self.cause = cause


class CatalogError(EtlError):
    """The embedded catalog does not hold what was asked for."""


class CatalogBusyError(CatalogError):
    """The local catalog file stayed in use by another process for longer than the caller would wait."""


class QueryError(EtlError):
    """A query failed to run on the local engine."""


class QueryRefusedError(QueryError):
    """The local engine cannot guarantee Athena's answer for this query, so it refuses it."""

    def __init__(self, construct: str, message: str) -> None:
        super().__init__(f"refused locally: {construct}: {message}")
        self.construct = construct


class SourceGoneError(EtlError):
    """The landing object named by an event no longer exists."""

    def __init__(self, source: str) -> None:
        super().__init__(f"{source}: the file is gone (deleted or moved before it was processed); drop it again")
        self.source = source


class SourceChangedError(EtlError):
    """The landing object changed while a job read it, so two reads of it disagree."""

    def __init__(self, source: str, detail: str) -> None:
        super().__init__(f"{source}: the file changed while it was read ({detail}); drop it again once it is complete")
        self.source = source
