"""The Athena dialect corpus: each query gives Athena's values and type names, or is refused/rejected.

The expected answers in tests/athena_corpus/cases.json come from Trino's documented semantics, not from
running the local engine; see the corpus README.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from etl.athena.local import LocalAthena
from etl.athena.results import render_value
from etl.errors import QueryError, QueryRefusedError
from etl.glue.catalog import Catalog
from etl.glue.crawler import CrawlerConfig, crawl

CORPUS_DIR = Path(__file__).parents[1] / "athena_corpus"


def _load_corpus() -> dict[str, Any]:
    """cases.json (with the fixture), plus one file per function family under families/."""
    corpus = json.loads((CORPUS_DIR / "cases.json").read_text(encoding="utf-8"))
    for family in sorted((CORPUS_DIR / "families").glob("*.json")):
        extra = json.loads(family.read_text(encoding="utf-8"))
        for section in ("cases", "refused", "rejected"):
            corpus[section].extend(extra.get(section, []))
    return corpus


CORPUS = _load_corpus()
FIXTURE = CORPUS["fixture"]


def _arrow_type(name: str) -> pa.DataType:
    if name.startswith("decimal("):
        precision, scale = (int(x) for x in name[len("decimal(") : -1].split(","))
        return pa.decimal128(precision, scale)
    return {
        "int64": pa.int64(), "int32": pa.int32(), "string": pa.string(), "float64": pa.float64(),
        "date": pa.date32(), "timestamp_ms": pa.timestamp("ms"),
    }[name]


def _value(raw: Any, type_name: str) -> Any:
    if raw is None:
        return None
    if type_name.startswith("decimal("):
        return Decimal(raw)
    if type_name == "date":
        return date.fromisoformat(raw)
    if type_name == "timestamp_ms":
        return datetime.fromisoformat(raw)
    return raw


@pytest.fixture(scope="module")
def athena(tmp_path_factory) -> LocalAthena:
    root = tmp_path_factory.mktemp("corpus")
    dataset = root / "lake" / FIXTURE["table"]
    schema = pa.schema([(name, _arrow_type(t)) for name, t in FIXTURE["columns"].items()])
    key = FIXTURE["partition_key"]
    for value in sorted({row[key] for row in FIXTURE["rows"]}):
        rows = [
            {c: _value(r[c], t) for c, t in FIXTURE["columns"].items()}
            for r in FIXTURE["rows"]
            if r[key] == value
        ]
        folder = dataset / f"{key}={value}"
        folder.mkdir(parents=True)
        pq.write_table(pa.Table.from_pylist(rows, schema=schema), folder / "part-00000.snappy.parquet")
    (dataset / "_SUCCESS").write_bytes(b"")
    catalog = Catalog(root / "catalog.duckdb")
    crawl(CrawlerConfig("corpus", FIXTURE["database"], "", (dataset,)), catalog)
    return LocalAthena(catalog, database=FIXTURE["database"])


@pytest.mark.parametrize("case", CORPUS["cases"], ids=[c["name"] for c in CORPUS["cases"]])
def test_case_gives_athenas_values_and_types(athena, case):
    result = athena.execute(case["sql"], parameters=case.get("parameters"))
    assert result.types == case["types"]
    rendered = [[render_value(v, t) for v, t in zip(row, result.types, strict=True)] for row in result.rows]
    assert rendered == case["rows"]
    if "columns" in case:
        assert result.columns == case["columns"]


@pytest.mark.parametrize("case", CORPUS["refused"], ids=[c["sql"][:60] for c in CORPUS["refused"]])
def test_refused_query_names_the_construct(athena, case):
    with pytest.raises(QueryRefusedError) as info:
        athena.execute(case["sql"])
    message = str(info.value)
    assert case["construct"].lower() in message.lower()
    assert "run this query on Athena" in message and "\n" not in message


@pytest.mark.parametrize("case", CORPUS["rejected"], ids=[c["sql"][:60] for c in CORPUS["rejected"]])
def test_query_athena_rejects_is_a_query_error(athena, case):
    with pytest.raises(QueryError) as info:
        athena.execute(case["sql"])
    assert not isinstance(info.value, QueryRefusedError)
    assert case["message"].lower() in str(info.value).lower()
    assert "\n" not in str(info.value)


def test_corpus_is_big_enough():
    assert len(CORPUS["cases"]) >= 40 and len(CORPUS["refused"]) >= 20
