"""The embedded catalog's former module, kept for callers that import ``etl.catalog``.

The external Athena conformance runner imports this path; the catalog is ``etl.glue.catalog``.
"""

from etl.glue.catalog import Catalog, Column, Partition, Table

__all__ = ["Catalog", "Column", "Partition", "Table"]
