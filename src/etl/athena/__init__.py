"""Athena's local twin: Athena (Trino) SQL translated to DuckDB over the local lake, or refused.

``local`` runs a query against the embedded catalog (``etl.glue.catalog``) and answers as
GetQueryResults; ``dialect`` is the translator's public face (``statements``, ``parameters``,
``core``, ``queries``, ``expressions`` and ``functions/`` by family); ``results`` holds Trino's types
and renders values as Athena does.
"""
