"""Glue job logic. ``glue_jobs/*.py`` are thin entry points over these modules."""

# Runs of these jobs are queued, never overlapping. Two normalize runs at once would not lose an update
# (the MERGE that loses the commit race is re-run on the new snapshot), but every run rewrites files of
# the months it touches, so overlapping runs mostly retry each other's work. On AWS such a job allows
# one concurrent run, with job-run queuing; the local Glue handler queues them the same way.
# json_to_parquet runs write only their own run's folders, so they may run side by side.
SERIAL_JOBS = frozenset({"normalize", "maintain"})
