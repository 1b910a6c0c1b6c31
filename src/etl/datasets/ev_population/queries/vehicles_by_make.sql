-- Vehicles by make, most first.
SELECT make, count(*) AS vehicles
FROM processed_ev_population
GROUP BY make
ORDER BY vehicles DESC, make
