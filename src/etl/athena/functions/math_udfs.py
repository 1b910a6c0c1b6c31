"""Python functions the translated SQL calls where Trino's algorithm decides the answer and its errors.

``width_bucket(x, bins)`` is Trino's binary search, step for step: which unsorted or non-finite bins it
notices depends on the steps it takes, so a closed form (counting the bins below x) would fail where
Trino answers, and answer where Trino fails.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import duckdb


def width_bucket_of_bins(operand: float, bins: Sequence[float | None]) -> int:
    if not bins:
        raise ValueError("Bins cannot be an empty array")
    if math.isnan(operand):
        raise ValueError("Operand cannot be NaN")
    if any(value is None for value in bins):
        # Trino reads a NULL element as 0.0 from the block; where it would land is not worth copying.
        raise ValueError("refused locally: width_bucket() with a NULL bin; run this query on Athena")
    values = [float(value) for value in bins if value is not None]
    lower, upper = 0, len(values)
    while lower < upper:
        if values[lower] > values[upper - 1]:
            raise ValueError("Bin values are not sorted in ascending order")
        index = (lower + upper) // 2
        bin_value = values[index]
        if not math.isfinite(bin_value):
            raise ValueError(f"Bin value must be finite, got {_java_double(bin_value)}")
        if operand < bin_value:
            upper = index
        else:
            lower = index + 1
    return lower


def _java_double(value: float) -> str:
    """Java's text of a non-finite double, as Trino's message shows it."""
    if math.isnan(value):
        return "NaN"
    return "Infinity" if value > 0 else "-Infinity"


def register_math_functions(con: duckdb.DuckDBPyConnection) -> None:
    """Make the math functions the translated SQL calls available on ``con`` (NULL in, NULL out)."""
    con.create_function(
        "trino_width_bucket_bins", width_bucket_of_bins,  # type: ignore[arg-type]
        [duckdb.sqltype("DOUBLE"), duckdb.sqltype("DOUBLE[]")], duckdb.sqltype("BIGINT"),
    )
