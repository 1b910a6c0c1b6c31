-- Average electric range per model year, of the vehicles whose range is known (0 means not researched).
SELECT
    model_year,
    count_if(electric_range > 0) AS vehicles_with_known_range,
    CAST(round(avg(CASE WHEN electric_range > 0 THEN electric_range END), 1) AS DECIMAL(10, 1)) AS avg_electric_range
FROM processed_ev_population
GROUP BY model_year
ORDER BY model_year
