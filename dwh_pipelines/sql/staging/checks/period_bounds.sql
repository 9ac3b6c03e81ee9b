-- Created periods rejected because start/finish are missing or not increasing.
SELECT entity, event_date, source_key, source_line, payload
  FROM dev.stg_rejected_events WHERE reason LIKE 'period_bounds:%%'
