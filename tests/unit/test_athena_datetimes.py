"""date_diff's month and year counts on dates against a model of Joda's field differences."""

from __future__ import annotations

import calendar
import random
from datetime import date, timedelta

import pytest

from etl.athena.local import LocalAthena
from etl.glue.catalog import Catalog


def joda_months(start: date, end: date) -> int:
    if end < start:
        return -joda_months(end, start)
    months = (end.year - start.year) * 12 + end.month - start.month
    start_day = start.day
    if end.day == calendar.monthrange(end.year, end.month)[1] and start_day > end.day:
        start_day = end.day  # a month added to the 31st lands on a shorter month's last day
    return months - (end.day < start_day)


def joda_years(start: date, end: date) -> int:
    if end < start:
        return -joda_years(end, start)
    start_rest, end_rest = start.timetuple().tm_yday - 1, end.timetuple().tm_yday - 1
    after_feb_28 = 31 + 28
    if start_rest >= after_feb_28:
        if calendar.isleap(start.year):
            start_rest -= not calendar.isleap(end.year)
        elif end_rest >= after_feb_28 and calendar.isleap(end.year):
            end_rest -= 1
    return end.year - start.year - (end_rest < start_rest)


@pytest.fixture(scope="module")
def athena(tmp_path_factory) -> LocalAthena:
    catalog = Catalog(tmp_path_factory.mktemp("datetimes") / "catalog.duckdb")
    catalog.create_database("etl")
    return LocalAthena(catalog, database="etl")


def test_date_diff_months_and_years_follow_joda(athena):
    generator = random.Random(20261204)
    first = date(1995, 12, 25)
    pairs = [
        (first + timedelta(generator.randrange(4000)), first + timedelta(generator.randrange(4000))) for _ in range(800)
    ] + [
        (date(2000, 2, 29), date(2001, 2, 28)), (date(2001, 3, 1), date(2004, 2, 29)),
        (date(2003, 1, 31), date(2003, 2, 28)), (date(2003, 3, 31), date(2003, 4, 30)),
    ]
    values = ", ".join(f"(DATE '{a}', DATE '{b}')" for a, b in pairs)
    result = athena.execute(f"SELECT date_diff('month', a, b), date_diff('year', a, b) FROM (VALUES {values}) t(a, b)")
    assert result.types == ["bigint", "bigint"]
    assert result.rows == [(joda_months(a, b), joda_years(a, b)) for a, b in pairs]
