-- Battery electric (BEV) against plug-in hybrid (PHEV) vehicles per model year, with the BEV share in percent.
SELECT
    model_year,
    count_if(electric_vehicle_type = 'Battery Electric Vehicle (BEV)') AS bev,
    count_if(electric_vehicle_type = 'Plug-in Hybrid Electric Vehicle (PHEV)') AS phev,
    CAST(round(100.0 * count_if(electric_vehicle_type = 'Battery Electric Vehicle (BEV)') / count(*), 1)
         AS DECIMAL(5, 1)) AS bev_share_percent
FROM processed_ev_population
GROUP BY model_year
ORDER BY model_year
