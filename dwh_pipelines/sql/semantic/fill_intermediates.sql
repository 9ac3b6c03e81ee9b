-- The daily intermediates arrived after the model: fill them once from what prod holds
-- (a no-op on a new platform and on every later run). Day keys are UTC days, as the build's.
SET LOCAL TimeZone = 'UTC';
INSERT INTO prod.int_vehicle_daily_updates
SELECT organization_id, vehicle_id, to_char(location_at, 'YYYYMMDD')::integer, event_date,
       count(*)
  FROM prod.int_vehicle_updates
 WHERE NOT EXISTS (SELECT 1 FROM prod.int_vehicle_daily_updates)
 GROUP BY 1, 2, 3, 4;
INSERT INTO prod.int_period_daily_distance
SELECT period_key, vehicle_id, date_key, organization_key, sum(step_km), count(*)
  FROM prod.fact_vehicle_location
 WHERE NOT EXISTS (SELECT 1 FROM prod.int_period_daily_distance)
 GROUP BY 1, 2, 3, 4;
