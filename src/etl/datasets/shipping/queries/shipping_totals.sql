-- Shipping totals: what has the pipeline loaded so far?
-- One row over every processed shipment: total shipping cost, total distance, total fuel quantity
-- (the `quantity` column), the number of records and the number of distinct shipments.
-- Money and measures are cast to DECIMAL(18,2) after round(..., 2), so Athena renders plain numbers
-- (10003500.75) rather than doubles (1.000350075E7). A single aggregate row needs no ORDER BY.
SELECT
    CAST(round(sum(shipping_cost), 2) AS DECIMAL(18, 2)) AS total_shipping_cost,
    CAST(round(sum(shipping_distance), 2) AS DECIMAL(18, 2)) AS total_shipping_distance,
    CAST(round(sum(quantity), 2) AS DECIMAL(18, 2)) AS total_fuel_quantity,
    count(*) AS record_count,
    count(DISTINCT shipping_id) AS shipments
FROM processed_shipping
