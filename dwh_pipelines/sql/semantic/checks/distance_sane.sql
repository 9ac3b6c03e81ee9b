-- A pair has at least one point, a non-negative distance, and matches the sum of its steps
-- (a continued track's: its published distance and points plus the new ones).
SELECT d.period_key, d.vehicle_id, d.distance_km, d.updates, s.km, s.points
  FROM dev.fact_vehicle_period_distance d
  LEFT JOIN (SELECT period_key, vehicle_id, sum(step_km) AS km, count(*) AS points
               FROM dev.fact_vehicle_location GROUP BY 1, 2) s USING (period_key, vehicle_id)
  LEFT JOIN dev.continued_pairs c USING (period_key, vehicle_id)
 WHERE d.updates < 1 OR d.distance_km < 0
    OR coalesce(s.points, 0) + coalesce(c.prior_updates, 0) IS DISTINCT FROM d.updates::bigint
    OR abs(d.distance_km - coalesce(s.km, 0) - coalesce(c.prior_distance_km, 0)) > 1e-6
