"""Which write mode a landing key asks for: the operation folder under the dataset's prefix, where its
contract allows it, else the contract's write_mode; a folder naming an operation the contract does not
allow is refused with a cause that says what is allowed and how to change it."""

from __future__ import annotations

import pytest

from etl.contracts import problems
from etl.events import OPERATION_NOT_ALLOWED, RunRequest, SourceObject, plan_run

USERS = {
    "dataset": "members", "version": 1, "landing_prefix": "members/", "accepted_formats": ["jsonl"],
    "date_format": "yyyy-MM-dd",
    "fields": [{"name": "username", "type": "string", "required": True},
               {"name": "joined", "type": "date", "required": True}],
    "primary_key": [], "partition_columns": [{"name": "year", "source": "joined", "format": "yyyy"}],
    "summary_query": "members", "write_mode": "append", "allowed_operations": ["append", "truncate"],
}


@pytest.fixture
def members(add_dataset):
    add_dataset(USERS, {"members": "SELECT count(*) AS members FROM processed_members"})


@pytest.mark.parametrize(("key", "mode"), [
    ("members/append/2024-01.json", "append"),
    ("members/truncate/all.json", "overwrite"),
    ("members/today.json", "append"),  # no operation folder: the contract's write_mode
    ("members/2024/today.json", "append"),  # a folder that names no operation is just a folder
])
def test_the_operation_folder_or_the_contract_decides_the_write_mode(members, key, mode):
    request = plan_run(SourceObject("landing", key, size=10, etag="e"))
    assert isinstance(request, RunRequest) and request.refusal is None
    assert request.write_mode == mode
    payload = request.execution_input()
    assert payload["write_mode"] == mode
    assert payload["summary_query"]["name"] == "members"


@pytest.mark.parametrize(("key", "operation"), [("members/upsert/x.json", "upsert"),
                                                 ("shipping/truncate/x.json", "truncate")])
def test_an_operation_the_contract_does_not_allow_is_refused_with_the_way_out(members, key, operation):
    request = plan_run(SourceObject("landing", key, size=10, etag="e"))
    assert isinstance(request, RunRequest) and request.refusal is not None
    assert request.refusal["Error"] == OPERATION_NOT_ALLOWED
    cause = request.refusal["Cause"]
    assert f"does not allow the operation {operation!r}" in cause and "allowed_operations" in cause
    assert "\n" not in cause
    assert "write_mode" not in request.execution_input()  # a refused run never reaches normalize


@pytest.mark.parametrize(("changes", "message"), [
    ({"write_mode": "merge"}, "write_mode 'merge' is not one of upsert, append, overwrite"),
    ({"allowed_operations": ["delete"]}, "allowed_operations must be a list of upsert, append, truncate"),
    ({"allowed_operations": ["upsert"]}, "an upsert (the write_mode or an allowed operation) needs a primary_key"),
    ({"write_mode": "upsert"}, "needs a primary_key"),
])
def test_write_modes_are_checked_in_the_contract(changes, message):
    found = problems("members", {**USERS, **changes}, queries={"members"})
    assert any(message in problem for problem in found), found
