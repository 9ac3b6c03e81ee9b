-- Points dropped as GPS jumps (for information; they never count).
SELECT period_id, vehicle_id, gps_jumps_dropped
  FROM dev.fact_vehicle_period_distance WHERE gps_jumps_dropped > 0
