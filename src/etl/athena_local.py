"""The local Athena's former module, kept for callers that import ``etl.athena_local``.

The external conformance runner (``../shared/athena_conformance/run.py``) imports this path; the
local Athena itself is the ``etl.athena`` package.
"""

from etl.athena.local import LocalAthena, QueryResult, to_get_query_results

__all__ = ["LocalAthena", "QueryResult", "to_get_query_results"]
