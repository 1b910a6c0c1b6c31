import re
from pathlib import Path

import pytest

from conftest import load_event
from etl.events import RunRequest, Skipped, SourceObject, plan_run, run_id_for, skip_reason, sources_from_s3_event


def test_s3_event_keys_are_url_decoded_and_markers_skipped():
    sources, bad = sources_from_s3_event(load_event("s3_put.json"))
    assert bad == []
    assert [s.key for s in sources] == [
        "shipping/shipping_data 2024 été.json",
        "shipping/",
        "shipping_data.json-2024-01-15-10-30.json",
    ]
    plans = [plan_run(s) for s in sources]
    assert isinstance(plans[0], RunRequest) and plans[0].dataset == "shipping"
    assert plans[1] == Skipped("shipping/", "folder marker")
    # seed-style producer keys at the bucket root belong to the default dataset
    assert isinstance(plans[2], RunRequest) and plans[2].dataset == "shipping"


def test_malformed_record_is_reported_not_dropped():
    event = load_event("s3_put.json")
    del event["Records"][0]["s3"]["object"]["key"]
    sources, bad = sources_from_s3_event(event)
    assert len(sources) == 2
    assert len(bad) == 1 and "record 0" in bad[0].reason


def test_eventbridge_object_created_is_understood():
    event = {
        "detail-type": "Object Created",
        "time": "2024-01-15T10:30:00Z",
        "detail": {"bucket": {"name": "b"}, "object": {"key": "shipping/a+b c.json", "size": 3, "etag": "e"}},
    }
    sources, bad = sources_from_s3_event(event)
    assert bad == [] and sources[0].key == "shipping/a+b c.json"


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        ("shipping/", "folder marker"),
        ("shipping/.DS_Store", "hidden or system file"),
        ("shipping/_SUCCESS", "hidden or system file"),
        ("shipping/x.json.tmp", "temporary file"),
        ("shipping/x.json", None),
        ("shipping_data.json-2024-01-15-10-30.json", None),
        ("shipping/x..json", None),  # dots in a name are fine; only a whole ".." segment leaves a folder
    ],
)
def test_skip_reason(key, reason):
    assert skip_reason(key) == reason


@pytest.mark.parametrize("key", ["shipping/../../outside.json", "shipping/./x.json", "shipping//x.json", "../x.json"])
def test_keys_with_dot_or_empty_segments_are_refused(key):
    assert "'..' path segment" in (skip_reason(key) or "")


def test_an_unknown_prefix_is_a_run_that_carries_its_refusal():
    source = SourceObject("b", "vehicles/2024/x.json", etag='"e1"')
    plan = plan_run(source)
    assert isinstance(plan, RunRequest)
    assert plan.dataset == "vehicles" and plan.run_id == run_id_for(source, "vehicles")
    refusal = plan.execution_input()["refusal"]
    assert refusal["Error"] == "UnknownDataset"
    assert refusal["Cause"].startswith("vehicles/2024/x.json: no dataset reads the prefix vehicles/ ")
    assert "shipping/" in refusal["Cause"] and '"landing_prefix": "vehicles/"' in refusal["Cause"]
    # the same object is the same run (not taken again); a changed object is a new one
    assert plan_run(source).run_id == plan.run_id
    assert plan_run(SourceObject("b", source.key, etag='"e2"')).run_id != plan.run_id  # type: ignore[union-attr]


def test_a_known_prefix_carries_no_refusal():
    plan = plan_run(SourceObject("b", "shipping/x.json"))
    assert isinstance(plan, RunRequest) and "refusal" not in plan.execution_input()


def test_run_id_is_deterministic_valid_execution_name_and_tracks_identity():
    source = SourceObject("bucket", "shipping/" + "é" * 50 + " weird name!.json", etag='"abc"')
    run_id = run_id_for(source, "shipping")
    assert run_id == run_id_for(source, "shipping")
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,80}", run_id)
    assert run_id != run_id_for(SourceObject("bucket", source.key, etag='"abd"'), "shipping")
    assert run_id != run_id_for(SourceObject("bucket", source.key, etag='"abc"', version_id="v2"), "shipping")
    # S3 quotes ETags in some APIs and not in others: same object, same id
    assert run_id == run_id_for(SourceObject("bucket", source.key, etag="abc"), "shipping")


def test_execution_input_carries_source_identity():
    request = plan_run(SourceObject("b", "shipping/x.json", size=3, etag="e", event_time="2024-01-01T00:00:00Z"))
    assert isinstance(request, RunRequest)
    payload = request.execution_input()
    assert payload["run_id"] == request.run_id
    assert payload["source"] == {
        "bucket": "b", "key": "shipping/x.json", "size": 3, "etag": "e", "version_id": None,
        "event_time": "2024-01-01T00:00:00Z",
    }
    # The dataset's summary query travels with the run, as the file holds it (one statement, no semicolon).
    sql = (Path(__file__).resolve().parents[2] / "src/etl/datasets/shipping/queries/shipping_totals.sql").read_text()
    assert payload["summary_query"] == {"name": "shipping_totals", "sql": sql.strip().rstrip(";").strip()}
