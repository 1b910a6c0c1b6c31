"""DuckDB macros for the numeric functions: Trino's rounding of integers and decimals, decimal remainder.

Decimals are handled as unscaled HUGEINTs (the value times 10^scale), so no step rounds the way DuckDB
would and every overflow Trino reports is checked here.
"""

from __future__ import annotations

NUMERIC_MACROS: tuple[str, ...] = (
    # 10^k as a HUGEINT for 0 <= k <= 38 (trino_pow10 of etl.athena.macros, spelled for a BIGINT k)
    "CREATE OR REPLACE MACRO trino_ten_to(k) AS CAST(rpad('1', CAST(k AS INTEGER) + 1, '0') AS HUGEINT)",
    # u rounded HALF_UP (ties away from zero) to a multiple of 10^k; k above 38 leaves nothing (|u| < 10^38)
    "CREATE OR REPLACE MACRO trino_round_unscaled(u, k) AS CASE WHEN u IS NULL OR k IS NULL THEN NULL "
    "WHEN k <= 0 THEN u WHEN k > 38 THEN CAST(0 AS HUGEINT) "
    "ELSE sign(u) * ((abs(u) + trino_ten_to(k) // 2) // trino_ten_to(k)) * trino_ten_to(k) END",
    # u truncated toward zero to a multiple of 10^k
    "CREATE OR REPLACE MACRO trino_truncate_unscaled(u, k) AS CASE WHEN u IS NULL OR k IS NULL THEN NULL "
    "WHEN k <= 0 THEN u WHEN k > 38 THEN CAST(0 AS HUGEINT) "
    "ELSE sign(u) * (abs(u) // trino_ten_to(k)) * trino_ten_to(k) END",
    # round(integer, d): Trino computes in bigint, failing when 10^-d or the product leaves it, then
    # fails again when the result does not fit the argument's type [lo, hi]
    "CREATE OR REPLACE MACRO trino_round_integer(x, d, lo, hi, what) AS CASE WHEN x IS NULL OR d IS NULL "
    "THEN NULL WHEN d >= 0 THEN CAST(x AS HUGEINT) WHEN d < -18 THEN error('numerical overflow: ' || x) "
    "ELSE trino_in_range(trino_round_unscaled(CAST(x AS HUGEINT), -d), lo, hi, what) END",
    "CREATE OR REPLACE MACRO trino_in_range(v, lo, hi, what) AS CASE WHEN v < lo OR v > hi "
    "THEN error('Out of range for ' || what || ': ' || v) ELSE v END",
    # an unscaled decimal must keep within `digits` digits (its type's precision)
    "CREATE OR REPLACE MACRO trino_decimal_fits(u, digits) AS CASE WHEN abs(u) >= trino_ten_to(digits) "
    "THEN error('decimal overflow: the result does not fit decimal(' || digits || ')') ELSE u END",
    # remainder of unscaled decimals at one scale: the sign of the dividend, as Java's BigDecimal
    "CREATE OR REPLACE MACRO trino_decimal_mod(a, b) AS CASE WHEN a IS NULL OR b IS NULL THEN NULL "
    "WHEN b = 0 THEN error('Division by zero') ELSE a % b END",
    # n / d rounded HALF_UP, on HUGEINTs: the remainder is compared with d - remainder, as 2 * |n| may
    # overflow (decimal division)
    "CREATE OR REPLACE MACRO trino_decimal_div(n, d) AS CASE WHEN n IS NULL OR d IS NULL THEN NULL "
    "WHEN d = 0 THEN error('Division by zero') ELSE sign(n) * sign(d) * (abs(n) // abs(d) + "
    "CASE WHEN abs(n) % abs(d) >= abs(d) - abs(n) % abs(d) THEN 1 ELSE 0 END) END",
)
