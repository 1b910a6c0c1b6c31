-- Top products by fuel quantity: which products move the most fuel?
-- The 10 products (product_id set) with the largest total quantity, with their shipments and total
-- shipping cost as DECIMAL(18,2); ties broken by product id.
SELECT
    product_id,
    count(*) AS shipments,
    CAST(round(sum(quantity), 2) AS DECIMAL(18, 2)) AS total_fuel_quantity,
    CAST(round(sum(shipping_cost), 2) AS DECIMAL(18, 2)) AS total_shipping_cost
FROM processed_shipping
WHERE product_id IS NOT NULL
GROUP BY product_id
ORDER BY total_fuel_quantity DESC, product_id
LIMIT 10
