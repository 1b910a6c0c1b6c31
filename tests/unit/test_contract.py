import pytest

from etl.contracts import _parse, available_datasets, load_contract
from etl.errors import ContractError


def test_shipping_contract_declares_key_pii_partitions_and_formats():
    contract = load_contract("shipping")
    assert contract.primary_key == ("shipping_id",)
    assert "customer_name" in contract.pii_fields
    assert "customer_name" not in [f.name for f in contract.published_fields]
    assert [(p.name, p.source, p.format) for p in contract.partition_columns] == [
        ("year", "shipping_date", "yyyy"),
        ("month", "shipping_date", "MM"),
    ]
    assert set(contract.accepted_formats) == {"jsonl", "json_array", "gzip"}
    assert contract.date_format == "yyyy/MM/dd"
    assert contract.landing_prefix == "shipping/"
    assert contract.default_for_root_keys
    assert not contract.field("product_id").required
    assert contract.field("shipping_cost").type == "double"


def test_unknown_dataset_names_the_known_ones():
    with pytest.raises(ContractError, match="known datasets: shipping"):
        load_contract("nope")
    assert available_datasets() == ["shipping"]


def _raw(**changes):
    base = {
        "dataset": "d",
        "version": 1,
        "landing_prefix": "d/",
        "accepted_formats": ["jsonl"],
        "date_format": "yyyy/MM/dd",
        "fields": [{"name": "id", "type": "bigint", "required": True}, {"name": "day", "type": "date"}],
        "primary_key": ["id"],
        "partition_columns": [{"name": "year", "source": "day", "format": "yyyy"}],
    }
    base.update(changes)
    return base


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"fields": [{"name": "id", "type": "int", "required": True}]}, "has type 'int'"),
        ({"primary_key": ["day"]}, "primary key 'day' must be a required field"),
        ({"partition_columns": [{"name": "y", "source": "id", "format": "yyyy"}]}, "must derive from a date"),
        ({"accepted_formats": ["csv"]}, "unknown formats"),
        ({"landing_prefix": "d"}, "must end with '/'"),
        ({"dataset": "other"}, "declares dataset 'other'"),
    ],
)
def test_invalid_contracts_are_refused_with_the_reason(changes, message):
    with pytest.raises(ContractError, match=message):
        _parse("d", _raw(**changes))
