-- Rule: only created, not deleted periods carry distance.
SELECT f.period_key, f.organization_id, f.period_id, p.is_deleted, p.created_at
  FROM dev.fact_vehicle_period_distance f
  JOIN dev.dim_operating_period p USING (period_key)
 WHERE NOT p.is_counted
