-- Cost per mile by destination city: where is transport dearest per unit of distance?
-- Per city: total cost divided by total distance (not the average of per-shipment ratios), as
-- DECIMAL(18,4); cities whose shipments have no distance are left out. Dearest first, ties by city.
SELECT
    destination_city,
    count(*) AS shipments,
    CAST(round(sum(shipping_cost) / sum(shipping_distance), 4) AS DECIMAL(18, 4)) AS cost_per_mile
FROM processed_shipping
GROUP BY destination_city
HAVING sum(shipping_distance) > 0
ORDER BY cost_per_mile DESC, destination_city
