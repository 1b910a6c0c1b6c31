"""The local lake never reads or writes outside its root: hostile keys, S3 URIs, symlinks and S3 events.

Every lake call either answers with a path inside the bucket it names (after resolving symlinks) or
raises LakePathError with a one-line message; nothing else escapes (no ValueError, RuntimeError or
OSError from the file system layer). The end-to-end checks run the real ASL on the local runtime
without Spark: a run for a hostile key must fail before any job touches a file.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus, urlparse

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from etl.commits import local_path
from etl.config import LocalSettings
from etl.errors import LakePathError, TaskFailedError
from etl.events import RunRequest, plan_run, sources_from_s3_event
from etl.local.lake import BUCKETS, LANDING, RAW, Lake
from etl.local.runtime import LocalRuntime

SECRET = b"outside-the-lake: this must never be read by the pipeline\n"
PROPERTY = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

# Pieces of keys that have escaped file stores before, plus the names of the links the fixture plants.
HOSTILE_PARTS = [
    "..", ".", "", "...", "../..", "..\\..", "\\", "%2e%2e", "%2E%2E%2F", "..%2F", "%00", "%252e%252e", "~",
    "/etc/passwd", "//", "\x00", "a\x00b", "\ud800", "\udcff", "é", "\u202e", "\uff0e\uff0e", "\u2025", "\ufeff",
    " ", "+", "x" * 255, "y" * 256, "é" * 128, "C:\\Windows", "\\\\server\\share", "file:", "s3:",
    "out_dir", "out_file.json", "loop", "to_raw", "inside", "shipping", "real.json",
]
PARTS = st.sampled_from(HOSTILE_PARTS) | st.text(max_size=12)
KEYS = st.lists(PARTS, max_size=6).map("/".join) | st.lists(PARTS, max_size=4).map("".join)
BUCKET_NAMES = st.sampled_from(BUCKETS) | st.sampled_from(["", ".", "..", "_system", "landing/..", "/"]) | st.text(
    max_size=8
)


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> tuple[Lake, Path]:
    """A lake whose landing bucket holds links out of the bucket, a loop and a link into another bucket."""
    base = tmp_path_factory.mktemp("lake-security")
    outside = base / "outside"
    (outside / "dir").mkdir(parents=True)
    (outside / "secret.json").write_bytes(SECRET)
    (outside / "dir" / "secret.json").write_bytes(SECRET)
    lake = Lake(base / "lake")
    lake.ensure()
    landing = lake.root / LANDING
    (landing / "shipping").mkdir()
    (landing / "shipping" / "real.json").write_bytes(b'{"shipping_id": 1}\n')
    (lake.root / RAW / "raw-only.json").write_bytes(b"raw\n")
    os.symlink(outside / "dir", landing / "out_dir")
    os.symlink(outside / "secret.json", landing / "out_file.json")
    os.symlink(outside / "dir", landing / "shipping" / "out_dir")
    os.symlink(outside / "secret.json", landing / "shipping" / "out_file.json")
    os.symlink(landing / "loop", landing / "loop")
    os.symlink(lake.root / RAW / "raw-only.json", landing / "shipping" / "to_raw")
    os.symlink(landing / "shipping", landing / "inside")  # stays in the bucket: allowed
    return lake, outside


def inside(path: Path, folder: Path) -> bool:
    real = Path(os.path.realpath(path))
    return real == folder or folder in real.parents


def assert_one_line_refusal(error: LakePathError) -> None:
    message = str(error)
    assert message and "\n" not in message and "\r" not in message, message


@PROPERTY
@given(bucket=BUCKET_NAMES, key=KEYS)
def test_lake_path_stays_in_its_bucket_or_refuses(planted: tuple[Lake, Path], bucket: str, key: str) -> None:
    lake, _ = planted
    try:
        path = lake.path(bucket, key)
    except LakePathError as error:
        assert_one_line_refusal(error)
        return
    assert bucket in BUCKETS
    assert inside(path, lake.root / bucket), (bucket, key, path)


@PROPERTY
@given(bucket=BUCKET_NAMES, key=KEYS, trailing_slash=st.booleans())
def test_local_uri_maps_s3_uris_into_the_lake_or_refuses(
    planted: tuple[Lake, Path], bucket: str, key: str, trailing_slash: bool
) -> None:
    lake, _ = planted
    uri = f"s3://{bucket}/{key}" + ("/" if trailing_slash else "")
    try:
        local = lake.local_uri(uri)
    except LakePathError as error:
        assert_one_line_refusal(error)
        return
    assert urlparse(local).scheme == "file", local
    path = local_path(local)  # file URIs name paths literally, as Hadoop reads them
    assert path is not None and inside(path, lake.root), (uri, local)


def test_symlinks_under_landing_are_not_followed_out_of_the_lake(
    planted: tuple[Lake, Path], caplog: pytest.LogCaptureFixture
) -> None:
    lake, _ = planted
    with caplog.at_level(logging.WARNING, logger="etl.local.lake"):
        objects = list(lake.landing_objects())
    keys = {obj.key for obj in objects}
    assert "shipping/real.json" in keys
    assert not keys & {"out_file.json", "shipping/out_file.json", "shipping/to_raw"}
    assert not any(key.startswith(("out_dir/", "shipping/out_dir/", "loop")) for key in keys)
    for obj in objects:
        assert inside(lake.path(LANDING, obj.key), lake.root / LANDING)
    skipped = [r.getMessage() for r in caplog.records if "skipped" in r.getMessage()]
    assert any("out_file.json" in message for message in skipped), skipped


@pytest.mark.parametrize(
    "key", ["out_file.json", "out_dir/secret.json", "shipping/out_dir/secret.json", "shipping/to_raw", "loop/x"]
)
def test_a_link_out_of_the_bucket_is_refused_by_key(planted: tuple[Lake, Path], key: str) -> None:
    lake, _ = planted
    with pytest.raises(LakePathError) as caught:
        lake.landing_object(key)
    assert_one_line_refusal(caught.value)


def test_a_link_that_stays_in_the_bucket_is_allowed(planted: tuple[Lake, Path]) -> None:
    lake, _ = planted
    assert lake.path(LANDING, "inside/real.json") == lake.path(LANDING, "shipping/real.json")


@pytest.mark.parametrize(
    "key",
    ["a\x00b.json", "loop", "x" * 256, "\ud800.json", "../x", "/etc/passwd"],
    ids=["nul", "symlink-loop", "long-segment", "lone-surrogate", "dotdot", "absolute"],
)
def test_refusals_are_lake_path_errors_naming_the_key(planted: tuple[Lake, Path], key: str) -> None:
    lake, _ = planted
    with pytest.raises(LakePathError) as caught:
        lake.path(LANDING, key)
    assert_one_line_refusal(caught.value)
    assert repr(key)[1:20] in str(caught.value)


def test_an_unknown_bucket_is_named_in_the_refusal(planted: tuple[Lake, Path]) -> None:
    lake, _ = planted
    with pytest.raises(LakePathError, match=r"'\.\.' is not a bucket of the lake"):
        lake.path("..", "x")


# --- the S3 event path: hostile keys as S3 would URL-encode them -------------------------------------

ESCAPES = [
    "shipping/../../../outside/secret.json",
    "shipping/..%2F..%2F..%2Foutside%2Fsecret.json",
    "shipping/%2E%2E/%2E%2E/%2E%2E/outside/secret.json",
    "shipping/a+b/../../../../outside/secret.json",
    "shipping/..%5C..%5C..%5Coutside%5Csecret.json",
    "shipping/out_file.json",
    "shipping/out_dir/secret.json",
    "shipping/to_raw",
    "shipping/%00.json",
    "%2F..%2Foutside%2Fsecret.json",
    "..%2Foutside%2Fsecret.json",
]


def s3_event(bucket: str, encoded_keys: list[str]) -> dict[str, Any]:
    return {
        "Records": [
            {
                "eventSource": "aws:s3",
                "eventName": "ObjectCreated:Put",
                "eventTime": "2026-01-01T00:00:00.000Z",
                "s3": {"bucket": {"name": bucket}, "object": {"key": key, "size": 1, "eTag": f"etag{i}"}},
            }
            for i, key in enumerate(encoded_keys)
        ]
    }


@given(st.lists(PARTS, min_size=1, max_size=5).map("/".join))
def test_event_keys_are_decoded_like_s3_encodes_them(key: str) -> None:
    assume(not any("\ud800" <= char <= "\udfff" for char in key))  # S3 keys are UTF-8: no lone surrogates
    encoded = quote_plus(key, safe="/")
    [source], bad = sources_from_s3_event(s3_event(LANDING, [encoded]))
    assert bad == [] and source.key == key


@pytest.fixture
def runtime(planted: tuple[Lake, Path]) -> tuple[LocalRuntime, list[str]]:
    lake, _ = planted
    spark_calls: list[str] = []

    def no_spark() -> Any:
        spark_calls.append("spark")
        raise AssertionError("a run for a hostile key reached a Glue job")

    settings_ = LocalSettings.resolve(lake_root=lake.root, wait_scale=0.001)
    return LocalRuntime(settings_, spark=no_spark), spark_calls


def lake_bytes(root: Path) -> list[bytes]:
    """Every regular file's content under the lake root, without following links out of it."""
    contents = []
    for folder, _, files in os.walk(root):
        for name in files:
            path = Path(folder) / name
            if not path.is_symlink() and path.is_file():
                contents.append(path.read_bytes())
    return contents


def test_hostile_event_keys_never_start_a_run_that_reads_outside_the_lake(
    planted: tuple[Lake, Path], runtime: tuple[LocalRuntime, list[str]]
) -> None:
    lake, outside = planted
    local, spark_calls = runtime
    sources, bad = sources_from_s3_event(s3_event(LANDING, ESCAPES))
    assert bad == [] and len(sources) == len(ESCAPES)
    planned = [plan_run(source) for source in sources]
    report = local.process_landing(objects=sources)
    assert not report.failed, report.failed
    started = {item["run_id"] for item in report.started}
    assert started == {p.run_id for p in planned if isinstance(p, RunRequest)}
    assert started, "no hostile key reached a run: the end-to-end check tested nothing"
    for run_id in started:
        record = local.runs.get(run_id)
        assert record is not None and record.status == "FAILED", record
        assert record.error == "PipelineStepFailed" and record.cause.startswith("States.TaskFailed: ")
    assert spark_calls == []  # refused before any job started
    assert not any(SECRET in content for content in lake_bytes(lake.root))
    for note in local.outbox.list():
        assert note.body["status"] == "FAILED"
        assert SECRET.decode().strip() not in note.message
    assert (outside / "secret.json").read_bytes() == SECRET
    assert sorted(p.name for p in outside.rglob("*")) == ["dir", "secret.json", "secret.json"]


@PROPERTY
@given(key=KEYS)
def test_s3_get_object_never_reads_outside_its_bucket(
    planted: tuple[Lake, Path], runtime: tuple[LocalRuntime, list[str]], key: str
) -> None:
    lake, _ = planted
    local, _ = runtime
    for hostile in (key, "_runs/" + key, "_runs/" + quote(key, errors="surrogatepass")):
        try:
            answer = local.services.s3_get_object({"Bucket": RAW, "Key": hostile}, None)  # type: ignore[arg-type]
        except TaskFailedError as error:
            assert error.error in ("S3.S3Exception", "S3.NoSuchKeyException"), error
            if error.error == "S3.S3Exception":  # a lake refusal: its one-line message
                assert "\n" not in error.cause
            continue
        assert inside(lake.path(RAW, hostile), lake.root / RAW)
        assert answer["Body"].encode() != SECRET


@pytest.mark.parametrize("key", ["../landing/out_file.json", "../../outside/secret.json", "a\x00", "x" * 300])
def test_s3_get_object_refuses_keys_out_of_the_bucket_as_s3_errors(
    runtime: tuple[LocalRuntime, list[str]], key: str
) -> None:
    local, _ = runtime
    with pytest.raises(TaskFailedError) as caught:
        local.services.s3_get_object({"Bucket": RAW, "Key": key}, None)  # type: ignore[arg-type]
    assert caught.value.error == "S3.S3Exception"
    assert json.dumps(caught.value.cause).count("\\n") == 0
