-- Rule: a point belongs to a period only if start <= location_at < finish (no segment crosses a boundary).
SELECT f.period_key, f.vehicle_id, f.location_at, p.period_start, p.period_finish
  FROM dev.fact_vehicle_location f
  JOIN dev.dim_operating_period p USING (period_key)
 WHERE f.location_at < p.period_start OR f.location_at >= p.period_finish
