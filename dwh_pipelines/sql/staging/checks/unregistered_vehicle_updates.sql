-- Referential: updates of vehicles never registered (kept; the vehicle dimension infers them).
WITH registered AS (
    SELECT organization_id, vehicle_id FROM dev.stg_vehicle_events WHERE event = 'register'
    UNION
    SELECT organization_id, vehicle_id FROM prod.stg_vehicle_events WHERE event = 'register'
)
SELECT u.organization_id, u.vehicle_id, count(*) AS updates, min(u.event_at) AS first_update
  FROM dev.stg_vehicle_events u
  LEFT JOIN registered r USING (organization_id, vehicle_id)
 WHERE u.event = 'update' AND r.vehicle_id IS NULL
 GROUP BY u.organization_id, u.vehicle_id
