import pytest

from etl.errors import ConfigError
from etl.jobs import json_to_parquet, normalize
from etl.jobs.runner import parse_job_args


def test_glue_style_arguments_are_parsed_and_glue_extras_ignored():
    argv = ["script.py", "--JOB_NAME", "j", "--run_id=r", "--dataset", "shipping", "--job-bookmark-option",
            "job-bookmark-disable", "--datalake-formats", "iceberg", "--database", "etl", "--raw_uri", "s3://raw/",
            "--processed_uri", "s3://processed/", "--write_mode", "append"]
    assert parse_job_args(argv, normalize.ARGUMENTS) == {
        "JOB_NAME": "j", "run_id": "r", "dataset": "shipping", "database": "etl", "raw_uri": "s3://raw/",
        "processed_uri": "s3://processed/", "write_mode": "append",
    }


def test_missing_arguments_are_named():
    with pytest.raises(ConfigError, match="--source_uri, --ingested_at"):
        argv = ["--JOB_NAME", "j", "--run_id", "r", "--dataset", "d", "--database", "etl", "--raw_uri", "x",
                "--quarantine_uri", "q"]
        parse_job_args(argv, json_to_parquet.ARGUMENTS)
