"""The local Spark session: one per process, tuned for a laptop-sized machine.

On Glue the session comes from GlueContext instead (see etl.jobs.runner); the settings
that change results (time parser policy, session time zone, partition type inference)
and those that make the jobs' plans cheaper are applied to both, so a job behaves the
same in either place.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import sys
import tempfile
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from etl.errors import ConfigError
from etl.jobs.iceberg import SPARK_EXTENSIONS
from etl.local.runlog import is_alive

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

logger = logging.getLogger(__name__)

# Settings that affect results: applied locally and on Glue.
SEMANTIC_CONF = {
    "spark.sql.legacy.timeParserPolicy": "CORRECTED",  # invalid dates become NULL, not exceptions
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.sources.partitionColumnTypeInference.enabled": "false",  # year/month stay strings
    "spark.sql.parquet.compression.codec": "snappy",
    "spark.sql.files.ignoreCorruptFiles": "false",
    # Dates before 1582 are written and read as they are (proleptic Gregorian, as Athena, DuckDB and
    # pyarrow read them); Spark's default, EXCEPTION, fails the whole job on one such date.
    "spark.sql.parquet.datetimeRebaseModeInWrite": "CORRECTED",
    "spark.sql.parquet.datetimeRebaseModeInRead": "CORRECTED",
    "spark.sql.parquet.int96RebaseModeInWrite": "CORRECTED",
    "spark.sql.parquet.int96RebaseModeInRead": "CORRECTED",
    # Iceberg 1.7.1 (what Glue 5.0 ships) reads Parquet into Arrow vectors that Spark 3.5.4 frees between
    # batches (SPARK-50235; Iceberg adapted in 1.7.2, which Maven Central does not serve here): reading a
    # 1m-record table crashed the JVM (SIGSEGV) three times in three. Row-by-row reads are safe and cheap here:
    # normalize reads a table's key and lineage columns, and queries run on Athena or DuckDB.
    "spark.sql.iceberg.vectorization.enabled": "false",
}

# Settings that make the jobs faster without changing results: applied locally and on Glue too.
# Constraint propagation derives every predicate a plan implies, to infer filters; on the plan of the
# contract's validation (one large CASE per line) the optimizer spent 0.35 s of a 1 s json_to_parquet
# run on it (10k records, warm JVM) and inferred nothing. Its filters only matter for joins, and
# normalize's joins are on keys that are never NULL.
PLANNING_CONF = {
    "spark.sql.constraintPropagation.enabled": "false",
}
JOB_CONF = {**SEMANTIC_CONF, **PLANNING_CONF}

# Spark generates one large method per stage, and HotSpot leaves methods over 8000 bytes of bytecode
# interpreted unless told otherwise. The parallel collector suits batch work on few cores better than
# G1, whose concurrent threads compete with the tasks: on 2 cores a 1m-record json_to_parquet took
# 17.8 s instead of 21.4 s (first run in a new JVM) and 8.9 s instead of 11.3 s (second run).
JVM_OPTIONS = "-XX:-DontCompileHugeMethods -XX:+UseParallelGC"

# A class data sharing archive of the classes Spark loads, written by the first session's JVM when it
# exits and mapped by every later one: measured on 2 cores, the session starts in 1.6 s instead of
# 2.6 s and the first job of a new JVM runs 2 s faster. ETL_SPARK_CLASS_ARCHIVE=off disables it.
CLASS_ARCHIVE_ENV = "ETL_SPARK_CLASS_ARCHIVE"
_QUIET_CDS = "-Xlog:cds*=off -Xlog:class+path=off"  # archive warnings (e.g. signed jars it skips) stay off the console
_ARCHIVE_SOURCE = ".spark-home"  # beside each archive: the pyspark installation it is for
_ARCHIVE_JARS = ".jars"  # and the jars after Spark's own on its class path (see class_archive_options)

# The JVM libraries `make install` fetches through Maven (jars/pom.xml): Iceberg's Spark runtime and the
# local Iceberg catalog's JDBC driver. ETL_SPARK_JARS names other folders (separated by os.pathsep), e.g.
# .venv/jars-aws too (S3A and Iceberg's GlueCatalog, fetched by `make test`), as the emulated-AWS tests do.
JARS_ENV = "ETL_SPARK_JARS"
ICEBERG_SPARK_JAR = "iceberg-spark-3.5_2.12-"  # Iceberg's Spark module, with its other modules (jars/pom.xml)

# The heap of the one JVM (driver and executor in local mode). With 2 GB the whole process tree peaked at
# 2.10 GiB on a 5m-record file (JVM heap, metaspace, code cache, Python); with 1.5 GB at 1.81 GiB, the
# same file, same output (bench run 20261204T121123Z). ETL_SPARK_DRIVER_MEMORY sets another.
DRIVER_MEMORY = "1536m"

_lock = threading.Lock()
_session: SparkSession | None = None


def class_archive_options(cache_dir: Path | None = None, class_path: Sequence[str] = ()) -> str:
    """JVM options that use the class archive, or create it (under a name of this process) if there is none.

    An archive is matched to this pyspark installation, this java, these JVM options and the jars on the
    class path after Spark's own (``class_path``: each by name, size and time, as the JVM checks them before
    it maps an archive). One left by a finished process under its temporary name is adopted first; one
    still being written is left alone.
    """
    if os.environ.get(CLASS_ARCHIVE_ENV, "").lower() in ("off", "0", "false", "no"):
        return ""
    import pyspark

    java_home = os.environ.get("JAVA_HOME")  # spark-submit runs $JAVA_HOME/bin/java when it is set
    java = shutil.which("java", path=os.path.join(java_home, "bin") if java_home else None)
    if java is None:
        return ""
    # The archive is only mapped with the class path it was written with: this installation's jars.
    spark_home = Path(pyspark.__file__).resolve().parent
    jars = _jar_stamps(class_path)
    identity = f"{spark_home}|{pyspark.__version__}|{os.path.realpath(java)}|{os.stat(java).st_mtime_ns}|{JVM_OPTIONS}"
    if jars:
        identity += "|" + "|".join(jars)
    folder = cache_dir or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "etl"
    archive = folder / f"spark-classes-{hashlib.sha256(identity.encode()).hexdigest()[:16]}.jsa"
    _remove_archives_of_removed_installations(folder)
    _adopt_finished_archives(archive, java, spark_home, class_path)
    if archive.is_file():
        _record_installation(archive, spark_home, jars)  # archives written before it was recorded get it now
        return f"-XX:SharedArchiveFile={archive} {_QUIET_CDS}"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return ""
    _record_installation(archive, spark_home, jars)
    return f"-XX:ArchiveClassesAtExit={archive}.{os.getpid()}.tmp {_QUIET_CDS}"


def _jar_stamps(class_path: Sequence[str]) -> list[str]:
    """Each jar as "path<TAB>size<TAB>mtime": an archive maps only while every jar it was written with is unchanged."""
    stamps = []
    for jar in class_path:
        try:
            stat = os.stat(jar)
        except OSError:
            continue
        stamps.append(f"{jar}\t{stat.st_size}\t{stat.st_mtime_ns}")
    return stamps


def _record_installation(archive: Path, spark_home: Path, jars: Sequence[str] = ()) -> None:
    """Note beside the archive which pyspark installation and jars it is for, so it can go when they go."""
    source = archive.with_name(archive.name + _ARCHIVE_SOURCE)
    listed = archive.with_name(archive.name + _ARCHIVE_JARS)
    try:
        if not source.is_file():
            source.write_text(str(spark_home), encoding="utf-8")
        if jars and not listed.is_file():
            listed.write_text("\n".join(jars) + "\n", encoding="utf-8")
    except OSError:
        logger.debug("cannot record the installation of %s", archive)


def _remove_archives_of_removed_installations(folder: Path) -> None:
    """Delete the archives, finished or not, of pyspark installations that no longer exist, or of jars that changed.

    Each is some 130-160 MB, and every new virtual environment (a fresh clone, a CI run, an upgrade) and
    every rebuilt jar (`make install` after a change in jvm/) makes the JVM write a new one. An archive
    with no installation recorded beside it is left alone.
    """
    for source in folder.glob(f"spark-classes-*.jsa{_ARCHIVE_SOURCE}"):
        archive = source.with_name(source.name.removesuffix(_ARCHIVE_SOURCE))
        listed = archive.with_name(archive.name + _ARCHIVE_JARS)
        try:
            home = source.read_text(encoding="utf-8").strip()
            jars = listed.read_text(encoding="utf-8").splitlines() if listed.is_file() else []
        except OSError:
            continue
        if home and Path(home).is_dir() and _jar_stamps([jar.split("\t")[0] for jar in jars]) == jars:
            continue
        for stale in (archive, *archive.parent.glob(f"{archive.name}.*.tmp"), source, listed):
            stale.unlink(missing_ok=True)


def _adopt_finished_archives(archive: Path, java: str, spark_home: Path, class_path: Sequence[str] = ()) -> None:
    """Name the first finished archive that a JVM starts with; delete the other finished ones.

    A JVM killed while it writes an archive leaves a truncated file, which would crash every later
    JVM that maps it; JVMs started at the same time each write one (about 120 MB).
    """
    for candidate in sorted(archive.parent.glob(f"{archive.name}.*.tmp")):
        pid = candidate.name[len(archive.name) + 1 : -len(".tmp")]
        if not pid.isdigit() or is_alive(int(pid)):
            continue
        if not archive.is_file() and _archive_works(candidate, java, spark_home, class_path):
            candidate.replace(archive)
            continue
        candidate.unlink(missing_ok=True)


def _archive_works(candidate: Path, java: str, spark_home: Path, class_path: Sequence[str] = ()) -> bool:
    """Start a JVM with the session's class path on the archive (0.15 s): a bad archive makes it abort."""
    import subprocess

    classes = os.pathsep.join([str(spark_home / "conf"), f"{spark_home / 'jars'}/*", *class_path])
    command = [java, f"-XX:SharedArchiveFile={candidate}", *_QUIET_CDS.split(), *JVM_OPTIONS.split(),
               f"-XX:ErrorFile={tempfile.gettempdir()}/etl-class-archive-check-%p.log",
               "-cp", classes, "-version"]
    try:
        return subprocess.run(command, capture_output=True, timeout=60, check=False).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def session_jars() -> list[str]:
    """The jars the local session loads; a clear error when `make install` has not fetched them."""
    setting = os.environ.get(JARS_ENV) or str(Path(sys.prefix) / "jars")
    folders = [Path(folder) for folder in setting.split(os.pathsep) if folder]
    jars = [str(path) for folder in folders for path in sorted(folder.glob("*.jar"))]
    if not any(Path(jar).name.startswith(ICEBERG_SPARK_JAR) for jar in jars):
        raise ConfigError(
            f"no Iceberg Spark jar ({ICEBERG_SPARK_JAR}*.jar) in {setting}; run `make install` (it fetches the jars "
            f"through Maven) or set {JARS_ENV} to a folder holding them"
        )
    return jars


def local_session(app_name: str = "etl") -> SparkSession:
    """The process-wide local session (created on first use, then reused: it stays warm)."""
    global _session
    with _lock:
        if _session is not None and _session.sparkContext._jsc is not None:
            return _session
        from pyspark.sql import SparkSession

        # Python workers run in this interpreter (the virtual environment), not whatever python3 is first on PATH.
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        log_config = resources.files("etl").joinpath("log4j2.properties")
        jars = session_jars()
        java_options = " ".join(
            [f"-Dlog4j.configurationFile={log_config} -Dlog4j2.configurationFile={log_config}", JVM_OPTIONS,
             class_archive_options(class_path=jars)]
        ).strip()
        cores = os.environ.get("ETL_SPARK_CORES", "*")
        builder = (
            SparkSession.builder.appName(app_name)
            .master(f"local[{cores}]")
            .config("spark.driver.memory", os.environ.get("ETL_SPARK_DRIVER_MEMORY", DRIVER_MEMORY))
            .config("spark.driver.extraJavaOptions", java_options)
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.sql.shuffle.partitions", os.environ.get("ETL_SPARK_SHUFFLE_PARTITIONS", "4"))
            .config("spark.sql.adaptive.enabled", "true")
            .config("spark.sql.adaptive.coalescePartitions.enabled", "true")
            .config("spark.sql.warehouse.dir", os.path.join(os.environ.get("TMPDIR", "/tmp"), "etl-spark-warehouse"))
            .config("spark.driver.host", "127.0.0.1")
            .config("spark.driver.bindAddress", "127.0.0.1")
            # On the JVM's own class path, not spark.jars (a class loader of Spark's): only the application
            # class loader's classes go into the class archive, so Iceberg's are then mapped, not loaded and
            # verified again by every new JVM (1m records: the work 1.2 s shorter, 17.3-17.8 s against 18.5-19.0 s).
            # In local mode the driver is the executor, so the tasks see them too.
            .config("spark.driver.extraClassPath", os.pathsep.join(jars))
            .config("spark.sql.extensions", SPARK_EXTENSIONS)
        )
        for key, value in JOB_CONF.items():
            builder = builder.config(key, value)
        _session = builder.getOrCreate()
        _session.sparkContext.setLogLevel("ERROR")
        _skip_checksum_files(_session)
        import_spark_functions(_session)
        return _session


def _skip_checksum_files(spark: SparkSession) -> None:
    """Stop Hadoop's local file system writing (and checking) a hidden ``.crc`` file beside each file.

    S3 keeps no such files, and nothing reads them here (DuckDB and the crawler read the Parquet
    files themselves); they doubled the files created and renamed per write. Normalize's rewrite of
    24 month partitions took 0.34 s instead of 0.5 s without them (10k records, warm JVM). The local
    file system object is cached per process, so this holds for every job of the session.
    """
    jvm: Any = spark._jvm
    local = jvm.org.apache.hadoop.fs.FileSystem.getLocal(spark._jsc.hadoopConfiguration())
    local.setWriteChecksum(False)
    local.setVerifyChecksum(False)


def apply_job_conf(spark: SparkSession) -> None:
    """The settings every job runs with (a Glue session gets Glue's defaults)."""
    for key, value in JOB_CONF.items():
        spark.conf.set(key, value)
    import_spark_functions(spark)


def import_spark_functions(spark: SparkSession) -> None:
    """Import Spark's ``functions`` class by its full name into the gateway's view of the JVM.

    PySpark finds that class by its short name for each ``F.…`` call. Without this import the JVM first tries the
    name in each package PySpark imports with a wildcard, each miss a search of the class path: 0.5-0.7 ms a call,
    some 0.15 s of building the JSON job's full check (342 calls) in a new JVM.
    """
    from py4j.java_gateway import java_import

    java_import(spark._jvm, "org.apache.spark.sql.functions")


def text_pieces(spark: SparkSession, text: str, separator: str) -> DataFrame:
    """The pieces of ``text`` between ``separator`` (a regular expression), one row each in column ``value``: made in
    the JVM from one row holding the text, in a few gateway calls, for the jobs to pick lines by.

    Not ``spark.range`` or ``createDataset``: their typed encoders first initialise Scala's runtime reflection,
    about 1 s in a new JVM (most of what settling a file's few bad lines cost). Not a literal: each query's
    plan description would carry the text (megabytes for many held lines). Not Python rows: they start a Python
    worker (0.5 s in a new process).
    """
    from pyspark.sql import DataFrame
    from pyspark.sql import functions as F
    from pyspark.sql.types import StringType, StructField, StructType

    jvm: Any = spark._jvm
    gateway: Any = spark.sparkContext._gateway
    values = gateway.new_array(jvm.java.lang.Object, 1)
    values[0] = text
    rows = jvm.java.util.Collections.singletonList(jvm.org.apache.spark.sql.RowFactory.create(values))
    schema = spark._jsparkSession.parseDataType(StructType([StructField("value", StringType())]).json())
    one = DataFrame(spark._jsparkSession.createDataFrame(rows, schema), spark)
    return one.select(F.explode(F.split(F.col("value"), separator)).alias("value"))


@contextmanager
def session_settings(spark: SparkSession, settings: Mapping[str, str | None]) -> Iterator[None]:
    """Session settings for one piece of work (None: the setting unset); the previous values (or none) come back
    after."""
    previous: dict[str, str | None] = {key: spark.conf.get(key, None) for key in settings}
    for key, value in settings.items():
        if value is None:
            spark.conf.unset(key)
        else:
            spark.conf.set(key, value)
    try:
        yield
    finally:
        for key, earlier in previous.items():
            if earlier is None:
                spark.conf.unset(key)
            else:
                spark.conf.set(key, earlier)


def stop_local_session() -> None:
    global _session
    with _lock:
        if _session is not None:
            _session.stop()
            _session = None
