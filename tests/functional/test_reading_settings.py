"""json_to_parquet changes session settings only while it reads the file: the session gets its own back."""

from __future__ import annotations

import pytest

from etl.jobs.json_to_parquet import MAX_SPLIT_BYTES, _reading_settings
from etl.spark import session_settings

pytestmark = pytest.mark.slow

SPLIT, WHOLE_STAGE = "spark.sql.files.maxPartitionBytes", "spark.sql.codegen.wholeStage"


def test_splits_fill_every_core_and_the_session_settings_come_back(spark):
    cores = spark.sparkContext.defaultParallelism
    spark.conf.set(SPLIT, "12345")  # a value the session had set itself
    spark.conf.unset(WHOLE_STAGE)
    try:
        with pytest.raises(RuntimeError), _reading_settings(spark, 277_000_000):
            split = int(spark.conf.get(SPLIT))
            assert spark.conf.get(WHOLE_STAGE) == "false"
            raise RuntimeError("the job failed")
        assert split <= MAX_SPLIT_BYTES and -(-277_000_000 // split) % cores == 0  # whole waves of tasks
        assert spark.conf.get(SPLIT) == "12345" and spark.conf.get(WHOLE_STAGE, None) is None
    finally:
        spark.conf.unset(SPLIT)


def test_a_setting_given_as_none_is_unset_for_the_work_and_comes_back_after(spark):
    spark.conf.set(SPLIT, "12345")
    spark.conf.unset(WHOLE_STAGE)
    try:
        with session_settings(spark, {SPLIT: None, WHOLE_STAGE: "false"}):
            assert spark.conf.get(SPLIT, None) is None and spark.conf.get(WHOLE_STAGE) == "false"
        assert spark.conf.get(SPLIT) == "12345" and spark.conf.get(WHOLE_STAGE, None) is None
    finally:
        spark.conf.unset(SPLIT)
