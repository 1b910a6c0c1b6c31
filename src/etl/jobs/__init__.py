"""Glue job logic. ``glue_jobs/*.py`` are thin entry points over these modules."""

# Runs of these jobs must never overlap: normalize merges each run into processed partitions that
# all runs share, so two at once would lose one's update. On AWS such a job allows one concurrent
# run, with job-run queuing; the local Glue handler queues them the same way. json_to_parquet
# runs write only their own run's folders, so they may run side by side.
SERIAL_JOBS = frozenset({"normalize"})
