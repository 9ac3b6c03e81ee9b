-- Vehicle-period pairs per distance bin (bin n covers [n * width, (n + 1) * width) km).
SELECT floor(f.distance_km / %(width)s)::int AS bin, count(*)::int AS pairs
  FROM star.fact_vehicle_period_distance f
  JOIN star.dim_operating_period p USING (period_key)
 WHERE p.is_counted
 GROUP BY 1
 ORDER BY 1
