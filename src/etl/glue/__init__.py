"""The Glue Data Catalog's local twin (``catalog``, an embedded DuckDB catalog) and its crawlers (``crawler``)."""
