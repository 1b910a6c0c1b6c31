"""Plain-text rendering for the CLI: tables, notifications, run progress."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from typing import Any

from etl.local.outbox import Notification
from etl.local.runlog import cause_text


def table(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [[_text(v) for v in row] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    line = "  ".join(c.ljust(w) for c, w in zip(columns, widths)).rstrip()
    rule = "  ".join("-" * w for w in widths)
    body = ["  ".join(v.rjust(w) if _numeric(v) else v.ljust(w) for v, w in zip(r, widths)).rstrip() for r in cells]
    return "\n".join([line, rule, *body])


def as_csv(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows([[_text(v) if v is not None else "" for v in row] for row in rows])
    return buffer.getvalue().rstrip("\n")


def as_json(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    return json.dumps([dict(zip(columns, row)) for row in rows], default=str, indent=2)


def notification(note: Notification) -> str:
    body = note.body
    lines = [f"── notification {note.published_at} ── {note.subject}"]
    if not isinstance(body, dict):
        return "\n".join([*lines, str(body)])
    if body.get("summary"):
        lines.append(body["summary"])
    results = body.get("results")
    if isinstance(results, dict) and results.get("columns"):
        if body.get("results_are"):
            lines.append(f"{body.get('query')}, over {body['results_are']}:")
        rows = [[cell.get("VarCharValue") for cell in row.get("Data", [])] for row in results.get("rows", [])]
        lines.append(table(results["columns"], rows))
    if body.get("status") == "FAILED":
        lines.append(f"error: {body.get('error')}")
        lines.append(f"cause: {cause_text(body.get('cause'))}")
    return "\n".join(lines)


def _text(value: Any) -> str:
    return "NULL" if value is None else str(value)


def _numeric(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True
