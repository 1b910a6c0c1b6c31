"""Glue job logic. ``glue_jobs/*.py`` are thin entry points over these modules."""
