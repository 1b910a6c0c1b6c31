"""Dataset contracts: one JSON file per dataset, the single source of its schema and rules.

The contract drives the explicit Spark read schema, validation, PII removal, partitioning
and the dataset routing of landing keys. It is plain data so that Lambdas (no Spark) can
use it too.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources

from etl.errors import ContractError

FIELD_TYPES = ("bigint", "double", "string", "date")
FORMATS = ("jsonl", "json_array", "gzip")


@dataclass(frozen=True)
class Field:
    name: str
    type: str
    required: bool = False
    pii: bool = False
    minimum: float | None = None
    maximum: float | None = None
    description: str = ""


@dataclass(frozen=True)
class PartitionColumn:
    name: str
    source: str
    format: str


@dataclass(frozen=True)
class Contract:
    dataset: str
    version: int
    landing_prefix: str
    default_for_root_keys: bool
    accepted_formats: tuple[str, ...]
    date_format: str
    fields: tuple[Field, ...]
    primary_key: tuple[str, ...]
    partition_columns: tuple[PartitionColumn, ...]

    def field(self, name: str) -> Field:
        for field in self.fields:
            if field.name == name:
                return field
        raise ContractError(self.dataset, f"has no field {name!r}")

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    @property
    def required_fields(self) -> tuple[Field, ...]:
        return tuple(f for f in self.fields if f.required)

    @property
    def pii_fields(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields if f.pii)

    @property
    def published_fields(self) -> tuple[Field, ...]:
        """Fields that reach the processed zone (everything but PII)."""
        return tuple(f for f in self.fields if not f.pii)


def available_datasets() -> list[str]:
    return sorted(
        entry.name.removesuffix(".json")
        for entry in resources.files(__name__).iterdir()
        if entry.name.endswith(".json")
    )


@cache
def load_contract(dataset: str) -> Contract:
    """Load and validate the contract of ``dataset``; raises ContractError naming the problem."""
    resource = resources.files(__name__).joinpath(f"{dataset}.json")
    if not resource.is_file():
        known = ", ".join(available_datasets()) or "none"
        raise ContractError(dataset, f"no contract file {dataset}.json; known datasets: {known}")
    try:
        raw = json.loads(resource.read_text(encoding="utf-8"))
        return _parse(dataset, raw)
    except (KeyError, TypeError, ValueError) as exc:
        raise ContractError(dataset, f"invalid contract file: {exc}") from exc


def _parse(dataset: str, raw: dict) -> Contract:
    fields = tuple(
        Field(
            name=f["name"],
            type=f["type"],
            required=bool(f.get("required", False)),
            pii=bool(f.get("pii", False)),
            minimum=f.get("minimum"),
            maximum=f.get("maximum"),
            description=f.get("description", ""),
        )
        for f in raw["fields"]
    )
    contract = Contract(
        dataset=raw["dataset"],
        version=int(raw["version"]),
        landing_prefix=raw["landing_prefix"],
        default_for_root_keys=bool(raw.get("default_for_root_keys", False)),
        accepted_formats=tuple(raw["accepted_formats"]),
        date_format=raw["date_format"],
        fields=fields,
        primary_key=tuple(raw["primary_key"]),
        partition_columns=tuple(PartitionColumn(**p) for p in raw["partition_columns"]),
    )
    _check(dataset, contract)
    return contract


def _check(dataset: str, contract: Contract) -> None:
    if contract.dataset != dataset:
        raise ContractError(dataset, f"file declares dataset {contract.dataset!r}")
    names = contract.field_names
    if len(set(names)) != len(names):
        raise ContractError(dataset, "field names are not unique")
    for field in contract.fields:
        if field.type not in FIELD_TYPES:
            raise ContractError(dataset, f"field {field.name!r} has type {field.type!r}; use one of {FIELD_TYPES}")
        if field.pii and field.name in contract.primary_key:
            raise ContractError(dataset, f"primary key field {field.name!r} cannot be PII")
    for key in contract.primary_key:
        if key not in names or not contract.field(key).required:
            raise ContractError(dataset, f"primary key {key!r} must be a required field")
    for partition in contract.partition_columns:
        if partition.source not in names or contract.field(partition.source).type != "date":
            raise ContractError(dataset, f"partition {partition.name!r} must derive from a date field")
    unknown = set(contract.accepted_formats) - set(FORMATS)
    if unknown:
        raise ContractError(dataset, f"unknown formats {sorted(unknown)}; use {FORMATS}")
    if not contract.landing_prefix.endswith("/"):
        raise ContractError(dataset, "landing_prefix must end with '/'")
