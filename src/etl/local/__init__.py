"""The local runtime: the pipeline on one machine (lake folder, local Spark, DuckDB, outbox)."""
