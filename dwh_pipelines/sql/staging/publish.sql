-- Publish dev to prod: replace exactly the rebuilt event dates, in the caller's transaction.
-- sorts and hashes of a whole day stay in memory instead of spilling to disk
SET LOCAL work_mem = '256MB';
DELETE FROM prod.stg_vehicle_events          WHERE event_date = ANY(%(dates)s);
DELETE FROM prod.stg_operating_period_events WHERE event_date = ANY(%(dates)s);
DELETE FROM prod.stg_removed_duplicates      WHERE event_date = ANY(%(dates)s);
DELETE FROM prod.stg_rejected_events         WHERE event_date = ANY(%(dates)s);
-- in key order: appending to the primary-key btree instead of writing all over it
INSERT INTO prod.stg_vehicle_events          SELECT * FROM dev.stg_vehicle_events ORDER BY event_key;
INSERT INTO prod.stg_operating_period_events SELECT * FROM dev.stg_operating_period_events
 ORDER BY event_key;
INSERT INTO prod.stg_removed_duplicates      SELECT * FROM dev.stg_removed_duplicates;
INSERT INTO prod.stg_rejected_events         SELECT * FROM dev.stg_rejected_events;
ANALYZE prod.stg_vehicle_events;
ANALYZE prod.stg_operating_period_events;
