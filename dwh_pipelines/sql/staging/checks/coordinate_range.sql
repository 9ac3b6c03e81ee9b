-- Rows rejected because their coordinates are outside the globe.
SELECT entity, event_date, source_key, source_line, payload
  FROM dev.stg_rejected_events WHERE reason LIKE 'coordinate_range:%%'
