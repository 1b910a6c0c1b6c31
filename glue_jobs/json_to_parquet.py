"""Glue job entry point: convert one landing object (JSON) to Parquet in the raw zone.

Arguments: --JOB_NAME --run_id --dataset --database --source_uri --ingested_at --raw_uri --quarantine_uri
The logic lives in etl.jobs.json_to_parquet (shipped with --extra-py-files on Glue).
"""

import sys

from etl.jobs import json_to_parquet
from etl.jobs.runner import run_job


def main(argv=None, spark=None):
    return run_job(json_to_parquet.run, json_to_parquet.ARGUMENTS, sys.argv if argv is None else argv, spark)


if __name__ == "__main__":
    main()
