-- Vehicle events appended to dates already published (%(append_dates)s), in key order:
-- appending to the primary-key btree instead of writing all over it.
SET LOCAL work_mem = '256MB';
INSERT INTO prod.stg_vehicle_events
SELECT * FROM dev.stg_vehicle_events
 WHERE event_date = ANY(%(append_dates)s)
 ORDER BY event_key;
