-- The most recent operating periods of the BI answer (the page shows a limited number).
SELECT organization_id, operating_period_id, period_start, period_finish, vehicles,
       total_km, avg_km
  FROM marts.avg_distance_per_operating_period
 ORDER BY period_start DESC, organization_id, operating_period_id
 LIMIT %(limit)s
