-- Totals by month: how do shipments and costs evolve over time?
-- Per year and month partition (the shipping date's): shipments, total and average shipping cost,
-- total distance and fuel quantity as DECIMAL(18,2), in calendar order.
SELECT
    year,
    month,
    count(*) AS shipments,
    CAST(round(sum(shipping_cost), 2) AS DECIMAL(18, 2)) AS total_shipping_cost,
    CAST(round(avg(shipping_cost), 2) AS DECIMAL(18, 2)) AS average_shipping_cost,
    CAST(round(sum(shipping_distance), 2) AS DECIMAL(18, 2)) AS total_shipping_distance,
    CAST(round(sum(quantity), 2) AS DECIMAL(18, 2)) AS total_fuel_quantity
FROM processed_shipping
GROUP BY year, month
ORDER BY year, month
