-- Users: how many rows the table holds after this run, and from how many files (runs).
SELECT
    count(*) AS users,
    count(DISTINCT identifier) AS distinct_identifiers,
    count(DISTINCT run_id) AS files
FROM processed_users
