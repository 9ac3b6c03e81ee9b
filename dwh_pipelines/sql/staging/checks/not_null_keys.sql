-- Keys every staged event must have.
SELECT 'vehicle' AS entity, event_key, organization_id, vehicle_id AS id, event_at
  FROM dev.stg_vehicle_events
 WHERE organization_id IS NULL OR vehicle_id IS NULL OR event_at IS NULL OR event_key IS NULL
UNION ALL
SELECT 'operating_period', event_key, organization_id, period_id, event_at
  FROM dev.stg_operating_period_events
 WHERE organization_id IS NULL OR period_id IS NULL OR event_at IS NULL OR event_key IS NULL
