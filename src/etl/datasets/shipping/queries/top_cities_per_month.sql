-- Top 3 destination cities of each month by shipping cost: who are the big customers month by month?
-- Cities ranked within each year/month by total shipping cost (DECIMAL(18,2)); rank 1 is the most
-- expensive, ties share a rank and are listed by city name.
SELECT year, month, city_rank, destination_city, total_shipping_cost
FROM (
    SELECT
        year,
        month,
        destination_city,
        CAST(round(sum(shipping_cost), 2) AS DECIMAL(18, 2)) AS total_shipping_cost,
        rank() OVER (
            PARTITION BY year, month
            ORDER BY CAST(round(sum(shipping_cost), 2) AS DECIMAL(18, 2)) DESC
        ) AS city_rank
    FROM processed_shipping
    GROUP BY year, month, destination_city
) AS ranked
WHERE city_rank <= 3
ORDER BY year, month, city_rank, destination_city
