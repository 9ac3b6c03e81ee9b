-- Build the dev tables of staging_db from dev.src_* (the raw rows of this load: whole dates
-- to replace, or rows appended to %(append_dates)s). Deduplicate first (an exact duplicate
-- is the same event; the copy of the earliest lake batch is kept, and on an appended date a
-- copy already published in prod wins), then reject what breaks a rule.
-- Parameters: %(append_dates)s, %(load_seq)s the load stamped on the staged rows.
-- hashes and most sorts of a whole day stay in memory instead of spilling to disk; the key
-- sort of keyed_vehicle does not (a full day: 1.7 GB of temp files), and 1 GB per sorting
-- process, which would hold it, saved only 1 to 1.7 s of about 18 (measured, not kept)
SET LOCAL work_mem = '256MB';
SET LOCAL TimeZone = 'UTC';
TRUNCATE dev.stg_vehicle_events, dev.stg_operating_period_events,
         dev.stg_removed_duplicates, dev.stg_rejected_events;

-- vehicle events --------------------------------------------------------------------------
CREATE TEMP TABLE keyed_vehicle ON COMMIT DROP AS
WITH source AS (
    SELECT * FROM dev.src_vehicle_events
),
keyed AS (
    SELECT source.*,
           md5(concat_ws('|', event, organization_id, vehicle_id, event_at,
                         location_lat, location_lng, location_at))::uuid AS event_key
      FROM source
)
SELECT keyed.*,
       row_number() OVER (PARTITION BY event_key ORDER BY batch_id, source_key, source_line)
       + CASE WHEN event_date = ANY(%(append_dates)s)
                   AND (EXISTS (SELECT 1 FROM prod.stg_vehicle_events p
                                 WHERE p.event_key = keyed.event_key
                                   AND p.event_date = keyed.event_date)
                        OR EXISTS (SELECT 1 FROM prod.stg_rejected_events r
                                    WHERE r.event_date = keyed.event_date
                                      AND r.entity = 'vehicle' AND r.event_key = keyed.event_key))
              THEN 1 ELSE 0 END AS copy_no,
       CASE
           WHEN event NOT IN ('register', 'update', 'deregister')
               THEN 'accepted_values: vehicle event must be register, update or deregister'
           WHEN location_lat NOT BETWEEN -90 AND 90 OR location_lng NOT BETWEEN -180 AND 180
               THEN 'coordinate_range: latitude must be within [-90, 90] and longitude within [-180, 180]'
       END AS reject_reason
  FROM keyed;

INSERT INTO dev.stg_removed_duplicates (entity, event_key, event_date, source_key, source_line)
SELECT 'vehicle', event_key, event_date, source_key, source_line
  FROM keyed_vehicle WHERE copy_no > 1;

INSERT INTO dev.stg_rejected_events (entity, event_key, event_date, reason, source_key, source_line, payload)
SELECT 'vehicle', event_key, event_date, reject_reason, source_key, source_line,
       jsonb_build_object('event', event, 'organization_id', organization_id,
                          'vehicle_id', vehicle_id, 'event_at', event_at,
                          'location_lat', location_lat, 'location_lng', location_lng,
                          'location_at', location_at)
  FROM keyed_vehicle WHERE copy_no = 1 AND reject_reason IS NOT NULL;

INSERT INTO dev.stg_vehicle_events
SELECT event_key, event, organization_id, vehicle_id, event_at,
       location_lat, location_lng, location_at,
       (location_lat IS NOT NULL AND location_lng IS NOT NULL AND location_at IS NOT NULL),
       event_date, source_key, source_line, ingestion_run_id, %(load_seq)s
  FROM keyed_vehicle WHERE copy_no = 1 AND reject_reason IS NULL;

-- operating-period events -----------------------------------------------------------------
CREATE TEMP TABLE keyed_period ON COMMIT DROP AS
WITH source AS (
    SELECT * FROM dev.src_operating_period_events
),
keyed AS (
    SELECT source.*,
           md5(concat_ws('|', event, organization_id, period_id, event_at,
                         period_start, period_finish))::uuid AS event_key
      FROM source
)
SELECT keyed.*,
       row_number() OVER (PARTITION BY event_key ORDER BY batch_id, source_key, source_line)
       + CASE WHEN event_date = ANY(%(append_dates)s)
                   AND (EXISTS (SELECT 1 FROM prod.stg_operating_period_events p
                                 WHERE p.event_key = keyed.event_key)
                        OR EXISTS (SELECT 1 FROM prod.stg_rejected_events r
                                    WHERE r.event_date = keyed.event_date
                                      AND r.entity = 'operating_period'
                                      AND r.event_key = keyed.event_key))
              THEN 1 ELSE 0 END AS copy_no,
       CASE
           WHEN event NOT IN ('create', 'delete')
               THEN 'accepted_values: operating-period event must be create or delete'
           WHEN event = 'create' AND (period_start IS NULL OR period_finish IS NULL
                                      OR period_finish <= period_start)
               THEN 'period_bounds: a created period needs start < finish'
       END AS reject_reason
  FROM keyed;

INSERT INTO dev.stg_removed_duplicates (entity, event_key, event_date, source_key, source_line)
SELECT 'operating_period', event_key, event_date, source_key, source_line
  FROM keyed_period WHERE copy_no > 1;

INSERT INTO dev.stg_rejected_events (entity, event_key, event_date, reason, source_key, source_line, payload)
SELECT 'operating_period', event_key, event_date, reject_reason, source_key, source_line,
       jsonb_build_object('event', event, 'organization_id', organization_id,
                          'period_id', period_id, 'event_at', event_at,
                          'period_start', period_start, 'period_finish', period_finish)
  FROM keyed_period WHERE copy_no = 1 AND reject_reason IS NOT NULL;

INSERT INTO dev.stg_operating_period_events
SELECT event_key, event, organization_id, period_id, event_at, period_start, period_finish,
       event_date, source_key, source_line, ingestion_run_id, %(load_seq)s
  FROM keyed_period WHERE copy_no = 1 AND reject_reason IS NULL;

-- prod's key and index, built here on the per-date tables (the rows arrived in key order), so
-- publish attaches a date written whole as it is (see create_scratch_partitions)
ALTER TABLE dev.stg_vehicle_events ADD PRIMARY KEY (event_key, event_date);
CREATE INDEX ON dev.stg_vehicle_events USING brin (load_seq);
CREATE INDEX ON dev.stg_vehicle_events (organization_id, vehicle_id)
    WHERE event IN ('register', 'deregister');
ANALYZE dev.stg_vehicle_events;
ANALYZE dev.stg_operating_period_events;
