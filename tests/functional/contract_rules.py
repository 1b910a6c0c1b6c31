"""The shipping contract's rules written in plain Python, without Spark: the independent expectation
that functional tests hold the pipeline's output to (import it as ``from contract_rules import valid``)."""

from __future__ import annotations

import math
import re
from datetime import date
from typing import Any

from etl.contracts import load_contract

CONTRACT = load_contract("shipping")


def valid(record: Any) -> bool:
    """Whether a parsed line is a record the pipeline must load (a dict that breaks none of the rules)."""
    if not isinstance(record, dict):
        return False
    for f in CONTRACT.fields:
        value = record.get(f.name)
        if value is None:
            if f.required:
                return False
            continue
        if f.type == "bigint" and (not isinstance(value, int) or isinstance(value, bool)):
            return False
        if f.type == "double" and (not isinstance(value, int | float) or isinstance(value, bool)):
            return False
        if f.type in ("string", "date") and (not isinstance(value, str) or (f.required and not value.strip(" "))):
            return False
        if f.type in ("bigint", "double"):
            if not math.isfinite(value):
                return False
            if (f.minimum is not None and value < f.minimum) or (f.maximum is not None and value > f.maximum):
                return False
        if f.type == "date" and not real_date(value):
            return False
    return True


def real_date(text: str) -> bool:
    match = re.fullmatch(r"(\d{4})/(\d{2})/(\d{2})", text)
    if not match:
        return False
    try:
        date(*(int(part) for part in match.groups()))
    except ValueError:
        return False
    return True
