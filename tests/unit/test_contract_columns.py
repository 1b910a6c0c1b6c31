"""Column names from producers' headers, and the contract's types and rules for them."""

import pytest

from etl.contracts import column_name, decimal_precision, problems


def _raw(**changes):
    base = {
        "dataset": "d", "version": 1, "landing_prefix": "d/", "accepted_formats": ["jsonl"],
        "date_format": "yyyy/MM/dd",
        "fields": [{"name": "id", "type": "bigint", "required": True}, {"name": "day", "type": "date"}],
        "primary_key": ["id"], "partition_columns": [{"name": "year", "source": "day", "format": "yyyy"}],
        "summary_query": "totals",
    }
    return {**base, **changes}


@pytest.mark.parametrize(
    ("source", "name"),
    [
        ("VIN (1-10)", "vin_1_10"),
        ("Clean Alternative Fuel Vehicle (CAFV) Eligibility", "clean_alternative_fuel_vehicle_cafv_eligibility"),
        ("2020 Census Tract", "n_2020_census_tract"),
        ("  Postal Code ", "postal_code"),
        ("DOL Vehicle ID", "dol_vehicle_id"),
        ("already_snake", "already_snake"),
        ("Électric--Range__km", "lectric_range_km"),
        ("__x__", "x"),
        ("n_2020_census_tract", "n_2020_census_tract"),
    ],
)
def test_the_column_name_rule(source, name):
    assert column_name(source) == name
    assert column_name(name) == name  # a column name is its own column name


def test_a_field_with_only_a_source_is_named_by_the_rule_and_names_must_be_unique_and_valid():
    fields = [{"source": "DOL Vehicle ID", "type": "bigint", "required": True}, {"name": "day", "type": "date"}]
    assert problems("d", _raw(fields=fields, primary_key=["dol_vehicle_id"]), queries={"totals"}) == []
    clash = [*fields, {"source": "dol vehicle-id", "type": "string"}]
    found = problems("d", _raw(fields=clash, primary_key=["dol_vehicle_id"]), queries={"totals"})
    assert "field names are not unique: dol_vehicle_id" in found
    bad = [*fields, {"name": "Make", "type": "string"}]
    found = problems("d", _raw(fields=bad, primary_key=["dol_vehicle_id"]), queries={"totals"})
    assert found == ["field name 'Make' is not lowercase snake_case; use 'make'"]


@pytest.mark.parametrize("field_type", ["boolean", "int", "bigint", "double", "decimal(10,2)", "decimal(38, 0)",
                                        "string", "date"])
def test_the_types_a_contract_declares(field_type):
    fields = [{"name": "id", "type": "bigint", "required": True}, {"name": "day", "type": "date"},
              {"name": "v", "type": field_type}]
    assert problems("d", _raw(fields=fields), queries={"totals"}) == []


@pytest.mark.parametrize(
    ("field", "message"),
    [
        ({"name": "v", "type": "decimal(2,5)"}, "has type 'decimal(2,5)'"),
        ({"name": "v", "type": "decimal(39,0)"}, "has type 'decimal(39,0)'"),
        ({"name": "v", "type": "timestamp"}, "a timestamp field needs a 'format'"),
        ({"name": "v", "type": "string", "format": "yyyy"}, "only a date or timestamp field takes a 'format'"),
        ({"name": "v", "type": "string", "allowed": []}, "'allowed' must be a non-empty list"),
        ({"name": "v", "type": "string", "pattern": "("}, "'pattern' is not a regular expression"),
    ],
)
def test_bad_rules_are_refused_with_the_reason(field, message):
    fields = [{"name": "id", "type": "bigint", "required": True}, {"name": "day", "type": "date"}, field]
    found = problems("d", _raw(fields=fields), queries={"totals"})
    assert any(message in problem for problem in found), found


def test_csv_options_and_partitions_by_a_plain_field():
    fields = [{"name": "id", "type": "bigint", "required": True}, {"name": "model_year", "type": "int"}]
    raw = _raw(fields=fields, date_format="yyyy-MM-dd", accepted_formats=["csv", "gzip"],
               csv={"delimiter": ";", "quote": "'"},
               partition_columns=[{"name": "year", "source": "model_year"}])
    assert problems("d", raw, queries={"totals"}) == []
    assert problems("d", {**raw, "csv": {"delimiter": ";;"}}, queries={"totals"}) == [
        "csv 'delimiter' must be one character"]
    assert problems("d", {**raw, "accepted_formats": ["jsonl"]}, queries={"totals"}) == [
        "'csv' options are given but 'csv' is not in accepted_formats"]
    assert problems("d", {**raw, "partition_columns": [{"name": "model_year", "source": "model_year"}]},
                    queries={"totals"}) == ["partition 'model_year' has the name of a field; give it another name"]
    assert decimal_precision("decimal(10, 2)") == (10, 2) and decimal_precision("double") is None

