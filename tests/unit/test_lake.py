import pytest

from etl.errors import LakePathError
from etl.local.lake import Lake


@pytest.mark.parametrize("key", ["../processed/x", "shipping/../../raw/x", "/etc/passwd", "a/../../b"])
def test_keys_cannot_escape_their_bucket(tmp_path, key):
    lake = Lake(tmp_path)
    with pytest.raises(LakePathError):
        lake.path("landing", key)


def test_s3_uris_map_into_the_lake(tmp_path):
    lake = Lake(tmp_path)
    assert lake.local_uri("s3://raw/") == "file://" + (tmp_path / "raw").resolve().as_posix() + "/"
    # Hadoop takes a URI's path literally: a percent-encoded name would be another file.
    assert lake.local_uri("s3://landing/shipping/a b%20c.json").endswith("/landing/shipping/a b%20c.json")
    with pytest.raises(LakePathError):
        lake.local_uri("s3://elsewhere/x")


def test_landing_objects_carry_s3_like_identity(tmp_path):
    lake = Lake(tmp_path)
    lake.ensure()
    (tmp_path / "landing" / "shipping").mkdir()
    (tmp_path / "landing" / "shipping" / "a.json").write_bytes(b"{}\n")
    [obj] = list(lake.landing_objects())
    assert (obj.bucket, obj.key, obj.size) == ("landing", "shipping/a.json", 3)
    assert obj.etag == "8a80554c91d9fca8acb82f023de02f11"  # md5 of the content, like a single-part S3 ETag


def test_a_landing_file_is_taken_once_unchanged_between_scans_and_settled(tmp_path):
    from etl.local.watcher import stable_files

    path = tmp_path / "a.json"
    second = 1_000_000_000
    written = 100 * second
    before, after = {path: (10, written)}, {path: (20, written + second)}
    assert stable_files(before, after, now_ns=written + 5 * second, settle=1.0) == []  # still growing
    assert stable_files(after, after, now_ns=written + second + second // 2, settle=1.0) == []  # paused 0.5 s
    assert stable_files(after, after, now_ns=written + 2 * second, settle=1.0) == [path]
    assert stable_files({}, after, now_ns=written + 9 * second, settle=1.0) == []  # seen once only


@pytest.mark.parametrize("name", ["a b.json", "100%.json", "a%20b.json", "x#1?.json", "Zoë [1] {x}.json"])
def test_file_uris_round_trip_names_as_hadoop_reads_them(tmp_path, name):
    from etl.commits import file_uri, local_path

    path = (tmp_path / name).resolve()
    uri = file_uri(path)
    assert uri == "file://" + path.as_posix()
    assert local_path(uri) == path
    assert local_path("file://localhost" + path.as_posix()) == path
    assert local_path(path.as_posix()) == path
    assert local_path("s3://bucket/key") is None
