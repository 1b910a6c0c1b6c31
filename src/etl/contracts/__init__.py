"""Dataset contracts: each dataset is a folder of files, its contract the single source of its schema and rules.

A dataset ``d`` is the folder ``etl/datasets/d/`` (``src/etl/datasets/d/`` in the repository): ``contract.json``
and ``queries/*.sql``, its Athena queries, one of them the summary query its success notification carries. The
contract drives the explicit Spark read schema, validation, PII removal, partitioning and the dataset routing of
landing keys. It is plain data so that Lambdas (no Spark) can use it too; the folder ships inside the package,
so the Glue jobs and the Lambdas read the same files as the local runtime.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Any

from etl.errors import ContractError

CONTRACT_FILE = "contract.json"
# How a run's rows reach the processed table: upsert (the latest record per key wins), append (rows are
# added; no key), overwrite (the file's rows replace the table).
WRITE_MODES = ("upsert", "append", "overwrite")
# The operations a landing key may name after the dataset's prefix (<prefix><operation>/...), and the write
# mode each one runs in; the contract's allowed_operations lists those its producers may use.
OPERATIONS = {"upsert": "upsert", "append": "append", "truncate": "overwrite"}
QUERIES_FOLDER = "queries"

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
    summary_query: str = ""
    write_mode: str = "upsert"
    allowed_operations: tuple[str, ...] = ()

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


def datasets_folder() -> Traversable:
    """The folder holding one folder per dataset."""
    return resources.files("etl").joinpath("datasets")


def available_datasets() -> list[str]:
    return sorted(entry.name for entry in datasets_folder().iterdir() if entry.joinpath(CONTRACT_FILE).is_file())


def dataset_folder(dataset: str) -> Traversable:
    folder = datasets_folder().joinpath(dataset)
    if not folder.joinpath(CONTRACT_FILE).is_file():
        known = ", ".join(available_datasets()) or "none"
        raise ContractError(dataset, f"no contract file datasets/{dataset}/{CONTRACT_FILE}; known datasets: {known}")
    return folder


def query_files(dataset: str) -> dict[str, Traversable]:
    """The dataset's Athena queries by name (the file name without .sql), sorted by name."""
    folder = dataset_folder(dataset).joinpath(QUERIES_FOLDER)
    if not folder.is_dir():
        return {}
    return {entry.name.removesuffix(".sql"): entry for entry in sorted(folder.iterdir(), key=lambda e: e.name)
            if entry.name.endswith(".sql")}


def summary_query(dataset: str) -> tuple[str, str]:
    """The name and SQL of the query the dataset's success notification carries."""
    contract = load_contract(dataset)
    sql = query_files(dataset)[contract.summary_query].read_text(encoding="utf-8")
    return contract.summary_query, sql.strip().rstrip(";").strip()


@cache
def load_contract(dataset: str) -> Contract:
    """Load and validate the contract of ``dataset``; raises ContractError naming the first problem."""
    folder = dataset_folder(dataset)
    try:
        raw = json.loads(folder.joinpath(CONTRACT_FILE).read_text(encoding="utf-8"))
    except ValueError as exc:
        raise ContractError(dataset, f"{CONTRACT_FILE} is not valid JSON: {exc}") from exc
    found = problems(dataset, raw, queries=set(query_files(dataset)))
    if found:
        raise ContractError(dataset, found[0])
    return _parse(raw)


def validate_folder(folder: Traversable) -> list[str]:
    """Every problem of the dataset folder ``folder``, one line each (empty when it is a valid dataset)."""
    dataset = folder.name
    contract = folder.joinpath(CONTRACT_FILE)
    if not contract.is_file():
        return [f"{dataset}: no {CONTRACT_FILE} in the folder"]
    try:
        raw = json.loads(contract.read_text(encoding="utf-8"))
    except ValueError as exc:
        return [f"{dataset}/{CONTRACT_FILE}: not valid JSON: {exc}"]
    queries_folder = folder.joinpath(QUERIES_FOLDER)
    queries = ({e.name.removesuffix(".sql") for e in queries_folder.iterdir() if e.name.endswith(".sql")}
               if queries_folder.is_dir() else set())
    return [f"{dataset}/{CONTRACT_FILE}: {problem}" for problem in problems(dataset, raw, queries=queries)]


_REQUIRED_KEYS = {
    "dataset": str, "version": int, "landing_prefix": str, "accepted_formats": list, "date_format": str,
    "fields": list, "primary_key": list, "partition_columns": list,
}
_FIELD_KEYS = {"name", "type", "required", "pii", "minimum", "maximum", "description"}


def problems(dataset: str, raw: Any, *, queries: set[str] | None = None) -> list[str]:
    """What is wrong with the contract ``raw`` of ``dataset``: one clear sentence per problem."""
    if not isinstance(raw, dict):
        return ["the contract must be a JSON object"]
    found = [f"missing key {key!r} ({kind.__name__})" for key, kind in _REQUIRED_KEYS.items() if key not in raw]
    found += [f"{key!r} must be a {kind.__name__}, not {type(raw[key]).__name__}"
              for key, kind in _REQUIRED_KEYS.items() if key in raw and not isinstance(raw[key], kind)]
    if found:
        return found
    if raw["dataset"] != dataset:
        found.append(f"declares dataset {raw['dataset']!r}; the folder is {dataset!r}")
    fields = [f for f in raw["fields"] if isinstance(f, dict)]
    if len(fields) != len(raw["fields"]) or any("name" not in f or "type" not in f for f in fields):
        found.append("each field must be an object with a 'name' and a 'type'")
    names = [str(f.get("name")) for f in fields]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        found.append(f"field names are not unique: {', '.join(map(str, duplicates))}")
    by_name = {f.get("name"): f for f in fields}
    for field in fields:
        unknown = set(field) - _FIELD_KEYS
        if unknown:
            found.append(f"field {field.get('name')!r} has unknown keys {sorted(unknown)}; use {sorted(_FIELD_KEYS)}")
        if "type" in field and field["type"] not in FIELD_TYPES:
            found.append(f"field {field.get('name')!r} has type {field['type']!r}; use one of {FIELD_TYPES}")
        if field.get("pii") and field.get("name") in raw["primary_key"]:
            found.append(f"primary key field {field['name']!r} cannot be PII")
    for key in raw["primary_key"]:
        if key not in by_name or not by_name[key].get("required"):
            found.append(f"primary key {key!r} must be a required field")
    for partition in raw["partition_columns"]:
        if not isinstance(partition, dict) or set(partition) != {"name", "source", "format"}:
            found.append("each partition column must be an object with 'name', 'source' and 'format'")
        elif partition["source"] not in by_name or by_name[partition["source"]].get("type") != "date":
            found.append(f"partition {partition['name']!r} must derive from a date field")
    unknown_formats = set(raw["accepted_formats"]) - set(FORMATS)
    if unknown_formats:
        found.append(f"unknown formats {sorted(unknown_formats)}; use {FORMATS}")
    if not raw["landing_prefix"].endswith("/"):
        found.append("landing_prefix must end with '/'")
    write_mode = raw.get("write_mode", "upsert")
    if write_mode not in WRITE_MODES:
        found.append(f"write_mode {write_mode!r} is not one of {', '.join(WRITE_MODES)}")
    operations = raw.get("allowed_operations", [])
    if not isinstance(operations, list) or any(op not in OPERATIONS for op in operations):
        found.append(f"allowed_operations must be a list of {', '.join(OPERATIONS)}")
    modes = {write_mode} | {OPERATIONS[op] for op in operations if op in OPERATIONS}
    if "upsert" in modes and not raw["primary_key"]:
        found.append("an upsert (the write_mode or an allowed operation) needs a primary_key")
    summary = raw.get("summary_query")
    if queries is not None:
        if not summary:
            found.append("missing key 'summary_query': the query (queries/NAME.sql) its notification carries")
        elif summary not in queries:
            found.append(f"summary_query {summary!r} has no file queries/{summary}.sql")
    return found


def _parse(raw: dict[str, Any]) -> Contract:
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
    return Contract(
        dataset=raw["dataset"],
        version=int(raw["version"]),
        landing_prefix=raw["landing_prefix"],
        default_for_root_keys=bool(raw.get("default_for_root_keys", False)),
        accepted_formats=tuple(raw["accepted_formats"]),
        date_format=raw["date_format"],
        fields=fields,
        primary_key=tuple(raw["primary_key"]),
        partition_columns=tuple(PartitionColumn(**p) for p in raw["partition_columns"]),
        summary_query=raw.get("summary_query", ""),
        write_mode=raw.get("write_mode", "upsert"),
        allowed_operations=tuple(raw.get("allowed_operations", ())),
    )
