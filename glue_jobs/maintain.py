"""Glue job entry point: compact the processed Iceberg tables, expire old snapshots, delete orphan files.

Arguments: --JOB_NAME --database --processed_uri --retention_hours --orphan_hours
The logic lives in etl.jobs.maintain (shipped with --extra-py-files on Glue); infra/ runs it on a schedule.
"""

import sys

from etl.jobs import maintain
from etl.jobs.runner import run_job


def main(argv=None, spark=None):
    return run_job(maintain.run, maintain.ARGUMENTS, sys.argv if argv is None else argv, spark)


if __name__ == "__main__":
    main()
