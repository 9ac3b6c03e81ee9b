-- Rows rejected because their event type is not one the entity knows.
SELECT entity, event_date, source_key, source_line, payload
  FROM dev.stg_rejected_events WHERE reason LIKE 'accepted_values:%%'
