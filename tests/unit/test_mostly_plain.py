"""mostly_plain: whether a JSON Lines file's first lines look like lines the quick yes passes.

It decides only how json_to_parquet checks the file (the quick yes first, the full check for the lines it
holds back; or the full check in one pass), never what loads: the functional tests hold both ways to the same
results.
"""

from __future__ import annotations

import json

import pytest

from etl.contracts import load_contract
from etl.transforms import HELD_SHARE_UP_TO, mostly_plain

CONTRACT = load_contract("shipping")
RECORD = {"shipping_id": 1, "shipping_date": "2024/01/15", "customer_name": "Ann", "destination_city": "main_city",
          "shipping_cost": 15.0, "shipping_distance": 5.0, "quantity": 25.0}


def head(lines: list[str], cut: str = '{"shipping_id": 9') -> str:
    return "\n".join([*lines, cut])  # a head ends inside a line: that line is not judged


@pytest.mark.parametrize("line", [
    json.dumps({**RECORD, "product_id": None}),  # an explicit null
    json.dumps({**RECORD, "customer_name": "Ann: the elder"}),  # a ':' in a text
    json.dumps({**RECORD, "customer_name": "A {b}"}),  # a '}' in a text
    json.dumps({**RECORD, "note": "x"}),  # a field beyond the contract
    " " + json.dumps(RECORD),  # space around the object
    "[1, 2]",
    '{"shipping_id": 1',
])
def test_lines_the_quick_yes_does_not_pass_are_not_plain(line):
    assert mostly_plain(head([json.dumps(RECORD)] * 10), CONTRACT)
    assert not mostly_plain(head([line] * 10), CONTRACT)


def test_a_few_other_lines_among_plain_ones_still_count_as_mostly_plain():
    plain = [json.dumps({**RECORD, "shipping_id": i}) for i in range(1, 201)]
    allowed = int(HELD_SHARE_UP_TO * len(plain))
    assert mostly_plain(head(plain[allowed:] + ["not json"] * allowed), CONTRACT)
    assert not mostly_plain(head(plain[allowed + 1:] + ["not json"] * (allowed + 1)), CONTRACT)


def test_blank_lines_and_an_empty_head_do_not_count():
    assert mostly_plain(head([json.dumps(RECORD), "", "  ", json.dumps(RECORD)]), CONTRACT)
    assert mostly_plain("", CONTRACT)
