-- Scratch copies of the raw partitions being rebuilt (refilled on every build).
CREATE SCHEMA IF NOT EXISTS dev;
DROP TABLE IF EXISTS dev.src_vehicle_events;
CREATE UNLOGGED TABLE dev.src_vehicle_events (
    event text, organization_id text, event_at timestamptz, vehicle_id text,
    location_lat double precision, location_lng double precision, location_at timestamptz,
    source_key text, source_line integer, ingestion_run_id text, event_date date
);
COMMENT ON TABLE dev.src_vehicle_events IS 'Scratch: raw_db vehicle rows of the partitions being rebuilt.';
DROP TABLE IF EXISTS dev.src_operating_period_events;
CREATE UNLOGGED TABLE dev.src_operating_period_events (
    event text, organization_id text, event_at timestamptz, period_id text,
    period_start timestamptz, period_finish timestamptz,
    source_key text, source_line integer, ingestion_run_id text, event_date date
);
COMMENT ON TABLE dev.src_operating_period_events IS 'Scratch: raw_db period rows of the partitions being rebuilt.';
