"""What a new version of a contract changes, and whether the tables can follow without rewriting data.

A compatible version adds optional fields (old rows read them as NULL: Iceberg adds the column, the crawled
tables gain it at the next crawl), widens a type the way Iceberg promotes it (int to bigint, a decimal to
a larger precision at the same scale), relaxes a rule, publishes a field that was PII, or allows more
operations. Anything that would make rows already written wrong or unreadable is refused, each problem in
one sentence: a removed field, a type changed otherwise, a field newly required, a published field made
PII, another key, other partitions or another landing prefix.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from etl.contracts import Contract, Field

_DECIMAL = re.compile(r"decimal\((\d+),\s*(\d+)\)")
# Iceberg's type promotions (the Iceberg spec, "Schema Evolution"): int to long; decimal(P,S) to decimal(P',S), P' > P.
_PROMOTIONS = {("int", "bigint")}


@dataclass(frozen=True)
class Evolution:
    changes: list[str]  # what the new version changes, for the notification
    problems: list[str]  # why the tables cannot follow it (empty: compatible)

    @property
    def compatible(self) -> bool:
        return not self.problems


def widens(old: str, new: str) -> bool:
    """Whether a column of type ``old`` can become ``new`` without rewriting its data."""
    if old == new or (old, new) in _PROMOTIONS:
        return True
    old_decimal, new_decimal = _DECIMAL.fullmatch(old), _DECIMAL.fullmatch(new)
    if old_decimal and new_decimal:
        (p, s), (p2, s2) = (int(x) for x in old_decimal.groups()), (int(x) for x in new_decimal.groups())
        return s2 == s and p2 >= p
    return False


def compare(old: Contract, new: Contract) -> Evolution:
    """The changes from ``old`` to ``new`` of the same dataset, and what makes them incompatible."""
    changes: list[str] = []
    problems: list[str] = []
    if new.version <= old.version:
        problems.append(f"version {new.version} is not above the current version {old.version}")
    before = {f.name: f for f in old.fields}
    after = {f.name: f for f in new.fields}
    for name in before.keys() - after.keys():
        problems.append(f"field {name!r} is removed: rows already written hold it; keep it as an optional field")
    for name in [f.name for f in new.fields if f.name not in before]:
        field = after[name]
        if field.required:
            problems.append(f"new field {name!r} is required: rows already written have no value for it; "
                            "add it as optional")
        else:
            changes.append(f"adds optional field {name} ({field.type}{', PII' if field.pii else ''})")
    for name in [f.name for f in old.fields if f.name in after]:
        problems_of, changes_of = _field_change(before[name], after[name])
        problems += problems_of
        changes += changes_of
    for what, was, now in (("primary_key", old.primary_key, new.primary_key),
                           ("partition_columns", old.partition_columns, new.partition_columns),
                           ("landing_prefix", old.landing_prefix, new.landing_prefix)):
        if was != now:
            problems.append(f"{what} changes: the tables are keyed, partitioned and fed by the current one; "
                            "create a new dataset instead")
    if new.write_mode != old.write_mode:
        changes.append(f"write_mode {old.write_mode} -> {new.write_mode}")
    added = [op for op in new.allowed_operations if op not in old.allowed_operations]
    removed = [op for op in old.allowed_operations if op not in new.allowed_operations]
    if added or removed:
        changes.append("allowed_operations " + ", ".join([*(f"+{op}" for op in added), *(f"-{op}" for op in removed)]))
    if not problems and not changes:
        changes.append("no change to the fields or the write mode")
    return Evolution(changes, problems)


def _field_change(old: Field, new: Field) -> tuple[list[str], list[str]]:
    problems, changes = [], []
    name = old.name
    if old.type != new.type:
        if widens(old.type, new.type):
            changes.append(f"widens {name} from {old.type} to {new.type}")
        else:
            problems.append(f"field {name!r} changes type from {old.type} to {new.type}: only int -> bigint and a "
                            "larger decimal precision keep the rows already written readable")
    if new.required and not old.required:
        problems.append(f"field {name!r} becomes required: rows already written may lack it")
    elif old.required and not new.required:
        changes.append(f"{name} becomes optional")
    if new.pii and not old.pii:
        problems.append(f"field {name!r} becomes PII: its values are already in the processed table")
    elif old.pii and not new.pii:
        changes.append(f"publishes {name} (no longer PII)")
    for bound in ("minimum", "maximum"):
        if getattr(old, bound) != getattr(new, bound):
            changes.append(f"{name} {bound} {getattr(old, bound)} -> {getattr(new, bound)}")
    return problems, changes
