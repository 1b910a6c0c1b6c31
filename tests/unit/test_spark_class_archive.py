"""The class data sharing archive that speeds up the local Spark JVM: created once, adopted only when
a JVM starts with it (a truncated one would crash every later JVM), and easy to switch off."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pyspark
import pytest

from etl import spark as local_spark

pytestmark = pytest.mark.skipif(shutil.which("java") is None, reason="needs java (Spark needs it too)")


def dead_pid() -> int:
    finished = subprocess.Popen(["true"])
    finished.wait()
    return finished.pid


def archive_name(tmp_path: Path) -> str:
    """The final archive path the options name once an archive exists (from the options' own text)."""
    options = local_spark.class_archive_options(tmp_path)
    created = options.split()[0].split("=", 1)[1]
    return created.rsplit(".", 2)[0]


def write_real_archive(target: Path) -> None:
    """What a JVM writes at exit: a small but real dynamic archive with Spark's class path."""
    home = Path(pyspark.__file__).parent
    subprocess.run(["java", f"-XX:ArchiveClassesAtExit={target}", *local_spark._QUIET_CDS.split(),
                    *local_spark.JVM_OPTIONS.split(), "-cp", f"{home / 'conf'}:{home / 'jars'}/*", "-version"],
                   check=True, capture_output=True)


def test_switched_off_by_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv(local_spark.CLASS_ARCHIVE_ENV, "off")
    assert local_spark.class_archive_options(tmp_path) == ""


def test_without_an_archive_this_jvm_writes_one_under_a_name_of_its_own(tmp_path, monkeypatch):
    monkeypatch.delenv(local_spark.CLASS_ARCHIVE_ENV, raising=False)
    options = local_spark.class_archive_options(tmp_path)
    assert options.startswith("-XX:ArchiveClassesAtExit=")
    assert options.split()[0].endswith(f".jsa.{os.getpid()}.tmp")
    assert "-Xlog:cds*=off" in options  # no archive warnings on the console


def test_a_finished_archive_is_adopted_and_then_mapped(tmp_path, monkeypatch):
    monkeypatch.delenv(local_spark.CLASS_ARCHIVE_ENV, raising=False)
    final = Path(archive_name(tmp_path))
    write_real_archive(Path(f"{final}.{dead_pid()}.tmp"))
    assert local_spark.class_archive_options(tmp_path).startswith(f"-XX:SharedArchiveFile={final} ")
    assert final.is_file() and not list(tmp_path.glob("*.tmp"))


def test_a_truncated_archive_is_discarded_not_adopted(tmp_path, monkeypatch):
    monkeypatch.delenv(local_spark.CLASS_ARCHIVE_ENV, raising=False)
    final = Path(archive_name(tmp_path))
    whole = tmp_path / "whole.jsa"
    write_real_archive(whole)
    Path(f"{final}.{dead_pid()}.tmp").write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    options = local_spark.class_archive_options(tmp_path)
    assert options.startswith("-XX:ArchiveClassesAtExit=")  # a new one will be written instead
    assert not final.exists()
    assert [p.name for p in tmp_path.glob("*.jsa.*.tmp")] == []


def test_an_archive_still_being_written_is_left_alone(tmp_path, monkeypatch):
    monkeypatch.delenv(local_spark.CLASS_ARCHIVE_ENV, raising=False)
    final = Path(archive_name(tmp_path))
    writing = Path(f"{final}.{os.getppid()}.tmp")  # a live process: our parent
    writing.write_bytes(b"partial")
    local_spark.class_archive_options(tmp_path)
    assert writing.exists() and not final.exists()


def test_finished_archives_beyond_the_first_are_deleted(tmp_path, monkeypatch):
    monkeypatch.delenv(local_spark.CLASS_ARCHIVE_ENV, raising=False)
    final = Path(archive_name(tmp_path))
    for _ in range(2):
        write_real_archive(Path(f"{final}.{dead_pid()}.tmp"))
    assert local_spark.class_archive_options(tmp_path).startswith(f"-XX:SharedArchiveFile={final} ")
    assert final.is_file() and not list(tmp_path.glob("*.tmp"))


def test_the_archive_records_the_installation_it_is_for(tmp_path, monkeypatch):
    monkeypatch.delenv(local_spark.CLASS_ARCHIVE_ENV, raising=False)
    final = Path(archive_name(tmp_path))
    source = final.with_name(final.name + ".spark-home")
    assert source.read_text(encoding="utf-8") == str(Path(pyspark.__file__).resolve().parent)


def test_archives_of_removed_installations_are_deleted_and_others_kept(tmp_path, monkeypatch):
    monkeypatch.delenv(local_spark.CLASS_ARCHIVE_ENV, raising=False)
    removed, installed = tmp_path / "removed-venv" / "pyspark", tmp_path / "other-venv" / "pyspark"
    installed.mkdir(parents=True)
    gone = tmp_path / "spark-classes-aaaaaaaaaaaaaaaa.jsa"
    kept = tmp_path / "spark-classes-bbbbbbbbbbbbbbbb.jsa"
    unknown = tmp_path / "spark-classes-cccccccccccccccc.jsa"  # written before installations were recorded
    for archive, home in ((gone, removed), (kept, installed), (unknown, None)):
        archive.write_bytes(b"archive")
        Path(f"{archive}.{dead_pid()}.tmp").write_bytes(b"unfinished")
        if home is not None:
            Path(f"{archive}.spark-home").write_text(str(home), encoding="utf-8")

    local_spark.class_archive_options(tmp_path)

    assert not gone.exists() and not list(tmp_path.glob(f"{gone.name}*"))
    assert kept.is_file() and Path(f"{kept}.spark-home").is_file() and list(tmp_path.glob(f"{kept.name}.*.tmp"))
    assert unknown.is_file() and list(tmp_path.glob(f"{unknown.name}.*.tmp"))


def test_an_archive_is_for_the_jars_on_the_class_path_as_they_are(tmp_path, monkeypatch):
    """The JVM maps an archive only while the jars it was written with are unchanged: a rebuilt jar needs a new one."""
    monkeypatch.delenv(local_spark.CLASS_ARCHIVE_ENV, raising=False)
    jar = tmp_path / "jars" / "etl-spark-ext.jar"
    jar.parent.mkdir()
    jar.write_bytes(b"first build")
    cache = tmp_path / "cache"
    first = local_spark.class_archive_options(cache, class_path=[str(jar)]).split()[0].split("=", 1)[1]
    assert local_spark.class_archive_options(cache).split()[0].split("=", 1)[1].rsplit(".", 2)[0] != \
        first.rsplit(".", 2)[0]  # without the jar: another archive
    final = Path(first.rsplit(".", 2)[0])
    assert Path(f"{final}.jars").read_text(encoding="utf-8").startswith(f"{jar}\t{len(b'first build')}\t")
    final.write_bytes(b"archive")

    assert local_spark.class_archive_options(cache, class_path=[str(jar)]).startswith(f"-XX:SharedArchiveFile={final} ")

    jar.write_bytes(b"second build, longer")
    options = local_spark.class_archive_options(cache, class_path=[str(jar)])
    assert options.startswith("-XX:ArchiveClassesAtExit=") and str(final) not in options
    assert not final.exists() and not Path(f"{final}.jars").exists()  # the stale archive is gone
