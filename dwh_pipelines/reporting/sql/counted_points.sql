-- Accepted points inside counted operating periods (a point in two overlapping periods
-- counts in both): what the distance answer is computed from.
SELECT coalesce(sum(f.updates), 0)::bigint AS counted_points,
       coalesce(sum(f.gps_jumps_dropped), 0)::bigint AS gps_jumps_dropped
  FROM star.fact_vehicle_period_distance f
  JOIN star.dim_operating_period p USING (period_key)
 WHERE p.is_counted
