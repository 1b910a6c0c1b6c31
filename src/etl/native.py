"""The pipeline's own Spark expressions (Scala, in jvm/): Python handles for them.

Two checks of every landing line cost the JSON job most of its time over Spark's own JSON reader when
written with Spark's built-in functions: the byte-level tests that spare most lines the full check (each
count of a character, ``size(split(line, c)) - 1``, builds every piece of the line) and ``from_json``,
which decodes each line into characters before parsing it. The expressions here do the same work on the
line's UTF-8 bytes (jvm/src/main/scala/org/apache/spark/sql/etl): ``line_gate`` makes all the byte-level
tests in one pass over them. Another, ``meets_contract``, says yes to a line that surely meets every field
rule of its contract, so the rules written with Spark's functions (a CASE of some 30 branches) run only for
the other lines, and ``interpreted`` keeps that CASE out of the code Spark generates and compiles.
`make install` compiles them into ``.venv/jars/etl-spark-ext.jar``, which the local session loads; on Glue
the jobs get it through ``--extra-jars`` (infra/).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from etl.errors import ConfigError

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

JAR_NAME = "etl-spark-ext.jar"
_PACKAGE = "org.apache.spark.sql.etl"


def _columns() -> Any:
    return _handle("Columns")


def _handle(name: str) -> Any:
    """The jar's object ``name`` (Columns, Frames), or a clear error when the jar is not on the class path."""
    from py4j.java_gateway import JavaClass
    from pyspark import SparkContext

    jvm = SparkContext._jvm
    handle = None if jvm is None else getattr(jvm.org.apache.spark.sql.etl, name)
    if not isinstance(handle, JavaClass):
        raise ConfigError(
            f"the pipeline's Spark extensions ({_PACKAGE}.{name}) are not on the Spark session's class path: run "
            f"`make install` (it builds .venv/jars/{JAR_NAME}); on Glue, pass the jar with --extra-jars (infra/ does)"
        )
    return handle


def jar_path() -> Path:
    """The jar `make install` builds (what infra/ deploys for the Glue job); a clear error when it is missing."""
    jar = Path(sys.prefix) / "jars" / JAR_NAME
    if not jar.is_file():
        raise ConfigError(f"{jar} is missing: run `make install` (it compiles jvm/ into it)")
    return jar


def parsing_bytes(from_json: Column) -> Column:
    """``from_json`` (into a struct) reading each line's UTF-8 bytes: the same result, parsed faster.

    A line that is not strictly valid UTF-8, or holds a NUL byte, is read as ``from_json`` reads it.
    """
    from pyspark.sql import Column

    return Column(_columns().parsingBytes(from_json._jc))


def meets_contract(record: Column, typed: Column, rules: Sequence[Mapping[str, Any]]) -> Column:
    """Whether the parsed line ``record`` surely meets the contract's field ``rules`` (never NULL).

    ``typed``: the line passed the classification's byte-level tests (one plain object, strings sent as
    strings). ``rules``: one mapping per field (etl.transforms.fast_rules). True means the full check would
    find no reason; false only that it must run.
    """
    from pyspark.sql import Column

    return Column(_columns().meetsContract(record._jc, typed._jc, json.dumps(list(rules))))


def line_gate(line: Column, record: Column, text_ordinals: Sequence[int], double_ordinals: Sequence[int],
              corrupt_ordinal: int) -> Column:
    """The classification's byte-level tests of ``line`` parsed into ``record``, in one pass over its bytes.

    0: not plainly one object whose keys are distinct contract fields; 1: plain; 2: plain, and every text
    field (``text_ordinals`` in ``record``) sent as a JSON string, every double (``double_ordinals``) finite.
    ``corrupt_ordinal``: the parser's corrupt-record field, after the contract's fields. Never NULL.
    """
    from pyspark.sql import Column

    def joined(ordinals: Sequence[int]) -> str:
        return ",".join(str(int(ordinal)) for ordinal in ordinals)

    return Column(_columns().lineGate(line._jc, record._jc, joined(text_ordinals), joined(double_ordinals),
                                      corrupt_ordinal))


def interpreted(column: Column) -> Column:
    """``column``, evaluated by Spark's interpreter instead of generated code: for a large, rarely evaluated check."""
    from pyspark.sql import Column

    return Column(_columns().interpreted(column._jc))


def kept_text(condition: Column, text: Column, max_rows: int, max_bytes: int) -> Column:
    """``text`` of the first rows of each input partition where ``condition`` holds (NULL elsewhere).

    At most ``max_rows`` rows and ``max_bytes`` of text per partition; once one does not fit, none after it.
    """
    from pyspark.sql import Column

    return Column(_columns().keptText(condition._jc, text._jc, max_rows, max_bytes))


def csv_plain_fields(record: Column, columns: int, delimiter: str, quote: str, escape: str) -> Column:
    """A CSV record written plainly (no quote or escape, no control character but tab, UTF-8), split in one pass.

    A struct of ``count`` (how many values the record holds) and ``values`` (``c0`` ... the first ``columns``,
    as ``from_csv`` reads them into strings: an empty value NULL); NULL for any other record. The delimiter,
    quote and escape are one ASCII character each.
    """
    from pyspark.sql import Column

    return Column(_columns().csvPlainFields(record._jc, columns, delimiter, quote, escape))


def computed_now(frame: DataFrame) -> DataFrame:
    """``frame``'s rows, computed now (one small job), in a frame whose plan holds them: for a few rows that a
    large plan is then applied to. Spark's optimizer evaluates the projections and filters of such a frame on
    the driver, so that plan is neither compiled nor shipped to a task."""
    from pyspark.sql import DataFrame

    return DataFrame(_handle("Frames").computedNow(frame._jdf), frame.sparkSession)
