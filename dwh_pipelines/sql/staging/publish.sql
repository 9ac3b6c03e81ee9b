-- Publish dev to prod: replace exactly the rebuilt event dates, in the caller's transaction.
DELETE FROM prod.stg_vehicle_events          WHERE event_date = ANY(%(dates)s);
DELETE FROM prod.stg_operating_period_events WHERE event_date = ANY(%(dates)s);
DELETE FROM prod.stg_removed_duplicates      WHERE event_date = ANY(%(dates)s);
DELETE FROM prod.stg_rejected_events         WHERE event_date = ANY(%(dates)s);
INSERT INTO prod.stg_vehicle_events          SELECT * FROM dev.stg_vehicle_events;
INSERT INTO prod.stg_operating_period_events SELECT * FROM dev.stg_operating_period_events;
INSERT INTO prod.stg_removed_duplicates      SELECT * FROM dev.stg_removed_duplicates;
INSERT INTO prod.stg_rejected_events         SELECT * FROM dev.stg_rejected_events;
ANALYZE prod.stg_vehicle_events;
ANALYZE prod.stg_operating_period_events;
