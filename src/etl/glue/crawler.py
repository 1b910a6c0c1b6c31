"""The local Glue crawler: catalogs dataset folders of the lake like an S3 crawler does.

Each target is one dataset folder. Its table is named ``table_prefix + folder name`` (lower-cased,
anything outside ``[a-z0-9_]`` becomes ``_``), its format comes from the file extensions, its schema
is the union of the file schemas (Parquet footers read with pyarrow, JSON Lines sampled by DuckDB's
``read_json_auto``) and its partition keys come from hive-style ``key=value`` folders, typed string.
Files and folders whose names start with ``_`` or ``.`` are ignored (Spark's ``_SUCCESS``,
``_temporary``, staging folders, checksum files), and so are empty files.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import unquote

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
from duckdb.sqltypes import DuckDBPyType

from etl.commits import reading
from etl.errors import CatalogError
from etl.glue.catalog import Catalog, Column, Partition, Table
from etl.glue.partitions import table_name

logger = logging.getLogger(__name__)

EXTENSIONS = {".parquet": "parquet", ".json": "json", ".jsonl": "json", ".ndjson": "json"}
_INTEGER_RANK = {"tinyint": 0, "smallint": 1, "int": 2, "bigint": 3}
_FLOATING = {"float", "double"}


@dataclass(frozen=True)
class CrawlerConfig:
    name: str
    database: str
    table_prefix: str
    targets: tuple[Path, ...]
    # Where the tables are, as Glue's TableLevelConfiguration says it: the folder level counted from the bucket
    # (level 1). None: each target is one table. A zone crawled from its root with level 2 has a table per
    # dataset folder, so a dataset defined at run time is crawled without a new target.
    table_level: int | None = None


@dataclass
class CrawlResult:
    tables_created: list[str] = field(default_factory=list)
    tables_updated: list[str] = field(default_factory=list)
    partitions: int = 0
    duration_seconds: float = 0.0


@dataclass(frozen=True)
class _DataFile:
    path: Path
    partition: tuple[tuple[str, str], ...]  # ((key, value), ...) from the hive folders


def crawl(config: CrawlerConfig, catalog: Catalog) -> CrawlResult:
    started = time.monotonic()
    result = CrawlResult()
    catalog.create_database(config.database)
    for target in config.targets:
        for folder in _table_folders(Path(target), config.table_level):
            _crawl_target(config, catalog, folder, result)
    result.duration_seconds = round(time.monotonic() - started, 3)
    logger.info(
        "crawler %s: %d created, %d updated, %d partitions in %.3fs", config.name, len(result.tables_created),
        len(result.tables_updated), result.partitions, result.duration_seconds,
    )
    return result


def _crawl_target(config: CrawlerConfig, catalog: Catalog, target: Path, result: CrawlResult) -> None:
    name = table_name(config.table_prefix, target.name)
    if not target.is_dir():
        logger.info("crawler %s: %s does not exist yet; table %s left as it is", config.name, target, name)
        return
    with reading([target]):  # no commit in progress while the files are listed and their schemas read
        files = list(_data_files(target))
        if not files:
            logger.info("crawler %s: no data files under %s; table %s left as it is", config.name, target, name)
            return
        file_format = _single_format(target, files)
        keys = _partition_keys(target, files)
        columns = _parquet_columns(files) if file_format == "parquet" else _json_columns(files)
    key_names = set(keys)
    clashing = [c.name for c in columns if c.name in key_names]
    if clashing:
        logger.warning(
            "crawler %s: %s: columns %s are also partition keys; kept as partition keys only", config.name,
            target, ", ".join(clashing),
        )
        columns = [c for c in columns if c.name not in key_names]
    partitions = _partitions(target, files)
    table = Table(
        database=config.database.lower(), name=name, location=str(target.resolve()), format=file_format,
        columns=tuple(columns), partition_keys=tuple(Column(key, "string") for key in keys),
        crawler=config.name, updated_at=datetime.now(UTC),
    )
    existing = _existing(catalog, table.database, name)
    catalog.put_table(table, partitions)
    result.partitions += len(partitions)
    if existing is None:
        result.tables_created.append(name)
    elif _changed(existing, table, partitions):
        result.tables_updated.append(name)


def _table_folders(target: Path, table_level: int | None) -> list[Path]:
    """The folders under ``target`` (a bucket root when ``table_level`` is given) that are tables: visible ones
    (``_contracts``, ``_runs`` and the like are the pipeline's own files, as the AWS crawlers' exclusions say)."""
    folders = [target]
    for _ in range((table_level or 1) - 1):
        folders = [child for folder in folders if folder.is_dir()
                   for child in sorted(folder.iterdir()) if child.is_dir() and _visible(child.name)]
    return folders


def _existing(catalog: Catalog, database: str, name: str) -> tuple[Table, list[Partition]] | None:
    try:
        return catalog.get_table(database, name), catalog.partitions(database, name)
    except CatalogError:
        return None


def _changed(existing: tuple[Table, list[Partition]], table: Table, partitions: list[Partition]) -> bool:
    old, old_partitions = existing
    return (old.location, old.format, old.columns, old.partition_keys) != (
        table.location, table.format, table.columns, table.partition_keys,
    ) or old_partitions != partitions


def _visible(name: str) -> bool:
    return not name.startswith(("_", "."))


def list_data_files(folder: Path, file_format: str | None = None) -> list[Path]:
    """The data files under ``folder`` that Glue and Athena read: visible, non-empty, of a known format."""
    if not folder.is_dir():
        return []
    found = []
    for directory, subdirectories, filenames in os.walk(folder):
        subdirectories[:] = sorted(d for d in subdirectories if _visible(d))
        for filename in sorted(filenames):
            path = Path(directory) / filename
            kind = _extension(path)
            if (
                _visible(filename)
                and kind is not None
                and (file_format is None or kind == file_format)
                and path.stat().st_size > 0
            ):
                found.append(path)
    return found


def _data_files(target: Path) -> Iterator[_DataFile]:
    for directory, subdirectories, filenames in os.walk(target):
        subdirectories[:] = sorted(d for d in subdirectories if _visible(d))
        here = Path(directory)
        relative_parts = here.relative_to(target).parts
        for filename in sorted(filenames):
            path = here / filename
            if not _visible(filename) or _extension(path) is None:
                if _visible(filename):
                    logger.debug("crawler: ignoring %s (unknown extension)", path)
                continue
            if path.stat().st_size == 0:
                continue
            yield _DataFile(path=path, partition=_hive_parts(target, relative_parts))


def _extension(path: Path) -> str | None:
    return EXTENSIONS.get(path.suffix.lower())


def _hive_parts(target: Path, parts: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    pairs = []
    for part in parts:
        key, sep, value = part.partition("=")
        if not sep or not key:
            raise CatalogError(
                f"{target}: folder {'/'.join(parts)!r} is not a hive-style key=value partition; "
                "keep only key=value folders (or _-prefixed ones, which are ignored) under a dataset"
            )
        pairs.append((key.lower(), unquote(value)))
    return tuple(pairs)


def _single_format(target: Path, files: list[_DataFile]) -> str:
    formats = {_extension(f.path) for f in files}
    if len(formats) != 1:
        raise CatalogError(
            f"{target}: mixes {' and '.join(sorted(str(f) for f in formats))} files; "
            "keep one format per dataset folder"
        )
    return str(formats.pop())


def _partition_keys(target: Path, files: list[_DataFile]) -> tuple[str, ...]:
    layouts = {tuple(key for key, _ in f.partition) for f in files}
    if len(layouts) != 1:
        shown = "; ".join("/".join(layout) or "(none)" for layout in sorted(layouts))
        raise CatalogError(
            f"{target}: files sit under different partition layouts ({shown}); "
            "keep one key=value folder layout per dataset"
        )
    return layouts.pop()


def _partitions(target: Path, files: list[_DataFile]) -> list[Partition]:
    found: dict[tuple[str, ...], str] = {}
    for data_file in files:
        if data_file.partition:
            values = tuple(value for _, value in data_file.partition)
            found.setdefault(values, str(data_file.path.parent.resolve()))
    return [Partition(values=values, location=found[values]) for values in sorted(found)]


# --- schemas ----------------------------------------------------------------------------------
def _parquet_columns(files: list[_DataFile]) -> list[Column]:
    merged: dict[str, str] = {}
    for data_file in files:
        try:
            schema = pq.read_schema(data_file.path)
        except (pa.ArrowException, OSError) as exc:
            raise CatalogError(
                f"{data_file.path}: not a readable Parquet file ({exc}); remove or replace it"
            ) from exc
        for arrow_field in schema:
            _merge(merged, arrow_field.name.lower(), glue_type_of_arrow(arrow_field.type), data_file.path)
    return [Column(name, type_name) for name, type_name in merged.items()]


def _json_columns(files: list[_DataFile]) -> list[Column]:
    paths = [str(f.path) for f in files]
    con = duckdb.connect()
    try:
        relation = con.sql(
            # hive_partitioning off: partition keys come from the folders, not as extra JSON columns
            "SELECT * FROM read_json_auto(?, format = 'newline_delimited', union_by_name = true, "
            "hive_partitioning = false)",
            params=[paths],
        )
        described = list(zip(relation.columns, relation.types, strict=True))
    except duckdb.Error as exc:
        raise CatalogError(
            f"{files[0].path.parent}: JSON files cannot be read ({str(exc).splitlines()[0]}); "
            "each line must be one JSON object"
        ) from exc
    finally:
        con.close()
    merged: dict[str, str] = {}
    for name, duck_type in described:
        _merge(merged, name.lower(), glue_type_of_duckdb(duck_type), files[0].path.parent)
    return [Column(name, type_name) for name, type_name in merged.items()]


def _merge(merged: dict[str, str], name: str, type_name: str, where: Path) -> None:
    if name not in merged:
        merged[name] = type_name
        return
    wider = _wider(merged[name], type_name)
    if wider is None:
        raise CatalogError(
            f"{where}: column {name!r} is {type_name} here but {merged[name]} in other files; "
            "rewrite the files with one type per column"
        )
    merged[name] = wider


def _wider(a: str, b: str) -> str | None:
    if a == b:
        return a
    if a in _INTEGER_RANK and b in _INTEGER_RANK:
        return a if _INTEGER_RANK[a] >= _INTEGER_RANK[b] else b
    if {a, b} <= set(_INTEGER_RANK) | _FLOATING:
        return "double"
    return None


def glue_type_of_arrow(arrow_type: pa.DataType) -> str:
    """The Glue (Hive) type name a crawler gives a Parquet column of this Arrow type."""
    simple = {
        pa.int8(): "tinyint", pa.int16(): "smallint", pa.int32(): "int", pa.int64(): "bigint",
        pa.uint8(): "smallint", pa.uint16(): "int", pa.uint32(): "bigint", pa.uint64(): "bigint",
        pa.float16(): "float", pa.float32(): "float", pa.float64(): "double", pa.bool_(): "boolean",
        pa.string(): "string", pa.large_string(): "string", pa.binary(): "binary",
        pa.large_binary(): "binary", pa.date32(): "date", pa.date64(): "date", pa.null(): "string",
    }
    if arrow_type in simple:
        return simple[arrow_type]
    if pa.types.is_timestamp(arrow_type):
        return "timestamp"
    if pa.types.is_decimal(arrow_type):
        return f"decimal({arrow_type.precision},{arrow_type.scale})"
    if pa.types.is_list(arrow_type) or pa.types.is_large_list(arrow_type):
        return f"array<{glue_type_of_arrow(arrow_type.value_type)}>"
    if pa.types.is_map(arrow_type):
        return f"map<{glue_type_of_arrow(arrow_type.key_type)},{glue_type_of_arrow(arrow_type.item_type)}>"
    if pa.types.is_struct(arrow_type):
        fields = ",".join(f"{f.name.lower()}:{glue_type_of_arrow(f.type)}" for f in arrow_type)
        return f"struct<{fields}>"
    if pa.types.is_dictionary(arrow_type):
        return glue_type_of_arrow(arrow_type.value_type)
    return "string"


def glue_type_of_duckdb(duck_type: DuckDBPyType) -> str:
    """The Glue type a JSON crawler gives a value DuckDB sampled as ``duck_type``.

    JSON has only strings, numbers, booleans, objects and arrays: whatever DuckDB detected inside a
    string (dates, timestamps, UUIDs) stays ``string``, as Glue's JSON classifier reports it.
    """
    kind = duck_type.id
    if kind in (
        "tinyint", "smallint", "integer", "bigint", "hugeint", "ubigint", "uinteger", "usmallint", "utinyint",
    ):
        return "int" if kind in ("tinyint", "smallint", "integer", "utinyint", "usmallint") else "bigint"
    if kind in ("double", "float", "decimal"):
        return "double"
    if kind == "boolean":
        return "boolean"
    if kind == "list":
        return f"array<{glue_type_of_duckdb(duck_type.child)}>"
    if kind == "struct":
        fields = ",".join(
            f"{name.lower()}:{glue_type_of_duckdb(child)}"  # type: ignore[arg-type]
            for name, child in duck_type.children
        )
        return f"struct<{fields}>"
    return "string"
