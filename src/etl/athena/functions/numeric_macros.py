"""DuckDB macros for the numeric functions: Trino's rounding of integers and decimals, decimal remainder.

Decimals are handled as unscaled HUGEINTs (the value times 10^scale), so no step rounds the way DuckDB
would and every overflow Trino reports is checked here.
"""

from __future__ import annotations


def _digits_of_two_to_63(radix: int) -> int:
    count, value = 0, 2**63
    while value:
        value, count = value // radix, count + 1
    return count


# For radix 2..36: a longer number (leading zeros aside) is past the bigint range
_BIGINT_DIGITS = ", ".join(str(_digits_of_two_to_63(radix)) for radix in range(2, 37))
_RADIX_CHECK = "WHEN r < 2 OR r > 36 THEN error('Radix must be between 2 and 36') "

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
    # to_base: Java's Long.toString(x, radix), lower-case digits; |x| split so that -2^63 fits DuckDB's to_base
    "CREATE OR REPLACE MACRO trino_to_base(x, r) AS CASE WHEN x IS NULL OR r IS NULL THEN NULL "
    + _RADIX_CHECK
    + "ELSE (CASE WHEN x < 0 THEN '-' ELSE '' END) || lower("
    "(CASE WHEN abs(CAST(x AS HUGEINT)) // r > 0 THEN to_base(CAST(abs(CAST(x AS HUGEINT)) // r AS BIGINT), "
    "CAST(r AS INTEGER)) ELSE '' END) || to_base(CAST(abs(CAST(x AS HUGEINT)) % r AS BIGINT), CAST(r AS INTEGER))) END",
    # from_base: Java's Long.parseLong(s, radix) on ASCII text (Java also reads other scripts' digits)
    "CREATE OR REPLACE MACRO trino_base_digits(s) AS "
    "list_transform(string_split(lower(ltrim(ltrim(s, '+-'), '0')), ''), "
    "c -> CAST(instr('0123456789abcdefghijklmnopqrstuvwxyz', c) - 1 AS HUGEINT))",
    "CREATE OR REPLACE MACRO trino_base_value(s, r) AS CASE WHEN ltrim(ltrim(s, '+-'), '0') = '' "
    "THEN CAST(0 AS HUGEINT) "
    "ELSE list_reduce(trino_base_digits(s), (a, b) -> a * r + b) END",
    "CREATE OR REPLACE MACRO trino_from_base(s, r) AS CASE WHEN s IS NULL OR r IS NULL THEN NULL "
    + _RADIX_CHECK
    + "WHEN strlen(s) <> length(s) THEN error('refused locally: from_base() of text that is not ASCII: "
    "Java reads the digits of other scripts; run this query on Athena') "
    "WHEN NOT regexp_full_match(s, '[+-]?[0-9A-Za-z]+') "
    "OR list_max(trino_base_digits(s)) >= r "
    f"OR length(ltrim(ltrim(s, '+-'), '0')) > [{_BIGINT_DIGITS}][r - 1] "
    "OR (CASE WHEN s[1] = '-' THEN -trino_base_value(s, r) ELSE trino_base_value(s, r) END) "
    "NOT BETWEEN -9223372036854775808 AND 9223372036854775807 "
    "THEN error('Not a valid base-' || r || ' number: ' || s) "
    "ELSE CAST(CASE WHEN s[1] = '-' THEN -trino_base_value(s, r) ELSE trino_base_value(s, r) END AS BIGINT) END",
    # width_bucket(x, bound1, bound2, n) as Trino computes it, with its argument errors
    "CREATE OR REPLACE MACRO trino_width_bucket(x, b1, b2, n) AS CASE "
    "WHEN x IS NULL OR b1 IS NULL OR b2 IS NULL OR n IS NULL THEN NULL "
    "WHEN n <= 0 THEN error('bucketCount must be greater than 0') "
    "WHEN isnan(x) THEN error('operand must not be NaN') "
    "WHEN NOT isfinite(b1) THEN error('first bound must be finite') "
    "WHEN NOT isfinite(b2) THEN error('second bound must be finite') "
    "WHEN b1 = b2 THEN error('bounds cannot equal each other') "
    "ELSE (CASE WHEN b1 > b2 THEN n - trino_bucket(x, b2, b1, n) + 1 "
    "ELSE trino_bucket(x, b1, b2, n) END) END",
    "CREATE OR REPLACE MACRO trino_bucket(x, lo, hi, n) AS CASE WHEN x < lo THEN 0 "
    "WHEN x >= hi AND n = 9223372036854775807 THEN error('Bucket for value ' || x || ' is out of range') "
    "WHEN x >= hi THEN n + 1 "
    # Java's (long) of a double saturates at Long.MAX_VALUE where DuckDB's cast fails
    "WHEN n * (x - lo) / (hi - lo) + 1 >= 9223372036854775807.0 THEN 9223372036854775807 "
    "ELSE CAST(trunc(n * (x - lo) / (hi - lo) + 1) AS BIGINT) END",
)
