-- Users by the first letter of their username.
SELECT upper(substr(username, 1, 1)) AS first_letter, count(*) AS users
FROM processed_users
GROUP BY 1
ORDER BY 1
