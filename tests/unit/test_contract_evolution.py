"""A new contract version: what it changes, and which changes the tables can follow without rewriting data."""

from __future__ import annotations

import dataclasses

import pytest

from etl.contracts import Field, load_contract
from etl.contracts.evolution import compare, widens

SHIPPING = load_contract("shipping")


def version(**changes):
    return dataclasses.replace(SHIPPING, version=SHIPPING.version + 1, **changes)


def with_fields(*fields: Field, drop: str | None = None):
    kept = tuple(f for f in SHIPPING.fields if f.name != drop)
    return version(fields=(*kept, *fields))


def test_an_optional_field_added_is_compatible_and_said():
    evolution = compare(SHIPPING, with_fields(Field("carrier", "string"), Field("tax_id", "string", pii=True)))
    assert evolution.compatible
    assert evolution.changes == ["adds optional field carrier (string)", "adds optional field tax_id (string, PII)"]


@pytest.mark.parametrize(("new", "problem"), [
    (with_fields(drop="product_id"), "field 'product_id' is removed"),
    (with_fields(Field("carrier", "string", required=True)), "new field 'carrier' is required"),
    (version(fields=tuple(dataclasses.replace(f, type="string") if f.name == "shipping_cost" else f
                          for f in SHIPPING.fields)), "field 'shipping_cost' changes type from double to string"),
    (version(fields=tuple(dataclasses.replace(f, required=True) if f.name == "product_id" else f
                          for f in SHIPPING.fields)), "field 'product_id' becomes required"),
    (version(fields=tuple(dataclasses.replace(f, pii=True) if f.name == "destination_city" else f
                          for f in SHIPPING.fields)), "field 'destination_city' becomes PII"),
    (version(primary_key=("product_id",)), "primary_key changes"),
    (version(landing_prefix="ships/"), "landing_prefix changes"),
    (dataclasses.replace(SHIPPING, fields=(*SHIPPING.fields, Field("carrier", "string"))), "is not above"),
])
def test_a_change_the_rows_already_written_cannot_follow_is_refused(new, problem):
    evolution = compare(SHIPPING, new)
    assert not evolution.compatible
    assert any(problem in p for p in evolution.problems), evolution.problems
    assert all("\n" not in p for p in evolution.problems)


def test_relaxed_rules_and_publishing_are_compatible_changes():
    relaxed = version(fields=tuple(
        dataclasses.replace(f, required=False) if f.name == "shipping_distance"
        else dataclasses.replace(f, pii=False) if f.name == "street_address"
        else dataclasses.replace(f, maximum=2e9) if f.name == "shipping_cost" else f
        for f in SHIPPING.fields))
    evolution = compare(SHIPPING, relaxed)
    assert evolution.compatible
    assert set(evolution.changes) == {"shipping_distance becomes optional", "publishes street_address (no longer PII)",
                                      "shipping_cost maximum 1000000000 -> 2000000000.0"}


@pytest.mark.parametrize(("old", "new", "ok"), [
    ("int", "bigint", True), ("bigint", "int", False), ("bigint", "double", False), ("double", "bigint", False),
    ("decimal(10,2)", "decimal(12,2)", True), ("decimal(10,2)", "decimal(12,3)", False),
    ("decimal(10,2)", "decimal(8,2)", False), ("string", "string", True), ("date", "string", False),
])
def test_widening_follows_icebergs_type_promotions(old, new, ok):
    assert widens(old, new) is ok
