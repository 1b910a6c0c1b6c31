-- Electric vehicle population summary: what has the pipeline loaded so far?
-- One row: vehicles, makes, battery electric and plug-in hybrid counts, and the average electric
-- range of the vehicles whose range is known (0 means not researched).
SELECT
    count(*) AS vehicles,
    count(DISTINCT make) AS makes,
    count_if(electric_vehicle_type = 'Battery Electric Vehicle (BEV)') AS bev,
    count_if(electric_vehicle_type = 'Plug-in Hybrid Electric Vehicle (PHEV)') AS phev,
    CAST(round(avg(CASE WHEN electric_range > 0 THEN electric_range END), 1) AS DECIMAL(10, 1)) AS avg_known_range
FROM processed_ev_population
