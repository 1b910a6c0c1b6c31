"""Every analytics query of the shipping dataset (src/etl/datasets/shipping/queries/) parses as Trino and
gives, on a tiny processed table, the answers computed independently in Python (and rendered the way
Athena renders them)."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlglot
from sqlglot import exp

from etl.athena.local import LocalAthena, to_get_query_results
from etl.definition import query_text
from etl.glue.catalog import Catalog
from etl.glue.crawler import CrawlerConfig, crawl

QUERIES = Path(__file__).resolve().parents[2] / "src" / "etl" / "datasets" / "shipping" / "queries"
SCHEMA = pa.schema(
    [
        ("shipping_id", pa.int64()), ("shipping_date", pa.date32()), ("destination_city", pa.string()),
        ("shipping_cost", pa.float64()), ("shipping_distance", pa.float64()), ("quantity", pa.float64()),
        ("product_id", pa.int64()), ("run_id", pa.string()), ("ingested_at", pa.timestamp("us")),
    ]
)
# Binary fractions (.25, .5, .75) keep every double sum exact, whatever order the engine adds in.
SHIPMENTS = [
    (1, date(2024, 1, 5), "serverless_island", 1500.25, 50.5, 2500.0, 7),
    (2, date(2024, 1, 9), "main_city", 10000000.75, 1200.0, 3.5, None),
    (3, date(2024, 1, 20), "serverless_island", 300.5, 12.25, 40.0, 7),
    (4, date(2024, 2, 2), "harbor_town", 99.75, 0.0, 10.0, 3),
    (5, date(2024, 2, 14), "main_city", 2000.0, 400.0, 600.25, 11),
    (6, date(2024, 2, 28), "serverless_island", 2000.0, 100.0, 600.25, 3),
    (7, date(2023, 12, 31), "lonely_rock", 42.5, 8.5, 1.0, None),
] + [(100 + i, date(2024, 3, 1), f"city_{i:02d}", 10.0 * i, 1.0, float(i), 200 + i) for i in range(1, 12)]


def cents(value: float) -> Decimal:
    return Decimal(repr(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


@pytest.fixture(scope="module")
def athena(tmp_path_factory) -> LocalAthena:
    root = tmp_path_factory.mktemp("lake")
    dataset = root / "processed" / "shipping"
    by_month: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for shipping_id, day, city, cost, distance, quantity, product in SHIPMENTS:
        by_month[(f"{day.year}", f"{day.month:02d}")].append(
            {
                "shipping_id": shipping_id, "shipping_date": day, "destination_city": city,
                "shipping_cost": cost, "shipping_distance": distance, "quantity": quantity,
                "product_id": product, "run_id": "r1", "ingested_at": datetime(2024, 4, 1, 8, 30),
            }
        )
    for (year, month), rows in by_month.items():
        folder = dataset / f"year={year}" / f"month={month}"
        folder.mkdir(parents=True)
        pq.write_table(pa.Table.from_pylist(rows, schema=SCHEMA), folder / "part-00000-x.c000.snappy.parquet")
    (dataset / "_SUCCESS").write_bytes(b"")
    catalog = Catalog(root / "_system" / "catalog.duckdb")
    crawl(CrawlerConfig("processed", "etl", "processed_", (dataset,)), catalog)
    return LocalAthena(catalog, database="etl")


def run(athena: LocalAthena, name: str) -> tuple[list[str], list[tuple], dict]:
    result = athena.execute(query_text(QUERIES / name))
    return result.columns, result.rows, to_get_query_results(result)


def test_every_query_is_one_trino_select_with_a_header_comment():
    files = sorted(QUERIES.glob("*.sql"))
    assert {f.name for f in files} >= {
        "shipping_totals.sql", "totals_by_city.sql", "totals_by_month.sql", "cost_per_mile.sql",
        "top_products.sql",
    }
    for path in files:
        text = path.read_text(encoding="utf-8")
        assert text.startswith("-- "), f"{path.name} needs a header comment saying what it answers"
        statements = [s for s in sqlglot.parse(text, read="trino") if s is not None]
        assert len(statements) == 1 and isinstance(statements[0], exp.Select), path.name
        tables = {t.name for t in statements[0].find_all(exp.Table)}
        assert tables == {"processed_shipping"}, path.name
        if path.name != "shipping_totals.sql":  # one aggregate row needs no ordering
            assert statements[0].args.get("order") is not None, f"{path.name} needs a deterministic ORDER BY"


@pytest.mark.parametrize("name", sorted(p.name for p in QUERIES.glob("*.sql")))
def test_every_query_runs_locally(athena, name):
    columns, rows, response = run(athena, name)
    assert rows and len(response["ResultSet"]["Rows"]) == len(rows) + 1
    assert [c["VarCharValue"] for c in response["ResultSet"]["Rows"][0]["Data"]] == columns


def test_shipping_totals(athena):
    columns, rows, response = run(athena, "shipping_totals.sql")
    assert columns == [
        "total_shipping_cost", "total_shipping_distance", "total_fuel_quantity", "record_count", "shipments",
    ]
    expected = (
        cents(sum(s[3] for s in SHIPMENTS)), cents(sum(s[4] for s in SHIPMENTS)),
        cents(sum(s[5] for s in SHIPMENTS)), len(SHIPMENTS), len({s[0] for s in SHIPMENTS}),
    )
    assert rows == [expected]
    rendered = [d["VarCharValue"] for d in response["ResultSet"]["Rows"][1]["Data"]]
    assert rendered == [
        f"{expected[0]}", f"{expected[1]}", f"{expected[2]}", str(len(SHIPMENTS)), str(len(SHIPMENTS)),
    ]
    assert "E" not in rendered[0]  # a plain number, not 1.0E7
    types = [c["Type"] for c in response["ResultSet"]["ResultSetMetadata"]["ColumnInfo"]]
    assert types == ["decimal", "decimal", "decimal", "bigint", "bigint"]


def test_totals_by_city(athena):
    _, rows, _ = run(athena, "totals_by_city.sql")
    totals: dict[str, list] = defaultdict(lambda: [0, 0.0, 0.0, 0.0])
    for _, _, city, cost, distance, quantity, _ in SHIPMENTS:
        entry = totals[city]
        entry[0] += 1
        entry[1] += cost
        entry[2] += distance
        entry[3] += quantity
    expected = sorted(
        ((city, n, cents(c), cents(d), cents(q)) for city, (n, c, d, q) in totals.items()),
        key=lambda r: (-r[2], r[0]),
    )
    assert rows == expected


def test_totals_by_month(athena):
    _, rows, _ = run(athena, "totals_by_month.sql")
    months: dict[tuple[str, str], list] = defaultdict(list)
    for shipment in SHIPMENTS:
        months[(f"{shipment[1].year}", f"{shipment[1].month:02d}")].append(shipment)
    expected = []
    for (year, month), group in sorted(months.items()):
        costs = [s[3] for s in group]
        expected.append(
            (
                year, month, len(group), cents(sum(costs)), cents(sum(costs) / len(costs)),
                cents(sum(s[4] for s in group)), cents(sum(s[5] for s in group)),
            )
        )
    assert rows == expected


def test_cost_per_mile(athena):
    _, rows, _ = run(athena, "cost_per_mile.sql")
    cost: dict[str, float] = defaultdict(float)
    distance: dict[str, float] = defaultdict(float)
    count: dict[str, int] = defaultdict(int)
    for _, _, city, c, d, _, _ in SHIPMENTS:
        cost[city] += c
        distance[city] += d
        count[city] += 1
    expected = sorted(
        (
            (
                city, count[city],
                Decimal(repr(round(cost[city] / distance[city], 4))).quantize(Decimal("0.0001")),
            )
            for city in cost
            if distance[city] > 0
        ),
        key=lambda r: (-r[2], r[0]),
    )
    assert rows == expected
    assert "harbor_town" not in [r[0] for r in rows]  # no distance: no cost per mile


def test_top_products(athena):
    _, rows, _ = run(athena, "top_products.sql")
    products: dict[int, list] = defaultdict(lambda: [0, 0.0, 0.0])
    for _, _, _, cost, _, quantity, product in SHIPMENTS:
        if product is not None:
            products[product][0] += 1
            products[product][1] += quantity
            products[product][2] += cost
    expected = sorted(
        ((p, n, cents(q), cents(c)) for p, (n, q, c) in products.items()), key=lambda r: (-r[2], r[0])
    )
    assert rows == expected[:10]
    assert len(products) > 10 and len(rows) == 10


def test_top_cities_per_month(athena):
    _, rows, _ = run(athena, "top_cities_per_month.sql")
    totals: dict[tuple[str, str], dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for _, day, city, cost, _, _, _ in SHIPMENTS:
        totals[(f"{day.year}", f"{day.month:02d}")][city] += cost
    expected = []
    for (year, month), cities in sorted(totals.items()):
        ordered = sorted(((cents(c), city) for city, c in cities.items()), key=lambda x: (-x[0], x[1]))
        for total, city in ordered:
            rank = 1 + sum(1 for other, _ in ordered if other > total)
            if rank <= 3:
                expected.append((year, month, rank, city, total))
    assert rows == expected
