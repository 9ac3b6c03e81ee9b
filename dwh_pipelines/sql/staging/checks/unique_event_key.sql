-- One row per event key once duplicates are removed.
SELECT 'vehicle' AS entity, event_key, count(*) AS copies
  FROM dev.stg_vehicle_events GROUP BY event_key HAVING count(*) > 1
UNION ALL
SELECT 'operating_period', event_key, count(*)
  FROM dev.stg_operating_period_events GROUP BY event_key HAVING count(*) > 1
