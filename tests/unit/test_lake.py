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
    assert lake.local_uri("s3://raw/") == (tmp_path / "raw").resolve().as_uri() + "/"
    assert lake.local_uri("s3://landing/shipping/a b.json").endswith("/landing/shipping/a%20b.json")
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
