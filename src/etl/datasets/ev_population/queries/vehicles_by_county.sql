-- Vehicles by county and state (a county outside Washington is its own state's), most first.
SELECT county, state, count(*) AS vehicles
FROM processed_ev_population
GROUP BY county, state
ORDER BY vehicles DESC, county, state
