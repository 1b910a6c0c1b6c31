"""The dataset contract as the non-Spark engines need it: the same file drives their schema and rules."""

from __future__ import annotations

from functools import cache

from bench.engines.common import DATASET
from etl.contracts import Contract, load_contract

_JAVA_TO_STRPTIME = {"yyyy": "%Y", "MM": "%m", "dd": "%d"}
_JAVA_TO_REGEX = {"yyyy": r"\d{4}", "MM": r"\d{2}", "dd": r"\d{2}"}


@cache
def contract() -> Contract:
    return load_contract(DATASET)


def _translate(pattern: str, tokens: dict[str, str]) -> str:
    for token, replacement in tokens.items():
        pattern = pattern.replace(token, replacement)
    return pattern


def java_to_strftime(pattern: str) -> str:
    """A Java date pattern of the contract as a C strftime/strptime one: ``yyyy/MM/dd`` -> ``%Y/%m/%d``."""
    return _translate(pattern, _JAVA_TO_STRPTIME)


def strptime_format() -> str:
    return java_to_strftime(contract().date_format)


def date_regex() -> str:
    """``yyyy/MM/dd`` -> ``\\d{4}/\\d{2}/\\d{2}`` (matched against the whole value)."""
    return _translate(contract().date_format, _JAVA_TO_REGEX)
