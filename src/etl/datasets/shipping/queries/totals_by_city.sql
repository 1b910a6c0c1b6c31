-- Totals by destination city: which destinations cost the most?
-- Per city: shipments, total shipping cost, distance and fuel quantity as DECIMAL(18,2);
-- most expensive first, ties broken by city name.
SELECT
    destination_city,
    count(*) AS shipments,
    CAST(round(sum(shipping_cost), 2) AS DECIMAL(18, 2)) AS total_shipping_cost,
    CAST(round(sum(shipping_distance), 2) AS DECIMAL(18, 2)) AS total_shipping_distance,
    CAST(round(sum(quantity), 2) AS DECIMAL(18, 2)) AS total_fuel_quantity
FROM processed_shipping
GROUP BY destination_city
ORDER BY total_shipping_cost DESC, destination_city
