"""DuckDB macros the translated SQL calls (Java's whitespace, Trino's rounding, ...)."""

from __future__ import annotations

from etl.athena.functions.numeric_macros import NUMERIC_MACROS

# --- DuckDB helper macros ------------------------------------------------------------------------------
_JAVA_WHITESPACE = (
    *range(0x09, 0x0E), *range(0x1C, 0x21), 0x1680, *range(0x2000, 0x2007), *range(0x2008, 0x200B), 0x2028,
    0x2029, 0x205F, 0x3000,
)
_WHITESPACE_SQL = " || ".join(f"chr({c})" for c in _JAVA_WHITESPACE)

MACROS: tuple[str, ...] = (
    "CREATE OR REPLACE MACRO trino_idiv(a, b) AS "
    "CASE WHEN b = 0 THEN error('Division by zero') ELSE a // b END",
    "CREATE OR REPLACE MACRO trino_imod(a, b) AS "
    "CASE WHEN b = 0 THEN error('Division by zero') WHEN b = -1 THEN a - a ELSE a % b END",  # x % -1 is 0
    # HALF_UP integer division of HUGEINTs (decimal division and decimal avg)
    "CREATE OR REPLACE MACRO trino_div_half_up(n, d) AS CASE WHEN n IS NULL OR d IS NULL THEN NULL "
    "WHEN d = 0 THEN error('Division by zero') "
    "ELSE sign(n) * sign(d) * ((2 * abs(n) + abs(d)) // (2 * abs(d))) END",
    # Java Math.round for y >= 0 (saturating at Long.MAX_VALUE), as Trino's round(double, d) uses it
    "CREATE OR REPLACE MACRO trino_java_round(y) AS "
    "CASE WHEN y >= 9223372036854775808.0e0 THEN 9223372036854775808.0e0 ELSE round(y) + 0.0e0 END",
    # Past 2^63 at that scale x has no digit left to round (a double holds 17 significant digits), and
    # Trino returns x unchanged rather than Math.round's saturated value.
    "CREATE OR REPLACE MACRO trino_round_double(x, d) AS CASE WHEN isnan(x) OR isinf(x) THEN x "
    "WHEN abs(x * pow(10, d)) >= 9223372036854775808.0e0 THEN x "
    "WHEN x < 0 THEN -(trino_java_round(-x * pow(10, d)) / pow(10, d)) "
    "ELSE trino_java_round(x * pow(10, d)) / pow(10, d) END",
    "CREATE OR REPLACE MACRO trino_substr(s, st, len) AS "
    "CASE WHEN s IS NULL OR st IS NULL OR len IS NULL THEN NULL "
    "WHEN st = 0 OR len <= 0 THEN '' WHEN st > 0 THEN substring(s, st, len) "
    "WHEN st + length(s) < 0 THEN '' ELSE substring(s, st + length(s) + 1, len) END",
    "CREATE OR REPLACE MACRO trino_substr_from(s, st) AS CASE WHEN s IS NULL OR st IS NULL THEN NULL "
    "WHEN st = 0 THEN '' WHEN st > 0 THEN substring(s, st) "
    "WHEN st + length(s) < 0 THEN '' ELSE substring(s, st + length(s) + 1) END",
    f"CREATE OR REPLACE MACRO trino_trim(s) AS trim(s, {_WHITESPACE_SQL})",
    f"CREATE OR REPLACE MACRO trino_ltrim(s) AS ltrim(s, {_WHITESPACE_SQL})",
    f"CREATE OR REPLACE MACRO trino_rtrim(s) AS rtrim(s, {_WHITESPACE_SQL})",
    "CREATE OR REPLACE MACRO trino_upper(s) AS CASE WHEN strpos(s, chr(223)) > 0 THEN "
    "error('refused locally: upper() of a string with ß: Java keeps ß, DuckDB gives ẞ; "
    "run this query on Athena') "
    "ELSE upper(s) END",
    # lpad/rpad: Trino's range and empty-padding errors; both truncate a longer string to the length
    *(f"CREATE OR REPLACE MACRO trino_{pad}(s, n, p) AS CASE WHEN s IS NULL OR n IS NULL OR p IS NULL THEN NULL "
      "WHEN n < 0 OR n > 2147483647 THEN error('Target length must be in the range [0..2147483647]') "
      f"WHEN p = '' THEN error('Padding string must not be empty') ELSE {pad}(s, CAST(n AS INTEGER), p) END"
      for pad in ("lpad", "rpad")),
    # split_part: a part past the last is NULL in Trino ('' in DuckDB); an index below 1 is an error
    "CREATE OR REPLACE MACRO trino_split_part(s, d, i) AS CASE WHEN s IS NULL OR d IS NULL OR i IS NULL THEN NULL "
    "WHEN i <= 0 THEN error('Index must be greater than zero') "
    "WHEN d = '' THEN error('refused locally: split_part() with an empty delimiter: "
    "Trino and DuckDB split by it differently; run this query on Athena') "
    "WHEN i > len(string_split(s, d)) THEN NULL ELSE split_part(s, d, CAST(i AS INTEGER)) END",
    # Trino counts code points where DuckDB counts bytes (the distances) or graphemes (reverse):
    # the same only for ASCII text, so other text is refused when the query runs.
    "CREATE OR REPLACE MACRO trino_ascii_only(s, what) AS CASE WHEN strlen(s) <> length(s) THEN "
    "error('refused locally: ' || what || ' of text that is not ASCII: Trino counts code points, DuckDB bytes or "
    "graphemes; run this query on Athena') ELSE s END",
    # replace() with an empty search string puts the replacement before, between and after every character
    "CREATE OR REPLACE MACRO trino_replace(s, f, r) AS CASE WHEN f = '' THEN (CASE WHEN s = '' THEN r ELSE "
    # (RE2's empty matches fall before every character and at the end; its backslashes in r are escaped,
    # and r may be a column, which array_to_string's separator may not)
    "regexp_replace(trino_ascii_only(s, 'replace() with an empty search string'), '', replace(r, '\\', '\\\\'), "
    "'g') END) ELSE replace(s, f, r) END",
    # translate: the first of repeated characters in `from` wins and those past the end of `to` are deleted,
    # in both engines; only ASCII text, as DuckDB's character handling is not shown to be Trino's
    "CREATE OR REPLACE MACRO trino_translate(s, f, t) AS translate(trino_ascii_only(s, 'translate()'), "
    "trino_ascii_only(f, 'translate()'), trino_ascii_only(t, 'translate()'))",
    "CREATE OR REPLACE MACRO trino_reverse(s) AS reverse(trino_ascii_only(s, 'reverse()'))",
    "CREATE OR REPLACE MACRO trino_levenshtein(a, b) AS CASE WHEN a IS NULL OR b IS NULL THEN NULL "
    "WHEN length(a) * length(b) > 1000000 THEN "
    "error('refused locally: levenshtein_distance() of long strings: Trino limits its work and fails; "
    "run this query on Athena') "
    "ELSE levenshtein(trino_ascii_only(a, 'levenshtein_distance()'), "
    "trino_ascii_only(b, 'levenshtein_distance()')) END",
    "CREATE OR REPLACE MACRO trino_hamming(a, b) AS CASE WHEN a IS NULL OR b IS NULL THEN NULL "
    "WHEN length(a) <> length(b) THEN "
    "error('The input strings to hamming_distance function must have the same length') "
    "WHEN a = '' THEN CAST(0 AS BIGINT) "  # DuckDB's hamming() fails on empty strings
    "ELSE hamming(trino_ascii_only(a, 'hamming_distance()'), trino_ascii_only(b, 'hamming_distance()')) END",
    # chr: a Unicode scalar value (not a surrogate); chr(0) is refused, DuckDB's strings end at NUL
    "CREATE OR REPLACE MACRO trino_chr(n) AS CASE WHEN n IS NULL THEN NULL "
    "WHEN n < 0 OR n > 1114111 OR (n >= 55296 AND n <= 57343) THEN error('Not a valid Unicode code point: ' || n) "
    "WHEN n = 0 THEN error('refused locally: chr(0): a DuckDB string cannot hold NUL; run this query on Athena') "
    "ELSE chr(CAST(n AS INTEGER)) END",
    # codepoint takes varchar(1) in Trino: other lengths are a type error there
    "CREATE OR REPLACE MACRO trino_codepoint(s) AS CASE WHEN s IS NULL THEN NULL WHEN length(s) <> 1 THEN "
    "error('codepoint() needs a string of one character') ELSE CAST(unicode(s) AS INTEGER) END",
    # regular expressions (etl.athena.functions.regexps): what Java and RE2 still read differently is
    # refused when the query runs
    "CREATE OR REPLACE MACRO trino_regexp_extract(s, p, g) AS CASE WHEN NOT regexp_matches(s, p) THEN NULL "
    "WHEN g > 0 AND regexp_extract(s, p, g) = '' THEN error('refused locally: regexp_extract() of a group that "
    "matched nothing: Trino gives NULL for a group that took no part, DuckDB an empty string; "
    "run this query on Athena') ELSE regexp_extract(s, p, g) END",
    "CREATE OR REPLACE MACRO trino_regexp_replace(s, p, r) AS regexp_replace(s, p, r, 'g')",
    "CREATE OR REPLACE MACRO trino_regexp_count(s, p) AS CAST(len(regexp_extract_all(s, p)) AS BIGINT)",
    "CREATE OR REPLACE MACRO trino_regexp_position(s, p) AS CASE WHEN NOT regexp_matches(s, p) THEN -1 "
    "ELSE CAST(length(string_split_regex(s, p)[1]) + 1 AS INTEGER) END",
    # comparisons of doubles: NaN is neither equal nor ordered (DuckDB orders NaN above everything)
    "CREATE OR REPLACE MACRO trino_nan_guard(a, b, r) AS CASE WHEN a IS NULL OR b IS NULL THEN NULL "
    "WHEN isnan(a) OR isnan(b) THEN false ELSE r END",
    # double -> decimal as Trino does it: BigDecimal.valueOf(x) (the shortest decimal, which DuckDB's
    # CAST(x AS VARCHAR) also prints) rescaled HALF_UP; computed on integers because DuckDB rounds
    # exponent strings ('8.25e-4') wrongly when it casts them to DECIMAL.
    "CREATE OR REPLACE MACRO trino_pow10(k) AS CAST(rpad('1', CAST(k AS INTEGER) + 1, '0') AS HUGEINT)",
    "CREATE OR REPLACE MACRO trino_shift_half_up(n, k) AS CASE WHEN k >= 0 THEN n * trino_pow10(k) "
    # n has at most 17 digits, so past 10^36 the quotient rounds to 0 (and 2 * 10^38 would overflow HUGEINT)
    "WHEN k < -36 THEN CAST(0 AS HUGEINT) ELSE trino_div_half_up(n, trino_pow10(-k)) END",
    "CREATE OR REPLACE MACRO trino_mantissa(t) AS regexp_extract(t, '^-?([0-9]*[.]?[0-9]*)', 1)",
    "CREATE OR REPLACE MACRO trino_fraction_digits(m) AS "
    "CASE WHEN strpos(m, '.') > 0 THEN length(m) - strpos(m, '.') ELSE 0 END",
    "CREATE OR REPLACE MACRO trino_exponent(t) AS "
    "CAST(COALESCE(NULLIF(regexp_extract(t, 'e([-+]?[0-9]+)$', 1), ''), '0') AS INTEGER)",
    "CREATE OR REPLACE MACRO trino_double_unscaled(x, s) AS CASE WHEN isnan(x) OR isinf(x) THEN "
    "error('Cannot cast DOUBLE ' || CAST(x AS VARCHAR) || ' to DECIMAL') "
    "ELSE sign(x) * trino_shift_half_up("
    "CAST(replace(trino_mantissa(CAST(x AS VARCHAR)), '.', '') AS HUGEINT), "
    "trino_exponent(CAST(x AS VARCHAR)) - trino_fraction_digits(trino_mantissa(CAST(x AS VARCHAR))) + s) END",
    "CREATE OR REPLACE MACRO trino_cast_check(s, ok, v, what) AS "
    "CASE WHEN s IS NULL THEN NULL WHEN ok THEN v ELSE "
    "error('refused locally: CAST of ''' || s || ''' to ' || what || ': only canonical text is cast locally; "
    "run this query on Athena') END",
    *NUMERIC_MACROS,
)
