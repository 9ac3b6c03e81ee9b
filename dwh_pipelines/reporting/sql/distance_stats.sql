-- Distribution of km per (counted operating period, vehicle) pair, per client and overall
-- (organization_id null), summarised in the warehouse so no pair travels to Python.
WITH pairs AS (
    SELECT f.organization_id, f.distance_km
      FROM star.fact_vehicle_period_distance f
      JOIN star.dim_operating_period p USING (period_key)
     WHERE p.is_counted
)
SELECT organization_id, count(*)::int AS pairs, avg(distance_km) AS mean_km,
       min(distance_km) AS min_km,
       percentile_cont(0.25) WITHIN GROUP (ORDER BY distance_km) AS q1_km,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY distance_km) AS median_km,
       percentile_cont(0.75) WITHIN GROUP (ORDER BY distance_km) AS q3_km,
       max(distance_km) AS max_km
  FROM pairs
 GROUP BY GROUPING SETS ((organization_id), ())
 ORDER BY organization_id IS NOT NULL, count(*) DESC, organization_id
