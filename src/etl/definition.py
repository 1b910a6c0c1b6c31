"""The pipeline's ASL file and its ${Placeholder} substitution (the same file on AWS and locally)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from etl.errors import ConfigError

ASL_PATH = Path("stepfunctions") / "pipeline.asl.json"
PLACEHOLDER = re.compile(r"\$\{([A-Za-z][A-Za-z0-9_]*)\}")


def placeholders(text: str) -> set[str]:
    return set(PLACEHOLDER.findall(text))


def json_string_content(value: str) -> str:
    """``value`` escaped to sit inside a JSON string literal (for SQL text substituted into the ASL)."""
    return json.dumps(value)[1:-1]


def substitute(text: str, values: dict[str, str]) -> str:
    missing = placeholders(text) - set(values)
    if missing:
        raise ConfigError(f"no value for ASL placeholders: {', '.join(sorted(missing))}")
    return PLACEHOLDER.sub(lambda m: values[m.group(1)], text)


def load_definition(project_root: Path, values: dict[str, str]) -> dict[str, Any]:
    text = (project_root / ASL_PATH).read_text(encoding="utf-8")
    return json.loads(substitute(text, values))


def query_text(path: Path) -> str:
    """A SQL file as one statement for StartQueryExecution (no trailing semicolon)."""
    return path.read_text(encoding="utf-8").strip().rstrip(";").strip()
