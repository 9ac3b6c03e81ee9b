-- raw_db (L1): the lake's Parquet rows as they are, plus load lineage.
CREATE SCHEMA IF NOT EXISTS raw;
COMMENT ON SCHEMA raw IS 'L1: lake rows as they are, one table per lake dataset; new lake files are appended, a changed event date is replaced whole.';

-- Partitioned by event date (partitions in raw_partitions, see dwh_pipelines.partitions).
CREATE TABLE IF NOT EXISTS raw.vehicle_events (
    event            text        NOT NULL,
    organization_id  text        NOT NULL,
    event_at         timestamptz NOT NULL,
    vehicle_id       text        NOT NULL,
    location_lat     double precision,
    location_lng     double precision,
    location_at      timestamptz,
    source_key       text        NOT NULL,
    source_line      integer     NOT NULL,
    ingestion_run_id text        NOT NULL,
    batch_id         text        NOT NULL,
    event_date       date        NOT NULL,
    load_run_id      text        NOT NULL,
    loaded_at        timestamptz NOT NULL DEFAULT now(),
    load_seq         bigint      NOT NULL DEFAULT 0
) PARTITION BY RANGE (event_date);
DROP INDEX IF EXISTS raw.vehicle_events_event_date;
-- the rows a load appended to a date (what staging takes next; a date's rows are its
-- partition). Loads only append to a date's table, so load_seq follows the rows' order on
-- disk, and a block-range index finds them for a fraction of a b-tree's build time and size
-- (a full day: 0.7 against 2.3 s to build).
DROP INDEX IF EXISTS raw.vehicle_events_event_date_load;
-- (guarded: CREATE INDEX IF NOT EXISTS on a partitioned table locks every partition first)
DO $$
BEGIN
    IF to_regclass('raw.vehicle_events_load_seq') IS NULL THEN
        CREATE INDEX vehicle_events_load_seq ON raw.vehicle_events USING brin (load_seq);
    END IF;
END $$;

CREATE TABLE IF NOT EXISTS raw.operating_period_events (
    event            text        NOT NULL,
    organization_id  text        NOT NULL,
    event_at         timestamptz NOT NULL,
    period_id        text        NOT NULL,
    period_start     timestamptz,
    period_finish    timestamptz,
    source_key       text        NOT NULL,
    source_line      integer     NOT NULL,
    ingestion_run_id text        NOT NULL,
    batch_id         text        NOT NULL,
    event_date       date        NOT NULL,
    load_run_id      text        NOT NULL,
    loaded_at        timestamptz NOT NULL DEFAULT now(),
    load_seq         bigint      NOT NULL DEFAULT 0
);
DROP INDEX IF EXISTS raw.operating_period_events_event_date;
-- a date's rows, and the rows a load appended to it (what staging takes next)
CREATE INDEX IF NOT EXISTS operating_period_events_event_date_load ON raw.operating_period_events (event_date, load_seq);

COMMENT ON TABLE raw.vehicle_events IS 'Vehicle events (register, update, deregister) as converted in the lake.';
COMMENT ON TABLE raw.operating_period_events IS 'Operating-period events (create, delete) as converted in the lake.';
COMMENT ON COLUMN raw.vehicle_events.event IS 'Event type as received: register, update or deregister.';
COMMENT ON COLUMN raw.vehicle_events.organization_id IS 'Client (organization) that owns the vehicle.';
COMMENT ON COLUMN raw.vehicle_events.event_at IS 'Event time (UTC) from the line''s "at".';
COMMENT ON COLUMN raw.vehicle_events.vehicle_id IS 'Vehicle id from data.id.';
COMMENT ON COLUMN raw.vehicle_events.location_lat IS 'Latitude (WGS84 degrees) from data.location.lat.';
COMMENT ON COLUMN raw.vehicle_events.location_lng IS 'Longitude (WGS84 degrees) from data.location.lng.';
COMMENT ON COLUMN raw.vehicle_events.location_at IS 'Time (UTC) the position was taken, from data.location.at.';
COMMENT ON COLUMN raw.vehicle_events.source_key IS 'Lineage: object key in the source feed.';
COMMENT ON COLUMN raw.vehicle_events.source_line IS 'Lineage: 1-based line number in the source object.';
COMMENT ON COLUMN raw.vehicle_events.ingestion_run_id IS 'Lineage: run that converted the line in the lake.';
COMMENT ON COLUMN raw.vehicle_events.batch_id IS 'Lineage: lake conversion batch.';
COMMENT ON COLUMN raw.vehicle_events.event_date IS 'Partition: UTC date of event_at.';
COMMENT ON COLUMN raw.vehicle_events.load_run_id IS 'Run that loaded the partition into raw_db.';
COMMENT ON COLUMN raw.vehicle_events.loaded_at IS 'When the partition was loaded.';
COMMENT ON COLUMN raw.operating_period_events.event IS 'Event type as received: create or delete.';
COMMENT ON COLUMN raw.operating_period_events.organization_id IS 'Client (organization) the period belongs to.';
COMMENT ON COLUMN raw.operating_period_events.event_at IS 'Event time (UTC) from the line''s "at".';
COMMENT ON COLUMN raw.operating_period_events.period_id IS 'Operating period id from data.id.';
COMMENT ON COLUMN raw.operating_period_events.period_start IS 'Period start (UTC) from data.start.';
COMMENT ON COLUMN raw.operating_period_events.period_finish IS 'Period finish (UTC) from data.finish.';
COMMENT ON COLUMN raw.operating_period_events.source_key IS 'Lineage: object key in the source feed.';
COMMENT ON COLUMN raw.operating_period_events.source_line IS 'Lineage: 1-based line number in the source object.';
COMMENT ON COLUMN raw.operating_period_events.ingestion_run_id IS 'Lineage: run that converted the line in the lake.';
COMMENT ON COLUMN raw.operating_period_events.batch_id IS 'Lineage: lake conversion batch.';
COMMENT ON COLUMN raw.operating_period_events.event_date IS 'Partition: UTC date of event_at.';
COMMENT ON COLUMN raw.operating_period_events.load_run_id IS 'Run that loaded the partition into raw_db.';
COMMENT ON COLUMN raw.operating_period_events.loaded_at IS 'When the partition was loaded.';
COMMENT ON COLUMN raw.vehicle_events.load_seq IS 'The raw load that wrote the row (raw.load_log).';
COMMENT ON COLUMN raw.operating_period_events.load_seq IS 'The raw load that wrote the row (raw.load_log).';

CREATE TABLE IF NOT EXISTS raw.loaded_files (
    dataset    text    NOT NULL,
    event_date date    NOT NULL,
    path       text    NOT NULL,
    rows       bigint  NOT NULL,
    load_seq   bigint  NOT NULL,
    PRIMARY KEY (dataset, event_date, path)
);
COMMENT ON TABLE raw.loaded_files IS 'Lake Parquet files whose rows raw holds: a date gets only its new files appended, unless a loaded file is gone (then the date is replaced).';
COMMENT ON COLUMN raw.loaded_files.dataset IS 'Lake dataset (table name in raw).';
COMMENT ON COLUMN raw.loaded_files.event_date IS 'Partition of the file.';
COMMENT ON COLUMN raw.loaded_files.path IS 'File path in the lake bucket.';
COMMENT ON COLUMN raw.loaded_files.rows IS 'Rows loaded from the file.';
COMMENT ON COLUMN raw.loaded_files.load_seq IS 'The raw load that read it.';
