-- Publish dev to prod in the caller's transaction: replace the dates rebuilt whole
-- (%(replace_dates)s) and append the rows of the others. The vehicle events, partitioned by
-- date, are swapped in per date (dwh_pipelines.staging.publish); these tables are small.
SET LOCAL work_mem = '256MB';
DELETE FROM prod.stg_operating_period_events WHERE event_date = ANY(%(replace_dates)s);
DELETE FROM prod.stg_removed_duplicates      WHERE event_date = ANY(%(replace_dates)s);
DELETE FROM prod.stg_rejected_events         WHERE event_date = ANY(%(replace_dates)s);
INSERT INTO prod.stg_operating_period_events SELECT * FROM dev.stg_operating_period_events
 ORDER BY event_key;
INSERT INTO prod.stg_removed_duplicates      SELECT * FROM dev.stg_removed_duplicates;
INSERT INTO prod.stg_rejected_events         SELECT * FROM dev.stg_rejected_events;
ANALYZE prod.stg_operating_period_events;
