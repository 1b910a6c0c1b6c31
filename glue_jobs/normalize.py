"""Glue job entry point: normalize a run's raw records into the processed Iceberg table.

Arguments: --JOB_NAME --run_id --dataset --database --raw_uri --processed_uri
The logic lives in etl.jobs.normalize (shipped with --extra-py-files on Glue).
"""

import sys

from etl.jobs import normalize
from etl.jobs.runner import run_job


def main(argv=None, spark=None):
    return run_job(normalize.run, normalize.ARGUMENTS, sys.argv if argv is None else argv, spark)


if __name__ == "__main__":
    main()
