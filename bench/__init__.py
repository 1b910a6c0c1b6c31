"""Benchmark of the pipeline's Glue jobs against DuckDB and pandas, plus local end-to-end latency.

Run ``python -m bench`` from the repository root (or ``make bench``); see BENCHMARKS.md.
"""
