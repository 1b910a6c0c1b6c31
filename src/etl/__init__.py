"""Event-driven ETL pipeline: one definition, run locally or on AWS."""

__version__ = "0.1.0"
