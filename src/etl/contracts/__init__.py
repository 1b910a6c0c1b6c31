"""Dataset contracts: each dataset is a folder of files, its contract the single source of its schema and rules.

A dataset ``d`` is the folder ``etl/datasets/d/`` (``src/etl/datasets/d/`` in the repository): ``contract.json``
and ``queries/*.sql``, its Athena queries, one of them the summary query its success notification carries. The
contract drives the explicit Spark read schema, validation, PII removal, partitioning and the dataset routing of
landing keys. It is plain data so that Lambdas (no Spark) can use it too; the folder ships inside the package,
so the Glue jobs and the Lambdas read the same files as the local runtime.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
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

FIELD_TYPES = ("boolean", "int", "bigint", "double", "decimal(p,s)", "string", "date", "timestamp")
FORMATS = ("jsonl", "json_array", "gzip", "csv")
CSV_DEFAULTS = {"delimiter": ",", "quote": '"', "escape": '"', "header": True}
_DECIMAL = re.compile(r"decimal\((\d+),(\d+)\)")
# A dataset's name is part of its table names (raw_<d>, processed_<d>) and its run ids: a safe identifier.
DATASET_NAME = re.compile(r"[a-z][a-z0-9_]{0,47}")
_NOT_NAME_CHARACTERS = re.compile(r"[^a-z0-9]+")


def column_name(source: str) -> str:
    """The column name for a producer's header ``source``: lowercase snake_case, safe in Spark, Iceberg and Athena.

    Lowercase; every run of characters other than a-z and 0-9 becomes one ``_``; no leading or
    trailing ``_``; a name starting with a digit gets the prefix ``n_`` (``2020 Census Tract`` ->
    ``n_2020_census_tract``), since Athena and Hive need quotes around such a name.
    """
    name = _NOT_NAME_CHARACTERS.sub("_", source.lower()).strip("_")
    return f"n_{name}" if name[:1].isdigit() else name


def decimal_precision(field_type: str) -> tuple[int, int] | None:
    """(precision, scale) of a ``decimal(p,s)`` type, None for any other type."""
    match = _DECIMAL.fullmatch(field_type.replace(" ", ""))
    return (int(match[1]), int(match[2])) if match else None


def _known_type(field_type: Any) -> bool:
    if not isinstance(field_type, str):
        return False
    precision = decimal_precision(field_type)
    if precision is not None:
        return 1 <= precision[0] <= 38 and precision[1] <= precision[0]
    return field_type in FIELD_TYPES and field_type != "decimal(p,s)"


@dataclass(frozen=True)
class Field:
    name: str
    type: str
    required: bool = False
    pii: bool = False
    minimum: float | None = None
    maximum: float | None = None
    description: str = ""
    source: str = ""  # the column as producers write it in a CSV header ("VIN (1-10)"); the name by default
    allowed: tuple[str, ...] | None = None  # the only values accepted, as text
    pattern: str | None = None  # a regular expression the whole value must match
    format: str = ""  # a date's or timestamp's pattern (Spark datetime pattern); a date defaults to date_format

    @property
    def header(self) -> str:
        return self.source or self.name


@dataclass(frozen=True)
class PartitionColumn:
    name: str
    source: str
    format: str = ""  # a date pattern taken from a date field; empty: the source field's value as it is


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
    csv: tuple[tuple[str, Any], ...] = ()  # the CSV dialect (see CSV_DEFAULTS) when "csv" is accepted

    @property
    def csv_options(self) -> dict[str, Any]:
        return {**CSV_DEFAULTS, **dict(self.csv)}

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
    return summary_query_of(load_contract(dataset))


def summary_query_of(contract: Contract) -> tuple[str, str]:
    """The name and SQL of the query a run of ``contract``'s dataset notifies: its folder's summary query, or, for a
    dataset defined at run time (no folder, so no queries of its own), how many records its table holds."""
    if not contract.summary_query:
        return f"{contract.dataset}_records", (f"SELECT count(*) AS records, max(ingested_at) AS last_ingested_at "
                                               f"FROM processed_{contract.dataset}")
    sql = query_files(contract.dataset)[contract.summary_query].read_text(encoding="utf-8")
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


def validate_dropped(path: Path) -> list[str]:
    """Every problem of a contract file meant to be dropped into landing as ``_contracts/<dataset>.json``."""
    dataset = path.name.removesuffix(".json")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return [f"{path}: not valid JSON: {exc}"]
    found = problems(dataset, raw)
    if dataset not in available_datasets():
        found += new_dataset_problems(raw)
    return [f"{path}: {problem}" for problem in found]


def new_dataset_problems(raw: Any) -> list[str]:
    """What a contract dropped into landing for a dataset with no folder may not hold (beyond ``problems``)."""
    if isinstance(raw, dict) and raw.get("summary_query"):
        return ["summary_query: a dataset defined at run time has no queries folder (leave it out)"]
    return []


_REQUIRED_KEYS = {
    "dataset": str, "version": int, "landing_prefix": str, "accepted_formats": list, "date_format": str,
    "fields": list, "primary_key": list, "partition_columns": list,
}
_FIELD_KEYS = {"name", "type", "required", "pii", "minimum", "maximum", "description", "source", "allowed",
               "pattern", "format"}


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
    if not DATASET_NAME.fullmatch(dataset):
        found.append(f"dataset name {dataset!r} must be lowercase letters, digits and '_', starting with a letter "
                     f"(at most 48): it names the tables raw_<dataset> and processed_<dataset>")
    fields = [_with_name(f) for f in raw["fields"] if isinstance(f, dict)]
    if len(fields) != len(raw["fields"]) or any("name" not in f or "type" not in f for f in fields):
        found.append("each field must be an object with a 'name' (or a 'source') and a 'type'")
    names = [str(f.get("name")) for f in fields]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        found.append(f"field names are not unique: {', '.join(map(str, duplicates))}")
    by_name = {f.get("name"): f for f in fields}
    for field in fields:
        unknown = set(field) - _FIELD_KEYS
        if unknown:
            found.append(f"field {field.get('name')!r} has unknown keys {sorted(unknown)}; use {sorted(_FIELD_KEYS)}")
        if "type" in field and not _known_type(field["type"]):
            found.append(f"field {field.get('name')!r} has type {field['type']!r}; use one of {FIELD_TYPES}")
        found += _field_problems(field)
        if field.get("pii") and field.get("name") in raw["primary_key"]:
            found.append(f"primary key field {field['name']!r} cannot be PII")
    for key in raw["primary_key"]:
        if key not in by_name or not by_name[key].get("required"):
            found.append(f"primary key {key!r} must be a required field")
    for partition in raw["partition_columns"]:
        if not isinstance(partition, dict) or not {"name", "source"} <= set(partition) <= {"name", "source", "format"}:
            found.append("each partition column must be an object with 'name', 'source' and, for a date, 'format'")
        elif partition["source"] not in by_name:
            found.append(f"partition {partition['name']!r} derives from {partition['source']!r}, which is no field")
        elif partition.get("format") and by_name[partition["source"]].get("type") != "date":
            found.append(f"partition {partition['name']!r} has a format: it must derive from a date field")
        elif partition["name"] in by_name:
            found.append(f"partition {partition['name']!r} has the name of a field; give it another name")
    unknown_formats = set(raw["accepted_formats"]) - set(FORMATS)
    if unknown_formats:
        found.append(f"unknown formats {sorted(unknown_formats)}; use {FORMATS}")
    elif "csv" in raw["accepted_formats"] and {"jsonl", "json_array"} & set(raw["accepted_formats"]):
        found.append("accepted_formats mixes CSV and JSON: a dataset's files are read one way; accept 'csv' (and "
                     "'gzip'), or the JSON formats")
    found += _csv_problems(raw)
    if not raw["landing_prefix"].endswith("/"):
        found.append("landing_prefix must end with '/'")
    elif raw["landing_prefix"].startswith(("_", "/")):
        found.append("landing_prefix cannot start with '_' or '/': such keys are the pipeline's own or no path")
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


def _with_name(field: dict[str, Any]) -> dict[str, Any]:
    """The field with its name: the one it gives, else the column name of its source."""
    if "name" not in field and isinstance(field.get("source"), str):
        return {**field, "name": column_name(field["source"])}
    return field


def _field_problems(field: dict[str, Any]) -> list[str]:
    found = []
    name = field.get("name")
    if isinstance(name, str) and column_name(name) != name:
        found.append(f"field name {name!r} is not lowercase snake_case; use {column_name(name)!r}")
    allowed = field.get("allowed")
    if allowed is not None and (not isinstance(allowed, list) or not allowed
                                or not all(isinstance(v, (str, int, float, bool)) for v in allowed)):
        found.append(f"field {name!r}: 'allowed' must be a non-empty list of values")
    pattern = field.get("pattern")
    if pattern is not None:
        try:
            re.compile(str(pattern))
        except re.error as exc:
            found.append(f"field {name!r}: 'pattern' is not a regular expression ({exc})")
    if field.get("format") and field.get("type") not in ("date", "timestamp"):
        found.append(f"field {name!r}: only a date or timestamp field takes a 'format'")
    if field.get("type") == "timestamp" and not field.get("format"):
        found.append(f"field {name!r}: a timestamp field needs a 'format' (e.g. \"yyyy-MM-dd'T'HH:mm:ss\")")
    return found


def _csv_problems(raw: dict[str, Any]) -> list[str]:
    options = raw.get("csv")
    if options is None:
        return []
    if "csv" not in raw["accepted_formats"]:
        return ["'csv' options are given but 'csv' is not in accepted_formats"]
    if not isinstance(options, dict) or set(options) - set(CSV_DEFAULTS):
        return [f"'csv' must be an object with some of {sorted(CSV_DEFAULTS)}"]
    found = [f"csv {key!r} must be one character" for key in ("delimiter", "quote", "escape")
             if key in options and (not isinstance(options[key], str) or len(options[key]) != 1)]
    if options.get("header", True) is not True:
        found.append("csv files must start with a header row ('header': true): columns are matched by name")
    return found


def _parse(raw: dict[str, Any]) -> Contract:
    fields = tuple(
        Field(
            name=f["name"],
            type=f["type"].replace(" ", ""),
            required=bool(f.get("required", False)),
            pii=bool(f.get("pii", False)),
            minimum=f.get("minimum"),
            maximum=f.get("maximum"),
            description=f.get("description", ""),
            source=f.get("source", ""),
            allowed=None if f.get("allowed") is None else tuple(_as_text(v) for v in f["allowed"]),
            pattern=f.get("pattern"),
            format=f.get("format", raw["date_format"] if f["type"] == "date" else ""),
        )
        for f in map(_with_name, raw["fields"])
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
        csv=tuple(sorted(raw.get("csv", {}).items())) if "csv" in raw["accepted_formats"] else (),
    )


def _as_text(value: Any) -> str:
    """An allowed value as the text a producer writes (JSON's true, not Python's True)."""
    return json.dumps(value) if isinstance(value, bool) else str(value)
