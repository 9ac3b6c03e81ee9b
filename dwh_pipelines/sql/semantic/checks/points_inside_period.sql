-- Rule: a point belongs to a period only if start <= location_at < finish (no segment
-- crosses a boundary). Checked on each period's earliest and latest point: one pass over
-- the points, grouped by period, instead of a join of every point to its period.
SELECT f.period_key, f.first_point_at, f.last_point_at, p.period_start, p.period_finish
  FROM (SELECT period_key, min(location_at) AS first_point_at, max(location_at) AS last_point_at
          FROM dev.fact_vehicle_location GROUP BY period_key) f
  JOIN dev.dim_operating_period p USING (period_key)
 WHERE f.first_point_at < p.period_start OR f.last_point_at >= p.period_finish
