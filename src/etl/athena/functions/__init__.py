"""Athena's functions by family, one module each: casts, numeric, strings, datetimes, aggregates and windows."""
