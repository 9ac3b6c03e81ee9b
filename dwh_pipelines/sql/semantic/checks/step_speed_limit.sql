-- Rule: no accepted step implies a speed above the GPS-jump limit.
SELECT period_key, vehicle_id, point_no, step_km, step_seconds
  FROM dev.fact_vehicle_location
 WHERE (step_seconds > 0 AND step_km / step_seconds * 3600 > %(max_kmh)s)
    OR (step_seconds <= 0 AND step_km > 0)
