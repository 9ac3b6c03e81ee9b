-- staging_db (L2) tables, created in schema {schema} (prod: published; dev holds unkeyed
-- scratch copies while a build is audited, see pipeline_core.db.recreate_scratch_tables).
CREATE SCHEMA IF NOT EXISTS {schema};

-- Partitioned by event date (partitions in {schema}_partitions, see
-- dwh_pipelines.partitions). The key includes the date; the date is a function of event_at,
-- which the key hashes, so event_key alone is still unique.
CREATE TABLE IF NOT EXISTS {schema}.stg_vehicle_events (
    event_key        uuid             NOT NULL,
    event            text             NOT NULL,
    organization_id  text             NOT NULL,
    vehicle_id       text             NOT NULL,
    event_at         timestamptz      NOT NULL,
    location_lat     double precision,
    location_lng     double precision,
    location_at      timestamptz,
    has_location     boolean          NOT NULL,
    event_date       date             NOT NULL,
    source_key       text             NOT NULL,
    source_line      integer          NOT NULL,
    ingestion_run_id text             NOT NULL,
    load_seq         bigint           NOT NULL DEFAULT 0,
    PRIMARY KEY (event_key, event_date)
) PARTITION BY RANGE (event_date);
DROP INDEX IF EXISTS {schema}.stg_vehicle_events_date;
-- the rows a load appended to a date (what semantic takes next; a date's rows are its
-- partition): a block-range index, as in raw.vehicle_events (publish only appends to a
-- date's table, so load_seq follows the rows' order on disk)
DROP INDEX IF EXISTS {schema}.stg_vehicle_events_date_load;
-- (guarded: CREATE INDEX IF NOT EXISTS on a partitioned table locks every partition first)
DO $$
BEGIN
    IF to_regclass('{schema}.stg_vehicle_events_load_seq') IS NULL THEN
        CREATE INDEX stg_vehicle_events_load_seq ON {schema}.stg_vehicle_events
            USING brin (load_seq);
    END IF;
END $$;
-- the lifecycle events (register and deregister: a few rows a day), so that no step scans
-- every published date for them: the unregistered_vehicle_updates check looks a load's
-- updated vehicles up through it, and semantic reads all of them on every run (replaces
-- the index of registrations only, under which semantic scanned the whole history)
DROP INDEX IF EXISTS {schema}.stg_vehicle_events_registered;
-- (guarded: CREATE INDEX IF NOT EXISTS on a partitioned table locks every partition first)
DO $$
BEGIN
    IF to_regclass('{schema}.stg_vehicle_events_lifecycle') IS NULL THEN
        CREATE INDEX stg_vehicle_events_lifecycle ON {schema}.stg_vehicle_events
            (organization_id, vehicle_id) WHERE event IN ('register', 'deregister');
    END IF;
END $$;
COMMENT ON COLUMN {schema}.stg_vehicle_events.load_seq IS 'The staging load that published the row (prod.load_log).';
COMMENT ON TABLE {schema}.stg_vehicle_events IS 'Cleaned vehicle events: typed, UTC, accepted values only, exact duplicates and re-delivered lines removed.';
COMMENT ON COLUMN {schema}.stg_vehicle_events.event_key IS 'Surrogate key: hash of the event content, so the same event always gets the same key.';
COMMENT ON COLUMN {schema}.stg_vehicle_events.event IS 'register, update or deregister.';
COMMENT ON COLUMN {schema}.stg_vehicle_events.organization_id IS 'Client owning the vehicle.';
COMMENT ON COLUMN {schema}.stg_vehicle_events.vehicle_id IS 'Vehicle id.';
COMMENT ON COLUMN {schema}.stg_vehicle_events.event_at IS 'Event time (UTC).';
COMMENT ON COLUMN {schema}.stg_vehicle_events.location_lat IS 'Latitude, WGS84 degrees, within [-90, 90].';
COMMENT ON COLUMN {schema}.stg_vehicle_events.location_lng IS 'Longitude, WGS84 degrees, within [-180, 180].';
COMMENT ON COLUMN {schema}.stg_vehicle_events.location_at IS 'Time (UTC) the position was taken.';
COMMENT ON COLUMN {schema}.stg_vehicle_events.has_location IS 'True when latitude, longitude and position time are all present.';
COMMENT ON COLUMN {schema}.stg_vehicle_events.event_date IS 'Partition: UTC date of event_at.';
COMMENT ON COLUMN {schema}.stg_vehicle_events.source_key IS 'Lineage: source object of the kept copy (first by key and line).';
COMMENT ON COLUMN {schema}.stg_vehicle_events.source_line IS 'Lineage: line number of the kept copy.';
COMMENT ON COLUMN {schema}.stg_vehicle_events.ingestion_run_id IS 'Lineage: lake conversion run of the kept copy.';

CREATE TABLE IF NOT EXISTS {schema}.stg_operating_period_events (
    event_key        uuid        PRIMARY KEY,
    event            text        NOT NULL,
    organization_id  text        NOT NULL,
    period_id        text        NOT NULL,
    event_at         timestamptz NOT NULL,
    period_start     timestamptz,
    period_finish    timestamptz,
    event_date       date        NOT NULL,
    source_key       text        NOT NULL,
    source_line      integer     NOT NULL,
    ingestion_run_id text        NOT NULL,
    load_seq         bigint           NOT NULL DEFAULT 0
);
DROP INDEX IF EXISTS {schema}.stg_operating_period_events_date;
-- a date's rows, and the rows a load appended to it (what semantic takes next)
CREATE INDEX IF NOT EXISTS stg_operating_period_events_date_load ON {schema}.stg_operating_period_events (event_date, load_seq);
COMMENT ON COLUMN {schema}.stg_operating_period_events.load_seq IS 'The staging load that published the row (prod.load_log).';
COMMENT ON TABLE {schema}.stg_operating_period_events IS 'Cleaned operating-period events (create, delete), duplicates removed.';
COMMENT ON COLUMN {schema}.stg_operating_period_events.event_key IS 'Surrogate key: hash of the event content.';
COMMENT ON COLUMN {schema}.stg_operating_period_events.event IS 'create or delete.';
COMMENT ON COLUMN {schema}.stg_operating_period_events.organization_id IS 'Client the period belongs to.';
COMMENT ON COLUMN {schema}.stg_operating_period_events.period_id IS 'Operating period id.';
COMMENT ON COLUMN {schema}.stg_operating_period_events.event_at IS 'Event time (UTC).';
COMMENT ON COLUMN {schema}.stg_operating_period_events.period_start IS 'Period start (UTC), inclusive.';
COMMENT ON COLUMN {schema}.stg_operating_period_events.period_finish IS 'Period finish (UTC), exclusive.';
COMMENT ON COLUMN {schema}.stg_operating_period_events.event_date IS 'Partition: UTC date of event_at.';
COMMENT ON COLUMN {schema}.stg_operating_period_events.source_key IS 'Lineage: source object of the kept copy.';
COMMENT ON COLUMN {schema}.stg_operating_period_events.source_line IS 'Lineage: line number of the kept copy.';
COMMENT ON COLUMN {schema}.stg_operating_period_events.ingestion_run_id IS 'Lineage: lake conversion run of the kept copy.';

CREATE TABLE IF NOT EXISTS {schema}.stg_removed_duplicates (
    entity      text    NOT NULL,
    event_key   uuid    NOT NULL,
    event_date  date    NOT NULL,
    source_key  text    NOT NULL,
    source_line integer NOT NULL
);
CREATE INDEX IF NOT EXISTS stg_removed_duplicates_date ON {schema}.stg_removed_duplicates (event_date);
COMMENT ON TABLE {schema}.stg_removed_duplicates IS 'Lines removed as exact duplicates (or re-delivered copies) of a kept event, for accounting.';
COMMENT ON COLUMN {schema}.stg_removed_duplicates.entity IS 'vehicle or operating_period.';
COMMENT ON COLUMN {schema}.stg_removed_duplicates.event_key IS 'Key of the kept event this line duplicates.';
COMMENT ON COLUMN {schema}.stg_removed_duplicates.event_date IS 'Partition: UTC event date.';
COMMENT ON COLUMN {schema}.stg_removed_duplicates.source_key IS 'Lineage: source object of the removed line.';
COMMENT ON COLUMN {schema}.stg_removed_duplicates.source_line IS 'Lineage: line number of the removed line.';

CREATE TABLE IF NOT EXISTS {schema}.stg_rejected_events (
    entity      text    NOT NULL,
    event_key   uuid    NOT NULL,
    event_date  date    NOT NULL,
    reason      text    NOT NULL,
    source_key  text    NOT NULL,
    source_line integer NOT NULL,
    payload     jsonb   NOT NULL
);
CREATE INDEX IF NOT EXISTS stg_rejected_events_date ON {schema}.stg_rejected_events (event_date);
COMMENT ON TABLE {schema}.stg_rejected_events IS 'Rows rejected by a data-quality rule, with the reason and the row as received.';
COMMENT ON COLUMN {schema}.stg_rejected_events.entity IS 'vehicle or operating_period.';
COMMENT ON COLUMN {schema}.stg_rejected_events.event_key IS 'Content hash of the rejected event.';
COMMENT ON COLUMN {schema}.stg_rejected_events.event_date IS 'Partition: UTC event date.';
COMMENT ON COLUMN {schema}.stg_rejected_events.reason IS 'Rule the row broke.';
COMMENT ON COLUMN {schema}.stg_rejected_events.source_key IS 'Lineage: source object.';
COMMENT ON COLUMN {schema}.stg_rejected_events.source_line IS 'Lineage: line number.';
COMMENT ON COLUMN {schema}.stg_rejected_events.payload IS 'The raw row as JSON.';
