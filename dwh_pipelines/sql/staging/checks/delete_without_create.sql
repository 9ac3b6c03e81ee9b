-- Referential: deletes of operating periods never created (kept as deleted, never counted).
WITH created AS (
    SELECT organization_id, period_id FROM dev.stg_operating_period_events WHERE event = 'create'
    UNION
    SELECT organization_id, period_id FROM prod.stg_operating_period_events WHERE event = 'create'
)
SELECT d.organization_id, d.period_id, d.event_at
  FROM dev.stg_operating_period_events d
  LEFT JOIN created c USING (organization_id, period_id)
 WHERE d.event = 'delete' AND c.period_id IS NULL
