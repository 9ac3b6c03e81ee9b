-- Publish dev to prod in the caller's transaction: replace the dates rebuilt whole
-- (%(replace_dates)s) and append the rows of the others.
-- sorts and hashes of a whole day stay in memory instead of spilling to disk
SET LOCAL work_mem = '256MB';
DELETE FROM prod.stg_vehicle_events          WHERE event_date = ANY(%(replace_dates)s);
DELETE FROM prod.stg_operating_period_events WHERE event_date = ANY(%(replace_dates)s);
DELETE FROM prod.stg_removed_duplicates      WHERE event_date = ANY(%(replace_dates)s);
DELETE FROM prod.stg_rejected_events         WHERE event_date = ANY(%(replace_dates)s);
-- in key order: appending to the primary-key btree instead of writing all over it
INSERT INTO prod.stg_vehicle_events          SELECT * FROM dev.stg_vehicle_events ORDER BY event_key;
INSERT INTO prod.stg_operating_period_events SELECT * FROM dev.stg_operating_period_events
 ORDER BY event_key;
INSERT INTO prod.stg_removed_duplicates      SELECT * FROM dev.stg_removed_duplicates;
INSERT INTO prod.stg_rejected_events         SELECT * FROM dev.stg_rejected_events;
-- statistics matter after a date was replaced, not after 15 minutes were appended
ANALYZE prod.stg_vehicle_events;
ANALYZE prod.stg_operating_period_events;
