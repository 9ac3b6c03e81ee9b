-- Referential: updates of vehicles never registered (kept; the vehicle dimension infers them).
-- Only this load's updated vehicles are looked up, in prod through the lifecycle events'
-- partial index (stg_vehicle_events_lifecycle), so the check reads this load's rows and
-- not every published date's.
WITH updated AS (
    SELECT organization_id, vehicle_id, count(*) AS updates, min(event_at) AS first_update
      FROM dev.stg_vehicle_events
     WHERE event = 'update'
     GROUP BY organization_id, vehicle_id
)
SELECT u.organization_id, u.vehicle_id, u.updates, u.first_update
  FROM updated u
 WHERE NOT EXISTS (SELECT 1 FROM dev.stg_vehicle_events r
                    WHERE r.event = 'register' AND r.organization_id = u.organization_id
                      AND r.vehicle_id = u.vehicle_id)
   AND NOT EXISTS (SELECT 1 FROM prod.stg_vehicle_events r
                    WHERE r.event = 'register' AND r.organization_id = u.organization_id
                      AND r.vehicle_id = u.vehicle_id)
